"""The one-time twin cotangents (exposure.risk.twin_reverse, setup_amounts) against the per-factor set-up tangents.

On tests/data/risk_portfolio.yaml (every product type, a CSA netting set, USD calibrated to swaptions: a USD pillar
moves sigma, the FX/equity vol bootstraps and the option twins) with a random cotangent G of S (3 rows, each pres
leaf scaled by 1 / the largest |dpres| of that leaf over the factors, so that every leaf weighs alike, floored at
1e-8 of the leaf's size so that a leaf fixed but for rounding does not weigh its noise up):

  * curve pillars and FX spots: ``ReverseSetup.remainder`` (option twins by one jvp program along the factor's dx/de,
    their cotangents once by forward mode along their inputs' basis or by one vjp (``TwinReverse.options_mode``,
    ``twin_basis``: the three forms agree to 1e-12), the FX/equity vol bootstraps' response by the implicit-function theorem, the cash-flow amounts by their dual-number Jacobian) equals the
    per-factor remainder (``per_factor_remainder``: the option twins' jvp along the central difference of two model
    builds, the amounts by two cash-flow generations) to 1e-9 of the largest |remainder| (measured 1.9e-10 at the
    setup step 0.1, 6e-10 at 0.03, 1.8e-9 at 0.01: the reference's rounding in its central differences, ~eps/h; the
    reverse form has no step);
  * the amounts' Jacobian equals the central difference of ``cashflows.generate`` at the moved markets, and its
    products of exponentials (``setup_amounts.LogDual``) the general dual numbers' to 1e-14 of the largest entry;
  * FX/equity vols, swaption quotes, HW sigma, mean reversions, correlations: ``VolReverse`` and
    ``setup_vols_reverse.VolModelReverse`` (the model layer's cotangent once, the vol bootstraps transposed, the
    option twins with R and the market variance as inputs) equal <G, dS/de> with dS/de = ``stage.tangent`` (the
    reference) to 1e-9 of the largest value (measured 1.2e-10), in every form of the option part: FX/equity vols
    and correlations take the FX/equity option twins' exact derivative (``setup_vols_options``), so against the
    reference's Richardson extrapolation; the plain reference differs by its O(h^2) truncation, 5e-7 at h = 0.1;
  * the FX/equity option part of a correlation and an FX vol (``setup_vols_options``) against the central
    differences it replaces, Richardson-extrapolated (1.1e-10);
  * dtheta/dsigma_k of the calibrated Hull-White pieces (``setup_reverse.sigma_direction``) against
    Richardson-extrapolated central differences of ``build_model`` (4.5e-12).
Breaking the code once fails them: the amounts' part dropped from ``ReverseSetup.remainder`` at 0.68 relative, the
linear twins' sigma part dropped from ``VolReverse`` at 9e-3 (HWSigma/EUR/0), the FX/equity vol bootstraps'
response dropped from ``TwinReverse.options_part`` at 0.22 (DiscountCurve/USD/10Y), the bootstraps' response in
``sigma_direction`` scaled by 0.999 at 7.4e-4.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from exposure.models.build import build_model
from exposure.risk import RiskSettings
from exposure.risk.reverse import contract
from exposure.risk.setup_curves import moved_curve_of, moved_market
from exposure.risk.setup_market import market_tangents
from exposure.risk.setup_reverse import ReverseSetup, reverse_covered
from exposure.risk.setup_tangent import _calibrated_params, calibrated_moves
from exposure.risk.stage import factor_list, tangent
from tests.risk_reference import book_state

STEP = RiskSettings().setup_step


def _scaled(G0, sizes):
    return dict(G0, pres=[g / (m if m > 0 else 1.0) for g, m in zip(G0["pres"], sizes)])


def _sizes(pres_list, base):
    """max_f |dpres_k/de_f| per leaf k, at least 1e-8 of the leaf's own size: a leaf that moves only by rounding
    (an analytically fixed one) must not weigh its rounding noise up to O(1)."""
    return [max(max((np.abs(np.asarray(p[k])).max(initial=0.0) for p in pres_list), default=0.0),
                1e-8 * np.abs(np.asarray(b)).max(initial=0.0)) for k, b in enumerate(base)]


@pytest.fixture(scope="module")
def base():
    cfg, s, S, static = book_state()  # tests/risk_reference.py: every product type, a CSA netting set
    market = market_tangents(cfg, s, tuple(S["w"]), static.val_times)
    factors = factor_list(cfg, s, RiskSettings())
    rng = np.random.default_rng(7)
    G0 = jax.tree_util.tree_map(lambda a: rng.standard_normal((3,) + np.shape(a)), S)
    # xi_lim is read in a comparison only: a true reverse pass gives it a zero cotangent (setup_pres.ORDER_ONLY),
    # and the linear batches' model tangent (setup_pres_model) leaves its tangent at 0
    from exposure.risk.setup_pres import ORDER_ONLY
    from exposure.risk.setup_vols import pres_names

    G0["pres"] = [g * 0.0 if n in ORDER_ONLY else g for g, n in zip(G0["pres"], pres_names(static))]
    return cfg, s, S, static, market, factors, G0


@pytest.fixture(scope="module")
def curves(base):
    cfg, s, S, static, market, factors, G0 = base
    fs = [f for f in factors if reverse_covered(cfg, s, market, f)]
    probe = ReverseSetup(cfg, s, S, static, G0, market, STEP)
    dps = []
    for f in fs:  # the per-factor pres tangents (option twins' jvp), only to scale G
        mk = tuple(moved_market(cfg, s.market, f, e, keep_credit=True) for e in (STEP, -STEP))
        mv = calibrated_moves(probe.ctx, f, mk, STEP)
        md = tuple(build_model(m, cfg.model, calibrated=_calibrated_params(probe.ctx, cfg, mv, e)).model
                   for m, e in zip(mk, (STEP, -STEP)))
        dps.append(probe.pt(f, mk, md, mv, STEP))
    G = _scaled(G0, _sizes(dps, S["pres"]))
    return fs, ReverseSetup(cfg, s, S, static, G, market, STEP)


def _forms(rev) -> dict:
    """{mode: TwinReverse} of rev in each form of the option part."""
    from exposure.risk.twin_reverse import TwinReverse

    out = {}
    for mode in ("jvp", "basis", "vjp"):
        TwinReverse.options_mode = mode
        try:
            out[mode] = TwinReverse(rev)
        finally:
            TwinReverse.options_mode = "auto"
        assert out[mode].mode == mode
    return out


def test_curve_remainder_equals_per_factor_form(base, curves):
    fs, rev = curves
    assert {f.factor_type for f in fs} == {"DiscountCurve", "IndexCurve", "FXSpot"} and len(fs) > 40
    got = np.array([rev.remainder(f) for f in fs])
    ref = np.array([rev._remainder_per_factor(f) for f in fs])
    scale = np.abs(ref).max()
    err = np.abs(got - ref).max(axis=1)
    w = int(np.argmax(err))
    print("curve remainder: max relative difference", err.max() / scale, "at", fs[w].label())
    assert scale > 0 and err.max() <= 1e-9 * scale, (fs[w].label(), got[w], ref[w])
    tr = rev.twin_reverse()
    assert tr.options and tr.amounts and not tr.unfolded  # every product's twin in reverse, amounts folded
    from exposure.risk import twin_basis

    # the three forms of the option part (``twin_basis``): per-factor jvp, forward along x's basis, one vjp per row
    forms = _forms(rev)
    n_x = max(twin_basis.sizes({i: t.x0() for i, t in tr.options.items()}).values())
    assert tr.mode == twin_basis.choose(n_x, rev.n_out, None) == "vjp"  # 3 rows here: the backward pass is cheapest
    assert twin_basis.choose(36, 50, 97) == "basis" and twin_basis.choose(36, 50, 10) == "jvp"  # bench-1k; few
    for f in fs[::4]:
        b = forms["jvp"].options_part(f, {})
        for mode in ("basis", "vjp"):
            a = forms[mode].options_part(f, {})
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max(initial=0.0), err_msg=mode)
    moving = [f for f, r in zip(fs, ref) if np.any(r)]
    assert len(moving) > 20


def test_basis_form_shares_the_vol_factors_cotangents(curves, monkeypatch):
    """"basis" form in a run with FX / equity vol or correlation factors (``rev.vol_option_factors``): the FX /
    equity option twins' g_i come from the vol factors' backward pass (``setup_vols_options``) and the basis program
    runs over the other twins only; g_i equal to the basis program over every twin to 1e-12 of each twin's largest."""
    from exposure.risk import twin_basis
    from exposure.risk.setup_vols_options import option_vol_cotangents
    from exposure.risk.twin_reverse import TwinReverse

    fs, rev = curves
    seen = []
    run = twin_basis.basis_cotangents
    monkeypatch.setattr(twin_basis, "basis_cotangents", lambda r, tw: seen.append(set(tw)) or run(r, tw))
    monkeypatch.setattr(TwinReverse, "options_mode", "basis")
    ref = TwinReverse(rev)  # no vol factors in the run: every twin through the basis program
    monkeypatch.setattr(rev, "vol_option_factors", 1, raising=False)
    new = TwinReverse(rev)
    shared = set(option_vol_cotangents(rev).twins)
    assert seen[0] == set(ref.options) and shared and seen[1] == set(ref.options) - shared
    for i, b in ref.g_flat.items():
        assert new.g_flat[i].shape == b.shape
        np.testing.assert_allclose(new.g_flat[i], b, rtol=0, atol=1e-12 * np.abs(b).max(), err_msg=str(i))


