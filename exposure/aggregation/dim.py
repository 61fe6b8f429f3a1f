"""Dynamic initial margin by regression (ORE's RegressionDynamicInitialMarginCalculator idea) and its MVA sums.

Per netting set j, exposure date t_k and path p, with V the uncollateralised value (base currency, undiscounted)
and the margin period of risk d of the simulation (``simulation.mpor``, the close-out grid):

    dV(t_k, p)   = V(t_k + d, p) - V(t_k, p)                      the P&L over the margin period
    m1(v), m2(v) = least-squares polynomials in u = (v - mean_p V(t_k)) / sd_p V(t_k) of degree ``order``
                   (default 2) fitted to dV and dV^2 over all paths   (regression estimates of E[dV | V = v]
                   and E[dV^2 | V = v])
    sigma^2(v)   = max(m2(v) - m1(v)^2, 0)                        conditional variance of the P&L
    IM(t_k, p)   = Phi^-1(q) sigma(V(t_k, p))                     conditional normality, q = ``dim_quantile``
    ExpectedIM(t_k) = E_p[IM(t_k, p) / N(t_k, p)]                 discounted, base currency

    MVA path functional  F(p) = sum_k w_k IM(t_k, p) / N(t_k, p), w from the XVA stage (funding spread x survival)

Limits: the IM horizon is the simulation's margin period of risk (no scaling to a regulatory 10 days), the
regressor is the netting-set value only (one dimension, ORE's default), the polynomial fit is global per date
(no local regression), IM is symmetric (the same for the bank and the counterparty: a normal P&L), and the
regression error is not in the standard error (IM is taken as known given the fitted coefficients). Every path is
kept (``QuantileStore``s for V and dV, in memory or spilled), so the fit is done once on all paths at the end and
the results do not depend on the chunking.
"""

from __future__ import annotations

import numpy as np

from exposure.aggregation.quantile_store import QuantileStore
from exposure.aggregation.quantiles import DEFAULT_MEMORY_BUDGET


def regression_im(v, dv, quantile: float = 0.99, order: int = 2) -> np.ndarray:
    """IM (K, P) from values v (K, P) and P&L dv (K, P) of one netting set (module docstring)."""
    v = np.asarray(v, dtype=np.float64)
    dv = np.asarray(dv, dtype=np.float64)
    from scipy.special import ndtri  # the normal quantile; imported here, so a run without DIM does not import it

    z = ndtri(quantile)
    out = np.empty_like(v)
    for k in range(v.shape[0]):
        sd = v[k].std()
        u = (v[k] - v[k].mean()) / sd if sd > 0 else np.zeros_like(v[k])
        basis = np.stack([u ** i for i in range(order + 1)], axis=1) if sd > 0 else np.ones((u.size, 1))
        coef, *_ = np.linalg.lstsq(basis, np.stack([dv[k], dv[k] * dv[k]], axis=1), rcond=None)
        fit = basis @ coef
        out[k] = z * np.sqrt(np.maximum(fit[:, 1] - fit[:, 0] ** 2, 0.0))
    return out


class RegressionDIM:
    """Streams V(t_k), dV and the numeraire of every path; ``result(weights, groups)`` fits the IM and returns
    (ExpectedIM (n, K), the MVA functional {"entity", "group", "total"} as ``PathFunctionalSums.result``)."""

    def __init__(self, n_entities: int, n_dates: int, n_paths: int, quantile: float = 0.99, order: int = 2,
                 memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET, spill_dir=None):
        if not 0.5 < quantile < 1.0:
            raise ValueError(f"dim quantile must lie in (0.5, 1) (got {quantile})")
        self.n, self.K, self.P = int(n_entities), int(n_dates), int(n_paths)
        self.quantile, self.order = float(quantile), int(order)
        kw = dict(memory_budget_bytes=memory_budget_bytes // 2, spill_dir=spill_dir)
        self._v = QuantileStore(self.n, self.K, self.P, **kw)
        self._dv = QuantileStore(self.n, self.K, self.P, **kw)
        self._num = np.empty((self.K, self.P))

    def add(self, start: int, stop: int, v_val, v_closeout, numeraire) -> None:
        """v_val, v_closeout: (K, n, p) uncollateralised values at t_k and t_k + MPoR; numeraire (K, p) at t_k."""
        v = np.asarray(v_val, dtype=np.float64)
        self._v.add(start, stop, v)
        self._dv.add(start, stop, np.asarray(v_closeout, dtype=np.float64) - v)
        self._num[:, start:stop] = numeraire

    def result(self, weights, groups=None):
        w = np.asarray(weights, dtype=np.float64)
        inv = 1.0 / self._num
        expected = np.empty((self.n, self.K))
        F = np.zeros((self.n, self.P))
        for j in range(self.n):
            im = regression_im(self._v.rows(j), self._dv.rows(j), self.quantile, self.order) * inv
            expected[j] = im.mean(axis=1)
            for k in range(self.K):
                F[j] += w[j, k] * im[k]
        g = np.zeros(self.n, np.int64) if groups is None else np.asarray(groups, np.int64)
        ng = int(g.max()) + 1 if self.n else 0
        G = np.zeros((ng, self.P))
        for j in range(self.n):
            G[g[j]] += F[j]
        T = F.sum(axis=0) if self.n else np.zeros(self.P)

        def ms(a):
            se = a.std(axis=-1, ddof=1) / np.sqrt(self.P) if self.P > 1 else np.zeros(a.shape[:-1])
            return a.mean(axis=-1), se

        te = ms(T)
        return expected, {"entity": ms(F), "group": ms(G), "total": (float(te[0]), float(te[1]))}

    def close(self) -> None:
        self._v.close()
        self._dv.close()
