"""The stochastic default intensity in the cross-asset model (exposure.models.credit_intensity) against closed
forms nobody here wrote: Gaussian moments of the joint law of (z, Z) and the Hull-White rate states.

    lambda = phi + z, dz = -b z dt + s dW_l;  x: dx = -a x dt + sigma dW_r, dI = x dt;  d<W_l, W_r> = rho dt
    E[S(t)] = S_mkt(t)                                          (phi fitted to the curve: a martingale test)
    E[S(t) x(t)]   = -S_mkt(t) Cov(Z(t), x(t))                  (Stein: E[e^{-Z} x] = -Cov(Z, x) e^{Var Z / 2})
    E[S(t) / N(T)] = S_mkt(t) P(0, T) exp(Cov(Z(t), I(T)))       (t <= T; the risky discount factor)
    Cov(Z(t), x(t)) = rho s sigma int_0^t B_b(t - u) e^{-a (t - u)} du,  Cov(Z(t), I(T)) = rho s sigma
    int_0^t B_b(t - u) B_a(T - u) du,  B_k(v) = (1 - e^{-k v}) / k      (scipy quad, not Van Loan)

Simulated with the engine's exact scheme (PathGenerator); tolerances 4 standard errors, and every correlated
reference is checked to be far from its uncorrelated value, so that a lost correlation fails.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate

import exposure
from exposure.errors import ConfigError
from exposure.market.credit import CreditCurve
from exposure.market.snapshot import build_market
from exposure.models.build import build_model
from exposure.models.credit_intensity import credit_intensity
from exposure.simulation.paths import Discretisation, PathGenerator

A_R, SIG_R = 0.1, 0.01  # conf/model/flat.yaml: USD Hull-White
B_L, SIG_L = 0.2, 0.015  # intensity mean reversion and (piecewise, below) vol
TIMES = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
PATHS = 8000


class _Grid:
    times = TIMES


def _model(rho: float, vols=(SIG_L,), vol_times=()):
    """The flat market's model with CP_A's intensity on a non-flat hazard curve, rho(IR:USD, CR:CP_A)."""
    corr = f"model.correlations=[{{a:'IR:USD',b:'CR:CP_A',rho:{rho}}}]"
    cfg = exposure.compose(["market=flat", "model=flat_wwr", corr])
    model = build_model(build_market(cfg.market), cfg.model, calibrate=False).model
    curve = CreditCurve.from_hazards([1.0, 3.0, 10.0], [0.01, 0.03, 0.02], 0.4, "CP_A")
    return dataclasses.replace(model, credit=(credit_intensity("CP_A", curve, B_L, list(vols), list(vol_times)),))


def _states(model, antithetic=True):
    gen = PathGenerator(Discretisation.build(model, _Grid), PATHS, PATHS, seed=7, antithetic=antithetic)
    return gen.all_states()  # (K + 1, d, P), t0 first


def _mean_se(v):
    """Mean and standard error over the last axis; antithetic pairs (2j, 2j+1) averaged first."""
    v = 0.5 * (v[..., 0::2] + v[..., 1::2])
    return v.mean(-1), v.std(-1, ddof=1) / np.sqrt(v.shape[-1])


def _B(k, v):
    return (1.0 - np.exp(-k * v)) / k


def _cov_z_x(rho, t):
    return rho * SIG_L * SIG_R * integrate.quad(lambda u: _B(B_L, t - u) * np.exp(-A_R * (t - u)), 0.0, t)[0]


def _cov_z_i(rho, t, T, sig_l=SIG_L):
    return rho * sig_l * SIG_R * integrate.quad(lambda u: _B(B_L, t - u) * _B(A_R, T - u), 0.0, t)[0]


def test_simulated_survival_reproduces_the_market_curve():
    """E[exp(-int lambda)] = S_mkt(t) at every date (piecewise vol with a breakpoint at 2Y, correlated with
    rates, hazards 1% / 3% / 2%), within 4 SE; the paths really are stochastic (sd of S > 1%)."""
    model = _model(0.5, vols=(0.01, 0.02), vol_times=(2.0,))
    cr = model.credit[0]
    Y = _states(model)
    S = cr.survival(TIMES, Y[1:, model.cr_state(0) + 1, :])
    mean, se = _mean_se(S)
    ref = cr.curve.survival_np(TIMES)
    assert np.all(np.abs(mean - ref) < 4 * se), (mean, ref, se)
    assert np.std(S[-1]) > 0.01


@pytest.mark.parametrize("rho", [0.5, -0.5])
def test_joint_moments_with_the_rate_factor_match_closed_forms(rho):
    """E[S(t) x(t)] and E[S(t) / N(T)] against the Gaussian closed forms (module docstring) at t = 1, 3, 5;
    E[S x] is > 10 SE away from 0 (its value without correlation)."""
    model = _model(rho)
    cr = model.credit[0]
    Y = _states(model)
    from exposure.models.hull_white import integrated_phi

    hw, curve = model.hw[0], model.curves[0]
    T = TIMES[-1]
    inv_NT = np.exp(-integrated_phi(hw, curve, np.array(T), xp=np) - Y[-1, 1, :])  # 1/N(T), state BA:USD
    P0T = float(np.exp(curve.log_discount_np(np.array(T))))
    for t in (1.0, 3.0, 5.0):
        k = 1 + int(np.flatnonzero(TIMES == t)[0])
        S = cr.survival(np.array([t]), Y[k:k + 1, model.cr_state(0) + 1, :])[0]
        m, se = _mean_se(S * Y[k, 0, :])
        ref = -float(cr.curve.survival_np(t)) * _cov_z_x(rho, t)
        assert abs(m - ref) < 4 * se, (t, m, ref, se)
        assert abs(ref) > 10 * se
        m2, se2 = _mean_se(S * inv_NT)
        ref2 = float(cr.curve.survival_np(t)) * P0T * np.exp(_cov_z_i(rho, t, T))
        assert abs(m2 - ref2) < 4 * se2, (t, m2, ref2, se2)


def test_negative_intensity_probability_matches_the_simulated_fraction():
    """P(lambda(t) < 0) = Phi(-phi(t) / sd z(t)) (reported per name) against the fraction of paths with
    phi(t) + z(t) < 0 (binomial error), at 5Y where it is material (> 10%), and 0 at t = 0."""
    model = _model(0.0, vols=(0.02,))
    cr = model.credit[0]
    Y = _states(model, antithetic=False)
    t = 5.0
    k = 1 + int(np.flatnonzero(TIMES == t)[0])
    frac = np.mean(cr.shift(np.array([t]))[0] + Y[k, model.cr_state(0), :] < 0.0)
    p = float(cr.negative_intensity_probability(np.array([t]))[0])
    assert p > 0.1 and abs(frac - p) < 4 * np.sqrt(p * (1 - p) / PATHS), (frac, p)
    rep = cr.report([0.0, 1.0, 5.0]).to_frame()
    assert list(rep["time"]) == [1.0, 5.0] and rep["prob_negative_intensity"].iloc[-1] == pytest.approx(p)
    # the shift: phi = h + (1/2) dV/dt, dV/dt = s^2 B(t)^2 for constant s (closed form)
    assert float(cr.shift(np.array([t]))[0]) == pytest.approx(0.02 + 0.5 * (0.02 * _B(B_L, t)) ** 2, rel=1e-6)


def test_bad_intensity_config_is_named():
    """An intensity for a name without a credit curve, or a bad mean reversion, fails naming the key."""
    cfg = exposure.compose(["market=flat", "model=flat_wwr", "model.credit.CP_A.mean_reversion=-1.0"])
    with pytest.raises(ConfigError, match="model.credit.CP_A.mean_reversion"):
        build_model(build_market(cfg.market), cfg.model, calibrate=False)
    cfg = exposure.compose(["market=flat", "model=flat_wwr", "~market.credit.CP_A"])
    with pytest.raises(ConfigError, match="model.credit.CP_A"):
        build_model(build_market(cfg.market), cfg.model, calibrate=False)


def test_correlated_cva_of_a_zero_bond_matches_the_closed_form():
    """CVA of receiving 1 USD at T = 10 (exposure P(t_k, T) > 0 on every path) with a correlated intensity,
    through the streamed per-path weights (``stochastic_cva``, ``PathFunctionalSums``). Since P(t, T)/N(t) =
    E_t[1/N(T)] and S(t_j) is known at t_k >= t_j:

        CVA = 0.6 P(0, T) sum_k [S_mkt(t_{k-1}) e^{C(t_{k-1}, T)} - S_mkt(t_k) e^{C(t_k, T)}],
        C(t, T) = Cov(Z(t), I(T))  (quadrature)

    rho = 0.9, s = 3%: right way (the bond is worth least when rates, and so the intensity, are high), the
    reference lies > 8 SE below the uncorrelated one; the simulated CVA within 4 SE of it."""
    from exposure.aggregation.measures import ExposureAggregator
    from exposure.models.hull_white import integrated_phi, zero_bond
    from exposure.portfolio.netting import NettingSet
    from exposure.xva.adjustments import path_functionals
    from exposure.xva.settings import XvaSettings

    rho, T, sig_l = 0.9, 10.0, 0.03
    model = _model(rho, vols=(sig_l,))
    cr = model.credit[0]
    times = np.concatenate([[0.0], TIMES, [T]])
    g = type("G", (), {"times": times[1:]})
    Y = PathGenerator(Discretisation.build(model, g), PATHS, PATHS, seed=11).all_states()
    hw, curve = model.hw[0], model.curves[0]
    V = zero_bond(hw, curve, times[:, None], T, Y[:, 0, :], xp=np)[:, None, :]  # (K, 1, P)
    N = np.exp(integrated_phi(hw, curve, times, xp=np)[:, None] + Y[:, 1, :])
    settings = XvaSettings(wwr_model="stochastic_intensity", wwr_names=("CP_A",))
    credit = {"CP_A": cr.curve}
    sets = [NettingSet("NS", "CP_A")]
    kw = path_functionals(settings, credit, "BANK", sets, times, np.exp(curve.log_discount_np(times)), model=model)
    agg = ExposureAggregator(sets, PATHS, times, quantiles=[], **kw)
    agg.add_chunk(0, PATHS, V, N, states=Y)
    f = agg.finalize().functionals
    cva, se = f["CVA"]["entity"][0][0], f["CVA"]["entity"][1][0]
    S = cr.curve.survival_np(times)
    C = np.array([_cov_z_i(rho, t, T, sig_l) for t in times])
    P0T = float(np.exp(curve.log_discount_np(np.array(T))))
    ref = 0.6 * P0T * np.sum(S[:-1] * np.exp(C[:-1]) - S[1:] * np.exp(C[1:]))
    ref0 = 0.6 * P0T * (S[0] - S[-1])
    assert abs(cva - ref) < 4 * se, (cva, ref, se)
    assert ref0 - ref > 8 * se, (ref0, ref, se)
    assert abs(f["CVA_independent"]["entity"][0][0] - ref0) < 4 * f["CVA_independent"]["entity"][1][0]
