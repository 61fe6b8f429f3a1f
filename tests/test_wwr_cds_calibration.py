"""Calibration of the stochastic intensity's vol to CDS option Black vols (exposure.models.credit_calibration).

    - round trip: the bootstrapped piecewise sigma reprices every ATM payer option to its Black price;
    - the closed form (Jamshidian decomposition + the survival-measure shift of z) against a Monte Carlo of the
      same option on the engine's exact paths (deterministic rates: USD vol 0): the discounted, survival-weighted
      payoff P(0, T_e) S_p(T_e) V(z_p(T_e))^+, within 4 SE; and the conditional survival S(T_e, t | z) it uses
      against the tower property E[S_p(T_e) S(T_e, t | z_p)] = S_mkt(t);
    - through the config: model.credit.<name>.option_* replace the volatility, with a report; an unreachable
      quote (a later expiry whose Black variance is below what the earlier sigma already gives) fails naming
      its key.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import exposure
from exposure.errors import ConfigError
from exposure.market.credit import CreditCurve
from exposure.market.snapshot import build_market
from exposure.models.build import build_model
from exposure.models.credit_calibration import (_SurvivalCurve, black_payer, calibrate_vols, forward_legs,
                                                model_payer, premium_times)
from exposure.models.credit_intensity import CreditIntensity
from exposure.models.hull_white import zero_bond
from exposure.simulation.paths import Discretisation, PathGenerator

CURVE = CreditCurve.from_hazards([1.0, 3.0, 10.0], [0.01, 0.03, 0.02], 0.4, "CP_A")
EXPIRIES, TERMS, VOLS = [1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [0.5, 0.45, 0.4]
A = 0.1


def _log_df(t):
    return -0.03 * np.asarray(t, dtype=np.float64)  # conf/market/flat.yaml USD: flat 3%


def test_bootstrapped_vols_reprice_every_option():
    hw, rows = calibrate_vols(CURVE, _log_df, A, EXPIRIES, TERMS, VOLS, 0.4, "model.credit.CP_A")
    assert np.asarray(hw.vol_times).tolist() == EXPIRIES[:-1] and np.all(np.asarray(hw.vol_values) > 0)
    for te, term, vol, row in zip(EXPIRIES, TERMS, VOLS, rows):
        prot, ann = forward_legs(CURVE, _log_df, premium_times(te, term), 0.4)
        black = black_payer(CURVE, _log_df, te, term, vol, 0.4)
        assert model_payer(hw, CURVE, _log_df, te, term, prot / ann, 0.4) == pytest.approx(black, rel=1e-9)
        assert row["model_price"] == pytest.approx(black, rel=1e-9)


@pytest.mark.parametrize("moneyness", [0.8, 1.0, 1.3])
def test_closed_form_matches_monte_carlo_on_the_engine_paths(moneyness):
    cfg = exposure.compose(["market=flat", "model=flat_wwr", "model.ir.USD.volatility=[0.0]", "model.correlations=[]"])
    base = build_model(build_market(cfg.market), cfg.model, calibrate=False).model
    hw, _ = calibrate_vols(CURVE, _log_df, A, EXPIRIES, TERMS, VOLS, 0.4, "model.credit.CP_A")
    model = dataclasses.replace(base, credit=(CreditIntensity("CP_A", hw, CURVE),))
    te, term = 2.0, 5.0
    paths = 200000
    grid = type("G", (), {"times": np.array([1.0, te])})
    Y = PathGenerator(Discretisation.build(model, grid), paths, paths, seed=5).all_states()
    k = model.cr_state(0)
    S_te = model.credit[0].survival(np.array([te]), Y[-1:, k + 1, :])[0]
    z = Y[-1, k, :]
    t = premium_times(te, term)
    cond = zero_bond(hw, _SurvivalCurve(CURVE), te, t[:, None], z[None, :], xp=np)  # S(T_e, t_i | z), (n+1, P)
    # tower property of the conditional survival the closed form uses
    tower = S_te[None, :] * cond[[4, -1]]
    m, se = tower.mean(1), tower.std(1, ddof=1) / np.sqrt(paths)
    assert np.all(np.abs(m - CURVE.survival_np(t[[4, -1]])) < 4 * se)
    prot, ann = forward_legs(CURVE, _log_df, t, 0.4)
    K = moneyness * prot / ann
    pe = np.exp(_log_df(t[1:]) - _log_df(te))[:, None]
    V = 0.6 * np.sum(pe * (cond[:-1] - cond[1:]), axis=0) - K * np.sum(np.diff(t)[:, None] * pe * cond[1:], axis=0)
    pay = np.exp(_log_df(te)) * S_te * np.maximum(V, 0.0)
    mc, se = pay.mean(), pay.std(ddof=1) / np.sqrt(paths)
    ref = model_payer(hw, CURVE, _log_df, te, term, K, 0.4)
    assert abs(mc - ref) < 4 * se and se < 0.006 * ref, (mc, ref, se)  # the measure shift alone moves ref 2.5%


def test_config_calibration_and_a_bad_quote():
    opts = ["model.credit.CP_A.option_expiries=[1Y,2Y]", "model.credit.CP_A.option_terms=[5Y,5Y]"]
    cfg = exposure.compose(["market=flat", "model=flat_wwr", *opts, "model.credit.CP_A.option_vols=[0.5,0.45]"])
    built = build_model(build_market(cfg.market), cfg.model, calibrate=False)
    rep = built.calibration["CR_CP_A_options"].to_frame()
    np.testing.assert_allclose(rep["model_price"], rep["market_price"], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(built.model.credit[0].hw.vol_values), rep["sigma"])
    cfg = exposure.compose(["market=flat", "model=flat_wwr", *opts, "model.credit.CP_A.option_vols=[0.5,0.05]"])
    with pytest.raises(ConfigError, match=r"model.credit.CP_A.option_vols\[1\]"):
        build_model(build_market(cfg.market), cfg.model, calibrate=False)
