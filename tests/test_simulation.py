"""The simulator against references nobody here wrote: martingale identities and HW closed forms.

Every Monte Carlo comparison is |estimate - reference| <= 4 standard errors at a fixed seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from scipy.integrate import quad

from exposure.models.hull_white import integrated_phi, zero_bond
from exposure.models.hw_options import zero_bond_option
from exposure.simulation.paths import Discretisation, PathGenerator
from tests.conftest import Grid

TIMES = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0])
N_PATHS = 40_000


@pytest.fixture(scope="module")
def states(model):
    disc = Discretisation.build(model, Grid(TIMES))
    return PathGenerator(disc, N_PATHS, 20_000, seed=11).all_states()[1:]  # drop t0: (K, d, P)


def _numeraire(model, states):
    return np.exp(np.asarray(integrated_phi(model.hw[0], model.curves[0], TIMES))[:, None] + states[:, 1, :])


def _hw_sigma(hw):
    """sigma(u) of a piecewise-constant Hull-White vol, read from the model's inputs (not its formulas)."""
    times, values = np.asarray(hw.vol_times), np.asarray(hw.vol_values)
    return lambda u: float(values[np.searchsorted(times, u, side="right")])


def _hw_variances_by_quadrature(hw, t):
    """Var x(t) = int_0^t sigma(u)^2 e^{-2a(t-u)} du and Var int_0^t x = int_0^t sigma(u)^2 B(u,t)^2 du,
    B(u,t) = (1 - e^{-a(t-u)}) / a: Brigo-Mercurio (3.37)-(3.39), integrated numerically by scipy."""
    a, sig = float(hw.mean_reversion), _hw_sigma(hw)
    kinks = [float(b) for b in np.asarray(hw.vol_times) if b < t]
    opts = dict(points=kinks or None, epsabs=0.0, epsrel=1e-13)
    var_x = quad(lambda u: sig(u) ** 2 * np.exp(-2 * a * (t - u)), 0.0, t, **opts)[0]
    var_i = quad(lambda u: sig(u) ** 2 * (-np.expm1(-a * (t - u)) / a) ** 2, 0.0, t, **opts)[0]
    return var_x, var_i


def _assert_within(samples, reference, what, k=4.0):
    mean = samples.mean(axis=-1)
    se = samples.std(axis=-1, ddof=1) / np.sqrt(samples.shape[-1])
    z = (mean - reference) / se
    assert np.all(np.abs(z) < k), f"{what}: z-scores {np.round(z, 2)} (means {mean}, reference {reference})"


@pytest.mark.parametrize("ccy", [0, 1, 2])
@pytest.mark.parametrize("maturity", [10.5, 20.0])
def test_discounted_zero_bonds_are_martingales(model, states, ccy, maturity):
    """E[X_c(t) P_c(t,T) / beta(t)] = X_c(0) P_c(0,T) for every currency (foreign bonds at spot)."""
    beta = _numeraire(model, states)
    x = states[:, model.ir_state(ccy), :]
    bond = np.asarray(zero_bond(model.hw[ccy], model.curves[ccy], TIMES[:, None], maturity, x))
    fx = 1.0 if ccy == 0 else np.exp(states[:, model.fx_state(ccy), :])
    spot = 1.0 if ccy == 0 else model.fx_spot[ccy - 1]
    _assert_within(bond * fx / beta, spot * float(model.curves[ccy].discount(maturity)), f"ccy {ccy}, T={maturity}")


@pytest.mark.parametrize("ccy", [1, 2])
def test_discounted_fx_forward_is_martingale(model, states, ccy):
    """E[(X_c(t) P_c(t,T) - K P_0(t,T)) / beta(t)] = X_c(0) P_c(0,T) - K P_0(0,T): a forward contract."""
    beta = _numeraire(model, states)
    T, K = 12.0, 1.2
    pf = np.asarray(zero_bond(model.hw[ccy], model.curves[ccy], TIMES[:, None], T, states[:, model.ir_state(ccy), :]))
    pd = np.asarray(zero_bond(model.hw[0], model.curves[0], TIMES[:, None], T, states[:, 0, :]))
    v = (np.exp(states[:, model.fx_state(ccy), :]) * pf - K * pd) / beta
    ref = model.fx_spot[ccy - 1] * float(model.curves[ccy].discount(T)) - K * float(model.curves[0].discount(T))
    _assert_within(v, ref, f"FX forward {ccy}")


def test_discounted_equity_forward_is_martingale(model, states):
    """E[S(t) e^{q t} X_EUR(t) / beta(t)] = S(0) X_EUR(0): the quanto-consistent equity drift."""
    beta = _numeraire(model, states)
    s = np.exp(states[:, model.eq_state(0), :])
    fx = np.exp(states[:, model.fx_state(1), :])
    v = s * np.exp(model.equity_div[0] * TIMES[:, None]) * fx / beta
    _assert_within(v, model.equity_spot[0] * model.fx_spot[0], "equity")