def test_amount_jacobian_equals_central_difference(base, curves):
    from exposure.risk.setup_amounts import amount_jacobian
    from exposure.risk.setup_curves import pillar_direction

    cfg, s = base[0], base[1]
    fs, rev = curves
    checked = 0
    for i, tw in rev.twins.items():
        jac = amount_jacobian(tw.batch, s.market, tw.cf)
        assert jac is not None
        ref = amount_jacobian(tw.batch, s.market, tw.cf, dual=True)  # every number a general Dual
        assert list(ref) == list(jac)
        for cid in ref:
            for got, want in zip(jac[cid][1:], ref[cid][1:]):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-14 * np.abs(want).max(initial=0.0))
        for f in fs:
            moved = moved_curve_of(s.market, f)
            if moved is None or id(moved) not in tw.amount_curves:
                continue
            h = 1e-3  # the amounts are smooth (exponentials of the pillars): O(h^2) ~ 1e-7 relative
            cu, cd = (tw.batch.cashflows(moved_market(cfg, s.market, f, e, keep_credit=True)) for e in (h, -h))
            d = pillar_direction(moved, f)
            _, dA, dW = jac[id(moved)]
            for got, ref in ((dA @ d, (cu.f_amount - cd.f_amount) / (2 * h)), (dW @ d, (cu.c_weight - cd.c_weight) / (2 * h))):
                np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6 * max(np.abs(ref).max(initial=0), 1e-300))
            checked += np.any(dA @ d)
    assert checked >= 5


