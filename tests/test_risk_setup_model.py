"""The model side of the set-up layer by AD (exposure.risk.setup_model / setup_tangent,
exposure.models.cross_asset_jax, exposure.models.calibration_jax), against the NumPy set-up the run itself uses:

  * values: the jnp transitions, bridge, initial state and numeraire equal Discretisation.build's (NumPy, scipy's
    expm) to rounding, and the eigh factor of the jnp covariance equals the run's L (signs aligned);
  * calibration by the implicit-function theorem: d sigma / d quote and d sigma / d a equal re-calibrations of
    the NumPy bootstrap at +-h, within |D(2h) - D(h)| (the O(h^2) truncation bound: |D(h) - D'| ~ |D(2h) - D(h)|/3);
  * the tangent dS/de of every component (Phi, mu, L, y0, log_num, bridge, pres, w) equals the central difference
    of the full NumPy set-up (market, model with re-calibration, Discretisation.build, prepare) at +-h, within
    |D(2h) - D(h)| + |T(2h) - T(h)| (the truncation of each: T's pres and w are central differences at the
    calibration's first-order move) plus float64 rounding of the difference quotient (1e-13 max|S| / h).
A curve pillar or an FX spot (exposure.risk.setup_curves / setup_pres) moves the built market in place and takes
the linear batches' pricing data by jvp of their jnp twins: the same comparison with the full NumPy set-up's central
difference (market built again) holds for them, except xi_lim, which the path program reads only in a comparison
(its cotangent is exactly 0: test_order_only_leaf_has_no_cotangent); the twins equal prepare at the base (1e-12).
The through-calibration vega against recalibrate-and-rerun is tests/test_risk_calibration.py.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from exposure.api import compose
from exposure.models import cross_asset_jax as caj
from exposure.models.calibrate_config import calibration_quotes
from exposure.models.calibration import calibrate_hull_white, coterminal_strip
from exposure.models.calibration_jax import CalibrationIFT, quote_vol_weights
from exposure.models.cross_asset import factor_matrix
from exposure.risk import RiskSettings
from exposure.risk.setup_model import ModelTangent, factor_tangent
from exposure.risk.setup_curves import covered
from exposure.risk.setup_pres import ORDER_ONLY
from exposure.risk.setup_tangent import context, model_state_tangent
from exposure.risk.stage import factor_list
from exposure.risk.state import aligned, bumped_state, difference
from exposure.risk.twins import sigma_only
from tests.risk_reference import book_state



@pytest.fixture(scope="module")
def base():
    cfg, s, S, static = book_state()
    assert "bridge" in S  # the book has event dates between reporting dates: the bridge is exercised
    return cfg, s, S, static


def _close(a, b, rtol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * max(np.abs(b).max(), 1e-300))


def test_jnp_model_layer_equals_the_numpy_discretisation(base):
    cfg, s, S, static = base
    mt = ModelTangent(s.built.model, s.grid, static, S)
    b, _ = mt.arrays(mt.zero())
    for k in ("Phi", "mu", "y0", "log_num"):
        _close(b[k], S[k])
    _close(aligned(factor_matrix(b["Sigma"]), S["L"]), S["L"])
    for k in ("A", "B", "m"):
        _close(b["bridge"][k], S["bridge"][k], 1e-11)  # A, B ~ 500: Sigma(r,l)^-1 amplifies rounding
    _close(aligned(factor_matrix(b["bridge"]["V"]), S["bridge"]["L"]), S["bridge"]["L"])


def test_planned_model_tangent_equals_the_jvp_through_expm(base):
    """The model layer with only the Pade degree and squarings expm picks at the base theta (``planned``,
    ``planned_expm``; this book's plan has all five degrees; ModelTangent's jvp is this one): its tangent equals
    jax.jvp of the layer through jax's expm, and the program holds one LU (getrf) for all the exponentials (one per
    degree group deadlocked XLA's CPU runtime on a 2-core machine: concurrent batched getrf calls waiting on one
    thread pool)."""
    from exposure.risk.setup_model import model_arrays, planned

    cfg, s, S, static = base
    mt = ModelTangent(s.built.model, s.grid, static, S)
    lay = planned(mt.layout, mt.theta)
    assert lay.expm_plan is not None and len({g for g, _ in lay.expm_plan}) > 1
    rng = np.random.default_rng(7)
    dth = jax.tree_util.tree_map(lambda x: rng.standard_normal(np.shape(x)) * np.abs(np.asarray(x)), mt.theta)
    jvp = jax.jit(lambda th, d: jax.jvp(lambda x: model_arrays(x, lay), (th,), (d,)))
    hlo = jvp.lower(mt.theta, dth).as_text()
    assert hlo.count("lapack_dgetrf") <= 1 + (lay.lo is not None)  # the exponentials' one (+ the bridge's)
    ref = jax.jit(lambda th, d: jax.jvp(lambda x: model_arrays(x, mt.layout), (th,), (d,)))(mt.theta, dth)
    got = jvp(mt.theta, dth)
    for r, g in zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(got)):
        _close(g, r, 1e-11)  # the bridge's A, B ~ 500 (test above): rounding amplified alike


def test_plan_is_made_on_the_host_and_equals_the_plan_of_the_jnp_matrices(base):
    """``caj.transition_plan`` (NumPy, on the host) equals ``expm_plan`` of the jnp layer's own Van Loan matrices
    (one jitted program), and makes no program: eager jnp ops compiled one small program each (~60 per fresh
    process, test_risk_programs). A prefix of the transitions gives shapes no other call here has made, so an
    eager jnp op would be a request even in a process that made them for the whole layout before."""
    from exposure.models.planned_expm import expm_plan
    from exposure.risk.programs import compile_counter
    from exposure.risk.setup_model import model_layout, transition_times

    cfg, s, S, static = base
    lay = model_layout(s.built.model, s.grid, static)
    theta = caj.model_theta(lay.model, lay.phi_times)
    starts, ends = (t[:5] for t in transition_times(lay))
    with compile_counter() as c:
        plan = caj.transition_plan(lay.model, theta, starts, ends)
    assert c.requests == 0, c.requests
    X = jax.jit(lambda th: caj.van_loan_matrices(*caj._pieces(lay.model, th, starts, ends)[:4]))(theta)
    assert plan is not None and plan == expm_plan(np.asarray(X))


def test_zero_dtheta_gives_a_zero_tangent_without_a_program_call(base, monkeypatch):
    """A dtheta of zeros (a factor that moves no model parameter) gives dS = 0 exactly, with no program call once
    the base arrays are known, and the same structure as any tangent."""
    cfg, s, S, static = base
    mt = ModelTangent(s.built.model, s.grid, static, S)
    dth = jax.tree_util.tree_map(lambda x: 1e-3 * np.abs(np.asarray(x)), mt.theta)
    full = mt(dth)
    from exposure.risk import setup_model
    from exposure.risk.kept import kept

    calls = []
    monkeypatch.setattr(setup_model, "kept", lambda *a: calls.append(a) or kept(*a))  # the program's only way in
    zero = mt(mt.zero())
    assert not calls and all(not np.any(x) for x in jax.tree_util.tree_leaves(zero))
    assert jax.tree_util.tree_structure(zero) == jax.tree_util.tree_structure(full)
    assert any(np.any(x) for x in jax.tree_util.tree_leaves(full))


def test_batched_model_tangents_equal_one_jvp_per_direction(base):
    """``ModelTangent.prefetch`` (one linearisation at the base, the linear map mapped over BATCH directions, the
    last chunk padded with zero directions; factor_tangent over the stack) equals one jax.jvp per direction with
    L's tangent per direction, and ``__call__`` hands each direction its own tangent (BATCH = 2 here: 3 distinct
    directions, a repeat and a zero take two chunks, the second padded)."""
    from exposure.risk.setup_model import model_arrays, planned

    cfg, s, S, static = base
    mt = ModelTangent(s.built.model, s.grid, static, S)
    mt.BATCH = 2
    rng = np.random.default_rng(11)
    dths = [jax.tree_util.tree_map(lambda x: rng.standard_normal(np.shape(x)) * np.abs(np.asarray(x)), mt.theta)
            for _ in range(3)]
    mt.prefetch(dths + [dths[1], mt.zero()])
    assert len(mt._cache) == 3
    lay = planned(mt.layout, mt.theta)
    jvp = jax.jit(lambda th, d: jax.jvp(lambda x: model_arrays(x, lay), (th,), (d,)))
    for dth in dths:
        base_arrays, d = jax.tree_util.tree_map(np.asarray, jvp(mt.theta, dth))
        got = mt(dth)
        ref = {"Phi": d["Phi"], "mu": d["mu"], "y0": d["y0"], "log_num": d["log_num"],
               "L": factor_tangent(*mt._eig[0], d["Sigma"])}
        ref["bridge"] = dict({k: d["bridge"][k] for k in ("A", "B", "m")},
                             L=factor_tangent(*mt._eig[1], d["bridge"]["V"]))
        assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(ref)
        for g, r in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
            _close(g, r, 1e-12)


def test_deferred_directions_share_the_next_prefetch(base, monkeypatch):
    """``ModelTangent.defer`` holds directions for the next ``prefetch``: with BATCH = 4, two deferred (and a zero)
    plus two prefetched directions take one program call, not a padded chunk each, reading them back takes none,
    and each direction's tangent equals the one a ModelTangent computes for it alone (to rounding)."""
    from exposure.risk import setup_model
    from exposure.risk.kept import kept

    cfg, s, S, static = base
    mt, alone = (ModelTangent(s.built.model, s.grid, static, S) for _ in range(2))
    mt.BATCH = alone.BATCH = 4
    rng = np.random.default_rng(5)
    dths = [jax.tree_util.tree_map(lambda x: rng.standard_normal(np.shape(x)) * np.abs(np.asarray(x)), mt.theta)
            for _ in range(4)]
    ref = [alone(d) for d in dths]
    calls = []
    monkeypatch.setattr(setup_model, "kept", lambda *a: calls.append(a) or kept(*a))  # the program's only way in
    mt.defer(dths[2:] + [mt.zero()])
    mt.prefetch(dths[:2])
    got = [mt(d) for d in dths]
    assert len(calls) == 1 and len(mt._cache) == 4 and not mt._pending
    for g, r in zip(got, ref):
        for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(r)):
            _close(a, b, 1e-12)


