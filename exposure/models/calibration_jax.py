"""Sensitivities of a Hull-White swaption calibration by the implicit-function theorem.

    R_k(sigma, v, a, lnP) = model_k(sigma, a, lnP) - market_k(v_k, lnP) = 0,    k = 1..m,
    dsigma = -(dR/dsigma)^-1 (dR/dv dv + dR/da da + dR/dlnP dlnP),

R the equations ``calibration.calibrate_hull_white`` solves (one swaption per sigma piece, single curve):
model_k the Jamshidian price sum_i c_i ZBO(0; T0, T_i, K_i) of the k-th swaption (``hw_options``), market_k its
Bachelier / shifted Black price on the quoted vol v_k, lnP = ln P(0, t) at every time the instruments read (the
ATM strike, the annuity and the bonds all move with the curve). dR/dsigma is lower triangular (swaption k sees
sigma_0..sigma_k only), invertible wherever the calibration has a root (each price is strictly increasing in its
own sigma_k). The derivatives are jax.jacfwd of R in jax.numpy at the NumPy solution, so the tangent is exact
to rounding: no re-calibration, no step size. Units: sigma and v decimal, a 1/years, lnP dimensionless.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from exposure.market.vols import _bachelier, _black
from exposure.models.calibration import SwaptionQuote, _schedule
from exposure.models.hull_white import HullWhiteParams, hw_B, integrated_variance, state_variance
from exposure.models.hw_options import _TINY_SP, _critical_state


class CalibrationIFT:
    """The calibration equations of one currency's sorted ``quotes`` (single curve, ATM unless struck) at the
    calibrated ``params`` (HullWhiteParams; vol breakpoints = the quotes' expiries but the last)."""

    def __init__(self, quotes, params: HullWhiteParams, curve):
        quotes = sorted(quotes, key=lambda q: q.expiry)
        self.quotes = tuple(quotes)
        self.vol_times = np.asarray(params.vol_times, np.float64)
        self.sigma = np.asarray(params.vol_values, np.float64)
        self.a = float(params.mean_reversion)
        sched = [_schedule(q, None)[:2] for q in quotes]
        self.times = np.unique(np.concatenate([np.r_[q.expiry, s[0]] for q, s in zip(quotes, sched)]))
        # All swaptions at once: payments padded to the longest with amount 0 at T0 (then B = 0, ln A = 0).
        m, width = len(quotes), max(s[0].size for s in sched)
        self._T0 = np.array([q.expiry for q in quotes])
        self._T = np.repeat(self._T0[:, None], width, axis=1)
        self._tau = np.zeros((m, width))
        self._last = np.zeros((m, width))
        for k, (pay, tau) in enumerate(sched):
            self._T[k, :pay.size], self._tau[k, :pay.size], self._last[k, pay.size - 1] = pay, tau, 1.0
        self._i0 = np.searchsorted(self.times, self._T0)
        self._iT = np.searchsorted(self.times, self._T)
        self._strike = np.array([np.nan if q.strike is None else float(q.strike) for q in quotes])
        self._w = np.array([-1.0 if q.is_payer else 1.0 for q in quotes])
        self._normal = np.array([q.vol_type == "normal" for q in quotes])
        self._shift = np.array([0.0 if q.vol_type == "normal" else q.shift for q in quotes])
        self.lnP = np.asarray(curve.log_discount_np(self.times), np.float64)
        self.vols = np.array([q.vol for q in quotes])
        self._jac = jax.jit(jax.jacfwd(self.residual, argnums=(0, 1, 2, 3)))

    def prices(self, sigma, vols, a, lnP):
        """(model (m,), market (m,)) prices per unit notional."""
        p = HullWhiteParams(a, self.vol_times, sigma)
        T0, T = self._T0, self._T
        p0, pT = jnp.exp(lnP[self._i0]), jnp.exp(lnP[self._iT])
        annuity = jnp.sum(self._tau * pT, axis=1)
        fwd = (p0 - jnp.sum(self._last * pT, axis=1)) / annuity
        k = jnp.where(np.isnan(self._strike), fwd, np.nan_to_num(self._strike))
        c = k[:, None] * self._tau + self._last
        zero = np.zeros_like(T)
        ln_a = lnP[self._iT] - lnP[self._i0][:, None] + 0.5 * (
            integrated_variance(p, T0[:, None] + zero, T, jnp) - integrated_variance(p, zero, T, jnp)
            + integrated_variance(p, zero, T0[:, None] + zero, jnp))
        b = hw_B(a, T0[:, None], T)
        x_star = _critical_state(ln_a, b, c, jnp.ones(T0.size))
        k_fwd = jnp.exp(ln_a - b * x_star[:, None]) * p0[:, None]
        s_p = b * jnp.sqrt(state_variance(p, np.zeros_like(T0), T0, jnp))[:, None]
        w = self._w[:, None]
        live = (s_p > _TINY_SP) & (k_fwd > 0.0)
        sp = jnp.where(live, s_p, 1.0)
        h = jnp.log(jnp.where(live, pT / jnp.where(live, k_fwd, 1.0), 1.0)) / sp + 0.5 * sp
        zbo = jnp.where(live, w * (pT * norm.cdf(w * h) - k_fwd * norm.cdf(w * (h - sp))),
                        jnp.maximum(w * (pT - k_fwd), 0.0))
        model = jnp.sum(c * zbo, axis=1)
        var = vols * vols * T0
        payer = self._w < 0.0
        market = jnp.zeros_like(model)
        if self._normal.any():
            market = jnp.where(self._normal, _bachelier(jnp, norm.cdf, norm.pdf, fwd, k, var, annuity, payer), market)
        if not self._normal.all():  # shifted Black; normal quotes get safe positive operands in the unused branch
            f_, k_ = (jnp.where(self._normal, 1.0, x + self._shift) for x in (fwd, k))
            market = jnp.where(self._normal, market, _black(jnp, norm.cdf, f_, k_, var, annuity, payer))
        return model, market

    def residual(self, sigma, vols, a, lnP):
        """R (m,) = model - market."""
        model, market = self.prices(sigma, vols, a, lnP)
        return model - market

    def tangent(self, dvols=None, da: float = 0.0, dlnP=None) -> np.ndarray:
        """dsigma (m,) along dvols (m,) of the quotes' vols, da of the mean reversion and dlnP (len(times),)
        of ln P(0, .) at ``times``."""
        Js, Jv, Ja, Jp = (np.asarray(j) for j in self._jac(jnp.asarray(self.sigma), jnp.asarray(self.vols),
                                                            jnp.asarray(self.a), jnp.asarray(self.lnP)))
        rhs = Ja * da
        if dvols is not None:
            rhs = rhs + Jv @ np.asarray(dvols, np.float64)
        if dlnP is not None:
            rhs = rhs + Jp @ np.asarray(dlnP, np.float64)
        return -np.linalg.solve(Js, rhs)


def quote_vol_weights(sv, quotes, e: int, j: int) -> np.ndarray:
    """d v_k / d vols[e][j]: the bilinear interpolation weight of matrix entry (e, j) in each calibration
    quote's vol (``calibrate_config.interpolate_vol`` is linear in the matrix)."""
    from types import SimpleNamespace

    from exposure.models.calibrate_config import interpolate_vol

    unit = np.zeros((len(sv.expiry_times), len(sv.tenor_times)))
    unit[e, j] = 1.0
    ns = SimpleNamespace(expiry_times=sv.expiry_times, tenor_times=sv.tenor_times, vols=unit)
    return np.array([interpolate_vol(ns, q.expiry, q.tenor) for q in quotes])


__all__ = ["CalibrationIFT", "SwaptionQuote", "quote_vol_weights"]