def test_amounts_made_ahead_are_the_twins_own(base, curves):
    """``stage._host_ahead`` (run beside the reverse pass) makes every linear twin's amounts Jacobian, bit for bit
    ``amount_jacobian``'s, and ``TwinReverse`` folds the ones it is handed (``ReverseSetup(amounts=...)``)."""
    from exposure.risk import stage
    from exposure.risk.setup_amounts import amount_jacobian
    from exposure.risk.twin_reverse import TwinReverse

    cfg, s, S, static = base[:4]
    rev = curves[1]
    made = stage._host_ahead(cfg, s, S, static, RiskSettings())
    want = {i: tw for i, tw in rev.twins.items() if tw.amount_curves}
    assert want and set(made) == set(want)
    for i, tw in want.items():
        ref = amount_jacobian(tw.batch, s.market, tw.cf)
        assert list(made[i]) == list(ref)
        for cid in ref:
            assert made[i][cid][0] is ref[cid][0]
            assert all(np.array_equal(a, b) for a, b in zip(made[i][cid][1:], ref[cid][1:]))
    assert stage._host_ahead(cfg, s, S, static, RiskSettings(reverse_setup=False)) == {}
    TwinReverse.options_mode = "jvp"  # the cheapest form to build: no option cotangents up front
    try:
        own = TwinReverse(rev).amounts
        rev.amount_jacobians = {i: {c: (j[0], 2.0 * j[1], 2.0 * j[2]) for c, j in jac.items()} for i, jac in made.items()}
        handed = TwinReverse(rev).amounts
    finally:
        TwinReverse.options_mode = "auto"
        rev.amount_jacobians = {}
    assert own and set(handed) == set(own)
    for cid, (curve, gA) in own.items():
        assert handed[cid][0] is curve
        np.testing.assert_allclose(handed[cid][1], 2.0 * gA, rtol=1e-15, atol=0)


