"""Square-root-law market impact fitted across the firm's fills, and excess impact per counterparty.

Model:  IS_i = a + Y * sigma_i * sqrt(q_i / ADV_i) + eps_i        [bps]
  sigma_i daily volatility (bps), q_i fill size, ADV_i average daily volume (same units as q).
OLS with heteroskedasticity-robust (HC1) standard errors for (a, Y).
Excess impact of a counterparty = mean residual of its fills +/- z SE (> 0: costs more than the model predicts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clustered import cluster_mean_estimate, fill_clusters
from .stats import METRIC_COLUMNS, Estimate, metric_rows
from .slippage import fill_shortfall_bps


@dataclass(frozen=True)
class ImpactFit:
    intercept: Estimate  # bps (half-spread and average counterparty effect)
    y: Estimate  # dimensionless square-root coefficient
    n: int


def impact_regressor(ex: pd.DataFrame, instruments: pd.DataFrame) -> np.ndarray:
    ref = ex[["instrument"]].merge(instruments[["instrument", "adv", "daily_vol_bps"]], on="instrument", how="left")
    return ref["daily_vol_bps"].to_numpy() * np.sqrt(ex["size"].to_numpy() / ref["adv"].to_numpy())


def fit_sqrt_law(is_bps: np.ndarray, x: np.ndarray, z: float = 1.96) -> tuple[ImpactFit, np.ndarray]:
    """OLS of is_bps on [1, x]; returns the fit and residuals (bps)."""
    X = np.column_stack([np.ones_like(x), x])
    beta, *_ = np.linalg.lstsq(X, is_bps, rcond=None)
    resid = is_bps - X @ beta
    n, k = X.shape
    xtx_inv = np.linalg.inv(X.T @ X)
    meat = (X * resid[:, None] ** 2).T @ X
    cov = xtx_inv @ meat @ xtx_inv * n / (n - k)
    se = np.sqrt(np.diag(cov))
    est = [Estimate(float(b), float(s), float(b - z * s), float(b + z * s), n) for b, s in zip(beta, se)]
    return ImpactFit(est[0], est[1], n), resid


def impact_metrics(ex: pd.DataFrame, instruments: pd.DataFrame | None, z: float = 1.96,
                   time_bucket: str | None = None):
    """(long metrics table with excess_impact_bps per counterparty, ImpactFit or None without ADV/vol data)."""
    if instruments is None:  # no ADV / volatility: the model cannot be fitted (the run notes it)
        return pd.DataFrame(columns=METRIC_COLUMNS), None
    x = impact_regressor(ex, instruments)
    fit, resid = fit_sqrt_law(fill_shortfall_bps(ex).to_numpy(), x, z)
    r = pd.Series(resid, index=ex.index)
    rows = []
    for cp, idx in ex.groupby("counterparty", sort=True).groups.items():
        o, b = fill_clusters(ex.loc[idx], time_bucket)
        rows.append(metric_rows(cp, "excess_impact_bps", cluster_mean_estimate(r.loc[idx].to_numpy(), o, b, z), "bps"))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS), fit
