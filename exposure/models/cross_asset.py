"""Cross-asset model: Hull-White rates per currency, lognormal FX and equity, one correlation matrix.

Measure and numeraire: the base-currency risk-neutral measure with the bank account
beta(t) = exp(int_0^t r_0) as numeraire. State Y = (x_0, I_0, x_1..x_n, y_1..y_n, s_1..s_q, z_1, Z_1..z_r, Z_r) with

    dx_0 = -a_0 x_0 dt + sigma_0 dW_0                       (base short rate r_0 = phi_0 + x_0)
    dI_0 = x_0 dt                                           (so ln beta(t) = int_0^t phi_0 + I_0(t))
    dx_c = (-a_c x_c - rho(IR:c, FX:c) sigma_c sigma_Xc) dt + sigma_c dW_c        (quanto drift)
    dy_c = (r_0 - r_c - sigma_Xc^2 / 2) dt + sigma_Xc dW_Xc,   y_c = ln X_c (base per unit of c)
    ds_e = (r_c(e) - q_e - sigma_e^2 / 2 - [c(e) != 0] rho(EQ:e, FX:c) sigma_e sigma_Xc) dt + sigma_e dW_e
    dz_k = -a_k z_k dt + sigma_k dW_k,   dZ_k = z_k dt           (credit name k: lambda_k = phi_k + z_k,
                                                                  ``credit_intensity``; survival exp(-Phi_k - Z_k))

with int_0^t phi_c = -ln P_c(0,t) + V_c(0,t)/2 (fit to each t0 curve). This is a linear SDE
dY = (b(t) + A Y) dt + C(t) dW, d<W> = R dt, with A constant and b, C piecewise constant between the
volatility breakpoints. Its transition over a step is exactly Gaussian:

    Y(t) = Phi Y(s) + mu + eps,   Phi = e^{A (t-s)},   eps ~ N(0, Sigma),

with Phi, mu, Sigma from Van Loan's block exponentials on every constant piece, composed over the
step, and the curve terms int phi added in closed form (the y and s columns of A are zero, so they pass
through Phi unchanged). No Euler bias on rates, FX or equity.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from exposure.models.hull_white import integrated_phi


@dataclasses.dataclass(frozen=True)
class PiecewiseVol:
    """sigma(u) = values[k] on [times[k-1], times[k]) (times[-1] := 0), last value held; years, decimal."""

    times: np.ndarray
    values: np.ndarray

    def at(self, u: float) -> float:
        return float(self.values[np.searchsorted(self.times, u, side="right")])


@dataclasses.dataclass(frozen=True)
class CrossAssetModel:
    """Model parameters; ``currencies[0]`` is the base currency. Correlation is over ``factor_names``."""

    currencies: tuple
    hw: tuple  # HullWhiteParams per currency
    curves: tuple  # DiscountCurve per currency
    fx_spot: np.ndarray  # (n_ccy - 1,) base per foreign
    fx_vol: tuple  # PiecewiseVol per foreign currency
    equity_names: tuple
    equity_ccy: tuple  # index into currencies
    equity_spot: np.ndarray
    equity_div: np.ndarray
    equity_vol: tuple  # PiecewiseVol per equity
    correlation: np.ndarray  # (m, m) over factor_names
    credit: tuple = ()  # CreditIntensity per stochastic credit name (``credit_intensity``), states last

    @property
    def credit_names(self) -> tuple:
        return tuple(c.name for c in self.credit)

    @property
    def n_ccy(self) -> int:
        return len(self.currencies)

    @property
    def factor_names(self) -> tuple:
        return (
            tuple(f"IR:{c}" for c in self.currencies)
            + tuple(f"FX:{c}" for c in self.currencies[1:])
            + tuple(f"EQ:{e}" for e in self.equity_names)
            + tuple(f"CR:{k}" for k in self.credit_names)
        )

    @property
    def state_names(self) -> tuple:
        c = self.currencies
        return (
            (f"IR:{c[0]}", f"BA:{c[0]}")
            + tuple(f"IR:{x}" for x in c[1:])
            + tuple(f"FX:{x}" for x in c[1:])
            + tuple(f"EQ:{e}" for e in self.equity_names)
            + tuple(s for k in self.credit_names for s in (f"CR:{k}", f"CRI:{k}"))
        )

    def ir_state(self, ccy_index: int) -> int:
        """Row of x_c in the state vector."""
        return 0 if ccy_index == 0 else 1 + ccy_index

    def fx_state(self, ccy_index: int) -> int:
        """Row of ln X_c (ccy_index >= 1)."""
        return 1 + self.n_ccy + (ccy_index - 1)

    def eq_state(self, eq_index: int) -> int:
        return 2 * self.n_ccy + eq_index

    def cr_state(self, cr_index: int) -> int:
        """Row of z_k of credit name k; its integral Z_k is the next row."""
        return 2 * self.n_ccy + len(self.equity_names) + 2 * cr_index

    @property
    def dim(self) -> int:
        return 2 * self.n_ccy + len(self.equity_names) + 2 * len(self.credit)

    def initial_state(self) -> np.ndarray:
        y0 = np.zeros(self.dim)
        for c in range(1, self.n_ccy):
            y0[self.fx_state(c)] = np.log(self.fx_spot[c - 1])
        for e in range(len(self.equity_names)):
            y0[self.eq_state(e)] = np.log(self.equity_spot[e])
        return y0

    # ---- the linear SDE ----------------------------------------------------------------------------
    def drift_matrix(self) -> np.ndarray:
        d, n = self.dim, self.n_ccy
        A = np.zeros((d, d))
        for c in range(n):
            A[self.ir_state(c), self.ir_state(c)] = -float(self.hw[c].mean_reversion)
        A[1, 0] = 1.0
        for c in range(1, n):
            A[self.fx_state(c), self.ir_state(0)] += 1.0
            A[self.fx_state(c), self.ir_state(c)] -= 1.0
        for e, c in enumerate(self.equity_ccy):
            A[self.eq_state(e), self.ir_state(c)] = 1.0
        for k, cr in enumerate(self.credit):
            A[self.cr_state(k), self.cr_state(k)] = -cr.mean_reversion
            A[self.cr_state(k) + 1, self.cr_state(k)] = 1.0
        return A

    @property
    def ir_vols(self) -> tuple:
        """Hull-White vols as NumPy PiecewiseVol (converted once: JAX scalars are slow in Python loops)."""
        cached = self.__dict__.get("_ir_vols")
        if cached is None:
            cached = tuple(PiecewiseVol(np.asarray(h.vol_times), np.asarray(h.vol_values)) for h in self.hw)
            object.__setattr__(self, "_ir_vols", cached)
        return cached

    @property
    def cr_vols(self) -> tuple:
        """Intensity vols of the credit names as NumPy PiecewiseVol."""
        cached = self.__dict__.get("_cr_vols")
        if cached is None:
            cached = tuple(PiecewiseVol(np.asarray(c.hw.vol_times), np.asarray(c.hw.vol_values)) for c in self.credit)
            object.__setattr__(self, "_cr_vols", cached)
        return cached

    def _vols_at(self, u: float):
        ir = np.array([v.at(u) for v in self.ir_vols])
        fx = np.array([v.at(u) for v in self.fx_vol])
        eq = np.array([v.at(u) for v in self.equity_vol])
        return ir, fx, eq

    def local_coefficients(self, u: float):
        """Constant drift b and diffusion C (d x m) on the piece containing u (curve terms excluded)."""
        n, q = self.n_ccy, len(self.equity_names)
        m = n + (n - 1) + q + len(self.credit)
        d = self.dim
        R = self.correlation
        ir, fx, eq = self._vols_at(u)
        b = np.zeros(d)
        C = np.zeros((d, m))
        for c in range(n):
            C[self.ir_state(c), c] = ir[c]
        for c in range(1, n):
            fxf = n + c - 1
            C[self.fx_state(c), fxf] = fx[c - 1]
            b[self.fx_state(c)] = -0.5 * fx[c - 1] ** 2
            b[self.ir_state(c)] = -R[c, fxf] * ir[c] * fx[c - 1]
        for e, c in enumerate(self.equity_ccy):
            eqf = 2 * n - 1 + e
            C[self.eq_state(e), eqf] = eq[e]
            b[self.eq_state(e)] = -float(self.equity_div[e]) - 0.5 * eq[e] ** 2
            if c != 0:
                b[self.eq_state(e)] -= R[eqf, n + c - 1] * eq[e] * fx[c - 1]
        for k, v in enumerate(self.cr_vols):  # no drift: the intensity is a base-measure (Q) intensity
            C[self.cr_state(k), 2 * n - 1 + q + k] = v.at(u)
        return b, C

    def breakpoints(self) -> np.ndarray:
        pts = [v.times for v in self.ir_vols]
        pts += [v.times for v in self.fx_vol] + [v.times for v in self.equity_vol] + [v.times for v in self.cr_vols]
        return np.unique(np.concatenate([np.zeros(0)] + [np.asarray(p, dtype=float) for p in pts]))

    def transitions(self, times: np.ndarray):
        """Exact step transitions on the grid t_0 = 0 < t_1 < ... < t_n.

        Returns Phi (n, d, d), mu (n, d), Sigma (n, d, d), float64: Y_k = Phi_k Y_{k-1} + mu_k + N(0, Sigma_k).
        """
        times = np.asarray(times, dtype=np.float64)
        return self.step_transitions(np.concatenate([[0.0], times[:-1]]), times)

    def step_transitions(self, starts: np.ndarray, ends: np.ndarray):
        """Exact transitions over the intervals [starts[k], ends[k]] (each on its own; starts < ends, years):
        Phi (n, d, d), mu (n, d), Sigma (n, d, d) with Y(ends[k]) = Phi_k Y(starts[k]) + mu_k + N(0, Sigma_k)."""
        starts = np.asarray(starts, dtype=np.float64)
        ends = np.asarray(ends, dtype=np.float64)
        A = self.drift_matrix()
        d = self.dim
        amax = max([float(h.mean_reversion) for h in self.hw] + [c.mean_reversion for c in self.credit])
        bps = self.breakpoints()
        if not starts.size:
            return np.zeros((0, d, d)), np.zeros((0, d)), np.zeros((0, d, d))
        phi_s, phi_t = self._integrated_phi(starts), self._integrated_phi(ends)
        # Every constant piece of every step first, then all block exponentials in two batched expm calls: one
        # call per piece spent most of a run's set-up waking BLAS threads for 16x16 products (and its time
        # varied with the machine's load); the batched call computes each matrix exactly as a single one.
        steps, bs, Qs, taus = [], [], [], []
        for k, (s, t) in enumerate(zip(starts, ends)):
            cuts = np.concatenate([[s], bps[(bps > s) & (bps < t)], [t]])
            for u1, u2 in zip(cuts[:-1], cuts[1:]):
                # Split so that a*tau <= 0.5: Van Loan's product F22^T F12 loses digits as e^{2 a tau} grows.
                nsub = max(1, int(np.ceil((u2 - u1) * amax / 0.5)))
                b, C = self.local_coefficients(0.5 * (u1 + u2))
                steps.append((k, nsub))
                bs.append(b)
                Qs.append(C @ self.correlation @ C.T)
                taus.append((u2 - u1) / nsub)
        pieces = _van_loan(A, np.array(bs).reshape(-1, d), np.array(Qs).reshape(-1, d, d), np.array(taus))
        Phis = [np.eye(d) for _ in starts]
        mus = [np.zeros(d) for _ in starts]
        Sigs = [np.zeros((d, d)) for _ in starts]
        for (k, nsub), (P_, m_, S_) in zip(steps, pieces):
            Phi, mu, Sig = Phis[k], mus[k], Sigs[k]
            for _ in range(nsub):
                Phi, mu, Sig = P_ @ Phi, P_ @ mu + m_, P_ @ Sig @ P_.T + S_
            Phis[k], mus[k], Sigs[k] = Phi, mu, Sig
        for k in range(len(starts)):
            mus[k] = mus[k] + self._phi_increment(phi_t[:, k] - phi_s[:, k])
            Sigs[k] = 0.5 * (Sigs[k] + Sigs[k].T)
        return np.stack(Phis), np.stack(mus), np.stack(Sigs)

    def rate_model(self, ccy_index: int):
        """The interface pricers use for currency ``ccy_index``'s rates (``models.rate_model.RateModel``)."""
        from exposure.models.rate_model import HullWhiteRateModel

        return HullWhiteRateModel(self.hw[ccy_index], self.curves[ccy_index])

    def _integrated_phi(self, times: np.ndarray) -> np.ndarray:
        """int_0^t phi_c for every currency: (n_ccy, len(times))."""
        return np.stack([integrated_phi(h, cv, times, xp=np) for h, cv in zip(self.hw, self.curves)])

    def _phi_increment(self, inc: np.ndarray) -> np.ndarray:
        """The curve terms of mu over a step from inc = int phi_c over it, per currency (n_ccy,)."""
        out = np.zeros(self.dim)
        for c in range(1, self.n_ccy):
            out[self.fx_state(c)] = inc[0] - inc[c]
        for e, c in enumerate(self.equity_ccy):
            out[self.eq_state(e)] = inc[c]
        return out


