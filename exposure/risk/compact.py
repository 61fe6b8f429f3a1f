"""The pricing-data part of the reverse pass's gradient, G["pres"], kept per measure instead of per output.

G[o] for output o = (m, j) (o = m n_ns + j: measure m of netting set j) is d f_o / d S. The pricing data of a
batch are read by the values of their own netting sets only, so (``reverse_ns.block_gradients``) every float
leaf k of S["pres"] has one of three layouts:

    elements   a (n_meas, *shape), ns (shape): netting set of each element (-1: read by none)
               G["pres"][k][(m, j)] = where(ns == j, a[m], 0)                       (n_meas copies, not n_out)
    rows       a (n_meas, n_r, *shape), rows (n_r,): the netting sets that read the leaf as a whole (a shared
               leaf, a batch without a copy-reading kernel)
               G["pres"][k][(m, rows[r])] = a[m, r], 0 for the other netting sets
    zero       read by no value: G["pres"][k][o] = 0 (nothing stored)

``CompactPres`` holds them; ``dot(k, d)`` = <G["pres"][k][o], d> for every o (a segment sum by netting set, what
``reverse.contract`` does per factor) and ``dense(k)`` = the (n_out, *shape) array, for a reader that needs it.
A plain list of (n_out, *shape) arrays (the per-output reference, a caller's own G) is taken as ``elements`` with
n_meas = n_out and one netting set (``CompactPres.of``): every reader goes through one accessor.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

ELEMENTS, ROWS, ZERO = "elements", "rows", "zero"


class CompactPres:
    """G["pres"] of one reverse pass (module docstring): per float leaf (kind, values, netting sets, shape)."""

    def __init__(self, n_meas: int, n_ns: int, leaves: list):
        self.n_meas, self.n_ns = int(n_meas), int(n_ns)
        self.leaves = leaves  # [(kind, values or None, ns / rows or None, leaf shape)]
        self._seg: dict = {}

    @classmethod
    def of(cls, pres, n_out: int | None = None) -> "CompactPres":
        """``pres`` itself, or a list of dense (n_out, *shape) rows as n_out measures of one netting set."""
        if isinstance(pres, CompactPres):
            return pres
        arrs = [np.asarray(a) for a in pres]
        if n_out is None:
            n_out = arrs[0].shape[0] if arrs else 0
        return cls(n_out, 1, [(ELEMENTS, a, np.zeros(a.shape[1:], np.int64), a.shape[1:]) for a in arrs])

    @property
    def n_out(self) -> int:
        return self.n_meas * self.n_ns

    def __len__(self) -> int:
        return len(self.leaves)

    def __getitem__(self, k: int) -> np.ndarray:
        return self.dense(k)

    def kind(self, k: int) -> str:
        return self.leaves[k][0]

    def shape(self, k: int) -> tuple:
        return tuple(self.leaves[k][3])

    def nbytes(self) -> int:
        return sum(np.asarray(v).nbytes for _, v, _, _ in self.leaves if v is not None)

    def _segments(self, k: int):
        """(n_el, n_ns) sparse 0/1 matrix: element e -> its netting set (elements read by none: no entry)."""
        if k not in self._seg:
            ns = np.asarray(self.leaves[k][2]).reshape(-1)
            live = np.flatnonzero(ns >= 0)
            self._seg[k] = sp.csr_matrix((np.ones(live.size), (live, ns[live])), shape=(ns.size, self.n_ns))
        return self._seg[k]

    def dot(self, k: int, d) -> np.ndarray:
        """(n_out,): <G["pres"][k][o], d> for every output o, d of the leaf's shape."""
        kind, a, ns, shape = self.leaves[k]
        out = np.zeros((self.n_meas, self.n_ns))
        d = np.asarray(d, np.float64).reshape(-1)
        if kind == ZERO or not d.size or not np.any(d):
            return out.reshape(-1)
        if kind == ROWS:
            out[:, np.asarray(ns)] = np.asarray(a, np.float64).reshape(a.shape[:2] + (-1,)) @ d
        else:
            out[:] = (self._segments(k).T @ (np.asarray(a, np.float64).reshape(self.n_meas, -1) * d[None]).T).T
        return out.reshape(-1)

    def dot_many(self, k: int, D) -> np.ndarray:
        """(n_out, N): ``dot(k, D[r])`` for every row r of D (N, *shape), as one product per measure."""
        kind, a, ns, shape = self.leaves[k]
        D = np.asarray(D, np.float64)
        D = D.reshape(D.shape[0], -1)
        out = np.zeros((self.n_meas, self.n_ns, D.shape[0]))
        if kind == ZERO or not D.size:
            return out.reshape(self.n_out, -1)
        if kind == ROWS:
            out[:, np.asarray(ns)] = np.asarray(a, np.float64).reshape(a.shape[:2] + (-1,)) @ D.T
        else:
            seg, A = self._segments(k), np.asarray(a, np.float64).reshape(self.n_meas, -1)
            for m in range(self.n_meas):
                out[m] = seg.T @ (A[m][:, None] * D.T)
        return out.reshape(self.n_out, -1)

    def dense(self, k: int) -> np.ndarray:
        """(n_out, *shape): G["pres"][k] row by row (n_out copies of the leaf: for small leaves or tests)."""
        kind, a, ns, shape = self.leaves[k]
        out = np.zeros((self.n_meas, self.n_ns) + tuple(shape))
        if kind == ROWS:
            out[:, np.asarray(ns)] = a
        elif kind == ELEMENTS:
            ns = np.asarray(ns)
            for j in range(self.n_ns):
                out[:, j] = np.where(ns[None] == j, a, 0.0)
        return out.reshape((self.n_out,) + tuple(shape))

    def per_measure(self, k: int):
        """(a (n_meas, *shape), ns (shape)) of an ``elements`` leaf (a ``zero`` leaf: zeros, all -1)."""
        kind, a, ns, shape = self.leaves[k]
        if kind == ZERO:
            return np.zeros((self.n_meas,) + tuple(shape)), np.full(shape, -1, np.int64)
        if kind != ELEMENTS:
            raise ValueError(f"G['pres'][{k}] is a '{kind}' leaf, not per element")
        return a, np.asarray(ns)
