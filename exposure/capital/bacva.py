"""BA-CVA capital (Basel MAR50.12-50.26), reduced and full (with eligible CDS hedges).

    SCVA_c    = (1 / alpha) RW_c sum_NS M_NS EAD_NS DF_NS,  alpha = 1.4,  DF = (1 - e^{-0.05 M}) / (0.05 M)
                (DF = 1 for IMM EADs, which are already discounted-equivalent: MAR50.15)
    K_reduced = sqrt((rho sum_c SCVA_c)^2 + (1 - rho^2) sum_c SCVA_c^2),  rho = 50%
    SNH_c     = sum_h r_hc RW_h M_h B_h DF_h    single-name hedges of c (r_hc: 100% the name itself, 80% legally
                related, 50% same sector and region)
    IH        = sum_i RW_i M_i B_i DF_i          index hedges (RW_i: the sector weight, x 0.7 for a diversified index)
    HMA_c     = sum_h (1 - r_hc^2) (RW_h M_h B_h DF_h)^2
    K_hedged  = sqrt((rho sum_c (SCVA_c - SNH_c) - IH)^2 + (1 - rho^2) sum_c (SCVA_c - SNH_c)^2 + sum_c HMA_c)
    K_full    = beta K_reduced + (1 - beta) K_hedged,  beta = 0.25
    capital   = DS K,  DS = 0.65
Risk weights RW (MAR50.16) by sector and credit quality (IG vs HY/NR) in ``RISK_WEIGHTS``. M in years,
EAD and B (hedge notionals) in base currency.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

SECTORS = ("sovereign", "local_government", "financial", "basic_materials", "consumer", "technology",
           "health_care", "other")
RISK_WEIGHTS = {  # sector -> (investment grade, high yield / not rated)
    "sovereign": (0.005, 0.02),  # sovereigns, central banks, multilateral development banks
    "local_government": (0.01, 0.04),  # local government, government-backed non-financials, education, public admin
    "financial": (0.05, 0.12),  # financials including government-backed financials
    "basic_materials": (0.03, 0.07),  # basic materials, energy, industrials, agriculture, manufacturing, mining
    "consumer": (0.03, 0.085),  # consumer goods and services, transportation and storage, admin support services
    "technology": (0.02, 0.055),  # technology, telecommunications
    "health_care": (0.015, 0.05),  # health care, utilities, professional and technical activities
    "other": (0.05, 0.12),
}
RHO, BETA, DS, ALPHA = 0.5, 0.25, 0.65, 1.4
INDEX_DIVERSIFICATION = 0.7


def risk_weight(sector: str, investment_grade: bool) -> float:
    if sector not in RISK_WEIGHTS:
        raise ValueError(f"unknown BA-CVA sector '{sector}' (known: {', '.join(SECTORS)})")
    return RISK_WEIGHTS[sector][0 if investment_grade else 1]


def discount_factor(m, imm: bool = False) -> np.ndarray:
    """(1 - exp(-0.05 M)) / (0.05 M); 1 under IMM or for M = 0."""
    m = np.asarray(m, dtype=np.float64)
    if imm:
        return np.ones_like(m)
    safe = np.where(m > 0, m, 1.0)
    return np.where(m > 0, -np.expm1(-0.05 * safe) / (0.05 * safe), 1.0)


@dataclasses.dataclass(frozen=True)
class CdsHedge:
    """An eligible CVA hedge. counterparty: the hedged counterparty (single name) or None (index); r: 1.0, 0.8
    or 0.5 (single name); rw: the hedge's risk weight (an index: sector weight x 0.7 when diversified);
    maturity M (years), notional B (protection bought > 0, base currency)."""

    counterparty: str | None
    rw: float
    maturity: float
    notional: float
    r: float = 1.0


def scva(rw_c: float, maturity, ead, df, alpha: float = ALPHA) -> float:
    """SCVA_c = (1 / alpha) RW_c sum_NS M EAD DF."""
    return float(rw_c * np.sum(np.asarray(maturity) * np.asarray(ead) * np.asarray(df)) / alpha)


def k_reduced(scvas) -> float:
    s = np.asarray(list(scvas), dtype=np.float64)
    return float(math.sqrt((RHO * s.sum()) ** 2 + (1.0 - RHO ** 2) * np.sum(s * s)))


def k_hedged(scvas: dict, hedges=()) -> float:
    """K_hedged from {counterparty: SCVA_c} and CdsHedge list (MAR50.20)."""
    snh = {c: 0.0 for c in scvas}
    hma = {c: 0.0 for c in scvas}
    ih = 0.0
    for h in hedges:
        x = h.rw * h.maturity * h.notional * float(discount_factor(h.maturity))
        if h.counterparty is None:
            ih += x
        else:
            if h.counterparty not in scvas:
                raise ValueError(f"CDS hedge on '{h.counterparty}', which has no BA-CVA exposure")
            snh[h.counterparty] += h.r * x
            hma[h.counterparty] += (1.0 - h.r ** 2) * x * x
    net = np.array([scvas[c] - snh[c] for c in scvas])
    return float(math.sqrt((RHO * net.sum() - ih) ** 2 + (1.0 - RHO ** 2) * np.sum(net * net) + sum(hma.values())))


def ba_cva(scvas: dict, hedges=(), *, full: bool | None = None) -> dict:
    """{'K_reduced', 'K_hedged', 'K', 'capital'}; full: None -> full when hedges are given."""
    kr = k_reduced(scvas.values())
    full = bool(hedges) if full is None else full
    kh = k_hedged(scvas, hedges) if full else kr
    k = BETA * kr + (1.0 - BETA) * kh if full else kr
    return {"K_reduced": kr, "K_hedged": kh, "K": k, "capital": DS * k}


def standalone_capital(scvas: dict) -> dict:
    """Per-counterparty stand-alone BA-CVA capital DS SCVA_c (the contribution reported per counterparty)."""
    return {c: DS * v for c, v in scvas.items()}
