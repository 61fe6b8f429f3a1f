"""Confidence intervals used by every metric.

* mean +/- z SE with SE = s / sqrt(n) (sample std, ddof=1)
* Wilson score interval for proportions: (p + z^2/2n +/- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
* Newcombe hybrid score interval for a difference of two proportions
* percentile bootstrap for statistics without a closed-form SE

All functions are pure; arrays are 1-D float arrays, proportions in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error, interval and sample count (units of the metric)."""

    value: float
    se: float
    lo: float
    hi: float
    n: int
    g: int = 0  # independent clusters behind the interval (0: the n observations are taken as independent)

    def contains(self, truth: float) -> bool:
        return self.lo <= truth <= self.hi


def mean_estimate(x: np.ndarray, z: float = 1.96) -> Estimate:
    """mean(x) +/- z * std(x, ddof=1) / sqrt(n); n < 2 gives an infinite interval (never a NaN SE)."""
    x = np.asarray(x, dtype=float)
    n = int(x.size)
    if n == 0:
        raise ValueError("mean_estimate needs at least one observation")
    m = float(x.mean())
    if n < 2:
        return Estimate(m, math.inf, -math.inf, math.inf, n)
    se = float(x.std(ddof=1) / math.sqrt(n))
    return Estimate(m, se, m - z * se, m + z * se, n)


def wilson(k: int, n: int, z: float = 1.96) -> Estimate:
    """Wilson score interval for k successes out of n; se is the binomial sqrt(p(1-p)/n) at p = k/n."""
    if n <= 0:
        raise ValueError("wilson needs n > 0")
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the min/max only absorb rounding: mathematically lo <= p <= hi, and lo = 0 exactly at k = 0
    lo, hi = max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))
    return Estimate(p, math.sqrt(p * (1 - p) / n), lo, hi, n)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, z: float = 1.96) -> Estimate:
    """p1 - p2 with Newcombe's hybrid score interval built from the two Wilson intervals."""
    a, b = wilson(k1, n1, z), wilson(k2, n2, z)
    d = a.value - b.value
    lo = d - math.sqrt((a.value - a.lo) ** 2 + (b.hi - b.value) ** 2)
    hi = d + math.sqrt((a.hi - a.value) ** 2 + (b.value - b.lo) ** 2)
    se = math.sqrt(a.se**2 + b.se**2)
    return Estimate(d, se, lo, hi, n1 + n2)


def paired_difference(x: np.ndarray, y: np.ndarray, z: float = 1.96) -> Estimate:
    """mean(x - y) +/- z SE on paired observations (same trades at two horizons)."""
    return mean_estimate(np.asarray(x, float) - np.asarray(y, float), z)


def bootstrap_estimate(x: np.ndarray, stat, n_boot: int = 500, z: float = 1.96, seed: int = 0) -> Estimate:
    """stat(x) with the bootstrap SE (std of resampled stats) and the percentile interval at the z level."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_estimate needs at least one observation")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    boots = np.apply_along_axis(stat, 1, x[idx])
    tail = 0.5 * math.erfc(z / math.sqrt(2))
    lo, hi = np.quantile(boots, [tail, 1 - tail])
    return Estimate(float(stat(x)), float(boots.std(ddof=1)), float(lo), float(hi), int(x.size))


def metric_rows(cp: str, metric: str, est: Estimate, unit: str) -> dict:
    """One row of the long metrics table: counterparty, metric, value, se, lo, hi, n, unit."""
    return {"counterparty": cp, "metric": metric, "value": est.value, "se": est.se, "lo": est.lo, "hi": est.hi,
            "n": est.n, "unit": unit, "n_clusters": est.g or est.n}


METRIC_COLUMNS = ["counterparty", "metric", "value", "se", "lo", "hi", "n", "unit", "n_clusters"]
