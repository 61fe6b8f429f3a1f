"""The JAX per-chunk reduction (exposure.aggregation.reduction) against the NumPy aggregator, the independent
reference: CSAs (thresholds, MTA, rounding, one-way, IA, a non-base collateral currency, a set close-out
calendar), path functionals with counterparty groups and stochastic-survival path weights, trade allocation;
and its chunking invariance (chunk edges on and off the 256-path blocks)."""

from __future__ import annotations

import numpy as np
import pytest

from exposure.aggregation.measures import ExposureAggregator
from exposure.portfolio.netting import Csa, NettingSet
from exposure.xva.stochastic_cva import PATH_KEY, StochasticCvaWeights

P, K_ALL = 700, 9


def _case(seed=1):
    rng = np.random.default_rng(seed)
    n_ns, d = 4, 3
    # simulated dates 0..8: valuation at 0, 1, 3, 5, 7; close-out two steps later (set 2 one step: its calendar)
    vi = np.array([0, 1, 3, 5, 7])
    ci = np.stack([np.minimum(vi + 1, K_ALL - 1)] * n_ns, axis=1)
    ci[:, 2] = vi
    ci[0] = 0  # ORE's t0 row: close-out at t0 itself
    t = np.linspace(0.0, 2.0, K_ALL)
    W = np.cumsum(rng.standard_normal((K_ALL, n_ns, P)) * np.sqrt(np.r_[0, np.diff(t)])[:, None, None], axis=0)
    V = 100.0 * W + np.array([5.0, -3.0, 0.0, 12.0])[None, :, None]
    N = np.exp(0.02 * t[:, None] + 0.05 * np.cumsum(rng.standard_normal((K_ALL, P)) * 0.1, axis=0))
    fx = np.exp(0.1 * np.cumsum(rng.standard_normal((2, K_ALL, P)) * 0.2, axis=1))
    fx[0] = 1.0  # fx axis: USD (base), EUR
    states = rng.standard_normal((K_ALL, d, P)) * 0.01
    sets = [NettingSet("A", "CP1", Csa(threshold_cpty=20.0, threshold_bank=10.0, mta_cpty=5.0, mta_bank=3.0,
                                       rounding=1.0, independent_amount_held=7.0)),
            NettingSet("B", "CP2", Csa(margining="cpty_posts", collateral_currency="EUR", threshold_cpty=15.0)),
            NettingSet("C", "CP1", Csa(collateral_currency="EUR", initial_balance=2.0, independent_amount_posted=1.5)),
            NettingSet("D", "CP3")]
    times = t[vi]
    w = rng.uniform(0.0, 0.01, (n_ns, vi.size))
    sw = StochasticCvaWeights(n_ns=n_ns, rows=np.array([0, 3]), state_rows=np.array([1, 2]),
                              shift=np.array([0.01 * times, 0.02 * times]), lgd=np.array([0.6, 0.5]),
                              own_log=None, discretisation="ore")
    mixed = w.copy()
    mixed[[0, 3]] = 1.0
    funcs = {"CVA": ("EPE", mixed, PATH_KEY), "DVA": ("ENE", w), "FCA": ("FundingEPE", 0.5 * w),
             "FVA": [("FundingEPE", 0.5 * w), ("FundingENE", -0.3 * w)]}
    kw = dict(valuation_index=vi, closeout_index=ci, t0_index=0, currencies=("USD", "EUR"), base_currency="USD",
              quantiles=[0.5, 0.95], path_functionals=funcs, functional_groups=np.array([0, 1, 0, 2]),
              path_weights=sw, mva_weights=None)
    tv = np.stack([V[:, 0] * 0.5, V[:, 0] * 0.5, V[:, 1], V[:, 2], V[:, 3]], axis=1)
    return sets, times, V, N, fx, states, kw, tv


def _run(reduction, chunk, trade=False, **extra):
    sets, times, V, N, fx, states, kw, tv = _case()
    kw.update(extra)
    if trade:
        kw.update(trade_netting_index=np.array([0, 0, 1, 2, 3]))
    with ExposureAggregator(sets, P, times, reduction=reduction, **kw) as agg:
        for a in range(0, P, chunk):
            b = min(P, a + chunk)
            agg.add_chunk(a, b, V[..., a:b], N[:, a:b], fx[..., a:b], tv[..., a:b] if trade else None,
                          states=states[..., a:b])
        return agg.finalize()


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = np.max(np.abs(b)) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * max(scale, 1e-300))


