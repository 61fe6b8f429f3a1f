"""The rate model as pricers see it: one currency's Gaussian affine short-rate model behind an interface.

    P(t, T | x(t)) = exp(lnA(t,T) - B(t,T) x(t)),     Var[x(t) | x(s)],     int_0^t phi(u) du,

with x the currency's rate state on the path (r = phi + x). Pricers ask only for these (NumPy, set-up time;
on paths they apply the coefficients to the simulated x), never for model parameters, so another one-factor
affine model (e.g. a different volatility shape or a shifted model) is a new ``RateModel``, not an edit of
every pricer. Times in years from the as-of date; every method broadcasts its arguments.

The Jamshidian critical state of a coupon bond, x* with sum_i c_i P(T0, T_i; x*) = target, needs nothing but
the bond coefficients, so it is implemented once here for any one-factor affine model whose bonds decrease
in x (B > 0).
"""

from __future__ import annotations

import abc
import dataclasses

import numpy as np

from exposure.market.curves import DiscountCurve
from exposure.models.hull_white import HullWhiteParams, hw_B, integrated_phi, integrated_variance, state_variance


class RateModel(abc.ABC):
    """One currency's short-rate model: affine zero bonds in the scalar state x. ``curve``: the t0 curve."""

    curve: DiscountCurve

    @abc.abstractmethod
    def bond_coefficients(self, t, T) -> tuple[np.ndarray, np.ndarray]:
        """(lnA(t,T), B(t,T)) with P(t,T|x) = exp(lnA - B x); T <= t gives (0, 0) (P = 1)."""

    @abc.abstractmethod
    def state_variance(self, s, t) -> np.ndarray:
        """Var[x(t) | x(s)] (0 where t <= s)."""

    @abc.abstractmethod
    def integrated_drift(self, t) -> np.ndarray:
        """int_0^t phi(u) du: the deterministic part of the log bank account, ln N(t) = this + int_0^t x."""

    @abc.abstractmethod
    def quanto_drift_bound(self, t, rho_fx_vol: float) -> np.ndarray:
        """A bound on |E x(t)| under the base measure for a non-base currency whose FX vol times the rate/FX
        correlation is at most ``rho_fx_vol`` (the quanto drift; 0 for the base currency)."""

    def zero_bond(self, t, T, x) -> np.ndarray:
        """P(t, T | x(t) = x)."""
        ln_a, b = self.bond_coefficients(t, T)
        return np.exp(ln_a - b * np.asarray(x, dtype=np.float64))

    def critical_state(self, expiry, pay_times, amounts, target) -> np.ndarray:
        """Jamshidian x* per trade: sum_i c_i P(T0,T_i; x*) = target. expiry (n,), pay_times / amounts (n, m)
        (amount 0 pads), target (n,). Newton from x = 0 with steps capped at 0.25 (the bond sum is convex and
        decreasing in x when all c_i >= 0), until every step is below 1e-15 (at most 100), then one more."""
        e = np.asarray(expiry, dtype=np.float64).reshape(-1, 1)
        T = np.maximum(np.asarray(pay_times, dtype=np.float64).reshape(e.shape[0], -1), e)
        ln_a, b = self.bond_coefficients(np.broadcast_to(e, T.shape), T)
        return newton_critical_state(ln_a, b, np.asarray(amounts, dtype=np.float64).reshape(T.shape),
                                     np.broadcast_to(np.asarray(target, dtype=np.float64), (e.shape[0],)))


def newton_critical_state(ln_a, b, amounts, target) -> np.ndarray:
    """x with sum_i amounts_i exp(ln_a_i - b_i x) = target per row; (n, m) coefficients, (n,) targets."""

    def step(x):
        terms = amounts * np.exp(ln_a - b * x[:, None])
        val = terms.sum(axis=-1) - target
        slope = -(b * terms).sum(axis=-1)
        # A padded (all-zero) trade has slope 0: leave it where it is instead of dividing by zero.
        return np.where(slope < 0.0, -val / np.where(slope < 0.0, slope, -1.0), 0.0)

    x = np.zeros(ln_a.shape[0])
    for _ in range(100):
        dx = np.clip(step(x), -0.25, 0.25)
        x = x + dx
        if not np.any(np.abs(dx) > 1e-15):
            break
    return x + step(x)


@dataclasses.dataclass(frozen=True)
class HullWhiteRateModel(RateModel):
    """Hull-White one factor (``models.hull_white``): B = (1 - e^{-a(T-t)})/a, lnA from the fitted t0 curve."""

    params: HullWhiteParams
    curve: DiscountCurve

    def bond_coefficients(self, t, T):
        """``hull_white.log_bond_intercept`` and ``hw_B`` at (t, max(T, t)), t and T broadcast. ln P(0, .) and
        V(0, .) are functions of one time: evaluated on t and T as given (a (K, 1) x (1, U) grid: K + U values,
        not 2 K U) and picked per element where T is clamped, the same elementwise formulas in the same order
        as ``log_bond_intercept`` on the broadcast arrays, so the same values; only V(t, T) needs the grid."""
        t0, T0 = np.asarray(t, dtype=np.float64), np.asarray(T, dtype=np.float64)
        t, T = np.broadcast_arrays(t0, T0)
        clamped = T < t
        T = np.maximum(T, t)
        p, log_df = self.params, self.curve.log_discount_np
        iv0_t = integrated_variance(p, np.zeros_like(t0), t0, np)
        iv0_T = integrated_variance(p, np.zeros_like(T0), T0, np)
        ldf_t, ldf_T = log_df(t0), log_df(T0)
        ln_a = (np.where(clamped, ldf_t, ldf_T) - ldf_t
                + 0.5 * (integrated_variance(p, t, T, np) - np.where(clamped, iv0_t, iv0_T) + iv0_t))
        return ln_a, hw_B(self._a, t, T, xp=np)

    def state_variance(self, s, t):
        s, t = np.broadcast_arrays(np.asarray(s, dtype=np.float64), np.asarray(t, dtype=np.float64))
        return state_variance(self.params, s, t, xp=np)

    def integrated_drift(self, t):
        return integrated_phi(self.params, self.curve, np.asarray(t, dtype=np.float64), xp=np)

    def quanto_drift_bound(self, t, rho_fx_vol: float):
        """|int_0^t e^{-a(t-u)} rho sigma(u) sigma_X du| <= rho_fx_vol max sigma (1 - e^{-a t}) / a."""
        t = np.asarray(t, dtype=np.float64)
        a = self._a
        decay = t if abs(a) < 1e-14 else -np.expm1(-a * t) / a
        return abs(rho_fx_vol) * float(np.max(np.asarray(self.params.vol_values))) * decay

    @property
    def _a(self) -> float:
        return float(self.params.mean_reversion)