@functools.cache
def _blas():
    """threadpoolctl's view of the loaded BLAS libraries (scanned once per process: about 10 ms)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _van_loan(A: np.ndarray, b: np.ndarray, Q: np.ndarray, tau: np.ndarray) -> list:
    """Exact transitions of dY = (b_j + A Y) dt + dM, d<M> = Q_j dt, over tau_j, for every piece j:
    [(Phi_j, mu_j, Sigma_j)]. b (n, d), Q (n, d, d), tau (n,) years.

    Phi = e^{A tau}; mu = int_0^tau e^{A s} b ds; Sigma = int_0^tau e^{A s} Q e^{A' s} ds (Van Loan 1978).
    """
    n, d = b.shape
    aug = np.zeros((n, d + 1, d + 1))
    aug[:, :d, :d] = A
    aug[:, :d, d] = b
    M = np.zeros((n, 2 * d, 2 * d))
    M[:, :d, :d] = -A
    M[:, :d, d:] = Q
    M[:, d:, d:] = A.T
    # One BLAS thread: OpenBLAS's threaded LU and products of these 9x9 and 16x16 matrices only wait on each other,
    # and on a busy machine one expm took 10-20 ms instead of 0.15 ms (bit for bit the same result).
    import scipy.linalg  # here: a stored model (exposure.whatif) unpickles without it

    with _blas().limit(limits=1, user_api="blas"):
        E1 = scipy.linalg.expm(aug * tau[:, None, None])
        E2 = scipy.linalg.expm(M * tau[:, None, None])
    # Sigma one piece at a time: a stacked matmul may sum in another order than the 2-D product.
    return [(E1[j, :d, :d], E1[j, :d, d], E2[j, d:, d:].T @ E2[j, :d, d:]) for j in range(n)]


def factor_matrix(Sigma: np.ndarray) -> np.ndarray:
    """A square root L with L L' = Sigma for PSD (possibly singular) Sigma, via the symmetric eigensystem.

    Cholesky fails on the rank-deficient covariances of short steps or zero vols; this does not.
    Shape (..., d, d).
    """
    w, V = np.linalg.eigh(Sigma)
    return V * np.sqrt(np.clip(w, 0.0, None))[..., None, :]