def test_jax_reduction_matches_the_numpy_reference():
    ref, got = _run("numpy", 700, trade=True), _run("jax", 700, trade=True)
    for name in ("EPE", "ENE", "EE_stderr", "ENE_stderr", "ExpectedCollateral", "FundingEPE", "FundingENE",
                 "PFE", "PFE_lower", "PFE_upper", "BaselEEPE"):
        _close(got.netting[name], ref.netting[name])
    for name in ("trade_EPE", "AllocatedEPE", "AllocatedENE"):
        _close(got.trade[name], ref.trade[name])
    _close(got.discount_factors, ref.discount_factors)
    assert set(got.functionals) == set(ref.functionals) == {"CVA", "DVA", "FCA", "FVA"}
    for f in ref.functionals:
        for part in ("entity", "group", "total"):
            for i in (0, 1):
                _close(got.functionals[f][part][i], ref.functionals[f][part][i])
    assert np.all(ref.netting["ExpectedCollateral"][:3, 1:] != 0)  # the CSAs bite
    assert ref.functionals["CVA"]["total"][1] > 0


@pytest.mark.parametrize("chunk", [256, 97, 600, 512])
def test_jax_reduction_is_chunking_invariant(chunk):
    """Bit for bit: chunk edges on the 256-path blocks (256, 512) and off them (97, 600), against one chunk."""
    one, other = _run("jax", P), _run("jax", chunk)
    for name, a in one.netting.items():
        assert np.array_equal(a, other.netting[name], equal_nan=True), name
    for f in one.functionals:
        for part in ("entity", "group", "total"):
            assert np.array_equal(one.functionals[f][part], other.functionals[f][part]), (f, part)
    assert np.array_equal(one.discount_factors, other.discount_factors)


def test_discounted_pfe_basis_and_no_functionals():
    ref = _run("numpy", 300, pfe_basis="discounted", path_functionals=None, path_weights=None)
    got = _run("jax", 300, pfe_basis="discounted", path_functionals=None, path_weights=None)
    assert got.functionals is None
    for name in ("EPE", "PFE", "EE_stderr"):
        _close(got.netting[name], ref.netting[name])


def test_one_closeout_calendar_for_every_set():
    """closeout_index (K,) shared by the sets (the date-scan reads one close-out row per date) against NumPy."""
    ci = np.minimum(np.array([0, 1, 3, 5, 7]) + 1, K_ALL - 1)
    ci[0] = 0
    ref, got = _run("numpy", 300, closeout_index=ci), _run("jax", 300, closeout_index=ci)
    for name in ("EPE", "ENE", "EE_stderr", "ExpectedCollateral", "FundingEPE", "PFE"):
        _close(got.netting[name], ref.netting[name])
    for part in ("entity", "group", "total"):
        _close(got.functionals["CVA"][part][0], ref.functionals["CVA"][part][0])
    assert not np.allclose(ref.netting["EPE"], _run("numpy", 300).netting["EPE"])  # the close-out row matters


def test_one_compiled_reduction_serves_other_csa_terms_and_groups():
    """The CSA terms, which sets have a CSA, their margining, start balances, collateral currencies, groups and
    dates are arguments of the compiled reduction, not constants: the program key and the lowered program are
    those of another book of the same shape."""
    import jax

    from exposure.aggregation.reduction import ChunkReducer, build_program

    def reducer(sets, groups, vi):
        w = np.full((len(sets), vi.size), 1e-3)
        funcs = {"CVA": [("EPE", w, None)], "FVA": [("FundingEPE", w, None), ("FundingENE", -w, None)]}
        return ChunkReducer(sets, 512, vi, None, 0, [1 if s.csa.collateral_currency else None
                                                   for s in sets if s.csa], 256, funcs, groups, None, False)

    a = reducer([NettingSet("A", "C1", Csa(threshold_cpty=5.0, rounding=1.0, collateral_currency="EUR")),
                 NettingSet("B", "C2"), NettingSet("C", "C1", Csa(mta_cpty=2.0))],
                np.array([0, 1, 0]), np.array([0, 1, 3]))
    b = reducer([NettingSet("A", "C1"), NettingSet("B", "C2", Csa(margining="cpty_posts", initial_balance=3.0)),
                 NettingSet("C", "C3", Csa(threshold_bank=7.0, collateral_currency="EUR"))],
                np.array([1, 0, 1]), np.array([0, 2, 4]))
    assert a.key == b.key

    def lowered(r):
        f64 = lambda *s: jax.ShapeDtypeStruct(s, np.float64)  # noqa: E731
        args = (f64(5, 3, 256), f64(5, 256), f64(2, 5, 256), None, np.int32(0), np.int32(256), r.params)
        return jax.jit(build_program(r, 256)).lower(*args).as_text()

    assert lowered(a) == lowered(b)
