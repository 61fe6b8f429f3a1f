"""Black volatility term structures and Black / Bachelier closed forms.

    w(T) = sigma(T)^2 T                       total implied variance at expiry T (years)
    w(T) linear in T between (0, 0) and the pillars (T_i, w_i)   =>   piecewise-constant forward variance
    sigma_inst(t)^2 = (w_i - w_{i-1}) / (T_i - T_{i-1})  on (T_{i-1}, T_i],   w(t) = int_0^t sigma_inst^2
    beyond T_n the implied vol stays flat, w(T) = w_n T / T_n (sigma_inst = sigma(T_n))

This is QuantLib's BlackVarianceCurve (linear variance interpolation, flat-vol extrapolation). w must not
decrease with T (calendar arbitrage). Vols are decimals per sqrt(year). Every jnp function broadcasts
over array arguments; the implied-vol inversions are scalar SciPy root searches (vectorised with
np.vectorize) meant for tests and reports, not for traced code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure._pytree import pytree_dataclass, static_field
from exposure.errors import MarketDataError


@pytree_dataclass
class BlackVolCurve:
    """times: (n,) increasing expiries > 0, years; total_variances: (n,) non-decreasing w(T_i)."""

    times: jnp.ndarray
    total_variances: jnp.ndarray
    name: str = static_field(default="")

    @staticmethod
    def from_implied_vols(times, vols, name: str = "") -> "BlackVolCurve":
        """Pillars from implied vols sigma(T_i); MarketDataError names a pillar that breaks w(T) increasing."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        v = np.atleast_1d(np.asarray(vols, dtype=np.float64))
        if t.ndim != 1 or t.size == 0 or v.shape != t.shape:
            raise MarketDataError(f"vol curve '{name}': needs n expiries and n vols, got {t.size} and {v.size}")
        if not np.all(np.isfinite(t)) or np.any(t <= 0.0) or np.any(np.diff(t) <= 0.0):
            raise MarketDataError(f"vol curve '{name}': expiries must be finite, > 0 and strictly increasing")
        bad = np.flatnonzero(~np.isfinite(v) | (v < 0.0))
        if bad.size:
            i = bad[0]
            raise MarketDataError(f"vol curve '{name}': pillar {i} (T={t[i]:g}): vol {v[i]} must be finite and >= 0")
        w = v * v * t
        dec = np.flatnonzero(np.diff(w) < 0.0)
        if dec.size:
            i = dec[0] + 1
            raise MarketDataError(
                f"vol curve '{name}': calendar arbitrage at pillar {i} (T={t[i]:g}, vol {v[i]:g}): total variance "
                f"{w[i]:.6g} is below {w[i - 1]:.6g} at the previous pillar (T={t[i - 1]:g}, vol {v[i - 1]:g})")
        return BlackVolCurve(jax.device_put(t), jax.device_put(w), name=name)  # no program (jnp.asarray: one per shape)

    @staticmethod
    def flat(vol: float, name: str = "") -> "BlackVolCurve":
        """sigma(T) = vol for every T."""
        return BlackVolCurve.from_implied_vols([1.0], [vol], name)

    def total_variance(self, t):
        """w(t), years x vol^2; 0 for t <= 0. t: any shape."""
        return _total_variance(self, t)

    def implied_vol(self, t):
        """sigma(t) = sqrt(w(t)/t); the first pillar's vol as t -> 0."""
        return _implied_vol(self, t)

    def variance_between(self, s, t):
        """int_s^t sigma_inst(u)^2 du = w(t) - w(s)."""
        return self.total_variance(t) - self.total_variance(s)

    def total_variance_np(self, t) -> np.ndarray:
        """w(t) in NumPy (set-up code that must not compile); the formula of ``total_variance``."""
        kt = np.concatenate([[0.0], np.asarray(self.times, dtype=np.float64)])
        kw = np.concatenate([[0.0], np.asarray(self.total_variances, dtype=np.float64)])
        t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
        return np.where(t > kt[-1], kw[-1] * t / kt[-1], np.interp(t, kt, kw))

    def variance_between_np(self, s, t) -> np.ndarray:
        """w(t) - w(s) in NumPy."""
        return self.total_variance_np(t) - self.total_variance_np(s)

    def local_vol_piecewise(self):
        """(breaks (n,), values (n+1,)): sigma_inst = values[k] on (breaks[k-1], breaks[k]] with
        breaks[-1] := 0, and values[n] = sigma(T_n) after the last expiry (HullWhiteParams layout).
        NumPy for concrete pillars (set-up, no compilation); jax.numpy inside a trace."""
        if isinstance(self.total_variances, jax.core.Tracer):
            return _local_vol_piecewise(self)
        kt = np.concatenate([[0.0], np.asarray(self.times, dtype=np.float64)])
        kw = np.concatenate([[0.0], np.asarray(self.total_variances, dtype=np.float64)])
        return kt[1:], np.sqrt(np.concatenate([np.diff(kw) / np.diff(kt), [kw[-1] / kt[-1]]]))


