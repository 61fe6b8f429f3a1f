"""IMM exposure at default (Basel CRE53): EAD = alpha x Effective EPE per netting set.

    EEE(t_k)  = max(EEE(t_{k-1}), EE(t_k))                     effective EE, EE non-discounted (BaselEE)
    EEPE      = sum_k w_k EEE(t_k) over (0, min(1y, M)]         (``exposure.aggregation.basel.basel_weights``)
    EAD_IMM   = alpha max(EEPE, EEPE_stressed)                  alpha = 1.4 by default (CRE53.5, CRE53.9)

Inputs: BaselEE (n_ns, K) in base currency, times (K,) years, maturity (n_ns,) years of each netting set's
longest trade. EEPE_stressed: an optional (n_ns,) EEPE from a stressed calibration (0 when absent).
"""

from __future__ import annotations

import numpy as np

from exposure.aggregation.basel import basel_measures


def netting_set_maturities(portfolio, market) -> np.ndarray:
    """(n_ns,) years to the latest maturity / expiry date among each netting set's trades."""
    ids = [ns.id for ns in portfolio.netting_sets]
    out = np.zeros(len(ids))
    pos = {n: i for i, n in enumerate(ids)}
    for spec in portfolio.trades:
        last = None
        for name in ("maturity", "end", "expiry"):
            d = getattr(spec, name, None)
            if d is not None:
                last = d if last is None else max(last, d)
        if last is None:
            continue
        i = pos[spec.netting_set or spec.id]
        out[i] = max(out[i], market.time(last))
    return out


def eepe(basel_ee, times, maturity=None) -> np.ndarray:
    """Effective EPE (n_ns,) over min(1y, maturity); see the module docstring."""
    return basel_measures(basel_ee, times, 1.0, maturity)["BaselEEPE"]


def imm_ead(eepe_values, alpha: float = 1.4, eepe_stressed=None) -> np.ndarray:
    """alpha max(EEPE, EEPE_stressed) per netting set."""
    e = np.asarray(eepe_values, dtype=np.float64)
    if eepe_stressed is not None:
        e = np.maximum(e, np.asarray(eepe_stressed, dtype=np.float64))
    return alpha * e
