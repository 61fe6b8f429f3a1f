"""IRB risk weight for corporate, bank and sovereign exposures (Basel CRE31.4-31.8; Basel II para 272).

    R   = 0.12 (1 - e^{-50 PD}) / (1 - e^{-50}) + 0.24 [1 - (1 - e^{-50 PD}) / (1 - e^{-50})]   (x 1.25 for a
          large or unregulated financial institution, CRE31.5)
    b   = (0.11852 - 0.05478 ln PD)^2                                     maturity adjustment
    K   = [LGD N((G(PD) + sqrt(R) G(0.999)) / sqrt(1 - R)) - PD LGD] (1 + (M - 2.5) b) / (1 - 1.5 b)
    RWA = 12.5 K EAD x scaling (1.06 under Basel II, 1 under Basel III),  capital = 8% RWA

PD is floored (0.03% Basel II, 0.05% Basel III CRE32.4), M in years clipped to [1, 5] (CRE32.47). PD = 1
(default): K = 0 here (the best-estimate expected loss treatment is outside scope). Amounts: EAD's currency.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri  # Phi and Phi^-1 (scipy.stats costs a fresh process 0.5 s to import)


def asset_correlation(pd, large_financial=False) -> np.ndarray:
    pd = np.asarray(pd, dtype=np.float64)
    a = (1.0 - np.exp(-50.0 * pd)) / (1.0 - np.exp(-50.0))
    r = 0.12 * a + 0.24 * (1.0 - a)
    return np.where(np.asarray(large_financial, dtype=bool), 1.25 * r, r)


def capital_requirement(pd, lgd, maturity=2.5, *, pd_floor: float = 0.0005, large_financial=False) -> np.ndarray:
    """K per unit EAD (see the module docstring); arrays broadcast."""
    pd = np.maximum(np.asarray(pd, dtype=np.float64), pd_floor)
    lgd = np.asarray(lgd, dtype=np.float64)
    m = np.clip(np.asarray(maturity, dtype=np.float64), 1.0, 5.0)
    live = pd < 1.0
    p = np.where(live, pd, 0.5)
    r = asset_correlation(p, large_financial)
    b = (0.11852 - 0.05478 * np.log(p)) ** 2
    k = (lgd * ndtr((ndtri(p) + np.sqrt(r) * ndtri(0.999)) / np.sqrt(1.0 - r)) - p * lgd)
    k = k * (1.0 + (m - 2.5) * b) / (1.0 - 1.5 * b)
    return np.where(live, np.maximum(k, 0.0), 0.0)


def risk_weight(pd, lgd, maturity=2.5, *, pd_floor: float = 0.0005, large_financial=False,
                scaling: float = 1.0) -> np.ndarray:
    """RW = 12.5 K x scaling (RWA per unit EAD)."""
    return 12.5 * scaling * capital_requirement(pd, lgd, maturity, pd_floor=pd_floor, large_financial=large_financial)


def rwa(ead, pd, lgd, maturity=2.5, **kw) -> np.ndarray:
    return np.asarray(ead, dtype=np.float64) * risk_weight(pd, lgd, maturity, **kw)
