"""Date weights of the XVA sums: every adjustment here is linear in a discounted exposure profile,

    A = sum_k w_k y(t_k),   y in {EPE, ENE, FundingEPE, FundingENE} (netting_set, date), discounted,

so the same weights give the figure from the stored profile and, applied per path before the simulation
(``exposure.aggregation.path_functionals.PathFunctionalSums``), its Monte Carlo standard error.

Dates t_0 = 0 < t_1 < ... < t_{K-1} (the results' exposure dates, t_0 = today), intervals I_j = (t_{j-1}, t_j].
c = the netting set's counterparty, b = the bank (``market.own_name``); S_c, S_b survival curves, R recoveries.

Default weights q_j (probability of the relevant default in I_j):
    unilateral        q_j^c = S_c(t_{j-1}) - S_c(t_j)
    first-to-default  q_j^c = P(tau_c in I_j, tau_c < tau_b) = int_{I_j} h_c(u) S_c(u) S_b(u) du
                      (independent defaults; exact for piecewise-flat hazards: the interval is split at every
                      hazard pillar and each piece contributes h_c/(h_c+h_b) [S_c S_b(a) - S_c S_b(b)])
    DVA likewise with the roles of c and b swapped.

Discretisation of the exposure inside I_j:
    "ore"       CVA = (1-R_c) sum_j q_j^c EPE(t_j)          (ORE's right end point: EPE at t_j)
    "midpoint"  CVA = (1-R_c) sum_j q_j^c (EPE(t_{j-1}) + EPE(t_j)) / 2   (exposure interpolated linearly,
                i.e. taken at the interval's midpoint; second order in the grid step)

Funding (ORE's ValueAdjustmentCalculator, borrowing curve P_B, lending curve P_L, base curve P):
    FCA = sum_j s_j dcf_j^B FundingEPE(t_j),   FBA = sum_j s_j dcf_j^L FundingENE(t_j)
    dcf_j^F = P_F(t_{j-1}) / P_F(t_j) - P(t_{j-1}) / P(t_j)   (the funding spread accrued over I_j)
    s_j = S_c(t_{j-1}) S_b(t_{j-1}) ("full"), S_c(t_{j-1}) ("ex_own_sp"), 1 ("ex_all_sp")
    "midpoint" averages the exposure over I_j and takes the survival at the interval's midpoint.
"""

from __future__ import annotations

import numpy as np

from exposure.xva.settings import FundingSpreads


def survival(curve, t) -> np.ndarray:
    """S(t) of a CreditCurve as float64 NumPy (1 for curve None)."""
    t = np.asarray(t, dtype=np.float64)
    return np.ones_like(t) if curve is None else curve.survival_np(t)


def default_increments(curve, times, other=None) -> np.ndarray:
    """q (K,): q_0 = 0, q_j = P(tau in (t_{j-1}, t_j]) for curve's name, and with ``other`` (a CreditCurve)
    P(tau in (t_{j-1}, t_j], tau < tau_other) for independent defaults (first to default). Exact for
    piecewise-flat hazards (module docstring). curve None gives zeros."""
    t = np.asarray(times, dtype=np.float64)
    q = np.zeros_like(t)
    if curve is None or t.size < 2:
        return q
    if other is None:
        s = survival(curve, t)
        q[1:] = s[:-1] - s[1:]
        return q
    knots = np.union1d(t, np.concatenate([np.asarray(curve.times), np.asarray(other.times)]))
    knots = knots[(knots >= t[0]) & (knots <= t[-1])]
    a, b = knots[:-1], knots[1:]
    mid = 0.5 * (a + b)
    hc = np.asarray(curve.hazard(mid), dtype=np.float64)
    h = hc + np.asarray(other.hazard(mid), dtype=np.float64)
    joint_a = survival(curve, a) * survival(other, a)
    joint_b = survival(curve, b) * survival(other, b)
    piece = np.where(h > 0.0, hc / np.where(h > 0.0, h, 1.0) * (joint_a - joint_b), 0.0)
    np.add.at(q, np.searchsorted(t, b, side="left"), piece)
    return q


def spread_on_profile(increments, discretisation: str) -> np.ndarray:
    """Weights w (K,) on the profile from per-interval amounts m (K,) (m_0 unused): "ore" puts m_j on t_j,
    "midpoint" half on t_{j-1} and half on t_j."""
    m = np.asarray(increments, dtype=np.float64).copy()
    m[0] = 0.0
    if discretisation == "ore":
        return m
    if discretisation == "midpoint":
        w = 0.5 * m
        w[:-1] += 0.5 * m[1:]
        return w
    raise ValueError(f"unknown discretisation '{discretisation}' (expected ore or midpoint)")


def credit_weights(lgd: float, curve, times, other, discretisation: str) -> np.ndarray:
    """(K,) weights of CVA (curve = counterparty, other = bank when bilateral else None) or DVA (swapped)."""
    return spread_on_profile(lgd * default_increments(curve, times, other), discretisation)


def funding_dcf(spreads: FundingSpreads, side: str, times, discount) -> np.ndarray:
    """dcf (K,): dcf_0 = 0, dcf_j = P_F(t_{j-1})/P_F(t_j) - P(t_{j-1})/P(t_j), P_F = P exp(-s_F(t) t)."""
    t = np.asarray(times, dtype=np.float64)
    p = np.asarray(discount, dtype=np.float64)
    st = spreads.integrated(t, side)
    out = np.zeros_like(t)
    ratio = p[:-1] / p[1:]
    out[1:] = ratio * np.expm1(st[1:] - st[:-1])
    return out


def funding_weights(spreads: FundingSpreads, side: str, times, discount, cpty_curve, own_curve,
                    weighting: str, discretisation: str) -> np.ndarray:
    """(K,) weights of FCA (side "borrowing", on FundingEPE) or FBA ("lending", on FundingENE)."""
    t = np.asarray(times, dtype=np.float64)
    at = t[:-1] if discretisation == "ore" else 0.5 * (t[:-1] + t[1:])
    s = np.ones(t.size)
    if weighting in ("full", "ex_own_sp"):
        s[1:] *= survival(cpty_curve, at)
    if weighting == "full":
        s[1:] *= survival(own_curve, at)
    return spread_on_profile(s * funding_dcf(spreads, side, t, discount), discretisation)


def survival_factors(cpty_curve, own_curve, times, weighting: str) -> np.ndarray:
    """s (K,): s_0 = 0, s_j = S_c(t_{j-1}) S_b(t_{j-1}) ("full"), S_c(t_{j-1}) ("ex_own_sp"), 1 ("ex_all_sp")."""
    t = np.asarray(times, dtype=np.float64)
    s = np.ones(t.size)
    s[0] = 0.0
    if weighting in ("full", "ex_own_sp"):
        s[1:] *= survival(cpty_curve, t[:-1])
    if weighting == "full":
        s[1:] *= survival(own_curve, t[:-1])
    return s