def test_vol_and_model_factors_equal_per_factor_tangents(base):
    from exposure.risk import setup_vols
    from exposure.risk.setup_vols_reverse import VOL_OPTION_TYPES, VolModelReverse
    from exposure.risk.twin_reverse import VolReverse

    cfg, s, S, static, market, factors, G0 = base
    fs = [f for f in factors if setup_vols.covered(cfg, f)]
    assert {"FXVol", "EquityVol", "SwaptionVol", "MeanReversion", "Correlation"} <= {f.factor_type for f in fs}
    tangents = [tangent(cfg, f, S, static, s, STEP, market) for f in fs]  # the reference, per factor
    G = _scaled(G0, _sizes([t["pres"] for t in tangents], S["pres"]))
    rev = ReverseSetup(cfg, s, S, static, G, market, STEP)
    ref = np.array([contract(G, dS) for dS in tangents])
    scale = np.abs(ref).max()
    # Both forms take the FX/equity options' data of a vol or correlation factor by their twins' exact derivative
    # (their cotangents once: ``setup_vols_options``, or with every option twin's in "vjp"), the reference by
    # central differences of prepare (truncation O(h^2): measured 1.5e-6 of scale at h = 0.1, x1/4 per halving):
    # against it, Richardson's (4 D(h/2) - D(h)) / 3 (O(h^4)).
    # A mean reversion's batches take their exact model tangent (``setup_pres_model``, ``setup_pres_options``,
    # ``setup_pres_swaption``): no step of its own, against the reference extrapolated as well.
    mr = [k for k, f in enumerate(fs) if f.factor_type == "MeanReversion"]
    opt = [k for k, f in enumerate(fs) if f.factor_type in VOL_OPTION_TYPES]
    rich = ref.copy()
    for k in opt + mr:
        half = contract(G, tangent(cfg, fs[k], S, static, s, STEP / 2, market))
        rich[k] = (4.0 * half - ref[k]) / 3.0
    forms = _forms(rev)  # in "vjp" the FX/equity option twins' cotangents once, R and w_mkt among their inputs
    for vols, r, tol, mode in ((VolReverse(rev, G), rich, 1e-9, "jvp"), (VolReverse(rev, G), rich, 1e-9, "basis"),
                               (VolModelReverse(rev, G), rich, 1e-9, "jvp"),
                               (VolModelReverse(rev, G), rich, 1e-9, "vjp")):
        rev._twin_reverse = forms[mode]
        got = np.array([vols.sensitivity(f) for f in fs])
        err = np.abs(got - r).max(axis=1)
        w = int(np.argmax(err))
        print(type(vols).__name__, mode, "vol/model factors: max relative difference", err.max() / scale, "at",
              fs[w].label())
        assert err.max() <= tol * scale, (type(vols).__name__, mode, fs[w].label(), got[w], r[w])
    assert sum(np.any(r) for r in ref) > 40
    assert sum(np.any(ref[k]) for k in opt) > 20
    # the calibrated sigma's cotangent: the model layer's cotangent once (the bootstraps transposed) against
    # exact dtheta/dsigma_k (``setup_reverse.sigma_direction``) and m model jvps
    from exposure.risk.setup_vols_reverse import sigma_cotangents

    diff = rev._sigma_cotangents_jvp(G)
    once = sigma_cotangents(rev, G)
    assert set(diff) == set(once) == {"USD"}
    for c, d in diff.items():
        e = np.abs(once[c] - d).max() / np.abs(d).max()
        print("gsig", c, "max relative difference", e)
        assert e <= 1e-8, (c, once[c], d)