@jax.jit
def _local_vol_piecewise(curve: BlackVolCurve):
    knots_t = jnp.concatenate([jnp.zeros(1, curve.times.dtype), curve.times])
    knots_w = jnp.concatenate([jnp.zeros(1, curve.total_variances.dtype), curve.total_variances])
    fwd_var = jnp.diff(knots_w) / jnp.diff(knots_t)
    last = curve.total_variances[-1] / curve.times[-1]
    return curve.times, jnp.sqrt(jnp.concatenate([fwd_var, last[None]]))


@jax.jit
def _total_variance(curve: BlackVolCurve, t):
    t = jnp.maximum(jnp.asarray(t, dtype=curve.times.dtype), 0.0)
    knots_t = jnp.concatenate([jnp.zeros(1, curve.times.dtype), curve.times])
    knots_w = jnp.concatenate([jnp.zeros(1, curve.total_variances.dtype), curve.total_variances])
    inner = jnp.interp(t, knots_t, knots_w)
    return jnp.where(t > curve.times[-1], curve.total_variances[-1] * t / curve.times[-1], inner)


@jax.jit
def _implied_vol(curve: BlackVolCurve, t):
    t = jnp.asarray(t, dtype=curve.times.dtype)
    safe = jnp.where(t > 0.0, t, curve.times[0])
    return jnp.sqrt(_total_variance(curve, safe) / safe)


def _black(xp, cdf, forward, strike, total_var, discount, is_call):
    f = xp.asarray(forward, dtype=xp.float64)
    k = xp.asarray(strike, dtype=xp.float64)
    eps = xp.where(xp.asarray(is_call), 1.0, -1.0)
    s = xp.sqrt(xp.maximum(xp.asarray(total_var, dtype=xp.float64), 0.0))
    live = s > 0.0
    s_safe = xp.where(live, s, 1.0)  # keeps d1 finite where the intrinsic branch is taken
    d1 = xp.log(f / k) / s_safe + 0.5 * s_safe
    value = eps * (f * cdf(eps * d1) - k * cdf(eps * (d1 - s_safe)))
    return discount * xp.where(live, value, xp.maximum(eps * (f - k), 0.0))


def _bachelier(xp, cdf, pdf, forward, strike, normal_total_var, annuity, is_call):
    eps = xp.where(xp.asarray(is_call), 1.0, -1.0)
    s = xp.sqrt(xp.maximum(xp.asarray(normal_total_var, dtype=xp.float64), 0.0))
    live = s > 0.0
    s_safe = xp.where(live, s, 1.0)
    d = eps * (xp.asarray(forward, dtype=xp.float64) - xp.asarray(strike, dtype=xp.float64))
    value = d * cdf(d / s_safe) + s_safe * pdf(d / s_safe)
    return annuity * xp.where(live, value, xp.maximum(d, 0.0))


