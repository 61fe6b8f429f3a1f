"""Market impact with per-counterparty terms and a fitted exponent, and each counterparty's excess impact.

Model (fills i, counterparty c(i)):  IS_i = a_c(i) + Y * sigma_i * (q_i / ADV_i)^beta + eps_i      [bps]
  sigma_i daily volatility (bps), q_i fill size, ADV_i average daily volume (same units as q); beta = 1/2 is the
  square-root law, here estimated.
Fit: nonlinear least squares, beta by a bounded 1-D search on the profile SSR (for fixed beta the model is linear
in a, Y), then theta = (a_1..a_C, Y, beta) with a cluster-robust sandwich covariance at the optimum
  cov = (J'J)^-1 [sum_g J_g' r_g r_g' J_g] (J'J)^-1 * G/(G-1),  J = d fitted / d theta, clusters g = parent orders.
Excess impact of c = a_c - sum_d w_d a_d (w_d = share of fills), its SE = sqrt(L cov L') with the contrast L, so
the uncertainty of Y and beta is carried into it through their covariance with the a's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from .clustered import t_critical
from .slippage import fill_shortfall_bps
from .stats import METRIC_COLUMNS, Estimate, metric_rows

BETA_BOUNDS = (0.05, 1.5)


@dataclass(frozen=True)
class ImpactFit:
    intercept: Estimate  # bps: fill-weighted mean of the per-counterparty terms a_c
    y: Estimate  # coefficient Y (dimensionless)
    beta: Estimate  # exponent of participation
    n: int
    terms: dict  # counterparty -> Estimate of a_c


def impact_inputs(ex: pd.DataFrame, instruments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    ref = ex[["instrument"]].merge(instruments[["instrument", "adv", "daily_vol_bps"]], on="instrument", how="left")
    return ref["daily_vol_bps"].to_numpy(float), (ex["size"].to_numpy(float) / ref["adv"].to_numpy(float))


def _design(codes, ncp, sigma, part, beta):
    return np.column_stack([np.eye(ncp)[codes], sigma * part**beta])


def fit_impact(is_bps, codes, ncp, sigma, part, clusters, z: float = 1.96):
    """(theta, cov, residuals) of the model above; theta = (a_1..a_C, Y, beta)."""
    counts = np.bincount(codes, minlength=ncp).astype(float)
    sums = np.bincount(codes, weights=is_bps, minlength=ncp)

    def ssr(beta):
        # for fixed beta: a_c = mean_c(IS - Y x), Y from the within-counterparty regression (no dense design)
        x = sigma * part**beta
        xm = np.bincount(codes, weights=x, minlength=ncp) / counts
        xd, yd = x - xm[codes], is_bps - (sums / counts)[codes]
        y = float(xd @ yd / (xd @ xd))
        return float(((yd - y * xd) ** 2).sum())

    beta = float(minimize_scalar(ssr, bounds=BETA_BOUNDS, method="bounded", options={"xatol": 1e-8}).x)
    X = _design(codes, ncp, sigma, part, beta)
    coef, *_ = np.linalg.lstsq(X, is_bps, rcond=None)
    resid = is_bps - X @ coef
    y = coef[-1]
    J = np.column_stack([X, y * sigma * part**beta * np.log(part)])
    bread = np.linalg.pinv(J.T @ J)
    cf, uniq = pd.factorize(np.asarray(clusters))
    g = len(uniq)
    scores = np.zeros((g, J.shape[1]))
    np.add.at(scores, cf, J * resid[:, None])
    cov = bread @ (scores.T @ scores) @ bread * g / max(g - 1, 1)
    return np.r_[coef, beta], cov, resid, g


def impact_metrics(ex: pd.DataFrame, instruments: pd.DataFrame | None, z: float = 1.96,
                   time_bucket: str | None = None):
    """(long metrics table with excess_impact_bps per counterparty, ImpactFit or None without ADV/vol data)."""
    if instruments is None:  # no ADV / volatility: the model cannot be fitted (the run notes it)
        return pd.DataFrame(columns=METRIC_COLUMNS), None
    sigma, part = impact_inputs(ex, instruments)
    codes, cps = pd.factorize(ex["counterparty"], sort=True)
    ncp = len(cps)
    clusters = ex["order_id"].astype(str).to_numpy() if "order_id" in ex else np.arange(len(ex))
    theta, cov, _, g = fit_impact(fill_shortfall_bps(ex).to_numpy(float), codes, ncp, sigma, part, clusters, z)
    c = t_critical(z, g - 1)

    def est(L, n):
        v = float(L @ theta)
        se = float(math.sqrt(max(L @ cov @ L, 0.0)))
        return Estimate(v, se, v - c * se, v + c * se, n, g)

    w = np.bincount(codes, minlength=ncp) / len(codes)
    k = len(theta)
    unit = lambda i: np.eye(k)[i]  # noqa: E731
    mean_a = np.r_[w, 0.0, 0.0]
    rows, terms = [], {}
    for i, cp in enumerate(cps):
        n_i = int((codes == i).sum())
        terms[str(cp)] = est(unit(i), n_i)
        rows.append(metric_rows(str(cp), "excess_impact_bps", est(unit(i) - mean_a, n_i), "bps"))
    fit = ImpactFit(est(mean_a, len(codes)), est(unit(ncp), len(codes)), est(unit(ncp + 1), len(codes)),
                    len(codes), terms)
    return pd.DataFrame(rows, columns=METRIC_COLUMNS), fit
