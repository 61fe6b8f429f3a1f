"""t0 values of FX options, equity options and caps/floors on the host (NumPy float64), from their t0 prepared
coefficients (each batch's ``prepare`` at t = 0: K = 1) and today's state (``today.TodayState``):

    FX (Garman-Kohlhagen):  V = N w [X_f P_f(0,T) N(w d1) - K X_d P_d(0,T) N(w d2)],  sd^2 = the market's total
                            variance of the pair to T (``opt_fx``)
    equity (Black-Scholes): V = Q X_c w [S e^{-q T} N(w d1) - K P_c(0,T) N(w d2)],  sd^2 = w_e(T) (``opt_equity``)
    cap/floor:              sum of caplets: Hull-White zero-bond options (``opt_closed_form.zbo``) before their
                            fixing, max(w (F_j - (1 + K tau_j)), 0) P(0, p_j) once fixed (``opt_capfloor``)

each the path pricer's formula on the one-date, one-path t0 view, with the intrinsic value where sd ~ 0 (an option
expiring today, zero vol). (n,) in base currency, trade order, short positions negative.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from exposure.pricing.opt_closed_form import black_log, zbo


def black_log_np(ln_f, ln_k, sd, w):
    """``opt_closed_form.black_log`` in NumPy: w [F N(w d1) - K N(w d2)], intrinsic where sd ~ 0."""
    return black_log(ln_f, ln_k, sd, w, xp=np, cdf=ndtr)


def zbo_np(x, c):
    """``opt_closed_form.zbo`` in NumPy: wgt ZBO per entry of ``c`` (1-d arrays), each at its state x."""
    return zbo(x, c, xp=np, cdf=ndtr, col=lambda name: c[name])


def host_arrays(tree) -> dict:
    """{name: NumPy array} of a prepared dict (device arrays come back once, here)."""
    return {k: np.asarray(v) for k, v in tree.items()}


def fx_today(batch, pre, state) -> np.ndarray:
    """(n,) t0 values of an ``FxOptionBatch`` (every pair in one batch); ``pre`` its columns in ``batch.order``,
    padded; each column's foreign / domestic currency ``batch.ccys[fpos]`` / ``batch.ccys[dpos]``."""
    p = host_arrays(pre)
    n = len(batch.specs)
    used = np.array([state.ccy_index(c) for c in batch.ccys])  # a column's pair is data: positions into ccys
    fi, di = used[p["fpos"][:n]], used[p["dpos"][:n]]
    ln_f = np.log(state.fx[fi]) + p["lnAf"][0, :n] - p["Bf"][0, :n] * state.x[fi]
    ln_k = np.log(state.fx[di]) + p["lnAd"][0, :n] - p["Bd"][0, :n] * state.x[di]
    v = p["wgt"][0, :n] * black_log_np(ln_f, ln_k, p["sd"][0, :n], p["w"][:n])
    return v[np.argsort(batch.order)]


def equity_today(batch, pre, state) -> np.ndarray:
    """(n,) t0 values of an ``EquityOptionBatch`` (every underlying in one batch); each column's currency
    ``batch.ccys[cpos]`` and underlying ``batch.names[epos]``."""
    p = host_arrays(pre)
    ci = np.array([state.ccy_index(c) for c in batch.ccys])[p["cpos"]]
    ei = np.array([state.equity_names.index(nm) for nm in batch.names])[p["epos"]]
    y = np.log(state.fx[ci])
    ln_f = y + np.log(state.eq[ei]) + p["div"][0]
    ln_k = y + p["lnA"][0] - p["B"][0] * state.x[ci]
    return p["wgt"][0] * black_log_np(ln_f, ln_k, p["sd"][0], p["w"])


def cap_floor_today(batch, pre, state) -> np.ndarray:
    """(n,) t0 values of a ``CapFloorBatch``: its caplets' zero-bond options ("opt") and fixed coupons ("fixed"),
    each entry's row its trade (K = 1), summed in entry order."""
    ci = state.ccy_index(batch.currency)
    x = state.x[ci]
    sign = np.asarray(pre["sign"])
    acc = np.zeros(sign.size)
    opt = host_arrays(pre["opt"])
    np.add.at(acc, opt["row"], zbo_np(x, opt))
    c = host_arrays(pre["fixed"])  # m: the view date of the fixing state, 0 (today) here
    factor = np.exp(c["c0"] + c["Bfix"] * x)
    payoff = np.maximum(c["wp"] * (factor - c["scale"]), 0.0)
    np.add.at(acc, c["row"], c["w"] * payoff * np.exp(c["lnA_e"] - c["B_e"] * x))
    return acc * sign * state.fx[ci]