@pytest.mark.parametrize("strike_shift", [0.0, 0.03])
def test_zero_bond_option_by_simulation_matches_closed_form(model, states, strike_shift):
    """E[(P(T_e,T_m) - K)^+ / beta(T_e)] = ZBO call closed form (Hull-White, Brigo-Mercurio 3.40)."""
    k_exp = 4  # T_e = 3
    t_exp, t_mat = TIMES[k_exp], 8.0
    hw, curve = model.hw[0], model.curves[0]
    K = float(curve.discount(t_mat) / curve.discount(t_exp)) + strike_shift * 0.1
    bond = np.asarray(zero_bond(hw, curve, t_exp, t_mat, states[k_exp, 0, :]))
    payoff = np.maximum(bond - K, 0.0) / _numeraire(model, states)[k_exp]
    ref = float(zero_bond_option(hw, curve, 0.0, t_exp, t_mat, K, True, 0.0))
    assert ref > 1e-4
    _assert_within(payoff[None], np.array([ref]), "ZBO")


def test_discretisation_has_exact_hull_white_moments(model):
    """The exact scheme's covariance reproduces Var x(t) and Var int_0^t x of HW, computed here by scipy
    quadrature of the textbook integrands, to 1e-10 (Van Loan cancels digits on short steps)."""
    disc = Discretisation.build(model, Grid(TIMES))
    Phi, mu, Sigma = model.transitions(TIMES)
    cov = np.zeros((model.dim, model.dim))
    for k in range(len(TIMES)):
        cov = Phi[k] @ cov @ Phi[k].T + Sigma[k]
        var_x, var_i = _hw_variances_by_quadrature(model.hw[0], TIMES[k])
        np.testing.assert_allclose(cov[0, 0], var_x, rtol=1e-10)
        np.testing.assert_allclose(cov[1, 1], var_i, rtol=1e-10)
    np.testing.assert_allclose(disc.L @ np.swapaxes(disc.L, -1, -2), Sigma, atol=1e-15)


def test_same_seed_same_paths_any_chunk_size(model):
    disc = Discretisation.build(model, Grid(TIMES[:4]))
    a = PathGenerator(disc, 1000, 1000, seed=3).all_states()
    b = PathGenerator(disc, 1000, 137, seed=3).all_states()
    c = PathGenerator(disc, 1000, 1000, seed=4).all_states()
    np.testing.assert_array_equal(a, b)
    # Another seed gives independent paths: the first-step USD shocks of seeds 3 and 4 are uncorrelated
    # (|rho| < 4 / sqrt(n)), which a generator that ignores or merely offsets the seed would break.
    rho = np.corrcoef(a[1, 0, :], c[1, 0, :])[0, 1]
    assert abs(rho) < 4.0 / np.sqrt(a.shape[-1]), rho


@pytest.mark.parametrize("k", [0, 3, 7])
def test_simulated_short_rate_state_has_hull_white_variance(model, states, k):
    """Sample E[(x(t) - xbar)^2] of the simulated USD state vs Var x(t) by quadrature, within 4 SE; likewise
    the integrated state int_0^t x (the log numeraire's random part)."""
    var_x, var_i = _hw_variances_by_quadrature(model.hw[0], TIMES[k])
    for row, ref, what in ((0, var_x, "x"), (1, var_i, "int x")):
        x = states[k, row, :]
        _assert_within(((x - x.mean()) ** 2)[None], np.array([ref]), f"Var {what}({TIMES[k]})")


def test_antithetic_pairs_mirror_each_other(model):
    disc = Discretisation.build(model, Grid(TIMES[:3]))
    y = PathGenerator(disc, 10, 4, seed=5, antithetic=True).all_states()
    y0 = model.initial_state()[None, :]
    # One step from the same start: the noise of path 2j+1 is minus that of path 2j.
    noise = y[1] - (disc.Phi[0] @ y0.T).T.T[:, :1] - disc.mu[0][:, None]
    np.testing.assert_allclose(noise[:, 0::2], -noise[:, 1::2], atol=1e-14)


def test_float32_opt_in_is_close_to_float64(model):
    disc = Discretisation.build(model, Grid(TIMES[:4]))
    y64 = PathGenerator(disc, 2000, 2000, seed=9).all_states()
    y32 = PathGenerator(disc, 2000, 2000, seed=9, dtype="float32").all_states()
    assert y32.dtype == np.float32
    # float32 normals differ from float64 normals only by rounding: same paths to single precision.
    np.testing.assert_allclose(y32, y64, atol=1e-5)