@jax.jit
def black_price(forward, strike, total_var, discount=1.0, is_call=True):
    """discount * eps [F N(eps d1) - K N(eps d2)],  d1,2 = ln(F/K)/s +- s/2,  s = sqrt(total_var),
    eps = +1 call / -1 put. F, K > 0 (same units, the price is in them); total_var = sigma^2 T. With
    s = 0 the discounted intrinsic value. Garman-Kohlhagen: F = S exp(-r_f T) / exp(-r_d T), discount =
    exp(-r_d T). All arguments broadcast; returns jnp."""
    from jax.scipy.stats import norm  # (scipy-style modules are imported where used: a what-if process needs none)

    return _black(jnp, norm.cdf, forward, strike, total_var, discount, is_call)


@jax.jit
def bachelier_price(forward, strike, normal_total_var, annuity=1.0, is_call=True):
    """annuity * [eps (F-K) N(eps (F-K)/s) + s phi((F-K)/s)],  s = sqrt(normal_total_var) = sigma_N sqrt(T)
    (absolute units, e.g. rate decimals); with s = 0 the discounted intrinsic value. Broadcasts."""
    from jax.scipy.stats import norm

    return _bachelier(jnp, norm.cdf, norm.pdf, forward, strike, normal_total_var, annuity, is_call)


def _npdf(x):
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def black_price_np(forward, strike, total_var, discount=1.0, is_call=True):
    """``black_price`` in NumPy: for scalar code such as root searches, where a jitted call per evaluation
    would cost more than the formula."""
    from scipy.special import ndtr

    return _black(np, ndtr, forward, strike, total_var, discount, is_call)


def bachelier_price_np(forward, strike, normal_total_var, annuity=1.0, is_call=True):
    """``bachelier_price`` in NumPy (see ``black_price_np``)."""
    from scipy.special import ndtr

    return _bachelier(np, ndtr, _npdf, forward, strike, normal_total_var, annuity, is_call)


def _invert(price_of_sd, price: float, lo_bound: float, hi_bound: float, what: str) -> float:
    """Std dev s with price_of_sd(s) = price; the price must lie strictly inside (intrinsic, limit)."""
    intrinsic = price_of_sd(0.0)
    if not np.isfinite(price) or price < intrinsic or price >= hi_bound:
        raise MarketDataError(f"{what}: price {price} outside the no-arbitrage range [{intrinsic}, {hi_bound})")
    if price == intrinsic:
        return 0.0
    hi = lo_bound
    while price_of_sd(hi) < price:
        hi *= 2.0
        if hi > 1e6 * lo_bound:
            raise MarketDataError(f"{what}: no volatility reproduces price {price}")
    from scipy.optimize import brentq

    return brentq(lambda s: price_of_sd(s) - price, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)


def _black_iv(price, forward, strike, expiry, discount, is_call):
    def p(s):
        return float(black_price_np(forward, strike, s * s, discount, is_call))

    upper = discount * (forward if is_call else strike)  # s -> infinity limit
    s = _invert(p, float(price), 1.0, upper, f"Black implied vol (F={forward}, K={strike}, T={expiry})")
    return s / np.sqrt(expiry)


def _bachelier_iv(price, forward, strike, expiry, annuity, is_call):
    def p(s):
        return float(bachelier_price_np(forward, strike, s * s, annuity, is_call))

    scale = max(abs(forward), abs(strike), abs(price / annuity), 1e-4)
    s = _invert(p, float(price), scale, np.inf, f"Bachelier implied vol (F={forward}, K={strike}, T={expiry})")
    return s / np.sqrt(expiry)


def black_implied_vol(price, forward, strike, expiry, discount=1.0, is_call=True):
    """sigma with black_price(F, K, sigma^2 T, discount, is_call) = price (brentq to machine precision)."""
    return np.vectorize(_black_iv, otypes=[float])(price, forward, strike, expiry, discount, is_call)


def bachelier_implied_vol(price, forward, strike, expiry, annuity=1.0, is_call=True):
    """Normal vol sigma_N with bachelier_price(F, K, sigma_N^2 T, annuity, is_call) = price."""
    return np.vectorize(_bachelier_iv, otypes=[float])(price, forward, strike, expiry, annuity, is_call)
