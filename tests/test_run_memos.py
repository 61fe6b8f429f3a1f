"""Per-run work done once: a batch's cash-flow tables per (specs, market values), the compiled pricer's key per
batches.

A run prepares every batch twice (simulation dates and t0) on one market, a warm process re-runs a book on a
market built anew, and the chunk pricer is asked for once per chunk; all used to redo their work (0.2 and 0.04 CPU
s per call on bench-1k). The cash-flow memo is keyed by value (the specs and every market value the tables read,
``cashflows.market_key``), so an equal market (another run's) is served the same tables and a moved one (a bump)
never another one's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import exposure
from exposure.chunks import _digest, _pricing_key
from exposure.setup import setup


def test_cashflows_are_generated_once_per_market_values_and_keys_once_per_batches():
    from exposure.market.curves import DiscountCurve
    from exposure.pricing.cashflows import generate
    from exposure.pricing.linear import LinearBatch

    s = setup(exposure.compose(["simulation.paths=64"]))
    lin = [b for b in s.portfolio.batches if isinstance(b, LinearBatch)]
    assert lin
    b = lin[0]
    cf = b.cashflows(s.market)
    assert b.cashflows(s.market) is cf  # the t0 prepare reuses the tables
    assert b.cashflows(dataclasses.replace(s.market)) is cf  # an equal market, another object: another run's
    assert LinearBatch(b.specs, b.netting_set).cashflows(s.market) is cf  # the book parsed anew: equal specs
    ccy = next(c for c in cf.currencies)
    curves = dict(s.market.curves)
    c0 = curves[ccy]
    curves[ccy] = DiscountCurve(c0.times, np.asarray(c0.log_dfs) - 1e-4 * np.asarray(c0.times), c0.name)
    moved = dataclasses.replace(s.market, curves=curves)  # a bumped discount curve: the coupons' basis moves
    cf2 = b.cashflows(moved)
    assert cf2 is not cf
    for market, tables in ((s.market, cf), (moved, cf2)):
        fresh = generate(b.specs, market)
        for f in dataclasses.fields(fresh):  # the memo serves exactly what generate gives
            x, y = getattr(tables, f.name), getattr(fresh, f.name)
            assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, f.name

    m = s.built.model
    key = _pricing_key(s.portfolio.batches, 4, m, False)
    assert _pricing_key(s.portfolio.batches, 4, m, False) == key
    assert key[0] == _digest(s.portfolio.batches)
    assert _pricing_key(s.portfolio.batches[:-1], 4, m, False)[0] != key[0]
