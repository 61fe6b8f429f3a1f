"""Hull-White one-factor model: constant mean reversion, piecewise-constant volatility.

    r(t) = phi(t) + x(t),   dx = -a x dt + sigma(t) dW,   x(0) = 0,
    B(t,T) = (1 - exp(-a (T-t))) / a,
    V(t,T) = Var_t[ int_t^T x(u) du ] = int_t^T sigma(u)^2 B(u,T)^2 du,
    P(t,T) = P(0,T)/P(0,t) * exp(-B(t,T) x(t) + 0.5 [V(t,T) - V(0,T) + V(0,t)]),

so the model fits the t0 curve P(0,.) exactly for any sigma (Brigo-Mercurio 3.3, with the variance
integral generalised to piecewise-constant sigma). Time in years, rates continuously compounded.
sigma(u) = vol_values[k] on [vol_times[k-1], vol_times[k]) with vol_times[-1] := 0 and the last value
held to infinity. All functions broadcast over array arguments.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from exposure._pytree import pytree_dataclass
from exposure.errors import ConfigError
from exposure.market.curves import DiscountCurve


@pytree_dataclass
class HullWhiteParams:
    """a: scalar mean reversion (> 0, 1/years); vol_times: (m,) breakpoints; vol_values: (m+1,) sigma."""

    mean_reversion: jnp.ndarray
    vol_times: jnp.ndarray
    vol_values: jnp.ndarray

    @staticmethod
    def create(mean_reversion: float, vol_values, vol_times=(), where: str = "model") -> "HullWhiteParams":
        """Validated constructor; ``where`` names the config key used in error messages."""
        a = float(mean_reversion)
        vt = np.atleast_1d(np.asarray(vol_times, dtype=np.float64)) if len(vol_times) else np.zeros(0)
        vv = np.atleast_1d(np.asarray(vol_values, dtype=np.float64))
        if not np.isfinite(a) or a <= 1e-8:
            raise ConfigError(f"{where}.mean_reversion", f"must be > 1e-8 (got {a})")
        if vv.size != vt.size + 1:
            raise ConfigError(f"{where}.volatility", f"{vv.size} vol values need {vv.size - 1} breakpoint times, got {vt.size}")
        if not np.all(np.isfinite(vv)) or np.any(vv < 0.0):
            raise ConfigError(f"{where}.volatility", f"volatilities must be finite and >= 0 (got {vv.tolist()})")
        if vt.size and (np.any(vt <= 0.0) or np.any(np.diff(vt) <= 0.0)):
            raise ConfigError(f"{where}.volatility_times", "must be > 0 and strictly increasing")
        return HullWhiteParams(jax.device_put(a), jax.device_put(vt), jax.device_put(vv))  # no program per shape

    def with_vols(self, vol_values) -> "HullWhiteParams":
        return HullWhiteParams(self.mean_reversion, self.vol_times, jnp.asarray(vol_values))


def _scalar_a(p: HullWhiteParams, xp):
    """The mean reversion as a Python float for NumPy set-up code (no device round trip), else as is."""
    return float(p.mean_reversion) if xp is np else p.mean_reversion


def hw_B(a, t, T, xp=jnp):
    """B(t,T) = (1 - exp(-a (T - t))) / a."""
    return -xp.expm1(-a * (xp.asarray(T) - xp.asarray(t))) / a


def _pieces(p: HullWhiteParams, xp=jnp):
    """Piece boundaries lo_k, hi_k (hi of the last piece = +inf) and sigma_k, each (m+1,)."""
    vt, vv = xp.asarray(p.vol_times, dtype=xp.float64), xp.asarray(p.vol_values, dtype=xp.float64)
    lo = xp.concatenate([xp.zeros(1), vt])
    hi = xp.concatenate([vt, xp.full(1, xp.inf)])
    return lo, hi, vv


def clip_pieces(p: HullWhiteParams, t, T, xp=jnp):
    """(u1, u2, T, sigma, active), each (..., m+1): every piece [lo_k, hi_k) clipped to [t, T] (t, T broadcast,
    a trailing piece axis added); u2 = u1 on the pieces outside [t, T] (active False)."""
    lo, hi, sig = _pieces(p, xp)
    t = xp.asarray(t, dtype=xp.float64)[..., None]
    T = xp.asarray(T, dtype=xp.float64)[..., None]
    u1 = xp.maximum(t, lo)
    u2 = xp.minimum(T, hi)
    active = u2 > u1
    u2 = xp.where(active, u2, u1)
    return u1, u2, T, sig, active


# int_0^d B(s)^2 ds = d^3 sum_n c_n z^(n-3), z = a d: the series used when a d is small, where the closed form
# (z - e - e^2/2)/a^3 subtracts nearly equal terms (a = 1e-5 lost 5 digits; a = 2e-8 was 3650x off).
I1_SERIES = tuple((-1) ** n * (2.0 - 2.0 ** (n - 1)) / math.factorial(n) for n in range(3, 22))


def integrated_variance(p: HullWhiteParams, t, T, xp=jnp):
    """V(t,T) = int_t^T sigma(u)^2 B(u,T)^2 du, exact per constant piece [u1, u2]; 0 where T <= t.

    B(u,T) = B(u,u2) + e^{-a(u2-u)} B(u2,T) splits each piece into cancellation-free terms.
    ``xp=numpy`` evaluates in NumPy (set-up code that must not compile), default jax.numpy.
    """
    a = _scalar_a(p, xp)
    u1, u2, T, sig, active = clip_pieces(p, t, T, xp)
    return xp.sum(xp.where(active, sig * sig * variance_weights(a, u1, u2, T, xp), 0.0), axis=-1)


def variance_weights(a, u1, u2, T, xp=jnp):
    """g_k = int_{u1}^{u2} B(u,T)^2 du per piece (``integrated_variance`` = sum_k sigma_k^2 g_k over the active
    pieces; ``clip_pieces`` gives u1, u2, T): the part without sigma, which set-up code may evaluate once."""
    d = u2 - u1
    z = a * d
    e = -xp.expm1(-z)  # a B(u1, u2)
    small = z < 0.5
    zs = xp.where(small, z, 0.0)
    poly = xp.zeros_like(zs)
    for c in reversed(I1_SERIES):
        poly = poly * zs + c
    i1 = xp.where(small, d**3 * poly, (z - e - 0.5 * e * e) / (a * a * a))
    b2 = -xp.expm1(-a * (T - u2)) / a
    return i1 + b2 * (e / a) ** 2 + b2 * b2 * -xp.expm1(-2.0 * z) / (2.0 * a)


def state_variance(p: HullWhiteParams, s, t, xp=jnp):
    """Var[x(t) | x(s)] = int_s^t sigma(u)^2 exp(-2a (t-u)) du (0 where t <= s)."""
    a = _scalar_a(p, xp)
    u1, u2, t_, sig, active = clip_pieces(p, s, t, xp)
    g = xp.exp(-2.0 * a * (t_ - u2)) * -xp.expm1(-2.0 * a * (u2 - u1)) / (2.0 * a)
    return xp.sum(xp.where(active, sig * sig * g, 0.0), axis=-1)


def zeta(p: HullWhiteParams, t, xp=jnp):
    """LGM variance zeta(t) = int_0^t sigma(u)^2 exp(2a u) du, so Var x(t) = exp(-2at) zeta(t)."""
    a = _scalar_a(p, xp)
    u1, u2, _, sig, active = clip_pieces(p, xp.zeros_like(xp.asarray(t, dtype=xp.float64)), t, xp)
    g = xp.exp(2.0 * a * u2) * -xp.expm1(-2.0 * a * (u2 - u1)) / (2.0 * a)
    return xp.sum(xp.where(active, sig * sig * g, 0.0), axis=-1)


def log_bond_intercept(p: HullWhiteParams, curve: DiscountCurve, t, T, xp=jnp):
    """ln A(t,T) = ln P(0,T) - ln P(0,t) + 0.5 [V(t,T) - V(0,T) + V(0,t)], so P(t,T) = A exp(-B x(t)).

    ``xp=numpy`` evaluates in NumPy (no compilation), default jax.numpy."""
    log_df = curve.log_discount_np if xp is np else curve.log_discount
    zero = xp.zeros_like(xp.asarray(t, dtype=xp.float64))
    return (
        log_df(T)
        - log_df(t)
        + 0.5 * (integrated_variance(p, t, T, xp) - integrated_variance(p, zero, T, xp)
                 + integrated_variance(p, zero, t, xp))
    )


def zero_bond(p: HullWhiteParams, curve: DiscountCurve, t, T, x, xp=jnp):
    """P(t,T) given the state x(t); broadcasts t, T, x."""
    return xp.exp(log_bond_intercept(p, curve, t, T, xp) - hw_B(_scalar_a(p, xp), t, T, xp) * x)


def integrated_phi(p: HullWhiteParams, curve: DiscountCurve, t, xp=jnp):
    """int_0^t phi(u) du = -ln P(0,t) + 0.5 V(0,t): the deterministic part of the bank account's log."""
    log_df = curve.log_discount_np if xp is np else curve.log_discount
    zero = xp.zeros_like(xp.asarray(t, dtype=xp.float64))
    return -log_df(t) + 0.5 * integrated_variance(p, zero, t, xp)