def test_directions_in_the_span_take_the_basis_combination(base, monkeypatch):
    """``ModelTangent.span``: a direction that is an exact combination of the basis (each basis direction alone
    moves its own pivot entry of theta["ir_vol"], like ``setup_reverse.sigma_direction``) takes sum_k c_k
    (tangent of b_k) in no program slot of its own, equal to its own jvp (a ModelTangent without the span) to
    rounding; a direction just off the span (a 1e-6 move of theta["a"] added) is propagated itself."""
    cfg, s, S, static = base
    mt, alone = (ModelTangent(s.built.model, s.grid, static, S) for _ in range(2))
    rng = np.random.default_rng(7)
    dense = lambda: jax.tree_util.tree_map(lambda x: rng.standard_normal(np.shape(x)), mt.theta)  # noqa: E731
    basis = []
    for k in range(2):
        b = dict(dense(), a=np.zeros(np.shape(mt.theta["a"])))
        vol = [np.zeros(np.shape(v)) for v in mt.theta["ir_vol"]]
        vol[0][k] = 1.0
        basis.append(dict(b, ir_vol=tuple(vol)))
    c = np.array([0.7, -1.3])
    inside = jax.tree_util.tree_map(lambda x, y: c[0] * x + c[1] * y, *basis)
    off = dict(inside, a=np.asarray(inside["a"]) + 1e-6)
    sizes = []
    batch = mt._batch
    monkeypatch.setattr(mt, "_batch", lambda ds: sizes.append(len(ds)) or batch(ds))
    mt.span(basis)
    mt.prefetch([inside, off] + basis)
    assert sizes == [3] and len(mt._cache) == 4  # the basis and the off-span direction only
    for d in (inside, off):
        got, ref = mt(d), alone(d)
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
            _close(a, b, 1e-12)


