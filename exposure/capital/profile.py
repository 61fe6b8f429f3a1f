"""EAD at future dates on the exposure grid (for KVA).

    IMM:     EAD(t_k) = alpha EEPE(t_k), the effective EPE over (t_k, min(t_k + 1y, M)] with the effective EE
             restarted at t_k (right end points; the date straddling the end weighs the part inside)
    SA-CCR:  EAD(t_k) = alpha (EE(t_k) + AddOn of the trades alive at t_k, aged to t_k), multiplier 1; options past
             their expiry become their underlying (physical settlement), others keep their t0 delta
EE = BaselEE (non-discounted, base currency); times in years; arrays (K,) per netting set.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from exposure.capital.addon_profile import addon_profile
from exposure.capital.saccr import saccr_netting_set


def _aged(t, dt: float):
    """The SA-CCR attributes of a trade seen at a future date (times shortened by dt), None once it matured."""
    if t.maturity <= dt:
        return None
    sh = lambda x: None if x is None else x - dt  # noqa: E731
    kw = dict(maturity=t.maturity - dt, start=max(t.start - dt, 0.0), end=sh(t.end))
    if t.option in ("call", "put") and t.expiry is not None and t.expiry <= dt:
        kw.update(option="", delta=None, long=t.long)  # exercised into the underlying (physical settlement)
    elif t.expiry is not None:
        kw["expiry"] = t.expiry - dt
    # dataclasses.replace's values without its __init__ (SaccrTrade has no __post_init__): 101 dates x every
    # trade made this the results stage's largest cost on bench-1k (~0.4 s of 0.8)
    new = copy.copy(t)
    new.__dict__.update(kw)
    return new


def saccr_profile(trades, terms, ee, times, s, addon=None) -> np.ndarray:
    """alpha (EE(t) + AddOn of the trades alive at t, aged to t) at each date (multiplier 1). addon: the
    ``addon_profile.addon_profile`` of these trades, terms and times when already computed (the pipeline
    computes it while the paths run); it is computed here otherwise."""
    terms0 = dataclasses.replace(terms, collateral=0.0)
    addon = addon_profile(trades, terms0, times, s.alpha) if addon is None else addon
    if addon is None:  # trades the all-dates computation does not cover: date by date
        return saccr_profile_dates(trades, terms, ee, times, s)
    add, alive = addon
    return np.where(alive, s.alpha * (np.maximum(np.asarray(ee, dtype=np.float64), 0.0) + add), 0.0)


def saccr_profile_dates(trades, terms, ee, times, s) -> np.ndarray:
    """saccr_profile date by date: ``saccr_netting_set`` of the aged trades at each date (the reference
    ``addon_profile`` reproduces bit for bit, and the path for the trades it does not cover)."""
    out = np.zeros(len(times))
    terms0 = dataclasses.replace(terms, collateral=0.0)
    for k, tk in enumerate(times):
        alive = [a for a in (_aged(t, tk) for t in trades) if a is not None]
        if not alive:
            continue
        r = saccr_netting_set("x", alive, terms0, V=0.0, alpha=s.alpha)
        out[k] = s.alpha * (max(ee[k], 0.0) + r.addon)
    return out


def imm_profile(basel_ee, times, maturity, alpha) -> np.ndarray:
    """alpha EEPE(t_k): effective EPE over (t_k, min(t_k + 1y, M)] with the effective EE restarted at t_k."""
    out = np.zeros(len(times))
    for k, tk in enumerate(times):
        if maturity <= tk:
            break
        rest = times[k:] - tk
        eee = np.maximum.accumulate(basel_ee[k:])
        if rest.size == 1:
            out[k] = alpha * basel_ee[k]
            continue
        # right end points over (0, min(1y, M - t_k)]; the date straddling the end weighs the part inside, so a
        # grid coarser than a year past t_k still gives the effective EE at its next date
        prev = np.concatenate([[0.0], rest[:-1]])
        w = np.clip(np.minimum(rest, min(1.0, maturity - tk)) - prev, 0.0, None)
        out[k] = alpha * float(np.sum(w * eee) / np.sum(w))
    return out
