"""Exact quantiles of the path axis, and their distribution-free confidence interval.

Quantiles Q_q of n sorted samples x_(0) <= ... <= x_(n-1), q a quantile level in [0, 1]:
    method "ore"    : x_(i), i = floor(q (n - 1) + 1/2)  (ORE: distribution[Size(floor(q*(n-1)+0.5))])
    method "linear" : Hyndman-Fan type 7, h = q (n - 1), x_(floor h) + (h - floor h)(x_(floor h + 1) - x_(floor h))
                      (numpy's default 'linear', same interpolation formula)
Both are exact order statistics computed with ``numpy.partition`` (one selection per position) on all paths of
a (netting set, date); they give PFE(t, q) = Q_q(max(X(t), 0)) (see ``measures``), in the units of the values
(base currency). Every path is kept for them in a ``quantile_store.QuantileStore``.
"""

from __future__ import annotations

import numpy as np

DEFAULT_QUANTILES = (0.95, 0.975, 0.99)
QUANTILE_METHODS = ("ore", "linear")
DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes a QuantileStore may hold in memory before it spills to disk


def quantile_positions(quantiles, n: int, method: str = "ore"):
    """Order-statistic positions for ``quantiles`` (nq,) of n samples: (lo, hi, frac), each (nq,).

    ore: lo = hi = floor(q (n-1) + 1/2), frac = 0.  linear: lo = floor(q (n-1)), hi = min(lo + 1, n - 1),
    frac = q (n-1) - lo.
    """
    q = np.atleast_1d(np.asarray(quantiles, dtype=np.float64))
    if n < 1:
        raise ValueError("quantiles need at least one sample")
    if np.any((q < 0) | (q > 1)):
        raise ValueError(f"quantile levels must lie in [0, 1] (got {q.tolist()})")
    if method == "ore":
        lo = np.floor(q * (n - 1) + 0.5).astype(np.int64)
        return lo, lo, np.zeros_like(q)
    if method == "linear":
        h = q * (n - 1)
        lo = np.floor(h).astype(np.int64)
        return lo, np.minimum(lo + 1, n - 1), h - lo
    raise ValueError(f"unknown quantile method '{method}' (known: {', '.join(QUANTILE_METHODS)})")


def _lerp(a, b, t):
    # numpy's linear-quantile interpolation formula (numpy/lib/_function_base_impl.py::_lerp)
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def exposure_quantiles(x, quantiles, method: str = "ore", overwrite: bool = False, ranks=None):
    """Quantiles along the last axis of ``x`` (..., P) -> (..., nq) float64; exact (numpy.partition).

    overwrite=True partitions ``x`` in place (it must then be a writable array; its path order is lost).
    ranks: optional (m,) 0-based order-statistic positions read off the same partition; the result is then
    the pair (quantiles (..., nq), order statistics (..., m)).
    """
    a = np.asarray(x)
    if not overwrite:
        a = a.copy()
    n = a.shape[-1]
    lo, hi, frac = quantile_positions(quantiles, n, method)
    r = np.zeros(0, np.int64) if ranks is None else np.asarray(ranks, np.int64).reshape(-1)
    if r.size and (r.min() < 0 or r.max() >= n):
        raise ValueError(f"order-statistic ranks must lie in [0, {n})")
    prev = 0
    for k in np.unique(np.concatenate([lo, hi, r])).tolist():
        # one selection per position, each on what lies above the last: NumPy's partition with several kth
        # costs ~3x as much on 10,000 distinct values (the same order statistics, so the same values); with
        # the kth inside a block of ties it is the other way round (bench-1k: still -30%, benchmarks/RESULTS.md)
        a[..., prev:].partition(k - prev, axis=-1)
        prev = k + 1
    xlo = a[..., lo].astype(np.float64)
    q = xlo if method == "ore" else _lerp(xlo, a[..., hi].astype(np.float64), frac)
    return q if ranks is None else (q, a[..., r].astype(np.float64))


def order_statistic_interval(quantiles, n: int, level: float = 0.95):
    """Distribution-free confidence interval of the q-quantile from n iid samples: 0-based ranks (l, u), each
    (nq,), such that P(x_(l) <= Q_q <= x_(u)) >= level (when neither rank is clipped at 0 or n - 1).

    The number B of samples below Q_q is Binomial(n, q): P(x_(l) > Q_q) = P(B <= l) and P(x_(u) < Q_q) =
    P(B >= u + 1). l = F^-1(a/2) - 1 and u = F^-1(1 - a/2) with F^-1 the binomial quantile function
    (smallest k with F(k) >= p) and a = 1 - level, so each tail is at most a/2. Conover, Practical
    Nonparametric Statistics, 3rd ed., section 3.2.
    """
    q = np.atleast_1d(np.asarray(quantiles, dtype=np.float64))
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must lie in (0, 1) (got {level})")
    a = 1.0 - float(level)
    lo = binomial_quantile(a / 2.0, n, q) - 1
    hi = binomial_quantile(1.0 - a / 2.0, n, q)
    return np.clip(lo, 0, n - 1), np.clip(hi, 0, n - 1)


def binomial_quantile(p: float, n: int, q) -> np.ndarray:
    """Smallest k with P(Binomial(n, q) <= k) >= p, elementwise in q (scipy.stats.binom.ppf without importing
    scipy.stats, which costs a fresh process half a second): start from the continuous inverse of the CDF
    (scipy.special.bdtrik) and step to the exact integer with the CDF itself (scipy.special.bdtr)."""
    from scipy.special import bdtr, bdtrik

    q = np.asarray(q, dtype=np.float64)
    k = np.clip(np.floor(np.nan_to_num(bdtrik(p, n, q), nan=0.0)), 0, n).astype(np.int64)
    for _ in range(n + 1):  # a step or two in practice; the bound only guards the loop
        up = (k < n) & (bdtr(k, n, q) < p)
        down = (k > 0) & (bdtr(k - 1, n, q) >= p)
        if not (up.any() or down.any()):
            break
        k = k + up - down
    return k


def quantile_stderr(q, n_paths: int, density_at_quantile):
    """Asymptotic standard error of a sample q-quantile: sqrt(q (1 - q) / n) / f(x_q) (f the density)."""
    q = np.asarray(q, dtype=np.float64)
    return np.sqrt(q * (1.0 - q) / n_paths) / np.asarray(density_at_quantile, dtype=np.float64)
