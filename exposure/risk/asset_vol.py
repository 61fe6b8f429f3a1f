"""One FX or equity asset's vol pieces and their implicit-function derivatives (``setup_vols``' module docstring):

    F_i(sigma, p) = v_i(sigma, p) - w_i = 0,    v_i = int_0^{T_i} l(u, T_i)' R l(u, T_i) du,   w_i = vol_i^2 T_i
    dsigma = J^-1 (dw - dv/dp . dp),   J = dv/dsigma (lower triangular),   dw_i/dvol_i = 2 vol_i T_i

sigma (n,) the asset's vol pieces on its market pillars T_i (years), vols as decimals, variances in year units.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.errors import ConfigError


class AssetVol:
    """One FX or equity asset's vol pieces as the model holds them, and their derivatives (module docstring)."""

    def __init__(self, model, market_curve, lf, factor: int, bootstrap: bool):
        from exposure.models.forward_variance import _GL_W, _GL_X, _pieces  # the bootstrap's own nodes

        self.T = np.asarray(market_curve.times, np.float64)
        self.w = np.asarray(market_curve.total_variances, np.float64)
        self.vol = np.sqrt(self.w / self.T)
        self.bootstrap = bootstrap
        if not bootstrap:
            return
        if len(lf.assets) != 1 or lf.assets[0][2] != 1.0:
            raise ConfigError("risk", "the vol bootstrap's tangent takes an asset against the base currency only")
        knots = _pieces(model, lf, self.T)
        a, b = knots[:-1], knots[1:]
        half = 0.5 * (b - a)
        u = (0.5 * (a + b)[:, None] + half[:, None] * _GL_X[None, :]).ravel()
        self.u = u
        self.wq = (half[:, None] * _GL_W[None, :]).ravel()
        self.mask = (np.repeat(b, _GL_X.size)[None, :] <= self.T[:, None] * (1 + 1e-14)).astype(np.float64)
        self.own = np.minimum(np.searchsorted(self.T, u, side="right"), self.T.size - 1)  # sigma piece of u
        self.factor, self.m = factor, model.correlation.shape[0]
        self.bonds = tuple((c, s, np.searchsorted(np.asarray(model.ir_vols[c].times), u, side="right"))
                           for c, s in lf.bonds)
        self.sigma = np.asarray(lf.assets[0][1].values, np.float64)[:-1]
        self._J = None

    def _rest(self, p, xp):
        """r(u, T_i) (n, N, m): the loadings of the bonds (every term of l but the asset's own vol)."""
        tau = self.T[:, None] - self.u[None, :]
        cols = [xp.zeros(tau.shape)] * self.m
        for c, s, idx in self.bonds:
            a = p["a"][c]
            cols[c] = cols[c] + s * (-xp.expm1(-a * tau) / a) * xp.asarray(p["ir_vol"][c])[idx][None, :]
        return xp.stack(cols, axis=-1)

    def variance(self, sig, p, xp=np):
        """v_i (n,) at the asset's pieces sig (n,) and p = {a (n_ccy,), ir_vol (tuple), R (m, m)}."""
        own = xp.asarray(np.eye(self.m)[self.factor])
        l = self._rest(p, xp) + xp.asarray(sig)[self.own][None, :, None] * own
        f = xp.einsum("tui,ij,tuj->tu", l, xp.asarray(p["R"]), l)
        return xp.sum(f * self.wq[None, :] * self.mask, axis=1)

    def jacobian(self, p):
        """J[i, k] = dv_i/dsigma_k = int_{piece k, u < T_i} 2 (sigma_k R_ff + (R r(u, T_i))_f) du, NumPy."""
        if self._J is None:
            p = jax.tree_util.tree_map(np.asarray, p)  # NumPy throughout: a jnp leaf would compile each eager op
            R = np.asarray(p["R"], np.float64)
            f = self.factor
            g = 2.0 * (self.sigma[self.own][None, :] * R[f, f] + self._rest(p, np) @ R[:, f])
            onehot = (self.own[:, None] == np.arange(self.T.size)[None, :]).astype(np.float64)
            self._J = (g * self.wq[None, :] * self.mask) @ onehot
        return self._J

    def variance_jvp(self, p, dp):
        """dv/dp . dp (n,), traceable (``VolContext.dv_dp`` compiles every asset's in one program)."""
        return jax.jvp(lambda q: self.variance(self.sigma, q, jnp), (p,), (dp,))[1]

    def pieces_tangent(self, dw, p=None, dv_p=None) -> np.ndarray:
        """d values (n+1,) of the model's PiecewiseVol along dw (n,) of the total variances and dv_p = dv/dp . dp
        (n,) of the rest of the model."""
        if not self.bootstrap:  # the market's forward vols
            T0 = np.concatenate([[0.0], self.T])
            w0 = np.concatenate([[0.0], self.w])
            vals = np.sqrt(np.concatenate([np.diff(w0) / np.diff(T0), [w0[-1] / T0[-1]]]))
            dw0 = np.concatenate([[0.0], dw])
            dvar = np.concatenate([np.diff(dw0) / np.diff(T0), [dw0[-1] / T0[-1]]])
            return np.where(vals > 0, dvar / (2.0 * np.where(vals > 0, vals, 1.0)), 0.0)
        rhs = np.asarray(dw, np.float64)
        if dv_p is not None:
            rhs = rhs - np.asarray(dv_p)
        d = np.linalg.solve(self.jacobian(p), rhs)
        return np.concatenate([d, d[-1:]])
