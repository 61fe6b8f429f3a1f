"""Physically settled swaptions' netting values in the plain run (``pricing.swaption_exercised``: the exercised swap
after expiry summed per (date, netting set, payment time) with the trades' exercise indicators as weights) against
textbook constant-vol Hull-White bond formulas (Brigo-Mercurio 3.39) for the exercised swaps on hand-made paths:
max(swap, 0) at the expiry, then each holder's swap where it exercised, long and short, payer and receiver, two
trades with one schedule in one netting set (their flows share the entries) and one in another."""

from __future__ import annotations

import numpy as np

from exposure.pricing.view import PathView, PricingContext
from tests.test_option_pricing import MARKET, MODEL, _view, batch
from tests.test_swaption_settlement import _swap, _swaption


def test_exercised_swaps_netting_values_match_the_textbook_swaps():
    specs = [_swaption(True, settlement_days=2, notional=1.0, long=True),
             _swaption(False, settlement_days=2, notional=1.0, long=False, fixed_rate=0.031),
             _swaption(True, settlement_days=2, notional=2.0, long=False, fixed_rate=0.04)]
    b = batch(*specs)
    b.netting_set = np.array([0, 0, 1])
    tm = MARKET.time
    T0, s0 = tm(specs[0].expiry), tm(specs[0].start)
    times = np.array([0.5, T0, (T0 + s0) / 2, s0, s0 + 0.1])
    xs = np.array([[0.0, 0.0, 0.0, 0.0, 0.0], [0.02, -0.02, 0.004, -0.004, 0.0005],
                   [0.01, 0.01, -0.01, 0.03, 0.0], [0.012, 0.008, -0.012, 0.025, -0.003],
                   [0.0, 0.02, -0.02, 0.01, 0.004]])
    pre = b.prepare(PricingContext(MARKET, MODEL, times, None, (), option_tables=True))
    assert "ns_flows" in pre and pre["ns_states"]["c"].shape[1] == 2  # two trades' flows in one entry
    got = np.asarray(b.add_netting_values(pre, _view(times, xs), 2))

    want = np.zeros((times.size - 1, 2, xs.shape[1]))
    for s, ns, sign in zip(specs, (0, 0, 1), (1.0, -1.0, -1.0)):
        at_T0 = np.array([_swap(s, T0, x) for x in xs[1]])
        ex = at_T0 > 0
        swaps = [np.maximum(at_T0, 0.0), np.array([_swap(s, times[2], x) for x in xs[2]]),
                 np.array([_swap(s, s0, x) for x in xs[3]]),
                 np.array([_swap(s, times[4], x, (s0, xf)) for x, xf in zip(xs[4], xs[3])])]
        assert ex.any() and (~ex).any()
        for j, v in enumerate(swaps):
            want[j, ns] += sign * s.notional * (v if j == 0 else np.where(ex, v, 0.0))  # _swap: per unit
    assert np.abs(want).max(axis=2).min() > 1e-3  # not a comparison of zeros
    np.testing.assert_allclose(got[1:], want, rtol=1e-11, atol=1e-14)


def test_no_flow_after_an_expiry_on_the_grid():
    """Every expiry after the last date: no exercised-swap term (one padding entry of weight 0), the netting
    values are the option's alone, as the trade-level route's."""
    b = batch(_swaption(True, settlement_days=2, notional=1.0))
    times = np.array([0.25, 0.5, 1.0])
    xs = np.array([[0.0, 0.01, -0.01], [0.0, 0.02, -0.02], [0.0, 0.015, -0.03]])
    pre = b.prepare(PricingContext(MARKET, MODEL, times, None, (), option_tables=True))
    assert "ns_flows" in pre and not np.any(np.asarray(pre["ns_states"]["c"]))
    view = _view(times, xs)
    got, want = np.asarray(b.add_netting_values(pre, view, 1)), np.asarray(b.netting_values(pre, view, 1))
    assert np.abs(want).max() > 1e-2
    np.testing.assert_allclose(got, want, rtol=0.0, atol=1e-13)  # the tables: 1e-13 of the gross weight (~1)


