"""Streamed per-path weighted date sums (the XVA path functionals): their mean and Monte Carlo standard error.

    F_f(j, p) = sum_k w_f(j, k) y_b(k, j, p),   mean_f(j) = E_P[F_f(j)],   stderr_f(j) = sd_P(F_f(j)) / sqrt(P)

f a functional (CVA, DVA, FCA, FBA, ...: weights known before the simulation), j an entity (netting set), k a
date, y_b a per-path amount of basis b (e.g. max(X, 0) / N, base currency discounted); y given per chunk as
(K, n, p), weights (n, K), results (n,) per entity, (n_groups,) per group and a scalar total. Block sums in path
order (``accumulators.BlockSums``): the same bits for any chunking.
"""

from __future__ import annotations

import numpy as np

from exposure.aggregation.accumulators import DEFAULT_BLOCK, BlockSums, _stderr


def functional_result(names, mean, se, n: int, g: int) -> dict:
    """{name: {"entity": (mean (n,), stderr (n,)), "group": (mean (g,), stderr (g,)), "total": (mean, stderr)}}
    from mean and se (len(names), n + g + 1): entities, then groups, then the total."""
    return {f: {"entity": (mean[i, :n], se[i, :n]), "group": (mean[i, n:n + g], se[i, n:n + g]),
                "total": (float(mean[i, -1]), float(se[i, -1]))} for i, f in enumerate(names)}


class PathFunctionalSums:
    """Mean and Monte Carlo standard error of per-path weighted sums over dates, chunking-invariant.

        F_f(j, p) = sum_terms sum_k w_{f,term}(j, k) y_{b(f,term)}(k, j, p),   mean_f(j) = E_P[F_f(j)],
        stderr_f(j) = sd_P(F_f(j)) / sqrt(P)  (ddof = 1)

    f runs over the functionals, j over the entities (netting sets), k over the dates; y_b is a per-path
    amount of basis b (e.g. max(X, 0)/N), given per chunk as (K, n, p). A functional has one or more terms
    (basis, weights (n, K)), so that FVA = FCA - FBA gets the error of the difference (covariance included).
    ``groups`` (n,) ints (e.g. the counterparty of each netting set) adds group sums G_f(g) = sum_{j in g} F_f(j)
    and the total sum_j F_f(j) on the same paths, with their own standard errors.

    The date and entity sums are taken in a fixed order with elementwise NumPy operations (no BLAS), and the
    path sums of F - F(path 0) and of its square go through ``BlockSums``: the same bits for any chunking.

    weights: {name: (basis, (n, K)) or [(basis, (n, K)), ...]}; a term (basis, (n, K), key) multiplies its
    date weights on some entities by a per-path factor: ``add``'s y[key] = (rows (r,), m (r, K, p)) gives
    F(j) += w(j, k) m(j, k, p) y_b(k, j, p) for j in rows (stochastic survival), the plain term elsewhere.
    """

    def __init__(self, weights: dict, n_entities: int, n_dates: int, n_paths: int, block: int = DEFAULT_BLOCK,
                 groups=None):
        self.names = tuple(weights)
        self.terms = []
        for f in self.names:
            spec = weights[f]
            terms = [spec] if isinstance(spec, tuple) and isinstance(spec[0], str) else list(spec)
            out = []
            for term in terms:
                b, w, key = (tuple(term) + (None,))[:3]
                a = np.asarray(w, dtype=np.float64)
                if a.shape != (n_entities, n_dates):
                    raise ValueError(f"path functional '{f}': weights must be ({n_entities}, {n_dates}), got {a.shape}")
                if not np.all(np.isfinite(a)):
                    raise ValueError(f"path functional '{f}': weights must be finite")
                out.append((b, a, key))
            self.terms.append(out)
        self.n, self.K, self.P = int(n_entities), int(n_dates), int(n_paths)
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64).reshape(-1)
        if self.groups is not None and (self.groups.shape != (self.n,) or (self.n and self.groups.min() < 0)):
            raise ValueError(f"groups must be ({self.n},) non-negative ints")
        self.n_groups = 0 if self.groups is None or not self.n else int(self.groups.max()) + 1
        width = self.n + self.n_groups + 1
        self._sums = BlockSums((2, len(self.names), width), block)
        self._shift = None
        self._next = 0

    @property
    def bases(self) -> set:
        return {b for terms in self.terms for b, _, _ in terms}

    @property
    def path_keys(self) -> set:
        """Names of the per-path weight factors the terms need in ``add``'s y."""
        return {k for terms in self.terms for _, _, k in terms if k is not None}

    def add(self, start: int, stop: int, y: dict) -> None:
        """Paths [start, stop): y {basis: (K, n, p) per-path amounts, path key: (rows (r,), (r, K, p) per-path
        weight factors)}; chunks in path order."""
        if start != self._next:
            raise ValueError(f"paths must arrive in order: expected start {self._next}, got {start}")
        p = stop - start
        F = np.zeros((len(self.names), self.n + self.n_groups + 1, p))
        for i, terms in enumerate(self.terms):
            for b, w, key in terms:
                yb = y[b]
                if key is None:
                    for k in range(self.K):  # date order fixed: the same bits for any p
                        F[i, :self.n] += w[:, k, None] * yb[k]
                    continue
                rows, m = y[key]
                rows = np.asarray(rows, dtype=np.int64)
                m = np.asarray(m, dtype=np.float64)
                if m.shape != (rows.size, self.K, p):
                    raise ValueError(f"per-path weights '{key}' must be ({rows.size}, {self.K}, {p}), got {m.shape}")
                rest = np.setdiff1d(np.arange(self.n), rows)
                for k in range(self.K):  # rows without a factor get exactly the plain term's bits
                    F[i, rest] += w[rest, k, None] * yb[k][rest]
                    F[i, rows] += w[rows, k, None] * m[:, k] * yb[k][rows]
            for j in range(self.n):  # entity order fixed
                if self.n_groups:
                    F[i, self.n + self.groups[j]] += F[i, j]
                F[i, -1] += F[i, j]
        if self._shift is None:
            self._shift = F[..., :1].copy()
        d = F - self._shift
        self._sums.add(np.stack([d, d * d]))
        self._next = stop

    def result(self) -> dict:
        """{name: {"entity": (mean (n,), stderr (n,)), "group": (mean (n_groups,), stderr), "total": (mean,
        stderr) scalars}}."""
        if self._next != self.P:
            raise RuntimeError(f"accumulated {self._next} of {self.P} paths")
        s = self._sums.result()
        shift = self._shift[..., 0] if self._shift is not None else np.zeros(s.shape[1:])
        mean = shift + s[0] / self.P
        se = _stderr(s[0], s[1], self.P)
        return functional_result(self.names, mean, se, self.n, self.n_groups)
