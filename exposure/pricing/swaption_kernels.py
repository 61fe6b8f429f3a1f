"""The swaption pricer's path kernels (``opt_swaption``): the Jamshidian terms, the exercised swap's flows and
running coupons, and the compiled per-batch values.

    term = wgt P(t, T) erfc(a0 + a1 x),   P(t, T) = exp(p - q x)          (x (C, P): each entry's state)

Shapes as ``opt_common.accumulate``: values (K, n, P) in the base currency, undiscounted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.normal_cdf import erfc
from exposure.pricing.opt_common import TINY_SD, accumulate, accumulate_shared, cast_floats

# At s ~ 0 the probability is the exercise indicator 1{w g > 0}: the cdf's argument is scaled by this factor, so
# that erfc gives exactly 0 or 2 (|g| >= 1e-100 is far below a rounding of the state; g = 0 exactly has
# probability 0) and its derivative exactly 0, as the indicator's.
_STEP = 1e200


def _probability_coefficients(c: dict) -> dict:
    """Entries with the cdf argument folded into one multiply-add per path (NumPy, prepare time):

        N(w (h - e s)) = 0.5 erfc(a0 + a1 x),   h = g/s + s/2,  g = alpha - beta x,
        a0 = -w (alpha/s + (0.5 - e) s) / sqrt 2,   a1 = w beta / (s sqrt 2)

    (a0 = -w alpha _STEP, a1 = w beta _STEP at s ~ 0); the 0.5 goes into the weight (exact)."""
    s, w, alpha, beta = c["s"], c["w"], c["alpha"], c["beta"]
    live = s > TINY_SD
    ss = np.where(live, s, 1.0)
    r2 = 0.7071067811865476
    a0 = np.where(live, -w * (alpha / ss + (0.5 - c["e"]) * ss) * r2, -w * alpha * _STEP)
    a1 = np.where(live, w * beta / ss * r2, w * beta * _STEP)
    return {"p": c["p"], "q": c["q"], "a0": a0, "a1": a1, "wgt": 0.5 * c["wgt"], "k": c["k"], "i": c["i"],
            "row": c["row"], "T": c["T"], "g": c["g"]}


def _jamshidian_terms(x, c):
    """wgt P(t, T) Pr, P = exp(p - q x), Pr = N(w (h - e s)) = 0.5 erfc(a0 + a1 x) (``_probability_coefficients``,
    the 0.5 in wgt): with e = 0 the coupon leg of a zero-bond option, w P(t,S) N(w h); with e = 1 the strike
    leg, w K P(t,T0) N(w (h - s)) (the sign is in wgt). At s ~ 0 (the expiry) Pr is the exercise indicator
    1{w g > 0}. x: (C, P)."""
    col = lambda name: c[name][:, None]  # noqa: E731
    return col("wgt") * jnp.exp(col("p") - col("q") * x) * erfc(col("a0") + col("a1") * x)


def _jamshidian_shared(x, bond, c):
    """``_jamshidian_terms`` with the bond P(t, T) from the chunk's table (``accumulate_shared``): same values."""
    col = lambda name: c[name][:, None]  # noqa: E731
    return col("wgt") * bond * erfc(col("a0") + col("a1") * x)


def _flow_terms(ind=None):
    def fn(x, c):
        v = c["amt"][:, None] * jnp.exp(c["lnA"][:, None] - c["B"][:, None] * x)
        return v if ind is None else v * ind[c["i"]]

    return fn


def _flow_shared():
    def fn(x, bond, c):
        return c["amt"][:, None] * bond

    return fn


def _running_terms(x_all, ind=None):
    """The float coupon in its fixed phase: w F P(t, e), F = exp(c0' + Bfix x(fixing date)) (lnA_e in c0)."""
    def fn(x, c):
        v = c["w"][:, None] * jnp.exp(c["c0"][:, None] + c["Bfix"][:, None] * x_all[c["m"]] - c["B_e"][:, None] * x)
        return v if ind is None else v * ind[c["i"]]

    return fn


@jax.jit
def _cash_values(pre, x_all, fx):
    pre = cast_floats(pre, x_all.dtype)
    (K, P), n = x_all.shape, pre["sign"].shape[0]
    acc = accumulate_shared(jnp.zeros((K * n, P), x_all.dtype), x_all, pre["opt"], pre["opt_bonds"],
                            _jamshidian_shared)
    return acc.reshape(K, n, P) * pre["sign"][None, :, None] * fx[:, None, :]


def _exercise_indicator(pre, x_all):
    """(n, P): 1 where the holder exercised (its swap's value at the exercise date > 0), else 0."""
    n, P = pre["sign"].shape[0], x_all.shape[1]
    swap_ex = accumulate(jnp.zeros((n, P), x_all.dtype), x_all, pre["ex_flows"], _flow_terms())
    swap_ex = accumulate(swap_ex, x_all, pre["ex_run"], _running_terms(x_all))
    return (swap_ex > 0.0).astype(x_all.dtype)


@jax.jit
def _physical_values(pre, x_all, fx):
    pre = cast_floats(pre, x_all.dtype)
    (K, P), n = x_all.shape, pre["sign"].shape[0]
    ind = _exercise_indicator(pre, x_all)  # (n, P): the holder exercised
    acc = accumulate_shared(jnp.zeros((K * n, P), x_all.dtype), x_all, pre["opt"], pre["opt_bonds"],
                            _jamshidian_shared)
    # The swap's rows (t_k > T0) are not the option's (t_k <= T0): its terms are summed without the exercise
    # indicator, which multiplies the sum at the end (0 or 1: exactly the sum of the terms times it).
    acc = accumulate_shared(acc, x_all, pre["flows"], pre["flow_bonds"], _flow_shared())
    acc = accumulate(acc, x_all, pre["run"], _running_terms(x_all))
    exercised = jnp.where(pre["after"][:, :, None], ind[None], 1.0)
    return acc.reshape(K, n, P) * exercised * pre["sign"][None, :, None] * fx[:, None, :]
