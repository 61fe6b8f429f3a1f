"""Basel CRE53 measures from the non-discounted EE: effective EE, (effective) EPE and their time averages.

Along the date axis K of arrays (..., K), times t_k in years (ACT/365F), BaselEE = EPE / P(0, t) (base currency):

    BaselEEE(t_k) = max(BaselEEE(t_{k-1}), BaselEE(t_k))      effective EE (running maximum)
    BaselEPE      = sum_k w_k BaselEE(t_k),  BaselEEPE = sum_k w_k BaselEEE(t_k)  (EEPE: the same number)
                    w_k = dt_k / sum_j dt_j over the dates with t_k <= min(1Y + 4D, maturity), dt_k = t_k - t_{k-1},
                    t_{-1} = 0 (Basel CRE53 right end points, as ORE's ee_b[j+1] * timeDeltas[j]; ORE measures the
                    steps ACT/ACT where we use ACT/365F; the 4-day slack is ORE's, so the 1Y date is kept)
    With a netting-set maturity M under the horizon (CRE53.16: "or, if all contracts in the netting set mature
    before one year, over the time period of the longest-maturity contract") the average runs over (0, M]:
    the date t_k straddling M weighs M - t_{k-1} (its EEE is the running maximum up to M, EE being 0 after M),
    so a set maturing before the first grid date still gets its effective EE rather than 0.
    TimeWeightedBaselEPE(t_j)  = sum_{k<=j} BaselEE(t_k) dt_k / sum_{k<=j} dt_k   (running time average;
    TimeWeightedBaselEEPE(t_j) likewise on BaselEEE; at t = 0 the value itself)
"""

from __future__ import annotations

import numpy as np

from exposure.dates import DAYS_PER_YEAR

ORE_HORIZON_SLACK = 4.0 / DAYS_PER_YEAR  # ORE's EEPE horizon is today + 1Y + 4D


def effective_ee(ee, axis: int = -1) -> np.ndarray:
    """Effective EE (BaselEEE): EEE(t_k) = max(EEE(t_{k-1}), EE(t_k)), the running maximum along ``axis``."""
    return np.maximum.accumulate(np.asarray(ee, dtype=np.float64), axis=axis)


def basel_weights(times, horizon: float = 1.0, maturity=None, slack: float = ORE_HORIZON_SLACK) -> np.ndarray:
    """Weights w_k (..., K) of the Basel time average: dt_k on t_k <= min(horizon + slack, maturity), normalised.

    times: (K,) ascending years (t = 0 allowed; its weight is 0). maturity: None, a scalar or (n,) years;
    where maturity < horizon the date straddling it weighs maturity - t_{k-1}. Rows without any date
    after t = 0 get zero weights.
    """
    t = np.asarray(times, dtype=np.float64)
    prev = np.concatenate([[0.0], t[:-1]])
    dt = t - prev
    w = np.where(t <= horizon + slack, dt, 0.0)
    if maturity is not None:
        m = np.asarray(maturity, dtype=np.float64)[..., None]
        partial = np.clip(np.minimum(t, m) - prev, 0.0, None)
        w = np.where(m < horizon, partial, w)
    tot = w.sum(axis=-1, keepdims=True)
    return np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0)


def time_weighted_average(x, times) -> np.ndarray:
    """Running time average sum_{k<=j} x_k dt_k / t_j along the last axis (the value itself while t_j = 0)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    dt = np.diff(np.concatenate([[0.0], t]))
    num = np.cumsum(x * dt, axis=-1)
    den = np.cumsum(dt)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), x)


def basel_measures(basel_ee, times, horizon: float = 1.0, maturity=None) -> dict:
    """From BaselEE (..., K): BaselEEE, BaselEPE, BaselEEPE (EEPE), TimeWeightedBaselEPE, TimeWeightedBaselEEPE.

    EEPE = sum_k w_k EEE(t_k) with ``basel_weights``; e.g. EE = 100, 120, 90, 130 on four equal quarters gives
    EEE = 100, 120, 120, 130 and EEPE = 117.5.
    """
    ee = np.asarray(basel_ee, dtype=np.float64)
    eee = effective_ee(ee)
    w = basel_weights(times, horizon, maturity)
    return {
        "BaselEEE": eee,
        "BaselEPE": np.sum(w * ee, axis=-1),
        "BaselEEPE": np.sum(w * eee, axis=-1),
        "TimeWeightedBaselEPE": time_weighted_average(ee, times),
        "TimeWeightedBaselEEPE": time_weighted_average(eee, times),
    }