def test_vol_option_part_equals_central_differences(base, curves):
    """``setup_vols_options``: the FX / equity option batches' part of a correlation and an FX vol pillar (their
    extended twins' cotangents once, alone or with every option twin's: equal to 1e-12) against the central
    differences of their prepare (``pres_part(twins=False)``, the path it replaces), Richardson-extrapolated:
    measured 1.1e-10 of the largest value (FXVol/EUR/USD/1M; its plain central difference is 6.7e-6 off, O(h^2)).
    A mean reversion's swaptions keep the central differences (the twins hold a fixed), its linear, cap, FX and
    equity option batches take their exact model tangent (``setup_pres_model``, ``setup_pres_options``): against
    Richardson too. Broken on purpose (dx["R"]
    dropped from ``option_directions``) it fails at 0.57 (Correlation/IR:USD~IR:EUR)."""
    from exposure.risk import setup_vols as sv
    from exposure.risk.setup_vols_reverse import pres_part
    from exposure.risk.twin_reverse import TwinReverse

    cfg, s, S, static, market, factors, G0 = base
    rev = curves[1]
    rev.twin_reverse()
    vctx = sv.vol_context(cfg, s, static, rev.ctx.tangent.theta)
    picked = {}
    for f in factors:
        if f.factor_type in ("Correlation", "FXVol", "MeanReversion") and sv.covered(cfg, f):
            picked.setdefault(f.factor_type, f)
    assert len(picked) == 3
    for f in picked.values():
        move = sv.theta_direction(rev.ctx, vctx, s.built.model, s.market, f)
        got = pres_part(rev, vctx, f, *move)  # 3 rows: the options in reverse, g_x of every option twin once
        saved = rev._twin_reverse
        TwinReverse.options_mode = "jvp"  # the options forward: the FX / equity twins' g_x alone
        try:
            rev._twin_reverse = TwinReverse(rev)
            alone = pres_part(rev, vctx, f, *move)
        finally:
            TwinReverse.options_mode = "auto"
            rev._twin_reverse = saved
        np.testing.assert_allclose(alone, got, rtol=1e-12, atol=1e-12 * np.abs(got).max())
        ref, mine = {}, {}
        for h in (STEP, STEP / 2):
            rev.step = h
            try:
                ref[h] = pres_part(rev, vctx, f, *move, twins=False)
                mine[h] = pres_part(rev, vctx, f, *move)
            finally:
                rev.step = STEP
        rich = (4.0 * ref[STEP / 2] - ref[STEP]) / 3.0
        if f.factor_type == "MeanReversion":  # its swaptions' central differences, extrapolated alike
            got = (4.0 * mine[STEP / 2] - mine[STEP]) / 3.0
        scale = np.abs(rich).max()
        err = np.abs(got - rich).max() / scale
        print(f.label(), "option part against Richardson: relative", err, "; plain central difference",
              np.abs(got - ref[STEP]).max() / scale)
        assert scale > 0 and err <= 1e-9, (f.label(), got, rich)


def test_sigma_direction_equals_rebuilt_models(base):
    """dtheta/dsigma_k of the calibrated currency's Hull-White pieces (``setup_reverse.sigma_direction``: exact, no
    model build) against Richardson-extrapolated central differences of theta of ``build_model`` with the piece
    moved (the FX/equity vol bootstraps re-run), relative step 1e-3: truncation O(h^4) and rounding ~eps/h, measured
    4.5e-12 of the largest entry (the plain central difference is off by 7e-8 at this step)."""
    from exposure.models.hull_white import HullWhiteParams
    from exposure.risk.setup_reverse import sigma_direction
    from exposure.risk.setup_tangent import context
    from exposure.risk.setup_vols import vol_context

    cfg, s, S, static, *_ = base
    ctx = context(cfg, s, S, static)
    theta = ctx.tangent.theta
    vctx = vol_context(cfg, s, static, theta)
    params = {c: HullWhiteParams(ift.a, ift.vol_times, np.asarray(ift.sigma)) for c, (ift, _, _) in ctx.ift.items()}
    flat = lambda t: np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree_util.tree_leaves(t)])  # noqa

    def difference(c, k, h):
        ift, th = ctx.ift[c][0], []
        for e in (h, -h):
            sig = np.array(ift.sigma, np.float64)
            sig[k] += e
            p = dict(params, **{c: HullWhiteParams(ift.a, ift.vol_times, sig)})
            th.append(flat(ctx.tangent.theta_of(build_model(s.market, cfg.model, calibrated=p).model)))
        return (th[0] - th[1]) / (2.0 * h)

    assert set(ctx.ift) == {"USD"}
    for c, (ift, _, _) in ctx.ift.items():
        for k in range(ift.sigma.size):
            th = sigma_direction(theta, vctx, s.built.model, c, k)
            assert max(np.abs(x).max(initial=0.0) for x in th["fx_vol"] + th["eq_vol"]) > 1e-3  # bootstraps move
            h = 1e-3 * abs(float(ift.sigma[k]))
            ref = (4.0 * difference(c, k, h / 2) - difference(c, k, h)) / 3.0
            err = np.abs(flat(th) - ref).max() / np.abs(ref).max()
            assert err <= 1e-10, (c, k, err)