def test_jnp_transitions_with_credit_states_and_breakpoints_equal_numpy():
    """A model with a stochastic credit intensity (model=flat_wwr) and steps that cross vol breakpoints and
    need sub-steps (a tau > 0.5)."""
    cfg = compose(["market=flat", "model=flat_wwr", "model.ir.USD.volatility=[0.01,0.012,0.009]",
                   "model.ir.USD.volatility_times=[2Y,5Y]", "model.credit.CP_A.mean_reversion=0.3"])
    from exposure.market.snapshot import build_market
    from exposure.models.build import build_model

    model = build_model(build_market(cfg.market), cfg.model).model
    assert model.credit
    starts, ends = np.array([0.0, 0.5, 1.7, 4.0]), np.array([0.5, 1.7, 6.5, 9.0])
    phi_t = np.unique(np.concatenate([starts, ends]))
    got = jax.jit(lambda th: caj.step_transitions(model, th, phi_t, starts, ends))(caj.model_theta(model, phi_t))
    for g, w in zip(got, model.step_transitions(starts, ends)):
        _close(g, w)


def test_factor_tangent_is_the_derivative_of_the_eigh_factor():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3, 5, 5))
    Sig = X @ np.swapaxes(X, 1, 2)
    dSig = rng.normal(size=(3, 5, 5))
    dSig = dSig + np.swapaxes(dSig, 1, 2)
    L = factor_matrix(Sig)
    w, V = np.linalg.eigh(Sig)
    d = factor_tangent(w, V, dSig)
    h = 1e-5
    D = lambda h: (aligned(factor_matrix(Sig + h * dSig), L) - aligned(factor_matrix(Sig - h * dSig), L)) / (2 * h)
    assert np.abs(d - D(h)).max() <= np.abs(D(2 * h) - D(h)).max() + 1e-9
    assert np.abs(d).max() > 0.1


