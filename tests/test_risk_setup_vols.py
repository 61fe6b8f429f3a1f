"""FX/equity vol pillars and model parameters without a market or model build (exposure.risk.setup_vols),
against the NumPy set-up the run itself uses (market build, ``build_model`` with its calibration and vol
bootstraps, ``Discretisation.build``, every batch's ``prepare``), on the book of tests/test_risk_ad.py:

  * the jnp twin of the bootstrap's model variance reproduces the market's total variance at every pillar with
    the bootstrapped vols (so the implicit-function theorem is taken at the NumPy solution);
  * dtheta/de (a, Hull-White sigma, FX/equity vol pieces, R) of every vol pillar and of the model parameters
    equals the central difference of theta of ``build_model`` at the bumped config (re-bootstrap, re-calibration)
    within |D(2h) - D(h)| (the difference's own O(h^2) truncation) plus rounding;
  * dS/de of every component equals the central difference of the full NumPy set-up (``state.bumped_state``)
    within |D(2h) - D(h)| + |T(2h) - T(h)| (the tangent's pres are a central difference too) plus rounding of
    the quotient; xi_lim is skipped (it picks a series order in a comparison only: its cotangent is 0,
    tests/test_risk_setup_model.py::test_order_only_leaf_has_no_cotangent);
  * these factors build no market, no model, no bootstrap and no calibration;
  * end to end: the AD sensitivity of CVA/DVA equals full bump-and-revalue runs on the same seed within
    4 SE of the per-path difference + |D(2h) - D(h)| (tests/test_risk_ad.py's tolerance).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

from exposure.api import compose
from exposure.models.build import build_model
from exposure.pricing.linear import differentiable_loops
from exposure.risk import RiskSettings
from exposure.risk.factors import bumped
from exposure.risk.reverse import BASIS, contract, path_amounts, reverse_pass
from exposure.risk.setup_tangent import bumped_view, context, model_state_tangent
from exposure.risk.setup_vols import covered, pres_names, theta_direction, vol_context
from exposure.risk.stage import factor_list
from exposure.risk.state import aligned, bumped_state, difference, path_state
from exposure.setup import setup

OVERRIDES = ["portfolio.trades=tests/data/risk_portfolio.yaml", "portfolio.fixings=null",
             "simulation.grid='3M,6M,1Y,18M,2Y,3Y,4Y,5Y,7Y'", "simulation.paths=64", "output.csv=false"]
MODEL = [("MeanReversion", "USD", ""), ("MeanReversion", "EUR", ""), ("HWSigma", "EUR", "0"),
         ("SwaptionVol", "USD", "2Yx5Y"), ("Correlation", "IR:EUR~FX:EUR", ""), ("Correlation", "EQ:SPX~IR:USD", "")]


@pytest.fixture(scope="module")
def base():
    cfg = compose(OVERRIDES)
    s = setup(cfg)
    S, static = path_state(cfg, s)
    tctx = context(cfg, s, S, static)
    return cfg, s, S, static, tctx, vol_context(cfg, s, static, tctx.tangent.theta)


def _factor(cfg, s, key):
    fs = [f for f in factor_list(cfg, s, RiskSettings()) if (f.factor_type, f.name, f.pillar) == key]
    assert len(fs) == 1, key
    return fs[0]


def test_bootstrap_twin_reproduces_the_market_variance(base):
    *_, vctx = base
    assert {k[0] for k in vctx.assets} == {"fx", "eq"}
    for key, (av, _, _) in vctx.assets.items():
        v = av.variance(av.sigma, jax.tree_util.tree_map(np.asarray, vctx.p0))
        np.testing.assert_allclose(v, av.w, rtol=1e-12, err_msg=str(key))
        J, p0, h = av.jacobian(vctx.p0), jax.tree_util.tree_map(np.asarray, vctx.p0), 1e-3
        # v is quadratic in the pieces: its central difference is its derivative, to rounding
        D = np.stack([(av.variance(av.sigma + h * e, p0) - av.variance(av.sigma - h * e, p0)) / (2 * h)
                      for e in np.eye(av.sigma.size)], axis=1)
        np.testing.assert_allclose(J, D, rtol=0, atol=1e-9 * np.abs(D).max())
        assert np.allclose(np.triu(J, 1), 0.0) and np.all(np.diag(J) > 0)  # each pillar reads the pieces up to it


def _theta_difference(cfg, s, tctx, f, h):
    """A vol quote moves the bootstraps only: the base model re-bootstrapped at the bumped market; a model
    parameter (or swaption quote) the whole build_model (re-calibration included)."""
    from exposure.models.forward_variance import calibrated_model

    if f.factor_type in ("FXVol", "EquityVol") and str(cfg.model.vol_calibration).endswith("bootstrap"):
        models = [calibrated_model(s.built.model, _market(cfg, f, e))[0] for e in (h, -h)]
    else:
        models = [build_model(s.market if f.path[0] == "model" else _market(cfg, f, e),
                              bumped_view(cfg, f, e).model).model for e in (h, -h)]
    th = [tctx.tangent.theta_of(m) for m in models]
    return jax.tree_util.tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2 * h), *th)


def _market(cfg, f, e):
    from exposure.market.snapshot import build_market
    from exposure.risk.state import _WithoutCredit

    return build_market(_WithoutCredit(bumped(cfg, f, e).market))


def test_theta_direction_equals_rebuilt_model(base):
    """Every FX/equity vol pillar of the book and the model parameters: dtheta/de against build_model."""
    cfg, s, S, static, tctx, vctx = base
    fs = [f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type in ("FXVol", "EquityVol")]
    fs += [_factor(cfg, s, k) for k in MODEL]
    assert len(fs) == 26 and all(covered(cfg, f) for f in fs)
    h = 0.05
    for f in fs:
        th, _, _ = theta_direction(tctx, vctx, s.built.model, s.market, f)
        D1, D2 = (_theta_difference(cfg, s, tctx, f, hh) for hh in (h, 2 * h))
        for (path, a), d1, d2 in zip(jax.tree_util.tree_flatten_with_path(th)[0], jax.tree_util.tree_leaves(D1),
                                     jax.tree_util.tree_leaves(D2)):
            a, d1, d2 = (np.asarray(x, np.float64) for x in (a, d1, d2))
            tol = np.abs(d2 - d1).max(initial=0) + 1e-9 * np.abs(d1).max(initial=0) + 1e-13
            assert np.abs(a - d1).max(initial=0) <= tol, (f.label(), jax.tree_util.keystr(path), a, d1)
        moved = [np.abs(np.asarray(x)).max() for k in ("fx_vol", "eq_vol") for x in th[k]]
        assert max(moved) > 1e-7, f.label()  # every one of these moves a bootstrapped vol


FULL = [("FXVol", "EUR/USD", "1Y"), ("EquityVol", "SX5E", ""), ("Correlation", "IR:EUR~FX:EUR", ""),
        ("MeanReversion", "EUR", "")]
FULL_SLOW = [("FXVol", "GBP/USD", "10Y"), ("EquityVol", "SPX", "2Y"), ("HWSigma", "EUR", "0")]


@pytest.mark.parametrize("key", FULL + [pytest.param(k, marks=pytest.mark.slow) for k in FULL_SLOW],
                         ids=lambda k: "/".join(x for x in k if x))
def test_tangent_equals_central_difference_of_the_numpy_setup(base, key):
    cfg, s, S, static, _, _ = base
    f = _factor(cfg, s, key)
    h = 0.1
    ad, ad2 = (model_state_tangent(cfg, s, f, S, static, hh) for hh in (h, 2 * h))
    D1, D2 = (difference(bumped_state(cfg, s, f, S, static, hh), bumped_state(cfg, s, f, S, static, -hh), S, hh)
              for hh in (h, 2 * h))
    names = {f"['pres'][{i}]": n for i, n in enumerate(pres_names(static))}
    moved = set()
    for (path, a), a2, d1, d2, s0 in zip(jax.tree_util.tree_flatten_with_path(ad)[0], jax.tree_util.tree_leaves(ad2),
                                         jax.tree_util.tree_leaves(D1), jax.tree_util.tree_leaves(D2),
                                         jax.tree_util.tree_leaves(S)):
        a, a2, d1, d2, s0 = (np.asarray(x) for x in (a, a2, d1, d2, s0))
        k = jax.tree_util.keystr(path)
        if not a.size or names.get(k) == "xi_lim":
            continue
        tol = (np.abs(d2 - d1).max() + np.abs(a2 - a).max() + 1e-13 * np.abs(s0).max() / h
               + 1e-12 * np.abs(d1).max())
        assert np.abs(a - d1).max() <= tol, (key, k, np.abs(a - d1).max(), tol)
        if np.abs(d1).max() > 1e-10 * max(np.abs(s0).max(), 1e-300):
            moved.add(k.split("]")[0] + "]")
    # the paths' vols move, and the pricing data of the options on the asset (the book has none on GBP/USD, SPX)
    assert {"['L']"} | ({"['pres']"} if key not in FULL_SLOW[:2] else set()) <= moved, moved
    assert not any(np.any(v) for v in ad["w"].values())  # vols and model parameters do not enter the weights


def test_builds_no_market_model_or_bootstrap(base, monkeypatch):
    import exposure.market.snapshot as snapshot
    import exposure.models.build as build
    import exposure.models.calibrate_config as calib
    import exposure.models.forward_variance as fv

    cfg, s, S, static, _, _ = base

    def no(*a, **k):
        raise AssertionError("rebuilt")

    for mod, name in ((snapshot, "build_market"), (snapshot, "build_credit"), (build, "build_model"),
                      (fv, "bootstrap_vol"), (fv, "calibrated_model"), (calib, "calibrate_currency")):
        monkeypatch.setattr(mod, name, no)
    fs = [f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type in ("FXVol", "EquityVol")][::4]
    for f in fs + [_factor(cfg, s, k) for k in MODEL]:
        model_state_tangent(cfg, s, f, S, static, 0.1)


P = 128
E2E = [("FXVol", "EUR/USD", "1Y"), ("EquityVol", "SX5E", "")]


@pytest.mark.slow
@pytest.mark.parametrize("key", E2E, ids=["/".join(k) for k in E2E])
def test_vol_sensitivity_equals_bump_and_revalue(base, key, tmp_path):
    """AD (reverse pass . set-up tangent) against two full pipeline runs with the quote moved by +-1 vol point."""
    from exposure.pipeline import run_pipeline

    cfg0, *_ = base
    cfg = compose(OVERRIDES[:-2] + [f"simulation.paths={P}", "output.csv=false", f"output.dir={tmp_path}"])
    s = setup(cfg)
    S, static = path_state(cfg, s)
    ms, seed = tuple(S["w"]), int(cfg.simulation.seed)
    G, values = reverse_pass(S, static, P, seed, False, ms)
    f = _factor(cfg, s, key)
    dS = model_state_tangent(cfg, s, f, S, static, RiskSettings().setup_step)
    ad = contract(G, dS).reshape(len(ms), -1)

    def per_path(S_):
        _, y = path_amounts(S_, static, 0, P, seed, False, 0.0)
        return jnp.stack([jnp.sum(S_["w"][m].T[:, :, None] * y[BASIS[m]], axis=0) for m in ms])

    with differentiable_loops():
        fwd = jax.jit(per_path)
        ad_p = np.asarray(jax.jit(lambda a, t: jax.jvp(per_path, (a,), (t,))[1])(S, dS))
        pp = {}
        for e in (1.0, -1.0, 2.0, -2.0):
            c = bumped(cfg, f, e)
            Sb, _ = path_state(c, setup(c))
            pp[e] = np.asarray(fwd(dict(Sb, L=aligned(Sb["L"], S["L"]))))
    full = {}
    for e in (1.0, -1.0):
        c = OmegaConf.merge(bumped(cfg, f, e), {"output": {"dir": str(tmp_path / str(e))}})
        ds = run_pipeline(c, setup(c)).dataset
        full[e] = np.stack([ds[m].values for m in ms])
        np.testing.assert_allclose(pp[e].mean(axis=-1), full[e], rtol=1e-7)  # the per-path view is the pipeline
    D = (full[1.0] - full[-1.0]) / 2.0
    D2 = ((pp[2.0] - pp[-2.0]) / 4.0).mean(axis=-1)
    se = (ad_p - (pp[1.0] - pp[-1.0]) / 2.0).std(axis=-1, ddof=1) / np.sqrt(P)
    tol = 4 * se + np.abs(D2 - D) + 1e-9 * (np.abs(D) + np.abs(values))
    assert np.all(np.abs(ad - D) <= tol), (f.label(), ad, D, tol)
    assert np.abs(ad).max() > 0.0


def test_market_vols_mode_equals_central_difference():
    """model.vol_calibration=market: the model's pieces are the market's forward vols (no bootstrap), and a model
    parameter moves none of them."""
    cfg = compose(OVERRIDES + ["model.vol_calibration=market"])
    s = setup(cfg)
    S, static = path_state(cfg, s)
    tctx = context(cfg, s, S, static)
    vctx = vol_context(cfg, s, static, tctx.tangent.theta)
    assert not any(av.bootstrap for av, _, _ in vctx.assets.values())
    h = 0.1
    for key in (("FXVol", "EUR/USD", "1Y"), ("Correlation", "IR:EUR~FX:EUR", "")):
        f = _factor(cfg, s, key)
        th, _, _ = theta_direction(tctx, vctx, s.built.model, s.market, f)
        Dh, D2h = (_theta_difference(cfg, s, tctx, f, hh) for hh in (h, 2 * h))
        for k in ("fx_vol", "eq_vol"):
            for a, d, d2 in zip(th[k], Dh[k], D2h[k]):
                assert np.abs(a - d).max() <= np.abs(d2 - d).max() + 1e-9 * np.abs(d).max() + 1e-15, (key, k, a, d)
        ad = model_state_tangent(cfg, s, f, S, static, h)
        D1 = difference(bumped_state(cfg, s, f, S, static, h), bumped_state(cfg, s, f, S, static, -h), S, h)
        D2 = difference(bumped_state(cfg, s, f, S, static, 2 * h), bumped_state(cfg, s, f, S, static, -2 * h), S,
                        2 * h)
        names = {f"['pres'][{i}]": n for i, n in enumerate(pres_names(static))}
        for (path, a), d1, d2, s0 in zip(jax.tree_util.tree_flatten_with_path(ad)[0], jax.tree_util.tree_leaves(D1),
                                         jax.tree_util.tree_leaves(D2), jax.tree_util.tree_leaves(S)):
            a, d1, d2, s0 = (np.asarray(x) for x in (a, d1, d2, s0))
            if a.size and names.get(jax.tree_util.keystr(path)) != "xi_lim":
                tol = np.abs(d2 - d1).max() + 1e-13 * np.abs(s0).max() / h + 1e-12 * np.abs(d1).max()
                assert np.abs(a - d1).max() <= tol, (key, jax.tree_util.keystr(path))
