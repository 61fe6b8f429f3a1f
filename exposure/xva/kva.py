"""KVA: the cost of holding capital against the netting set over its life.

    KVA = CoC sum_{k>=1} s_k Capital(t_{k-1}) (t_k - t_{k-1}) P(0, t_k)

CoC = ``xva.cost_of_capital`` per year; Capital(t) the expected capital (base currency, undiscounted) held
over (t_{k-1}, t_k], charged at t_k and discounted with today's base curve; s_k the survival factor of
``xva.survival_weighting`` (as FCA/FBA: S_c S_b at t_{k-1}, S_c, or 1).

Capital(t) is, in order: the ``capital_profile`` argument; the ``Capital_profile`` (netting_set, date) variable
of the capital stage when it is in the results; else a PROXY, labelled in attrs ``KVA_capital_source``:

    Capital_proxy(t_j) = capital_ratio x risk_weight x alpha x EEPE_fwd(t_j)
    EEPE_fwd(t_j)      = time average over the dates t_k in (t_j, t_j + 1Y] (right end points) of the
                         effective EE restarted at t_j, max_{t_j < t_i <= t_k} BaselEE(t_i)

i.e. an IMM-style default-risk capital on the forward-starting one-year effective EPE (8% x 100% x 1.4 by
default). It leaves out CVA capital, the maturity adjustment and the counterparty's actual risk weight.
"""

from __future__ import annotations

import numpy as np

PROXY_LABEL = ("proxy: capital_ratio x risk_weight x alpha x forward one-year effective EPE (no CVA capital, no "
               "maturity adjustment); replace with the capital stage's Capital_profile")


def forward_eepe(basel_ee, times, horizon: float = 1.0) -> np.ndarray:
    """EEPE_fwd (n, K) from the non-discounted EE (n, K) on times (K,) (module docstring); 0 where no date
    follows within the horizon."""
    ee = np.asarray(basel_ee, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    out = np.zeros_like(ee)
    for j in range(t.size - 1):
        sel = np.flatnonzero((t > t[j]) & (t <= t[j] + horizon + 1e-9))
        if not sel.size:
            continue
        dt = np.diff(np.concatenate([[t[j]], t[sel]]))
        eff = np.maximum.accumulate(ee[:, sel], axis=1)
        out[:, j] = eff @ dt / dt.sum()
    return out


def capital_proxy(ds, settings) -> np.ndarray:
    """Capital_proxy (n, K) from ds["BaselEE"] (module docstring)."""
    return (settings.capital_ratio * settings.risk_weight * settings.alpha
            * forward_eepe(ds["BaselEE"].values, ds["time"].values))


def kva(capital, times, discount, surv, cost_of_capital: float) -> np.ndarray:
    """KVA (n,) from capital (n, K), times (K,), discount (K,) P(0, t_k), surv (n, K) factors s_k (s_0 unused)."""
    cap = np.asarray(capital, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    p = np.asarray(discount, dtype=np.float64)
    s = np.asarray(surv, dtype=np.float64)
    return cost_of_capital * np.sum(s[:, 1:] * cap[:, :-1] * (np.diff(t) * p[1:])[None, :], axis=1)


def kva_from_profile(ds, settings, surv, capital_profile=None) -> tuple[np.ndarray, str]:
    """(KVA (n,), a label of the capital used)."""
    n, K = ds.sizes["netting_set"], ds.sizes["date"]
    if capital_profile is not None:
        cap, label = np.asarray(getattr(capital_profile, "values", capital_profile), dtype=np.float64), "argument"
    elif "Capital_profile" in ds:
        cap, label = ds["Capital_profile"].transpose("netting_set", "date").values, "Capital_profile (capital stage)"
    else:
        cap, label = capital_proxy(ds, settings), PROXY_LABEL
    if cap.shape != (n, K) or not np.all(np.isfinite(cap)):
        raise ValueError(f"capital profile must be finite (netting_set, date) = ({n}, {K}), got {cap.shape}")
    return kva(cap, ds["time"].values, ds["DiscountFactor"].values, surv, settings.cost_of_capital), label