@pytest.fixture(scope="module", params=["normal", "lognormal"])
def usd_calibration(base, request):
    """The example market's USD co-terminal strip (normal vols), or a shifted-lognormal strip on the same curve."""
    cfg, s, _, _ = base
    ic = cfg.model.ir.USD
    quotes = calibration_quotes(s.market, "USD", ic, "coterminal")
    if request.param == "lognormal":
        quotes = coterminal_strip(10.0, [0.30, 0.28, 0.26, 0.25, 0.24], expiries=[1, 2, 3, 5, 7],
                                  vol_type="lognormal", shift=0.01)
    curve = s.market.curves["USD"]
    params, report = calibrate_hull_white(curve, quotes, float(ic.mean_reversion))
    return curve, CalibrationIFT(quotes, params, curve), report


def test_calibration_by_the_implicit_function_theorem_equals_recalibration(usd_calibration):
    curve, ift, report = usd_calibration
    q0 = ift.quotes
    model, market = jax.jit(ift.prices)(ift.sigma, ift.vols, ift.a, ift.lnP)  # the equations, solved by NumPy
    _close(market, [r.market_price for r in report.rows])
    _close(model, [r.model_price for r in report.rows], 1e-11)

    def sig(dv=0.0, da=0.0):
        qs = [dataclasses.replace(q, vol=q.vol + x) for q, x in zip(q0, np.broadcast_to(dv, len(q0)))]
        return np.asarray(calibrate_hull_white(curve, qs, ift.a + da)[0].vol_values)

    _close(ift.sigma, sig(), 1e-15)
    h = 2e-5
    for k in (0, 2, len(q0) - 1):
        dv = np.eye(len(q0))[k]
        ad = ift.tangent(dvols=dv)
        D1, D2 = ((sig(hh * dv) - sig(-hh * dv)) / (2 * hh) for hh in (h, 2 * h))
        assert np.abs(ad - D1).max() <= np.abs(D2 - D1).max() + 1e-9 * np.abs(ad).max(), (k, ad, D1)
        assert ad[k] > 100 * np.abs(ad - D1).max()  # a vega the comparison resolves
    ha = 1e-4
    ad = ift.tangent(da=1.0)
    D1, D2 = ((sig(da=hh) - sig(da=-hh)) / (2 * hh) for hh in (ha, 2 * ha))
    assert np.abs(ad - D1).max() <= np.abs(D2 - D1).max() + 1e-9 * np.abs(ad).max()
    assert np.abs(ad).min() > 0.01


