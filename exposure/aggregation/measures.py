"""Exposure measures per netting set (and trade) and date: pure reductions over the path axis, streamed.

Notation: X(t, p) the collateralised value of a netting set (base currency, undiscounted; X = V without a
CSA, see ``collateral``), N(t, p) the base-currency bank account numeraire (N(0) = 1), P paths, P(0, t) today's
base-currency discount factor, q a quantile level. Names follow ORE's exposure reports
(exposure_nettingset_*.csv / exposure_trade_*.csv; OREAnalytics/orea/aggregation/*exposurecalculator.cpp):

    EPE(t)        = E[max(X(t), 0) / N(t)]          discounted to today, base currency (ORE "EPE"; = EE)
    ENE(t)        = E[max(-X(t), 0) / N(t)]         discounted (the counterparty's exposure to us)
    EE_stderr(t)  = sd(max(X(t), 0) / N(t)) / sqrt(P)    Monte Carlo standard error of EPE (ddof = 1; the
                    sums are of y - y_0, y_0 the value on path 0, so that the variance has no cancellation)
    ExpectedCollateral(t) = E[Coll(t) / N(t)]       Coll = X_c(t^co) (C + IA_held - IA_posted), discounted
    BaselEE(t)    = EPE(t) / P(0, t)                non-discounted EE (ORE: epe / curve->discount(date))
    BaselEEE(t_k) = max(BaselEEE(t_{k-1}), BaselEE(t_k))      effective EE (running maximum)
    BaselEPE      = sum_k w_k BaselEE(t_k),  BaselEEPE = sum_k w_k BaselEEE(t_k)  (EEPE: the same number)
                    w_k = dt_k / sum_j dt_j over the dates with t_k <= min(1Y + 4D, maturity), dt_k = t_k - t_{k-1},
                    t_{-1} = 0 (Basel CRE53 right end points, as ORE's ee_b[j+1] * timeDeltas[j]; ORE measures the
                    steps ACT/ACT where we use ACT/365F; the 4-day slack is ORE's, so the 1Y date is kept)
    TimeWeightedBaselEPE(t_j)  = sum_{k<=j} BaselEE(t_k) dt_k / sum_{k<=j} dt_k   (running time average;
    TimeWeightedBaselEEPE(t_j) likewise on BaselEEE; at t = 0 the value itself)
    PFE(t, q)     = Q_q(max(X(t), 0))               NON-discounted by default (pfe_basis="undiscounted"): the
                    quantile of the exposure in base currency at t under the simulation measure. ORE takes the
                    quantile of the numeraire-deflated exposure X/N (its cube holds NPV * fx / numeraire), which
                    is pfe_basis="discounted" here.
    PeakPFE(q)    = max_t PFE(t, q), PeakPFEDate its first date

Quantiles Q_q of n sorted samples x_(0) <= ... <= x_(n-1):
    method "ore"    : x_(i), i = floor(q (n - 1) + 1/2)  (ORE: distribution[Size(floor(q*(n-1)+0.5))])
    method "linear" : Hyndman-Fan type 7, h = q (n - 1), x_(floor h) + (h - floor h)(x_(floor h + 1) - x_(floor h))
                      (numpy's default 'linear', same interpolation formula)
Both are exact order statistics computed with ``numpy.partition`` on all paths of a (netting set, date).

Division by N is implemented as multiplication by 1/N (the same for every measure and for the discounted PFE).

Streaming: EPE, ENE, the collateral and the standard error need only sums over paths. Each sum is taken over
fixed blocks of ``block_size`` consecutive paths (aligned on the global path index) and the block sums are added
in path order, so every result is bit-for-bit the same whatever the chunk size (chunks must arrive in path
order). Quantiles keep every path in a ``QuantileStore``: in memory when the slab fits the memory budget, else
spilled chunk by chunk to a temporary HDF5 file and read back one netting set (or a group of dates) at a time.

Exposure dates: a netting set without a CSA has X(t_k) = V(t_k) at the valuation date, with or without an MPoR
(the margin period of risk only delays collateral); trade-level EPE/ENE are stand-alone and uncollateralised.

Discounting with a margin period of risk follows ORE: X is measured at the close-out date t + MPoR and deflated
with the numeraire of the valuation (default) date t; P(0, t) is at the valuation date (an O(r * MPoR)
approximation of discounting from the close-out date).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Sequence

import numpy as np

from exposure.aggregation.allocation import allocation_paths, netting_members
from exposure.aggregation.collateral import collateral_paths_batch

DEFAULT_QUANTILES = (0.95, 0.975, 0.99)
QUANTILE_METHODS = ("ore", "linear")
PFE_BASES = ("undiscounted", "discounted")
ORE_HORIZON_SLACK = 4.0 / 365.0  # ORE's EEPE horizon is today + 1Y + 4D
DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes a QuantileStore may hold in memory before it spills to disk
DEFAULT_WORK_BYTES = 256 * 1024**2  # per-slice working memory of the streaming sums
DEFAULT_BLOCK = 256  # paths per summation block (pairwise inside a block, sequential across blocks)


# ----------------------------------------------------------------------------------------------- quantiles


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


def exposure_quantiles(x, quantiles, method: str = "ore", overwrite: bool = False) -> np.ndarray:
    """Quantiles along the last axis of ``x`` (..., P) -> (..., nq) float64; exact (numpy.partition).

    overwrite=True partitions ``x`` in place (it must then be a writable array; its path order is lost).
    """
    a = np.asarray(x)
    if not overwrite:
        a = a.copy()
    n = a.shape[-1]
    lo, hi, frac = quantile_positions(quantiles, n, method)
    kth = np.unique(np.concatenate([lo, hi]))
    a.partition(kth, axis=-1)
    xlo = a[..., lo].astype(np.float64)
    if method == "ore":
        return xlo
    return _lerp(xlo, a[..., hi].astype(np.float64), frac)


def quantile_stderr(q, n_paths: int, density_at_quantile):
    """Asymptotic standard error of a sample q-quantile: sqrt(q (1 - q) / n) / f(x_q) (f the density)."""
    q = np.asarray(q, dtype=np.float64)
    return np.sqrt(q * (1.0 - q) / n_paths) / np.asarray(density_at_quantile, dtype=np.float64)


class QuantileStore:
    """Every path of an (entity, date) exposure slab, kept for exact quantiles.

    Holds data of shape (n_entities, n_dates, n_paths) in ``dtype`` (float64, or float32 to halve memory and
    disk; quantiles are then those of the float32-rounded values). In memory when n_entities * n_dates *
    n_paths * itemsize <= memory_budget_bytes, else each added chunk becomes one contiguous dataset of a
    temporary HDF5 file (deleted on ``close``), read back per entity in date groups of at most the memory budget.
    The result does not depend on the mode or on the chunking: the same values reach the same order statistic.
    """

    def __init__(self, n_entities: int, n_dates: int, n_paths: int, *, dtype="float64",
                 memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET, spill_dir: str | None = None,
                 force_spill: bool = False):
        self.shape = (int(n_entities), int(n_dates), int(n_paths))
        self.dtype = np.dtype(dtype)
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.spilled = bool(force_spill) or self.nbytes > self.memory_budget_bytes
        self.path: str | None = None
        self._count = 0
        self._chunks: list[tuple[int, int, str]] = []
        self._h5 = None
        self._data = None
        if self.spilled:
            import h5py

            fd, self.path = tempfile.mkstemp(prefix="xposure-quantiles-", suffix=".h5", dir=spill_dir)
            os.close(fd)
            self._h5 = h5py.File(self.path, "w")
        else:
            self._data = np.empty(self.shape, dtype=self.dtype)

    def add(self, start: int, stop: int, data) -> None:
        """Paths [start, stop) of the slab; ``data`` is (n_dates, n_entities, stop - start) as values are."""
        a = np.asarray(data)
        n, K, P = self.shape
        if a.shape != (K, n, stop - start) or start < 0 or stop > P:
            raise ValueError(f"QuantileStore.add: expected ({K}, {n}, {stop - start}) within {P} paths, got {a.shape}")
        block = np.ascontiguousarray(np.transpose(a, (1, 0, 2)), dtype=self.dtype)
        if self.spilled:
            name = f"paths_{start}_{stop}"
            self._h5.create_dataset(name, data=block)
            self._chunks.append((start, stop, name))
        else:
            self._data[:, :, start:stop] = block
        self._count += stop - start

    @property
    def complete(self) -> bool:
        return self._count == self.shape[2]

    def rows(self, entity: int, k0: int = 0, k1: int | None = None) -> np.ndarray:
        """A fresh (k1 - k0, n_paths) array: entity's dates [k0, k1) over all paths, in path order."""
        n, K, P = self.shape
        k1 = K if k1 is None else k1
        if not self.spilled:
            return self._data[entity, k0:k1, :].copy()
        out = np.empty((k1 - k0, P), dtype=self.dtype)
        for start, stop, name in self._chunks:
            self._h5[name].read_direct(out, np.s_[entity, k0:k1, :], np.s_[:, start:stop])
        return out

    def quantiles(self, quantiles, method: str = "ore") -> np.ndarray:
        """(n_entities, n_dates, nq) exact quantiles over all paths."""
        if not self.complete:
            raise RuntimeError(f"QuantileStore holds {self._count} of {self.shape[2]} paths")
        n, K, P = self.shape
        nq = len(np.atleast_1d(quantiles))
        out = np.empty((n, K, nq), dtype=np.float64)
        per_group = max(1, min(K, self.memory_budget_bytes // max(1, P * self.dtype.itemsize)))
        for i in range(n):
            for k0 in range(0, K, per_group):
                k1 = min(K, k0 + per_group)
                out[i, k0:k1] = exposure_quantiles(self.rows(i, k0, k1), quantiles, method, overwrite=True)
        return out

    def close(self) -> None:
        if self._h5 is not None:
            try:
                self._h5.close()
            finally:
                self._h5 = None
                if self.path and os.path.exists(self.path):
                    os.remove(self.path)
        self._data = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


# ------------------------------------------------------------------------------------------ streaming sums


class BlockSums:
    """Sums over the last (path) axis of arrays that arrive in consecutive path chunks, chunking-invariant.

    Paths are summed in blocks of ``block`` consecutive paths aligned on the global path index (numpy's
    pairwise sum of one contiguous row of length ``block``) and the block sums are added in path order; the
    last partial block is summed at the end. The total is therefore the same bits for any chunking.
    """

    def __init__(self, shape: tuple, block: int = DEFAULT_BLOCK):
        if block < 1:
            raise ValueError("block must be >= 1")
        self.block = int(block)
        self.total = np.zeros(shape, dtype=np.float64)
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self.count = 0

    def add(self, q: np.ndarray) -> None:
        """q: (*shape, p) float64, the next p paths."""
        B, p, pos = self.block, q.shape[-1], 0
        self.count += p
        if self._pending_len:
            take = min(B - self._pending_len, p)
            self._pending.append(np.array(q[..., :take]))
            self._pending_len += take
            pos = take
            if self._pending_len == B:
                self._add_blocks(np.concatenate(self._pending, axis=-1))
                self._pending, self._pending_len = [], 0
        nfull = (p - pos) // B
        if nfull:
            self._add_blocks(q[..., pos : pos + nfull * B])
            pos += nfull * B
        if pos < p:
            self._pending.append(np.array(q[..., pos:]))
            self._pending_len += p - pos

    def _add_blocks(self, a: np.ndarray) -> None:
        # a view (..., nb, B) whose rows are contiguous: numpy reduces each row with the same pairwise sum
        sums = a.reshape(a.shape[:-1] + (-1, self.block)).sum(axis=-1)
        for j in range(sums.shape[-1]):
            self.total += sums[..., j]

    def result(self) -> np.ndarray:
        total = self.total.copy()
        if self._pending_len:
            total += np.ascontiguousarray(np.concatenate(self._pending, axis=-1)).sum(axis=-1)
        return total


class ExposureAccumulator:
    """Streaming EPE / ENE / EE_stderr (/ ExpectedCollateral / extras) and a QuantileStore for n entities.

    ``add(start, stop, x, numeraire, collateral=None, extras=None)`` with x (K, n, p) signed values X
    (base currency, undiscounted), numeraire (K, p), collateral (K, n, p) base currency, extras a dict of
    (K, n, p) per-path amounts; every amount is deflated by N and averaged. ``result()`` returns arrays (n, K)
    (PFE (n, K, nq)). Chunks must arrive in path order.
    """

    def __init__(self, n_entities: int, n_dates: int, n_paths: int, quantiles=(), *, quantile_method="ore",
                 pfe_basis="undiscounted", with_collateral=False, extras: Sequence[str] = (), block_size=DEFAULT_BLOCK,
                 store_dtype="float64", memory_budget_bytes=DEFAULT_MEMORY_BUDGET, spill_dir=None,
                 force_spill=False, work_bytes=DEFAULT_WORK_BYTES):
        if quantile_method not in QUANTILE_METHODS:
            raise ValueError(f"unknown quantile method '{quantile_method}' (known: {', '.join(QUANTILE_METHODS)})")
        if pfe_basis not in PFE_BASES:
            raise ValueError(f"unknown pfe_basis '{pfe_basis}' (known: {', '.join(PFE_BASES)})")
        self.n, self.K, self.P = int(n_entities), int(n_dates), int(n_paths)
        self.quantiles = np.asarray(quantiles, dtype=np.float64).reshape(-1)
        self.quantile_method, self.pfe_basis = quantile_method, pfe_basis
        # EPE_dev / EPE_sq: sums of (y - s) and (y - s)^2 with y = max(X,0)/N and s the value on path 0 (a shift
        # that keeps the variance free of cancellation, fixed whatever the chunking)
        self.names = (["EPE", "ENE", "EPE_dev", "EPE_sq"] + (["ExpectedCollateral"] if with_collateral else [])
                      + list(extras))
        self._shift = None
        self.block = int(block_size)
        self._sums = BlockSums((len(self.names), self.K, self.n), self.block)
        per_path = len(self.names) * self.K * max(self.n, 1) * 8
        self._slice = max(self.block, (int(work_bytes) // per_path) // self.block * self.block)
        self.store = (
            QuantileStore(self.n, self.K, self.P, dtype=store_dtype, memory_budget_bytes=memory_budget_bytes,
                          spill_dir=spill_dir, force_spill=force_spill)
            if self.quantiles.size and self.n
            else None
        )
        self._next = 0

    def add(self, start: int, stop: int, x, numeraire, collateral=None, extras: dict | None = None) -> None:
        if start != self._next:
            raise ValueError(f"paths must arrive in order: expected start {self._next}, got {start}")
        p = stop - start
        x = np.asarray(x, dtype=np.float64)
        num = np.asarray(numeraire, dtype=np.float64)
        if x.shape != (self.K, self.n, p) or num.shape != (self.K, p):
            raise ValueError(f"expected x ({self.K}, {self.n}, {p}) and numeraire ({self.K}, {p}); "
                             f"got {x.shape} and {num.shape}")
        extras = extras or {}
        for s0 in range(0, p, self._slice):
            s1 = min(p, s0 + self._slice)
            xs = x[..., s0:s1]
            inv = 1.0 / num[:, None, s0:s1]
            q = np.empty((len(self.names), self.K, self.n, s1 - s0))
            pos = np.maximum(xs, 0.0)
            np.multiply(pos, inv, out=q[0])
            np.subtract(pos, xs, out=q[1])  # max(-x, 0) = max(x, 0) - x, exactly
            np.multiply(q[1], inv, out=q[1])
            if self._shift is None:
                self._shift = q[0][..., :1].copy()
            np.subtract(q[0], self._shift, out=q[2])
            np.multiply(q[2], q[2], out=q[3])
            for j, name in enumerate(self.names[4:], start=4):
                src = collateral if name == "ExpectedCollateral" else extras[name]
                np.multiply(np.asarray(src, dtype=np.float64)[..., s0:s1], inv, out=q[j])
            self._sums.add(q)
            if self.store is not None:
                self.store.add(start + s0, start + s1, pos if self.pfe_basis == "undiscounted" else q[0])
        self._next = stop

    def result(self) -> dict:
        if self._next != self.P:
            raise RuntimeError(f"accumulated {self._next} of {self.P} paths")
        sums = self._sums.result()
        P = float(self.P)
        out = {name: np.ascontiguousarray(sums[j].T) / P for j, name in enumerate(self.names)
               if name not in ("EPE_dev", "EPE_sq")}
        s1, s2 = sums[2].T, sums[3].T
        if self.P > 1:
            out["EE_stderr"] = np.sqrt(np.maximum(s2 - s1 * s1 / P, 0.0) / (P - 1.0) / P)
        else:
            out["EE_stderr"] = np.full_like(s1, np.nan)
        if self.store is not None:
            out["PFE"] = np.maximum(self.store.quantiles(self.quantiles, self.quantile_method), 0.0)
        else:
            out["PFE"] = np.full((self.n, self.K, self.quantiles.size), np.nan)
        return out

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


# -------------------------------------------------------------------------------------------------- Basel


def effective_ee(ee, axis: int = -1) -> np.ndarray:
    """Effective EE (BaselEEE): EEE(t_k) = max(EEE(t_{k-1}), EE(t_k)), the running maximum along ``axis``."""
    return np.maximum.accumulate(np.asarray(ee, dtype=np.float64), axis=axis)


def basel_weights(times, horizon: float = 1.0, maturity=None, slack: float = ORE_HORIZON_SLACK) -> np.ndarray:
    """Weights w_k (..., K) of the Basel time average: dt_k on t_k <= min(horizon + slack, maturity), normalised.

    times: (K,) ascending years (t = 0 allowed; its weight is 0). maturity: None, a scalar or (n,) years.
    Rows without any date inside the horizon get zero weights (ORE then reports 0).
    """
    t = np.asarray(times, dtype=np.float64)
    dt = np.diff(np.concatenate([[0.0], t]))
    cutoff = horizon + slack if maturity is None else np.minimum(horizon + slack, np.asarray(maturity, float))
    cutoff = np.asarray(cutoff, dtype=np.float64)[..., None]
    w = np.where(t <= cutoff, dt, 0.0)
    tot = w.sum(axis=-1, keepdims=True)
    return np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0)


def time_weighted_average(x, times) -> np.ndarray:
    """Running time average sum_{k<=j} x_k dt_k / t_j along the last axis (the value itself while t_j = 0)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    dt = np.diff(np.concatenate([[0.0], t]))
    num = np.cumsum(x * dt, axis=-1)
    den = np.cumsum(dt)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), x)


def basel_measures(basel_ee, times, horizon: float = 1.0, maturity=None) -> dict:
    """From BaselEE (..., K): BaselEEE, BaselEPE, BaselEEPE (EEPE), TimeWeightedBaselEPE, TimeWeightedBaselEEPE.

    EEPE = sum_k w_k EEE(t_k) with ``basel_weights``; e.g. EE = 100, 120, 90, 130 on four equal quarters gives
    EEE = 100, 120, 120, 130 and EEPE = 117.5.
    """
    ee = np.asarray(basel_ee, dtype=np.float64)
    eee = effective_ee(ee)
    w = basel_weights(times, horizon, maturity)
    return {
        "BaselEEE": eee,
        "BaselEPE": np.sum(w * ee, axis=-1),
        "BaselEEPE": np.sum(w * eee, axis=-1),
        "TimeWeightedBaselEPE": time_weighted_average(ee, times),
        "TimeWeightedBaselEEPE": time_weighted_average(eee, times),
    }


# ------------------------------------------------------------------------------------- the whole reduction


@dataclasses.dataclass
class ExposureMeasures:
    """Reduced results: ``netting`` arrays lead with the netting set (n_ns, K[, nq]), ``trade`` with the trade.

    ``trade_netting_index`` (n_trades,) maps trades to netting sets when trade results are present.
    ``cube`` (optional): exposure (n_ns, K, P) the collateralised value X, numeraire (K, P), and collateral
    (n_ns, K, P) when a CSA is present, all at the exposure dates (undiscounted, base currency).
    """

    times: np.ndarray
    quantiles: np.ndarray
    n_paths: int
    quantile_method: str
    pfe_basis: str
    discount_factors: np.ndarray
    netting: dict
    trade: dict | None = None
    cube: dict | None = None
    trade_netting_index: np.ndarray | None = None


def _finish(acc: dict, df: np.ndarray, times, maturity, horizon, prefix: str = "") -> dict:
    out = {prefix + k: v for k, v in acc.items()}
    ee_b = acc["EPE"] / df[None, :]
    out[prefix + "BaselEE"] = ee_b
    for k, v in basel_measures(ee_b, times, horizon, maturity).items():
        out[prefix + k] = v
    pfe = acc["PFE"]
    if pfe.shape[-1] and pfe.shape[1] and np.all(np.isfinite(pfe)):
        out[prefix + "PeakPFE"] = pfe.max(axis=1)
        out[prefix + "PeakPFEIndex"] = pfe.argmax(axis=1)
    return out


def _as_slice(index):
    """A basic slice for an evenly spaced index array (a view instead of a copy), else the array itself."""
    if index is None or index.size == 0:
        return index
    if index.size == 1:
        return slice(int(index[0]), int(index[0]) + 1)
    step = int(index[1] - index[0])
    if step > 0 and np.array_equal(index, index[0] + step * np.arange(index.size)):
        return slice(int(index[0]), int(index[-1]) + 1, step)
    return index


class ExposureAggregator:
    """Netting sets (and optionally trades) -> collateral -> exposure measures, one chunk of paths at a time.

    netting_sets: the portfolio's NettingSet objects, in the order of the values' netting-set axis.
    n_paths: the total number of paths. times: (K,) valuation (exposure) times in years.
    valuation_index: (K,) positions of the valuation dates on the date axis of the arrays given to
    ``add_chunk`` (default 0..K-1); closeout_index: (K,) positions of the close-out dates t_k + MPoR, or None
    without a margin period of risk; t0_index: position of t = 0 values (for the t0 collateral target) or None.
    currencies: names of the fx axis (fx[c] = base units per unit of currency c) for collateral currencies.
    trade_netting_index: (n_trades,) set index of each trade to compute trade-level EPE/ENE, the allocation
    (AllocatedEPE/ENE) and, with trade_pfe, trade PFE. store_cube keeps X, N (and collateral) for every path
    in memory (n_ns * K * P * itemsize bytes: for moderate runs). For ORE's t = 0 report row, make t0 the first
    valuation date (its close-out index may point at t0 itself). Use as a context manager (or call close) so a
    failed run removes its spill files; finalize releases them too.
    """

    def __init__(self, netting_sets: Sequence, n_paths: int, times, *, valuation_index=None, closeout_index=None,
                 t0_index: int | None = None, currencies: Sequence[str] = (), base_currency: str | None = None,
                 quantiles=DEFAULT_QUANTILES, quantile_method: str = "ore", pfe_basis: str = "undiscounted",
                 trade_netting_index=None, trade_pfe: bool = False, allocation_limit: float = 0.0,
                 store_cube: bool = False, cube_dtype="float32", memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
                 store_dtype="float64", spill_dir: str | None = None, force_spill: bool = False,
                 block_size: int = DEFAULT_BLOCK):
        self.netting_sets = tuple(netting_sets)
        self.n_ns = len(self.netting_sets)
        self.n_paths = int(n_paths)
        self.times = np.asarray(times, dtype=np.float64).reshape(-1)
        K = self.times.size
        self.K = K
        self.valuation_index = np.arange(K) if valuation_index is None else np.asarray(valuation_index, int)
        self.closeout_index = None if closeout_index is None else np.asarray(closeout_index, int)
        if self.valuation_index.shape != (K,) or (self.closeout_index is not None and self.closeout_index.shape != (K,)):
            raise ValueError(f"valuation_index and closeout_index must have the {K} entries of times")
        self._vi, self._ci = _as_slice(self.valuation_index), _as_slice(self.closeout_index)
        self.t0_index = t0_index
        self.currencies = tuple(currencies)
        self.base_currency = base_currency if base_currency is not None else (self.currencies[0] if self.currencies else None)
        self.quantiles = np.asarray(quantiles, dtype=np.float64).reshape(-1)
        self.quantile_method, self.pfe_basis = quantile_method, pfe_basis
        self.allocation_limit = float(allocation_limit)

        self._csa_idx = np.array([j for j, ns in enumerate(self.netting_sets) if ns.csa is not None], dtype=int)
        self._csas = [self.netting_sets[j].csa for j in self._csa_idx]
        self._fx_idx = []  # per CSA set: index into the fx axis, or None for base-currency collateral
        for j, csa in zip(self._csa_idx, self._csas):
            ccy = csa.collateral_currency
            if ccy is None or ccy == self.base_currency:
                self._fx_idx.append(None)
            elif ccy in self.currencies:
                self._fx_idx.append(self.currencies.index(ccy))
            else:
                raise ValueError(f"netting set '{self.netting_sets[j].id}': collateral currency '{ccy}' is not on "
                                 f"the fx axis ({', '.join(self.currencies) or 'none given'})")

        common = dict(quantile_method=quantile_method, pfe_basis=pfe_basis, block_size=block_size,
                      store_dtype=store_dtype, memory_budget_bytes=memory_budget_bytes, spill_dir=spill_dir,
                      force_spill=force_spill)
        self._ns_acc = ExposureAccumulator(self.n_ns, K, self.n_paths, self.quantiles,
                                           with_collateral=bool(self._csa_idx.size), **common)
        self._df_sums = BlockSums((K,), block_size)

        self.trade_netting_index = None
        self._trade_acc = None
        if trade_netting_index is not None:
            self.trade_netting_index = np.asarray(trade_netting_index, dtype=np.int64).reshape(-1)
            netting_members(self.trade_netting_index, self.n_ns)  # range check
            self._trade_acc = ExposureAccumulator(
                self.trade_netting_index.size, K, self.n_paths, self.quantiles if trade_pfe else (),
                extras=("AllocatedEPE", "AllocatedENE"), **common)
            csa_set = np.zeros(self.n_ns, bool)
            csa_set[self._csa_idx] = True
            self._trade_closeout = np.flatnonzero(csa_set[self.trade_netting_index])

        self.cube = None
        if store_cube:
            self.cube = {
                "exposure": np.empty((self.n_ns, K, self.n_paths), dtype=cube_dtype),
                "numeraire": np.empty((K, self.n_paths), dtype=cube_dtype),
            }
            if self._csa_idx.size:
                self.cube["collateral"] = np.zeros((self.n_ns, K, self.n_paths), dtype=cube_dtype)
        self._next = 0

    # -- per chunk -------------------------------------------------------------------------------------------

    def collateralise(self, values, fx=None):
        """(X, collateral, V_exposure), each (K, n_ns, p): collateralised value, net collateral held (base
        currency, 0 without a CSA) and the uncollateralised value at the exposure date; values (K_all, n_ns, p)."""
        vals = np.asarray(values, dtype=np.float64)
        vi, ci = self._vi, self._ci
        Vv = vals[vi]
        X = Vv.copy() if self._csa_idx.size else Vv
        V_exp = Vv
        coll = None
        if self._csa_idx.size:
            cs = self._csa_idx
            coll = np.zeros_like(Vv)
            V_call = Vv[:, cs]
            V_co = vals[ci][:, cs] if ci is not None else V_call
            fx_call = fx_co = fx0 = None
            if any(f is not None for f in self._fx_idx):
                if fx is None:
                    raise ValueError("a CSA has a non-base collateral currency: add_chunk needs fx (n_ccy, K_all, P)")
                fxa = np.asarray(fx, dtype=np.float64)
                full = np.stack([np.ones(fxa.shape[1:]) if f is None else fxa[f] for f in self._fx_idx], axis=1)
                fx_call = full[vi]
                fx_co = full[ci] if ci is not None else fx_call
                fx0 = full[self.t0_index] if self.t0_index is not None else None
            v0 = vals[self.t0_index][cs] if self.t0_index is not None else None
            C = np.asarray(collateral_paths_batch(V_call, self._csas, fx_call, v0, fx0))
            ia = np.array([c.independent_amount_held - c.independent_amount_posted for c in self._csas])
            held = C + ia[None, :, None]
            if fx_co is not None:
                held = held * fx_co
            X[:, cs] = V_co - held
            coll[:, cs] = held
            if ci is not None:
                V_exp = Vv.copy()
                V_exp[:, cs] = V_co
        return X, coll, V_exp

    def add_chunk(self, start: int, stop: int, values, numeraire, fx=None, trade_values=None) -> None:
        """Paths [start, stop): values (K_all, n_ns, p) netting-set values in base currency (undiscounted) on
        the date axis that valuation_index / closeout_index / t0_index point into; numeraire (K_all, p);
        fx (n_ccy, K_all, p) base units per unit of ``currencies`` (needed for non-base collateral);
        trade_values (K_all, n_trades, p) when trade-level results were requested."""
        if start != self._next:
            raise ValueError(f"paths must arrive in order: expected start {self._next}, got {start}")
        p = stop - start
        vals = np.asarray(values, dtype=np.float64)
        if vals.ndim != 3 or vals.shape[1] != self.n_ns or vals.shape[2] != p:
            raise ValueError(f"values must be (K_all, {self.n_ns}, {p}); got {vals.shape}")
        N = np.asarray(numeraire, dtype=np.float64)[self._vi]
        X, coll, _ = self.collateralise(vals, fx)
        self._ns_acc.add(start, stop, X, N, collateral=coll)
        self._df_sums.add(1.0 / N)
        if self._trade_acc is not None:
            if trade_values is None:
                raise ValueError("trade-level results were requested: add_chunk needs trade_values")
            tv_all = np.asarray(trade_values, dtype=np.float64)
            tv = tv_all[self._vi]
            tv_exp = tv
            if self.closeout_index is not None and self._trade_closeout.size:
                tv_exp = tv.copy()
                tv_exp[:, self._trade_closeout] = tv_all[self._ci][:, self._trade_closeout]
            a_pos, a_neg = allocation_paths(tv_exp, self.trade_netting_index, X, self.allocation_limit)
            self._trade_acc.add(start, stop, tv, N, extras={"AllocatedEPE": a_pos, "AllocatedENE": a_neg})
        if self.cube is not None:
            self.cube["exposure"][:, :, start:stop] = np.transpose(X, (1, 0, 2))
            self.cube["numeraire"][:, start:stop] = N
            if coll is not None:
                self.cube["collateral"][:, :, start:stop] = np.transpose(coll, (1, 0, 2))
        self._next = stop

    # -- the end ---------------------------------------------------------------------------------------------

    def finalize(self, discount_factors=None, maturities=None, trade_maturities=None,
                 horizon: float = 1.0) -> ExposureMeasures:
        """All measures. discount_factors: (K,) P(0, t_k) of the base curve at the valuation dates, or None for
        the Monte Carlo estimate E[1/N(t_k)]; maturities: (n_ns,) netting-set maturities in years (None: no
        cap on the one-year Basel horizon); trade_maturities likewise (n_trades,)."""
        if self._next != self.n_paths:
            raise RuntimeError(f"accumulated {self._next} of {self.n_paths} paths")
        try:
            df = (self._df_sums.result() / self.n_paths if discount_factors is None
                  else np.asarray(discount_factors, dtype=np.float64).reshape(-1))
            if df.shape != (self.K,):
                raise ValueError(f"discount_factors must be ({self.K},), got {df.shape}")
            netting = _finish(self._ns_acc.result(), df, self.times, maturities, horizon)
            if "ExpectedCollateral" not in netting:
                netting["ExpectedCollateral"] = np.zeros((self.n_ns, self.K))
            trade = None
            if self._trade_acc is not None:
                trade = _finish(self._trade_acc.result(), df, self.times, trade_maturities, horizon, prefix="trade_")
                trade["AllocatedEPE"] = trade.pop("trade_AllocatedEPE")
                trade["AllocatedENE"] = trade.pop("trade_AllocatedENE")
            return ExposureMeasures(self.times, self.quantiles, self.n_paths, self.quantile_method, self.pfe_basis,
                                    df, netting, trade, self.cube, self.trade_netting_index)
        finally:
            self.close()

    def close(self) -> None:
        """Release the quantile stores (and delete their spill files); finalize does it on its own."""
        self._ns_acc.close()
        if self._trade_acc is not None:
            self._trade_acc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def exposure_measures(values, numeraire=None, times=None, *, netting_sets=None, discount_factors=None,
                      maturities=None, chunk_size: int | None = None, **kwargs) -> ExposureMeasures:
    """In-memory convenience: measures of netting-set values (K, n, P) (uncollateralised sets by default).

    numeraire (K, P) defaults to 1 (so EPE = BaselEE = E[max(V, 0)]); times (K,) default 1..K;
    netting_sets default to uncollateralised sets NS0..; chunk_size feeds the paths in chunks (for tests).
    Other keyword arguments go to ExposureAggregator.
    """
    from exposure.portfolio.netting import NettingSet

    v = np.asarray(values, dtype=np.float64)
    K, n, P = v.shape
    if netting_sets is None:
        netting_sets = [NettingSet(f"NS{j}", f"CP{j}") for j in range(n)]
    num = np.ones((K, P)) if numeraire is None else np.asarray(numeraire, dtype=np.float64)
    t = np.arange(1, K + 1, dtype=np.float64) if times is None else times
    trade_values = kwargs.pop("trade_values", None)
    fx = kwargs.pop("fx", None)
    size = P if chunk_size is None else int(chunk_size)
    with ExposureAggregator(netting_sets, P, t, **kwargs) as agg:
        for s in range(0, P, size):
            e = min(P, s + size)
            agg.add_chunk(s, e, v[..., s:e], num[..., s:e], None if fx is None else np.asarray(fx)[..., s:e],
                          None if trade_values is None else np.asarray(trade_values)[..., s:e])
        return agg.finalize(discount_factors, maturities)


__all__ = [
    "DEFAULT_QUANTILES",
    "BlockSums",
    "ExposureAccumulator",
    "ExposureAggregator",
    "ExposureMeasures",
    "QuantileStore",
    "basel_measures",
    "basel_weights",
    "effective_ee",
    "exposure_measures",
    "exposure_quantiles",
    "quantile_positions",
    "quantile_stderr",
    "time_weighted_average",
]
