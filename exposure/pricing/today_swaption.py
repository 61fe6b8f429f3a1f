"""t0 values of a swaption batch on the host (NumPy float64), from its t0 prepared terms (``SwaptionBatch.prepare``
at t = 0: K = 1) and today's state (``today.TodayState``). Jamshidian's closed form (``opt_swaption``):

    V = sign X_c sum_i c_i w P(0,T_i) N(w h_i) - w P(0,T0) N(w (h_r - s_r)) sum_i c_i K_i,
    term = wgt P(0, T) N(.) = wgt exp(p - q x) erfc(a0 + a1 x) / 2        (the 0.5 in wgt; ``swaption_kernels``)

with the exercise indicator in place of N at the expiry (an option expiring today is worth max(V_swap(0), 0)).
A physically settled batch also carries its exercised swap (flows and running coupons after the expiry, times the
holder's exercise indicator 1{V_swap(t_e) > 0}): evaluated as ``swaption_kernels._physical_values`` does, although
at t = 0 an expiry is never in the past (the parser refuses one), so these terms are empty. (n,) in base currency,
trade order, short positions negative.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc

from exposure.pricing.today_options import host_arrays


def _shared(ent, blocks, x, term):
    """(rows, values) of entries sharing their blocks' bonds (``opt_common.shared_bond_entries``): entry e reads
    the bond exp(p - q x) of block e // s, s = entries per block; ``term(bond, ent)`` its value."""
    ent, blocks = host_arrays(ent), host_arrays(blocks)
    s = ent["row"].shape[0] // blocks["k"].shape[0]
    blk = np.arange(ent["row"].shape[0]) // s
    bond = np.exp(blocks["p"][blk] - blocks["q"][blk] * x)
    return ent["row"], term(bond, ent)


def _jamshidian(bond, c):
    return c["wgt"] * bond * erfc(c["a0"] + c["a1"] * c["x"])


def _running(c, x):
    """The float coupon in its fixed phase, w F P(0, e), F = exp(c0' + Bfix x(fixing date)) (m = 0: today)."""
    c = host_arrays(c)
    return c["row"], c["w"] * np.exp(c["c0"] + c["Bfix"] * x - c["B_e"] * x)


def swaption_today(batch, pre, state) -> np.ndarray:
    """(n,) t0 values of a ``SwaptionBatch`` (cash or physical)."""
    ci = state.ccy_index(batch.currency)
    x = state.x[ci]
    sign = np.asarray(pre["sign"])
    acc = np.zeros(sign.size)
    opt = dict(pre["opt"], x=np.full(np.shape(pre["opt"]["row"]), x))
    np.add.at(acc, *_shared(opt, pre["opt_bonds"], x, _jamshidian))
    if batch.physical:
        np.add.at(acc, *_shared(pre["flows"], pre["flow_bonds"], x, lambda bond, c: c["amt"] * bond))
        np.add.at(acc, *_running(pre["run"], x))
        swap_ex = np.zeros(sign.size)  # the holder's swap at its exercise date (rows: trades)
        ex = host_arrays(pre["ex_flows"])
        np.add.at(swap_ex, ex["row"], ex["amt"] * np.exp(ex["lnA"] - ex["B"] * x))
        np.add.at(swap_ex, *_running(pre["ex_run"], x))
        exercised = np.where(np.asarray(pre["after"])[0], (swap_ex > 0.0).astype(np.float64), 1.0)
        acc = acc * exercised
    return acc * sign * state.fx[ci]
