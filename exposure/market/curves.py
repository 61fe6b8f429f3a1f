"""Discount curves: log-linear interpolation of discount factors.

    ln P(0,t) is piecewise linear in t through (0, 0) and the pillars (t_i, ln P_i), so the instantaneous
    forward f(0,t) = -d ln P/dt is piecewise constant. Extrapolation is flat in the forward on both sides:
    before the first pillar the curve follows the first segment (a flat zero rate), after the last pillar
    the last segment's forward rate continues unchanged.

Times are year fractions ACT/365F from the as-of date (see ``exposure.simulation.grid``); rates are
continuously compounded. Every method accepts JAX or NumPy arrays of any shape and broadcasts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure._pytree import pytree_dataclass, static_field
from exposure.errors import MarketDataError


@pytree_dataclass
class DiscountCurve:
    """P(0,t) = exp(interp(t; [0, t_1..t_n], [0, lnP_1..lnP_n])) with flat-forward extrapolation.

    times: (n,) strictly increasing pillar times > 0, years.  log_dfs: (n,) ln P(0, t_i).
    """

    times: jnp.ndarray
    log_dfs: jnp.ndarray
    name: str = static_field(default="")

    @staticmethod
    def from_zero_rates(times, rates, name: str = "") -> "DiscountCurve":
        """Pillars from continuously compounded zero rates: ln P_i = -r_i t_i."""
        t = np.asarray(times, dtype=np.float64)
        r = np.asarray(rates, dtype=np.float64)
        _check_pillars(t, name)
        if r.shape != t.shape:
            raise MarketDataError(f"curve '{name}': {r.size} rates for {t.size} pillar times")
        if not np.all(np.isfinite(r)):
            raise MarketDataError(f"curve '{name}': non-finite zero rate")
        return DiscountCurve(jax.device_put(t), jax.device_put(-r * t), name=name)  # no program (jnp.asarray: one per shape)

    @staticmethod
    def from_discount_factors(times, dfs, name: str = "") -> "DiscountCurve":
        """Pillars from discount factors P(0, t_i) > 0."""
        t = np.asarray(times, dtype=np.float64)
        d = np.asarray(dfs, dtype=np.float64)
        _check_pillars(t, name)
        if d.shape != t.shape:
            raise MarketDataError(f"curve '{name}': {d.size} discount factors for {t.size} pillar times")
        if not np.all(np.isfinite(d)) or np.any(d <= 0.0):
            raise MarketDataError(f"curve '{name}': discount factors must be finite and > 0")
        return DiscountCurve(jnp.asarray(t), jnp.asarray(np.log(d)), name=name)

    @staticmethod
    def flat(rate: float, name: str = "", horizon: float = 100.0) -> "DiscountCurve":
        """A flat continuously compounded curve: P(0,t) = exp(-rate t)."""
        return DiscountCurve.from_zero_rates([horizon], [rate], name=name)

    def log_discount(self, t):
        """ln P(0,t); t: any shape, years. Returns the same shape."""
        return _log_discount(self.times, self.log_dfs, jnp.asarray(t, dtype=self.times.dtype))

    def log_discount_np(self, t) -> np.ndarray:
        """ln P(0,t) in NumPy: the same formula for set-up code that must not compile (one XLA program per
        new input shape adds up to seconds per trade batch)."""
        t = np.asarray(t, dtype=np.float64)
        kt = np.concatenate([[0.0], np.asarray(self.times, dtype=np.float64)])
        ky = np.concatenate([[0.0], np.asarray(self.log_dfs, dtype=np.float64)])
        inner = np.interp(t, kt, ky)
        last_fwd = -(ky[-1] - ky[-2]) / (kt[-1] - kt[-2])
        first_fwd = -(ky[1] - ky[0]) / (kt[1] - kt[0])
        return np.where(t > kt[-1], ky[-1] - last_fwd * (t - kt[-1]), np.where(t < 0.0, -first_fwd * t, inner))

    def discount(self, t):
        """P(0,t)."""
        return jnp.exp(self.log_discount(t))

    def zero_rate(self, t):
        """Continuously compounded zero rate -ln P(0,t)/t (the first forward at t = 0)."""
        t = jnp.asarray(t, dtype=self.times.dtype)
        safe = jnp.where(t > 1e-12, t, 1.0)
        first_fwd = -self.log_dfs[0] / self.times[0]
        return jnp.where(t > 1e-12, -self.log_discount(safe) / safe, first_fwd)

    def instantaneous_forward(self, t):
        """f(0,t) = -d ln P(0,t)/dt (right-continuous, piecewise constant)."""
        t = jnp.asarray(t, dtype=self.times.dtype)
        knots_t = jnp.concatenate([jnp.zeros(1, self.times.dtype), self.times])
        knots_y = jnp.concatenate([jnp.zeros(1, self.log_dfs.dtype), self.log_dfs])
        fwds = -jnp.diff(knots_y) / jnp.diff(knots_t)
        idx = jnp.clip(jnp.searchsorted(knots_t, t, side="right") - 1, 0, fwds.shape[0] - 1)
        return fwds[idx]

    def forward_rate(self, t1, t2):
        """Simple forward rate (P(0,t1)/P(0,t2) - 1)/(t2 - t1) for accrual in model years."""
        return (jnp.exp(self.log_discount(t1) - self.log_discount(t2)) - 1.0) / (
            jnp.asarray(t2) - jnp.asarray(t1)
        )


@jax.jit
def _log_discount(times, log_dfs, t):
    # One compiled kernel per input shape: op-by-op dispatch of jnp.interp costs ~1 s of compilation per shape.
    knots_t = jnp.concatenate([jnp.zeros(1, times.dtype), times])
    knots_y = jnp.concatenate([jnp.zeros(1, log_dfs.dtype), log_dfs])
    inner = jnp.interp(t, knots_t, knots_y)
    last_fwd = -(knots_y[-1] - knots_y[-2]) / (knots_t[-1] - knots_t[-2])
    after = knots_y[-1] - last_fwd * (t - knots_t[-1])
    first_fwd = -(knots_y[1] - knots_y[0]) / (knots_t[1] - knots_t[0])
    before = -first_fwd * t
    return jnp.where(t > knots_t[-1], after, jnp.where(t < 0.0, before, inner))


def _check_pillars(t: np.ndarray, name: str) -> None:
    if t.ndim != 1 or t.size == 0:
        raise MarketDataError(f"curve '{name}': needs a non-empty 1-d list of pillar times")
    if not np.all(np.isfinite(t)) or np.any(t <= 0.0):
        raise MarketDataError(f"curve '{name}': pillar times must be finite and > 0")
    if np.any(np.diff(t) <= 0.0):
        raise MarketDataError(f"curve '{name}': pillar times must be strictly increasing")
