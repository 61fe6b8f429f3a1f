"""The market side of the set-up layer by AD (exposure/risk/setup_market.py, exposure/market/credit_jax.py,
exposure/xva/weights_jax.py): values equal the NumPy set-up (CDS bootstrap, XVA weights) to rounding, and the AD
tangents equal central differences of the NumPy set-up within their own truncation error, estimated from the
step: |FD(h) - FD(2h)| (the O(h^2) term of FD(2h) is four times that of FD(h))."""

from __future__ import annotations

import numpy as np
import pytest

from exposure.api import compose
from exposure.market.cds import _legs, bootstrap_cds
from exposure.market.credit_jax import CdsBootstrap
from exposure.risk import risk_settings
from exposure.risk.setup_market import market_tangents
from exposure.risk.stage import factor_list, tangent
from exposure.risk.state import bumped_state, difference, path_state
from exposure.setup import setup
from exposure.xva import xva_settings, xva_weights
from exposure.xva.weights_jax import Credit, weight_arrays

TINY = ["portfolio.trades=tests/data/risk_tiny.yaml", "portfolio.fixings=null", "simulation.grid='6M,1Y,2Y,3Y,5Y'",
        "risk=ad"]


@pytest.fixture(scope="module")
def tiny():
    cfg = compose(TINY)
    s = setup(cfg)
    S, static = path_state(cfg, s)
    return cfg, s, S, static


def _cds_inputs(s, name):
    m = s.market
    return m, m.curves[m.base_currency], m.credit[name]


def test_vectorised_cds_legs_equal_the_numpy_bootstrap(tiny):
    """Par spreads of the jnp legs at the bootstrapped hazards reprice the quotes (1e-12) and equal the NumPy
    legs (``cds._legs``, the bootstrap's own, checked against QuantLib in tests/test_credit*.py) to 1e-14."""
    cfg, s, _, _ = tiny
    for name in ("CP_A", "CP_E", "BANK"):
        m, base, curve = _cds_inputs(s, name)
        cc = cfg.market.credit[name]
        boot = CdsBootstrap.build(m.asof, list(cc.tenors), np.asarray(base.times))
        np.testing.assert_array_equal(boot.times, np.asarray(curve.times))
        par = np.asarray(boot.par_spreads(curve.hazards, curve.recovery, base.log_dfs))
        np.testing.assert_allclose(par, np.array(cc.spreads_bp) * 1e-4, rtol=0, atol=1e-12)
        from exposure.market.cds import cds_contract

        h = np.asarray(curve.hazards)
        for k, tenor in enumerate(cc.tenors):
            prot, ann = _legs(np, np.asarray(curve.times), h, float(curve.recovery), cds_contract(m.asof, tenor),
                              base.log_discount_np, np.asarray(base.times), "midpoint")
            assert par[k] == pytest.approx(prot / ann, rel=1e-14, abs=0)


def test_hazard_derivatives_by_the_implicit_function_theorem_equal_central_differences(tiny):
    """dh/dq, dh/dR, dh/dy (IFT on the jnp residual) against central differences of the NumPy bootstrap
    (brentq to 1e-16 in h), within |FD(h) - FD(2h)| plus the solver's noise over the step."""
    cfg, s, _, _ = tiny
    m, base, curve = _cds_inputs(s, "CP_E")
    cc = cfg.market.credit["CP_E"]
    q = np.array(cc.spreads_bp) * 1e-4
    R = float(cc.recovery)
    y = np.asarray(base.log_dfs)
    boot = CdsBootstrap.build(m.asof, list(cc.tenors), np.asarray(base.times))
    d = boot.hazard_derivatives(np.asarray(curve.hazards), q, R, y)
    from exposure.market.curves import DiscountCurve

    def hz(q_=q, R_=R, y_=y):
        disc = DiscountCurve(base.times, np.asarray(y_), name=base.name)
        return np.asarray(bootstrap_cds(m.asof, list(cc.tenors), q_, R_, disc).hazards)

    def check(ad, f, h):
        fd1 = (f(h) - f(-h)) / (2 * h)
        fd2 = (f(2 * h) - f(-2 * h)) / (4 * h)
        tol = np.abs(fd1 - fd2) + 1e-12 / h
        assert np.all(np.abs(ad - fd1) <= tol), (ad, fd1, tol)
        return fd1

    e = np.eye(q.size)
    for i in range(q.size):
        check(d["q"][:, i], lambda h: hz(q_=q + h * e[i]), 1e-5)
    check(d["R"], lambda h: hz(R_=R + h), 1e-3)
    moved = 0
    for i in range(y.size):
        dy = np.zeros(y.size)
        dy[i] = 1.0
        fd = check(d["y"][:, i], lambda h: hz(y_=y + h * dy), 1e-5)
        moved += bool(np.any(fd))
    assert moved >= 5  # the pillars up to 10Y move the hazards
    assert np.abs(d["q"]).max() > 1.0 and np.all(np.diag(d["q"]) > 0.0)


@pytest.mark.parametrize("bilateral,disc,weighting", [(False, "ore", "full"), (True, "midpoint", "ex_own_sp"),
                                                      (True, "ore", "ex_all_sp")])
