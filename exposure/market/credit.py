"""Credit curves: piecewise-constant hazard rates (bootstrapped from CDS par spreads in ``cds``).

    S(t) = exp(-H(t)),   H(t) = int_0^t h(u) du,   h(u) = h_i on (t_{i-1}, t_i]  (t_0 = 0),
    h(u) = h_n beyond t_n (flat extrapolation of the last hazard), S(t) = 1 for t <= 0.

Times are years ACT/365F from the as-of date, as for ``DiscountCurve``; hazards are per year. Curve methods
take t of any shape and return that shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure._pytree import pytree_dataclass, static_field
from exposure.errors import MarketDataError

def _segment(xp, times, t):
    """Index i of the hazard segment (times[i-1], times[i]] holding t, clipped to the last segment."""
    if xp is jnp:  # 'compare_all' compiles in a fraction of the default 'scan' on short pillar lists
        i = jnp.searchsorted(times, t, side="left", method="compare_all")
    else:
        i = np.searchsorted(times, t, side="left")
    return xp.clip(i, 0, times.shape[0] - 1)


def _cum_hazard(xp, times, hazards, t):
    t = xp.maximum(xp.asarray(t, dtype=hazards.dtype), 0.0)
    starts = xp.concatenate([xp.zeros(1, hazards.dtype), times[:-1]])
    h_starts = xp.concatenate([xp.zeros(1, hazards.dtype), xp.cumsum(hazards * (times - starts))[:-1]])
    i = _segment(xp, times, t)
    return h_starts[i] + hazards[i] * (t - starts[i])


@pytree_dataclass
class CreditCurve:
    """Piecewise-constant hazards. times: (n,) increasing pillar times > 0, years; hazards: (n,) per year,
    hazards[i] on (times[i-1], times[i]]; recovery: scalar recovery rate R used by the bootstrap (the
    LGD of a CVA is 1 - R). Methods take t of any shape and return that shape."""

    times: jnp.ndarray
    hazards: jnp.ndarray
    recovery: jnp.ndarray
    name: str = static_field(default="")

    @staticmethod
    def from_hazards(times, hazards, recovery: float = 0.4, name: str = "") -> "CreditCurve":
        """Validated constructor: hazards[i] >= 0 on (times[i-1], times[i]], times > 0 increasing."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        h = np.atleast_1d(np.asarray(hazards, dtype=np.float64))
        if t.ndim != 1 or t.size == 0 or h.shape != t.shape:
            raise MarketDataError(f"credit curve '{name}': needs n pillar times and n hazards, "
                                  f"got {t.size} and {h.size}")
        if not np.all(np.isfinite(t)) or np.any(t <= 0.0) or np.any(np.diff(t) <= 0.0):
            raise MarketDataError(f"credit curve '{name}': pillar times must be finite, > 0 and increasing")
        if not np.all(np.isfinite(h)) or np.any(h < 0.0):
            raise MarketDataError(f"credit curve '{name}': hazards must be finite and >= 0 (got {h.tolist()})")
        _check_recovery(recovery, name)
        # device_put: the arrays jnp.asarray makes (same dtype and weak type), without its eager program per shape
        return CreditCurve(jax.device_put(t), jax.device_put(h), jax.device_put(float(recovery)), name=name)

    @staticmethod
    def flat(hazard: float, recovery: float = 0.4, name: str = "", horizon: float = 100.0) -> "CreditCurve":
        """S(t) = exp(-hazard t)."""
        return CreditCurve.from_hazards([horizon], [hazard], recovery, name)

    def cumulative_hazard(self, t):
        """H(t) = int_0^t h(u) du (0 for t <= 0)."""
        return _cumulative_hazard(self, t)

    def survival(self, t):
        """S(t) = P(tau > t)."""
        return _survival(self, t)

    def default_probability(self, t):
        """P(tau <= t) = 1 - S(t)."""
        return _default_probability(self, t)

    def default_probability_between(self, t1, t2):
        """Unconditional P(t1 < tau <= t2) = S(t1) - S(t2) (QuantLib's defaultProbability(d1, d2))."""
        return _survival(self, t1) - _survival(self, t2)

    def hazard(self, t):
        """h(t), left-continuous at the pillars (h(t_i) = hazards[i]); hazards[0] for t <= 0."""
        return _hazard(self, t)

    def survival_np(self, t) -> np.ndarray:
        """S(t) in NumPy (set-up and result code that must not compile)."""
        times = np.asarray(self.times, dtype=np.float64)
        return np.exp(-_cum_hazard(np, times, np.asarray(self.hazards, dtype=np.float64), t))


# Jitted so that eager calls compile once per argument shape rather than once per jnp operation.
@jax.jit
def _cumulative_hazard(curve: CreditCurve, t):
    return _cum_hazard(jnp, curve.times, curve.hazards, t)


@jax.jit
def _survival(curve: CreditCurve, t):
    return jnp.exp(-_cum_hazard(jnp, curve.times, curve.hazards, t))


@jax.jit
def _default_probability(curve: CreditCurve, t):
    return -jnp.expm1(-_cum_hazard(jnp, curve.times, curve.hazards, t))


@jax.jit
def _hazard(curve: CreditCurve, t):
    t = jnp.asarray(t, dtype=curve.hazards.dtype)
    return curve.hazards[_segment(jnp, curve.times, t)]


def _check_recovery(recovery, name: str) -> None:
    if not np.isfinite(recovery) or not 0.0 <= recovery < 1.0:
        raise MarketDataError(f"credit curve '{name}': recovery {recovery} must be in [0, 1)")