def test_quote_weights_are_the_interpolation_of_the_matrix(base, usd_calibration):
    _, s, _, _ = base
    _, ift, _ = usd_calibration
    sv = s.market.swaption_vols["USD"]
    total = sum(quote_vol_weights(sv, ift.quotes, e, j) for e in range(len(sv.expiry_times))
                for j in range(len(sv.tenor_times)))
    np.testing.assert_allclose(total, 1.0, rtol=1e-14)  # bilinear weights sum to one


FAST = [("MeanReversion", "USD", ""), ("SwaptionVol", "USD", "2Yx5Y"), ("Correlation", "IR:USD~FX:EUR", "")]
SLOW = [("DiscountCurve", "USD", "5Y"), ("IndexCurve", "USD-LIBOR-3M", "5Y"), ("FXSpot", "EUR/USD", ""),
        ("FXVol", "EUR/USD", "1Y"), ("EquitySpot", "SPX", ""), ("EquityVol", "SX5E", ""),
        ("MeanReversion", "EUR", ""), ("HWSigma", "EUR", "0"), ("DiscountCurve", "EUR", "5Y")]


@pytest.mark.parametrize("key", FAST + [pytest.param(k, marks=pytest.mark.slow) for k in SLOW],
                         ids=lambda k: "/".join(x for x in k if x))
def test_model_tangent_equals_central_difference_of_the_numpy_setup(base, key):
    cfg, s, S, static = base
    f = next(x for x in factor_list(cfg, s, RiskSettings()) if (x.factor_type, x.name, x.pillar) == key)
    h = 0.1
    ad, ad2 = (model_state_tangent(cfg, s, f, S, static, hh) for hh in (h, 2 * h))
    D1, D2 = (difference(bumped_state(cfg, s, f, S, static, hh), bumped_state(cfg, s, f, S, static, -hh), S, hh)
              for hh in (h, 2 * h))
    names = _pres_names(cfg, s, S, static, f)
    moved = 0
    for (path, a), a2, d1, d2, s0 in zip(jax.tree_util.tree_flatten_with_path(ad)[0], jax.tree_util.tree_leaves(ad2),
                                         jax.tree_util.tree_leaves(D1), jax.tree_util.tree_leaves(D2),
                                         jax.tree_util.tree_leaves(S)):
        a, a2, d1, d2, s0 = (np.asarray(x) for x in (a, a2, d1, d2, s0))
        if not a.size or names.get(jax.tree_util.keystr(path)) in ORDER_ONLY:
            continue  # xi_lim: only the series order reads it, in a comparison (test_order_only_leaf_has_no_cotangent)
        # Both are O(h^2) from the derivative (the AD tangent's pres and w are central differences too, at the
        # calibration's first-order move): each one's truncation is bounded by its own |X(2h) - X(h)|.
        tol = (np.abs(d2 - d1).max() + np.abs(a2 - a).max() + 1e-13 * np.abs(s0).max() / h
               + 1e-12 * np.abs(d1).max())
        assert np.abs(a - d1).max() <= tol, (key, jax.tree_util.keystr(path), np.abs(a - d1).max(), tol)
        moved += np.abs(d1).max() > 1e-10 * max(np.abs(s0).max(), 1e-300)
    assert moved  # the factor moves the set-up


