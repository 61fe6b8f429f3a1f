"""Netting-set tables of swaption terms (``pricing.opt_tables``): the interpolated netting sums against the direct
per-term sums (the Jamshidian formula on every path), within 1e-13 of each netting set's gross weight over the
whole interval [-L_k, L_k]; the tables' sensitivity to their node count; chunk-size invariance; the named range
error outside the interval."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import exposure.pricing.opt_tables as T
from exposure.pricing.linear_moments import _state_bound
from exposure.pricing.view import PricingContext
from tests.test_option_pricing import MARKET, MODEL, _view, batch, trade

TIMES = np.array([0.0, 0.25, 0.9, 1.6, 2.4, 2.95, 3.5, 4.2, 5.0])


def _book(settlement):
    """Four USD swaptions in two netting sets, long and short, payer and receiver, expiries 1.5Y to 5Y."""
    rows = [("A", "2Y", "7Y", 0.036, True, True), ("B", "3Y", "10Y", 0.031, False, True),
            ("C", "5Y", "8Y", 0.04, True, False), ("D", "18M", "5Y", 0.033, False, False)]
    specs = [trade("Swaption", id=i, currency="USD", notional=1e7, expiry=e, maturity=m, fixed_rate=k, payer=p,
                   long=lg, settlement=settlement, fixed_tenor="1Y", float_tenor="3M") for i, e, m, k, p, lg in rows]
    b = batch(*specs)
    b.netting_set = np.array([0, 1, 0, 1])
    return b


def _paths(P=41):
    """x over the whole table interval of every date (its two ends included), USD only."""
    c = PricingContext(MARKET, MODEL, TIMES, None, ())
    L = _state_bound(c, ["USD"])[:, 0]
    u = np.linspace(-1.0, 1.0, P)
    return L[:, None] * u[None, :], L


@functools.lru_cache(maxsize=None)
def _base(settlement):
    """(batch, pre, tabulated, direct) on the 41 states of ``_paths``: shared by the tests below."""
    b = _book(settlement)
    return (b,) + _sums(b, _paths()[0])


def _sums(b, x, ctx_tables=True):
    c = PricingContext(MARKET, MODEL, TIMES, None, (), option_tables=ctx_tables)
    pre = b.prepare(c)
    view = _view(TIMES, x)
    return pre, np.asarray(b.add_netting_values(pre, view, 2)), np.asarray(b.netting_values(pre, view, 2))


def _gross(b, pre):
    """sum |wgt| of each (date, netting set)'s pre-expiry terms, and after the expiry sum |amount| of the exercised
    swap's flows and running coupons (``swaption_exercised``: summed per netting set, in another order)."""
    g = np.zeros((TIMES.size, 2))
    for name, w in (("opt", "wgt"), ("flows", "amt"), ("run", "w")):
        if name in pre:
            o = pre[name]
            np.add.at(g, (np.asarray(o["k"]), b.netting_set[np.asarray(o["i"])]), np.abs(np.asarray(o[w])))
    return g


@pytest.mark.parametrize("settlement", ["cash", "physical"])
def test_tabulated_netting_sums_match_the_direct_sums(settlement):
    b, pre, tab, direct = _base(settlement)
    n_tab = int(np.sum(np.asarray(pre["tab"]["ent"]["wgt"]) != 0.0))
    n_dir = int(np.sum(np.asarray(pre["opt_direct"]["wgt"]) != 0.0))
    assert n_tab > n_dir > 0  # most terms tabulated, the ones next to an expiry (2.95 y: 3Y) not
    assert np.all(np.isfinite(tab))
    err = np.max(np.abs(tab - direct), axis=2)
    assert np.all(err <= 1e-13 * _gross(b, pre)), (err / np.maximum(_gross(b, pre), 1e-300)).max()
    assert np.abs(direct).max() > 1e4  # not a comparison of zeros


def test_cutting_the_nodes_breaks_the_bound(monkeypatch):
    """The tables are sized by their error bound: with fewer Chebyshev coefficients per cell than the bound
    assumed (or fewer cells) the same comparison fails, so the test above can."""
    b, pre, tab, direct = _base("cash")
    x, _ = _paths()
    base = np.max(np.abs(tab - direct), axis=2) / np.maximum(_gross(b, pre), 1e-300)
    for name, value in (("COEFS", 10), ("CELLS", 6)):
        with monkeypatch.context() as m:
            m.setattr(T, name, value)  # the bound keeps its own sizes (error_bound's defaults)
            pre_c, tab_c, direct_c = _sums(b, x)
        cut = np.max(np.abs(tab_c - direct_c), axis=2) / np.maximum(_gross(b, pre_c), 1e-300)
        assert cut.max() > 1e-13 > base.max(), (name, cut.max(), base.max())


def test_tables_are_chunk_invariant():
    b, _, whole, _ = _base("physical")
    x, _ = _paths()
    _, first, _ = _sums(b, x[:, :13])
    _, rest, _ = _sums(b, x[:, 13:])
    assert np.array_equal(whole, np.concatenate([first, rest], axis=2))


def test_a_state_outside_the_interval_is_a_named_error():
    b = _book("cash")
    x, L = _paths()
    k = 4
    x[k, 2] = 1.01 * L[k]
    pre, tab, _ = _sums(b, x)
    assert np.all(np.isnan(tab[k, :, 2])) and np.all(np.isfinite(np.delete(tab, 2, axis=2)))
    x_abs_max = np.zeros((3, TIMES.size))
    x_abs_max[0] = np.abs(x).max(axis=1)
    with pytest.raises(T.OptionTableRangeError, match="date index 4"):
        b.check_range(pre, x_abs_max)
    x_abs_max[0, k] = L[k]  # the interval's end is inside
    b.check_range(pre, x_abs_max)


