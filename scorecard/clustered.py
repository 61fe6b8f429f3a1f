"""Cluster-robust intervals for per-fill means: fills of one parent order, or close in time, are not independent.

For x_i with mean m and residuals r_i = x_i - m, one-way clustering by g (G clusters):
  V_g = G / (G - 1) * sum_g (sum_{i in g} r_i)^2 / n^2                  (Liang-Zeger / CR1 for a mean)
Two-way clustering by parent order a and time bucket b (Cameron, Gelbach & Miller 2011):
  V = V_a + V_b - V_{a x b}   (V_a when that is not positive)
  se = sqrt(V); interval m +/- c se, c = Student-t quantile with G_min - 1 degrees of freedom at the level of z
  (few clusters: the normal quantile under-covers).
With one fill per order and per bucket every term reduces to the heteroskedasticity-robust iid SE.
Clusters: parent order_id, and floor(ts / time_bucket) (fills in the same bucket share market moves).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .stats import Estimate


def _v_one_way(r: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    codes, uniq = pd.factorize(labels)
    g = len(uniq)
    sums = np.bincount(codes, weights=r, minlength=g)
    n = r.size
    if g < 2:
        return math.inf, g
    return float(g / (g - 1) * (sums**2).sum() / n**2), g


def t_critical(z: float, dof: int) -> float:
    """The two-sided Student-t quantile at the confidence level of the normal quantile z."""
    level = math.erf(z / math.sqrt(2))
    return float(sps.t.ppf(0.5 + level / 2, max(dof, 1)))


def cluster_mean_estimate(x, orders=None, buckets=None, z: float = 1.96) -> Estimate:
    """Mean of x with a one- or two-way cluster-robust SE; Estimate.n = observations, Estimate.g = the smaller
    number of clusters (the effective sample size for the interval)."""
    x = np.asarray(x, float)
    n = x.size
    if n == 0:
        raise ValueError("cluster_mean_estimate needs at least one observation")
    m = float(x.mean())
    r = x - m
    ways = [np.asarray(c) for c in (orders, buckets) if c is not None]
    if not ways:
        ways = [np.arange(n)]
    vs = [_v_one_way(r, c) for c in ways]
    if len(ways) == 2:
        ca, _ = pd.factorize(ways[0])
        cb, ub = pd.factorize(ways[1])
        v_ab, _ = _v_one_way(r, ca.astype(np.int64) * (len(ub) + 1) + cb)
        v = vs[0][0] + vs[1][0] - v_ab
        if not v > 0:
            v = max(vs[0][0], vs[1][0])
    else:
        v = vs[0][0]
    g = min(c for _, c in vs)
    if g < 2 or not math.isfinite(v):
        return Estimate(m, math.inf, -math.inf, math.inf, n, g)
    se = math.sqrt(v)
    c = t_critical(z, g - 1)
    return Estimate(m, se, m - c * se, m + c * se, n, g)


def fill_clusters(ex: pd.DataFrame, time_bucket: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(parent order ids, time-bucket ids or None) per fill, aligned with ex's rows."""
    orders = ex["order_id"].astype(str).to_numpy()
    if not time_bucket:
        return orders, None
    width = int(pd.Timedelta(time_bucket).value)
    return orders, (ex["ts_ns"].to_numpy() // width)


def clustered_proportion(success: np.ndarray, buckets: np.ndarray | None, z: float = 1.96) -> Estimate:
    """Wilson interval on the Kish effective sample when outcomes cluster in time:
      deff = V_cluster / (p (1 - p) / n) (>= 1), n_eff = n / deff, k_eff = p n_eff, interval = Wilson(k_eff, n_eff);
    se = the cluster-robust SE. With independent buckets (or none) it is the plain Wilson interval."""
    from .stats import wilson

    x = np.asarray(success, float)
    n = x.size
    if n == 0:
        raise ValueError("clustered_proportion needs at least one observation")
    p = float(x.mean())
    if buckets is None or p in (0.0, 1.0):
        w = wilson(int(x.sum()), n, z)
        return Estimate(w.value, w.se, w.lo, w.hi, n, n if buckets is None else len(pd.unique(buckets)))
    v, g = _v_one_way(x - p, np.asarray(buckets))
    deff = max(1.0, v / (p * (1 - p) / n)) if math.isfinite(v) else float(n)
    n_eff = n / deff
    w = _wilson_real(p, n_eff, z)
    return Estimate(p, math.sqrt(v) if math.isfinite(v) else math.inf, w[0], w[1], n, g)


def _wilson_real(p: float, n: float, z: float) -> tuple[float, float]:
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))
