"""Streaming path sums: EPE, ENE, their standard error and the collateral, chunking-invariant.

Notation: X(t, p) the collateralised value of an entity (netting set or trade; base currency, undiscounted),
N(t, p) the base-currency bank account numeraire (N(0) = 1), P paths. Per entity and date, arrays (n, K):

    EPE(t)        = E[max(X(t), 0) / N(t)]          discounted to today, base currency (ORE "EPE"; = EE)
    ENE(t)        = E[max(-X(t), 0) / N(t)]         discounted (the counterparty's exposure to us)
    EE_stderr(t)  = sd(max(X(t), 0) / N(t)) / sqrt(P)    Monte Carlo standard error of EPE (ddof = 1; the
                    sums are of y - y_0, y_0 the value on path 0, so that the variance has no cancellation)
    ENE_stderr(t) = sd(max(-X(t), 0) / N(t)) / sqrt(P)   the same for ENE
    ExpectedCollateral(t) = E[Coll(t) / N(t)]       Coll = X_c(t^co) (C + IA_held - IA_posted), discounted
    PFE(t, q)     = Q_q(max(X(t), 0))               (n, K, nq); NON-discounted by default
                    (pfe_basis="undiscounted"): the quantile of the exposure in base currency at t under the
                    simulation measure. ORE takes the quantile of the numeraire-deflated exposure X/N (its cube
                    holds NPV * fx / numeraire), which is pfe_basis="discounted" here (``quantiles``).
    PFE_lower(t, q), PFE_upper(t, q) = max(x_(l), 0), max(x_(u), 0): a distribution-free confidence interval
                    of PFE(t, q) at ``pfe_ci_level`` from two order statistics of the same paths (ranks from the
                    binomial law, ``quantiles.order_statistic_interval``), in PFE's units and basis.

``path_functionals.PathFunctionalSums`` streams the mean and standard error of per-path weighted sums over
dates F(p) = sum_k w_k y(t_k, p) (CVA, DVA, FCA, FBA are such sums with weights known before the simulation).

Division by N is implemented as multiplication by 1/N (the same for every measure and for the discounted PFE).

Streaming: EPE, ENE, the collateral and the standard error need only sums over paths. Each sum is taken over
fixed blocks of ``block_size`` consecutive paths (aligned on the global path index) and the block sums are added
in path order, so every result is bit-for-bit the same whatever the chunk size (chunks must arrive in path
order). The PFE quantiles come from a ``QuantileStore`` holding every path.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from exposure.aggregation.quantile_store import QuantileStore
from exposure.aggregation.quantiles import DEFAULT_MEMORY_BUDGET, QUANTILE_METHODS, order_statistic_interval

PFE_BASES = ("undiscounted", "discounted")
DEFAULT_WORK_BYTES = 256 * 1024**2  # per-slice working memory of the streaming sums
DEFAULT_BLOCK = 256  # paths per summation block (pairwise inside a block, sequential across blocks)


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
        # (..., nb, B) copied C-contiguous: numpy then reduces each row with the same pairwise sum. On a strided
        # view (a slice of a chunk) its iterator may reorder the loops, and the bits would follow the chunking.
        sums = np.ascontiguousarray(a).reshape(a.shape[:-1] + (-1, self.block)).sum(axis=-1)
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
                 force_spill=False, work_bytes=DEFAULT_WORK_BYTES, pfe_ci_level: float | None = 0.95):
        if quantile_method not in QUANTILE_METHODS:
            raise ValueError(f"unknown quantile method '{quantile_method}' (known: {', '.join(QUANTILE_METHODS)})")
        if pfe_basis not in PFE_BASES:
            raise ValueError(f"unknown pfe_basis '{pfe_basis}' (known: {', '.join(PFE_BASES)})")
        self.n, self.K, self.P = int(n_entities), int(n_dates), int(n_paths)
        self.quantiles = np.asarray(quantiles, dtype=np.float64).reshape(-1)
        self.quantile_method, self.pfe_basis = quantile_method, pfe_basis
        self.pfe_ci_level = pfe_ci_level
        # EPE_dev / EPE_sq: sums of (y - s) and (y - s)^2 with y = max(X,0)/N and s the value on path 0 (a shift
        # that keeps the variance free of cancellation, fixed whatever the chunking); ENE_dev / ENE_sq likewise
        self.names = (["EPE", "ENE", "EPE_dev", "EPE_sq", "ENE_dev", "ENE_sq"]
                      + (["ExpectedCollateral"] if with_collateral else []) + list(extras))
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
                self._shift = q[:2, ..., :1].copy()
            np.subtract(q[0], self._shift[0], out=q[2])
            np.multiply(q[2], q[2], out=q[3])
            np.subtract(q[1], self._shift[1], out=q[4])
            np.multiply(q[4], q[4], out=q[5])
            for j, name in enumerate(self.names[6:], start=6):
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
               if name not in ("EPE_dev", "EPE_sq", "ENE_dev", "ENE_sq")}
        out["EE_stderr"] = _stderr(sums[2].T, sums[3].T, self.P)
        out["ENE_stderr"] = _stderr(sums[4].T, sums[5].T, self.P)
        return self.with_pfe(out)

    def add_quantile_input(self, start: int, stop: int, data) -> None:
        """Paths [start, stop) of the PFE input (K, n, p), handed over to the store, when the sums are taken
        elsewhere (``reduction.ChunkReducer``)."""
        if start != self._next:
            raise ValueError(f"paths must arrive in order: expected start {self._next}, got {start}")
        if self.store is not None:
            self.store.add(start, stop, data, keep=True)
        self._next = stop

    def with_pfe(self, out: dict) -> dict:
        """``out`` with PFE (n, K, nq) (and PFE_lower / PFE_upper) from the quantile store."""
        if self._next != self.P:
            raise RuntimeError(f"accumulated {self._next} of {self.P} paths")
        if self.store is not None:
            if self.pfe_ci_level is not None:
                lo, hi = order_statistic_interval(self.quantiles, self.P, self.pfe_ci_level)
                pfe, stats = self.store.quantiles(self.quantiles, self.quantile_method,
                                                  ranks=np.concatenate([lo, hi]))
                nq = self.quantiles.size
                out["PFE_lower"] = np.maximum(stats[..., :nq], 0.0)
                out["PFE_upper"] = np.maximum(stats[..., nq:], 0.0)
            else:
                pfe = self.store.quantiles(self.quantiles, self.quantile_method)
            out["PFE"] = np.maximum(pfe, 0.0)
        else:
            out["PFE"] = np.full((self.n, self.K, self.quantiles.size), np.nan)
        return out

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _stderr(dev, sq, P: int):
    """sd / sqrt(P) (ddof = 1) from sums of deviations d = y - shift and of d^2 over P paths; NaN for P = 1."""
    if P <= 1:
        return np.full_like(dev, np.nan)
    P = float(P)
    return np.sqrt(np.maximum(sq - dev * dev / P, 0.0) / (P - 1.0) / P)