def _pres_names(cfg, s, S, static, factor) -> dict:
    """{"['pres'][i]": leaf name} where the factor's pres tangent comes from the twins (setup_pres) or leaves xi_lim
    at 0 (setup_vols), else {}."""
    from exposure.risk import setup_vols

    if setup_vols.covered(cfg, factor):
        return {f"['pres'][{i}]": n for i, n in enumerate(setup_vols.pres_names(static))}
    if not covered(cfg, factor) and not sigma_only(factor):
        return {}
    names = context(cfg, s, S, static).pres.names
    return {f"['pres'][{i}]": n for i, n in enumerate(names)}


def _curve_factor(cfg, s, key):
    return next(x for x in factor_list(cfg, s, RiskSettings()) if (x.factor_type, x.name, x.pillar) == key)


@pytest.mark.slow  # compiles every linear batch's twin (16 s warm, ~70 s with a cold compilation cache)
def test_curve_pillar_tangent_builds_no_market_and_its_twins_equal_prepare(base, monkeypatch):
    """A curve pillar moves the built market in place (no build_market, no CDS bootstrap with keep_credit) and
    the linear batches' twins reproduce prepare's mom_tr, mom_ns, cc_w at the base to rounding."""
    import exposure.market.snapshot as snapshot
    from exposure.pricing.linear import LinearBatch
    from exposure.pricing.view import PricingContext

    cfg, s, S, static = base

    def no_build(*a, **k):
        raise AssertionError("the market was built again")

    monkeypatch.setattr(snapshot, "build_market", no_build)
    monkeypatch.setattr(snapshot, "build_credit", no_build)
    for key in (("DiscountCurve", "USD", "2Y"), ("IndexCurve", "USD-LIBOR-3M", "2Y"), ("FXSpot", "EUR/USD", "")):
        model_state_tangent(cfg, s, _curve_factor(cfg, s, key), S, static, 0.1, keep_credit=True)
    pt = context(cfg, s, S, static).pres
    g, m = s.grid, s.market
    ctx = PricingContext(m, s.built.model, static.times, s.portfolio.fixings, (m.asof,) + tuple(g.dates),
                         g.reporting_mask())
    linear = [i for i, b in enumerate(s.portfolio.batches) if isinstance(b, LinearBatch)]
    assert linear and set(linear) <= set(pt.twins)  # option batches have twins too (tests/test_risk_option_twins.py)
    for i in linear:
        pre = s.portfolio.batches[i].prepare(ctx)
        for k, v in pt.values[i].items():
            _close(v, getattr(pre, k), rtol=1e-12)


def test_order_only_leaf_has_no_cotangent(base):
    """xi_lim (left at 0 in the twins' tangents) reaches the path values only through a comparison."""
    from exposure.pricing.linear import LinearBatch, differentiable_loops
    from exposure.pricing.view import PathView, PricingContext

    cfg, s, S, static = base
    b = next(b for b in s.portfolio.batches if isinstance(b, LinearBatch) and "Swap" in b.types)
    g, m, model = s.grid, s.market, s.built.model
    ctx = PricingContext(m, model, static.times, s.portfolio.fixings, (m.asof,) + tuple(g.dates), g.reporting_mask())
    pre = b.prepare(ctx)
    states = 0.01 * np.random.default_rng(1).standard_normal((static.times.size, model.dim, 8))
    view = PathView.from_states(model, states, static.times, S["log_num"])

    def total(xi_lim, mom_ns):
        with differentiable_loops():
            return b.netting_values(dataclasses.replace(pre, xi_lim=xi_lim, mom_ns=mom_ns), view, static.n_ns).sum()

    g_xi, g_mom = jax.grad(total, argnums=(0, 1))(pre.xi_lim, pre.mom_ns)
    assert np.all(np.asarray(g_xi) == 0.0) and np.any(np.asarray(g_mom) != 0.0)
