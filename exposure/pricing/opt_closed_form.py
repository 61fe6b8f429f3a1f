"""Closed-form option values on paths, from precomputed coefficients (the per-term kernels of the option pricers).

Hull-White zero-bond option with precomputed coefficients (the closed form of
``exposure.models.hw_options.zero_bond_option``, rearranged so that every deterministic part is hoisted
out of the path loop):

    g = ln[P(t,S) / (K P(t,T))] = alpha - beta x,      v = ln[K P(t,T)] = gamma - delta x,
    ZBO = w [ e^{g+v} N(w h) - e^v N(w (h - s)) ],     h = g/s + s/2,   s = B(T,S) sqrt(Var[x(T)|x(t)]),

with alpha = lnA(t,S) - lnA(t,T) - ln K, beta = B(t,S) - B(t,T), gamma = ln K + lnA(t,T), delta = B(t,T),
and the intrinsic value max(w (e^{g+v} - e^v), 0) when s is ~0 (t = T or zero vol), as in hw_options.
Black from logs: w [F N(w d1) - K N(w d2)], d1 = ln(F/K)/sd + sd/2, intrinsic when sd is ~0.
"""

from __future__ import annotations

import jax.numpy as jnp

from exposure.pricing.normal_cdf import ndtr
from exposure.pricing.opt_common import TINY_SD

# The normal cdf N(x) = erfc(-x / sqrt 2) / 2 of ``normal_cdf``: one exponential and one division per element
# (XLA's erfc costs 1.5x on CPU); relative accuracy in the lower tail, absolute ~1e-16 in the upper.


def zbo(x, c, xp=jnp, cdf=ndtr, col=None):
    """sum of wgt ZBO over entries: x (C, P) each entry's state; c: (C,) arrays alpha, beta, gamma, delta, s,
    w (+1 call / -1 put), wgt (see the module docstring). Returns (C, P).

    xp, cdf: the array module and normal cdf (the host's t0 prices, ``pricing.today_options``, pass NumPy and
    SciPy's ndtr); col(name): c's array as it broadcasts against x (default c[name][:, None])."""
    col = col or (lambda name: c[name][:, None])
    g = col("alpha") - col("beta") * x
    v = col("gamma") - col("delta") * x
    w = col("w")
    live = col("s") > TINY_SD
    ss = xp.where(live, col("s"), 1.0)
    h = g / ss + 0.5 * ss
    ps = xp.exp(g + v)
    kp = xp.exp(v)
    closed = w * (ps * cdf(w * h) - kp * cdf(w * (h - ss)))
    return col("wgt") * xp.where(live, closed, xp.maximum(w * (ps - kp), 0.0))


def black_log(ln_f, ln_k, sd, w, xp=jnp, cdf=ndtr):
    """Undiscounted Black value from logs: w [F N(w d1) - K N(w d2)], F = e^{ln_f}, K = e^{ln_k}; sd may be 0.
    xp, cdf: the array module and normal cdf (as ``zbo``)."""
    live = sd > TINY_SD
    ss = xp.where(live, sd, 1.0)
    d1 = (ln_f - ln_k) / ss + 0.5 * ss
    f, k = xp.exp(ln_f), xp.exp(ln_k)
    closed = w * (f * cdf(w * d1) - k * cdf(w * (d1 - ss)))
    return xp.where(live, closed, xp.maximum(w * (f - k), 0.0))