def test_jnp_weights_equal_the_numpy_weights(tiny, bilateral, disc, weighting):
    cfg, s, _, static = tiny
    c = compose(TINY + [f"xva.bilateral={bilateral}", f"xva.discretisation={disc}",
                        f"xva.survival_weighting={weighting}"])
    xs = xva_settings(c, s.market.asof)
    m = s.market
    ns = s.portfolio.netting_sets
    cps = [n.counterparty for n in ns] + ["NO_CURVE"]  # a counterparty without a curve: zero CVA row
    t = static.val_times
    base = m.curves[m.base_currency]
    ref = xva_weights(xs, m.credit, m.own_name, [n.id for n in ns] + ["X"], cps, t,
                      np.exp(base.log_discount_np(t)))
    credit = {k: Credit(np.asarray(v.times), v.hazards, v.recovery) for k, v in m.credit.items()}
    f = xs.funding
    got = weight_arrays(credit, m.own_name, cps, t, np.asarray(base.times), base.log_dfs,
                        (f.times, f.borrowing, f.lending), xs.bilateral, xs.discretisation, xs.survival_weighting,
                        ("CVA", "DVA", "FCA", "FBA"))
    from exposure.xva import FUNDING_VARIANTS

    sfx = FUNDING_VARIANTS[weighting]
    for k, r in (("CVA", ref.cva), ("DVA", ref.dva), ("FCA", ref.funding["FCA" + sfx]),
                 ("FBA", ref.funding["FBA" + sfx])):
        np.testing.assert_allclose(np.asarray(got[k]), r, rtol=0, atol=1e-12 * np.abs(r).max())
        assert np.abs(r).max() > 0.0
    assert not np.any(np.asarray(got["CVA"])[-1])


def _picks(cfg, s):
    want = {("CDSSpread", "CP_A", "3Y"), ("CDSSpread", "BANK", "1Y"), ("CDSSpread", "CP_E", "5Y"),
            ("Recovery", "CP_E", ""), ("Recovery", "BANK", ""), ("FundingSpread", "borrowing", "3Y"),
            ("FundingSpread", "lending", "5Y"), ("DiscountCurve", "USD", "2Y"), ("DiscountCurve", "USD", "6M")}
    fs = [f for f in factor_list(cfg, s, risk_settings(cfg)) if (f.factor_type, f.name, f.pillar) in want]
    assert len(fs) == len(want)
    return fs


def _check_against_differences(cfg, s, S, static, factors, h=0.1):
    mt = market_tangents(cfg, s, tuple(S["w"]), static.val_times)
    for m, w in mt.weights().items():  # the jnp weights at the run's inputs are the run's weights
        np.testing.assert_allclose(w, S["w"][m], rtol=0, atol=1e-12 * np.abs(S["w"][m]).max())
    for f in factors:
        parts, complete = mt.parts(f)
        assert complete == (f.factor_type != "DiscountCurve"), f.label()
        fd = {e: difference(bumped_state(cfg, s, f, S, static, e), bumped_state(cfg, s, f, S, static, -e), S, e)
              for e in (h, 2 * h)}
        moved = False
        for m in S["w"]:
            ad, d1, d2 = parts["w"][m], fd[h]["w"][m], fd[2 * h]["w"][m]
            tol = np.abs(d1 - d2) + 1e-13 * np.abs(S["w"][m]).max() / h
            assert np.all(np.abs(ad - d1) <= tol), (f.label(), m, np.abs(ad - d1).max(), tol.max())
            moved |= bool(np.any(d1))
        assert moved, f.label()


def test_weight_tangents_equal_central_differences_of_the_numpy_setup(tiny):
    cfg, s, S, static = tiny
    _check_against_differences(cfg, s, S, static, _picks(cfg, s))


@pytest.mark.slow
def test_weight_tangents_bilateral_midpoint_and_flat_hazard():
    cfg = compose(TINY + ["xva.bilateral=true", "xva.discretisation=midpoint", "market.credit.CP_E.tenors=[]",
                          "market.credit.CP_E.spreads_bp=[]", "market.credit.CP_E.flat_hazard=0.03"])
    s = setup(cfg)
    S, static = path_state(cfg, s)
    fs = [f for f in factor_list(cfg, s, risk_settings(cfg))
          if (f.factor_type, f.name, f.pillar) in {("HazardRate", "CP_E", ""), ("Recovery", "CP_E", ""),
                                                   ("CDSSpread", "CP_A", "1Y"), ("DiscountCurve", "USD", "1Y")}]
    assert len(fs) == 4
    _check_against_differences(cfg, s, S, static, fs)


def test_credit_and_funding_tangents_rebuild_nothing(tiny, monkeypatch):
    """stage.tangent takes a credit or funding factor's whole tangent from AD (no set-up is rebuilt) and a
    base-curve pillar's weights from AD on top of the central difference of the rest."""
    import exposure.risk.stage as stage

    cfg, s, S, static = tiny
    mt = market_tangents(cfg, s, tuple(S["w"]), static.val_times)
    picks = _picks(cfg, s)
    calls = []
    real, real_model = stage.bumped_state, stage.model_state_tangent
    monkeypatch.setattr(stage, "bumped_state", lambda *a, **k: calls.append(a[2].label()) or real(*a, **k))
    # a base-curve pillar: the model side by jvp and the rest by difference, credit curves kept (weights by AD)
    monkeypatch.setattr(stage, "model_state_tangent", lambda *a, **k: (
        calls.append(a[2].label() + (" keep_credit" if k.get("keep_credit") else "")) or real_model(*a, **k)))
    for f in picks:
        dS = tangent(cfg, f, S, static, s, 0.1, mt)
        np.testing.assert_array_equal(dS["w"]["CVA"], mt.parts(f)[0]["w"]["CVA"])
        if f.factor_type != "DiscountCurve":
            assert not any(np.any(x) for x in __import__("jax").tree_util.tree_leaves(dict(dS, w={})))
    assert sorted(set(calls)) == ["DiscountCurve/USD/2Y keep_credit", "DiscountCurve/USD/6M keep_credit"]