def test_without_tables_the_batch_prices_directly():
    b = _book("cash")
    x, _ = _paths()
    pre, tab, direct = _sums(b, x, ctx_tables=False)
    assert "tab" not in pre and np.array_equal(tab, direct)


def test_size_rule_tables_for_bench_1k_not_for_the_example():
    """``opt_tables.worth_tabulating`` on the counts measured at prepare: bench-1k (10,000 paths; its four swaption
    batches tabulate 8,775 / 18,148 / 13,730 / 61,910 entries) keeps the tables, the bundled example (5,000 paths;
    189 and 105 entries) does not; an unknown path count (0) keeps them."""
    assert all(T.worth_tabulating(10_000, e) for e in (8_775, 18_148, 13_730, 61_910))
    assert not any(T.worth_tabulating(5_000, e) for e in (189, 105))
    assert T.worth_tabulating(0, 1)


def test_a_small_run_prepares_no_tables():
    """With the run's path count in the context, a batch below the size rule prepares no tables and prices
    directly; with a path count large enough the same batch tabulates."""
    b = _book("cash")
    n = int(T.split_terms(PricingContext(MARKET, MODEL, TIMES, None, ()), "USD", _flat(b), 4)[0].sum())
    small = PricingContext(MARKET, MODEL, TIMES, None, (), option_tables=True, paths=int(T.MIN_WORK // n) - 1)
    large = PricingContext(MARKET, MODEL, TIMES, None, (), option_tables=True, paths=int(T.MIN_WORK // n) + 1)
    assert "tab" not in b.prepare(small) and "tab" in b.prepare(large)


def _flat(b):
    """The batch's unpadded entries as ``split_terms`` sees them (captured from a prepare with tables)."""
    seen = []
    orig = T.split_terms

    def spy(ctx, ccy, flat, n_trades):
        seen.append({k: np.array(v) for k, v in flat.items()})
        return orig(ctx, ccy, flat, n_trades)

    import exposure.pricing.opt_swaption as S

    S.split_terms = spy
    try:
        b.prepare(PricingContext(MARKET, MODEL, TIMES, None, (), option_tables=True))
    finally:
        S.split_terms = orig
    return seen[0]


@pytest.mark.parametrize("step_cost", [4, 0])
def test_all_batches_tables_in_one_loop_match_each_batch_alone(monkeypatch, step_cost):
    """``chunks.netting_total`` adds every swaption batch's tables in one loop (``opt_tables.add_tables``: steps of
    W rows, currencies as data): the same sums as each batch alone, to rounding. Step cost 4: W = 2 (padding
    rows); 0: W = 1 (the two-row batch in two row groups)."""
    from exposure.chunks import netting_total

    monkeypatch.setattr(T, "STEP_COST", step_cost)

    cash = _book("cash")
    phys = batch(trade("Swaption", id="E", currency="USD", notional=5e6, expiry="2Y", maturity="6Y", fixed_rate=0.035,
                       payer=True, long=True, settlement="physical", fixed_tenor="1Y", float_tenor="3M"))
    phys.netting_set = np.array([2])  # one row: padded to the cash batch's two
    eur = batch(trade("Swaption", id="F", currency="EUR", notional=8e6, expiry="3Y", maturity="9Y", fixed_rate=0.025,
                      payer=False, long=False, settlement="cash", fixed_tenor="1Y", float_tenor="6M"))
    eur.netting_set = np.array([1])
    c = PricingContext(MARKET, MODEL, TIMES, None, (), option_tables=True)
    x, _ = _paths()
    view = _view(TIMES, x)
    view.x[1] = _state_bound(c, ["EUR"])[:, 0, None] * np.linspace(1.0, -1.0, x.shape[1])[None, :]
    batches = [cash, phys, eur]
    pres = [b.prepare(c) for b in batches]
    assert all("tab" in p for p in pres)
    together = np.asarray(netting_total(batches, pres, view, 3))
    alone = sum(np.asarray(b.add_netting_values(p, view, 3)) for b, p in zip(batches, pres))
    scale = np.abs(alone).max(axis=(0, 2))
    assert np.all(scale > 1e4) and np.all(np.isfinite(together))
    assert np.all(np.abs(together - alone).max(axis=(0, 2)) <= 1e-15 * scale)


def test_a_run_evaluates_the_tables_nodes_once(tmp_path, monkeypatch):
    """``chunks.pricing_function`` computes the tables' coefficients once per run (``opt_tables.table_coefficients``
    in a program of its own) and passes them to every chunk: two chunks, one evaluation, and the run's numbers
    equal, bit for bit, those of a run whose chunk programs compute the coefficients themselves."""
    import exposure
    from exposure import chunks

    monkeypatch.setattr(T, "MIN_WORK", 0.0)  # the bundled example tabulates
    calls = []
    orig = chunks.compiled
    monkeypatch.setattr(chunks, "compiled", lambda *a, **k: calls.append(a[1]) or orig(*a, **k))

    def run(name):
        chunks._PRICERS.clear()
        return exposure.run(exposure.compose(["simulation.paths=300", "simulation.chunk_size=150",
                                              "simulation.grid='3M,1Y,2Y,5Y'", f"output.dir={tmp_path / name}"])).dataset

    once = run("once")
    assert calls == ["option_tables"]
    monkeypatch.setattr(chunks, "_coefficient_function", lambda *a: (lambda pres: None))
    inside = run("inside")
    chunks._PRICERS.clear()
    assert np.abs(once["EPE"].values).max() > 0.0
    for v in ("EPE", "ENE", "PFE", "NPV"):
        np.testing.assert_array_equal(once[v].values, inside[v].values)
