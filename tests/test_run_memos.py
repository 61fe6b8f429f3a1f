"""Per-run work done once: a batch's cash-flow tables per market object, the compiled pricer's key per batches.

A run prepares every batch twice (simulation dates and t0) on one market, and asks for the compiled chunk
pricer once per chunk; both used to redo their work (0.2 and 0.04 CPU s per call on bench-1k). The memos are
keyed by object identity, so a different market (a bump, another run's market) or a different portfolio
object is never served another one's tables.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import exposure
from exposure.chunks import _digest, _pricing_key
from exposure.setup import setup


def test_cashflows_are_generated_once_per_market_object_and_keys_once_per_batches():
    from exposure.pricing.cashflows import generate
    from exposure.pricing.linear import LinearBatch

    s = setup(exposure.compose(["simulation.paths=64"]))
    lin = [b for b in s.portfolio.batches if isinstance(b, LinearBatch)]
    assert lin
    b = lin[0]
    cf = b.cashflows(s.market)
    assert b.cashflows(s.market) is cf  # the t0 prepare reuses the tables
    other = dataclasses.replace(s.market)  # an equal market, another object (e.g. a bumped copy)
    cf2 = b.cashflows(other)
    assert cf2 is not cf
    fresh = generate(b.specs, s.market)
    for f in dataclasses.fields(fresh):  # the memo serves exactly what generate gives
        x, y = getattr(cf, f.name), getattr(fresh, f.name)
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, f.name

    m = s.built.model
    key = _pricing_key(s.portfolio.batches, 4, m, False)
    assert _pricing_key(s.portfolio.batches, 4, m, False) == key
    assert key[0] == _digest(s.portfolio.batches)
    assert _pricing_key(s.portfolio.batches[:-1], 4, m, False)[0] != key[0]