def _eur_paths(times, fx_span: float):
    """(EUR states (5, 4), a PathView on ``times``) with those EUR states and EUR/USD 1.1 + fx_span * (0 .. 1)
    varying per date and path."""
    xs = np.array([[0.0, 0.0, 0.0, 0.0], [0.02, -0.02, 0.004, -0.004], [0.01, 0.01, -0.01, 0.03],
                   [0.012, 0.008, -0.012, 0.025], [0.0, 0.02, -0.02, 0.01]])
    base = _view(times, np.zeros_like(xs), fx_eur=1.1 + fx_span * np.arange(xs.size).reshape(xs.shape) / xs.size)
    x = np.asarray(base.x).copy()
    x[base.ccy_index("EUR")] = xs
    return xs, PathView(base.times, x, base.fx, base.eq, base.numeraire, base.currencies, base.equity_names)


def test_terms_go_into_the_runs_total_in_their_netting_sets_rows_times_fx():
    """A EUR batch whose netting sets are rows 3 and 1 of a run's five, FX varying per date and path, added onto a
    running total: its rows as the trade-level route's (``values`` summed per netting set) times FX plus the
    total, the other rows untouched (``swaption_exercised.add_netting_values``: each term times its date's FX,
    scatter-added straight into the total)."""
    specs = [_swaption(True, currency="EUR", settlement_days=2, notional=1.0, long=True),
             _swaption(False, currency="EUR", settlement_days=2, notional=1.0, long=False, fixed_rate=0.031)]
    b = batch(*specs)
    b.netting_set = np.array([3, 1])
    tm = MARKET.time
    T0, s0 = tm(specs[0].expiry), tm(specs[0].start)
    times = np.array([0.5, T0, (T0 + s0) / 2, s0, s0 + 0.1])
    xs, view = _eur_paths(times, 0.05)
    pre = b.prepare(PricingContext(MARKET, MODEL, times, None, (), option_tables=True))
    acc = np.random.default_rng(0).normal(size=(times.size, 5, xs.shape[1]))
    got = np.asarray(b.add_netting_values(pre, view, 5, acc))
    want = acc + np.asarray(b.netting_values(pre, view, 5))
    after = np.asarray(b.values(pre, view))[2:]
    assert np.abs(after).max(axis=(0, 2)).min() > 1e-3 and np.any(after == 0.0)  # exercised on some paths only
    np.testing.assert_array_equal(got[:, [0, 2, 4]], acc[:, [0, 2, 4]])
    np.testing.assert_allclose(got, want, rtol=0.0, atol=1e-13)  # the tables: 1e-13 of the gross weight (~1)


def test_cash_direct_terms_go_into_the_runs_total_times_fx():
    """A cash EUR batch in rows 3 and 1 of five, dates up to its expiry (near-expiry terms are left out of the
    tables and priced directly, ``swaption_exercised.add_direct``), FX varying per date and path: its rows equal
    ``netting_values`` (the per-netting-set route, times FX once) plus the running total within the tables' 1e-13,
    the other rows untouched. Broken on purpose (FX left off the direct terms) it fails."""
    specs = [_swaption(True, currency="EUR", settlement="cash", notional=1.0, long=True),
             _swaption(False, currency="EUR", settlement="cash", notional=1.0, long=False, fixed_rate=0.031)]
    b = batch(*specs)
    b.netting_set = np.array([3, 1])
    T0 = MARKET.time(specs[0].expiry)
    times = np.array([0.5, T0 - 0.05, T0 - 0.01, T0 - 0.002, T0])
    xs, view = _eur_paths(times, 0.3)
    pre = b.prepare(PricingContext(MARKET, MODEL, times, None, (), option_tables=True))
    assert np.count_nonzero(np.asarray(pre["opt_direct"]["wgt"])) > 0  # some terms are priced directly
    acc = np.random.default_rng(1).normal(size=(times.size, 5, xs.shape[1]))
    got = np.asarray(b.add_netting_values(pre, view, 5, acc))
    want = acc + np.asarray(b.netting_values(pre, view, 5))
    assert np.abs(want - acc)[:, [1, 3]].max() > 1e-3
    np.testing.assert_array_equal(got[:, [0, 2, 4]], acc[:, [0, 2, 4]])
    np.testing.assert_allclose(got, want, rtol=0.0, atol=1e-13)
