"""SA-CVA supervisory buckets, risk weights and correlations for every risk class (Basel MAR50.54-50.77, the
July 2020 revision in force from 2023). Weights are fractions (1.11% -> 0.0111).

Risk class codes: IR, FX, CCS (counterparty credit spread), RCS (reference credit spread), EQ, CO.

- IR (MAR50.54-50.58): bucket = currency. Delta of a specified currency (USD EUR GBP AUD CAD SEK JPY and the
  reporting currency): tenors 1y 2y 5y 10y 30y, RW 1.11% 0.93% 0.74% 0.74% 0.74%, inflation 1.11%; tenor
  correlations ``IR_TENOR_CORR``, 40% with inflation. Other currencies: ``parallel`` and ``inflation``, RW
  1.58%, correlation 40%. Vega: ``ir_vol``, ``inflation_vol``, RW 100%, correlation 40%. gamma 50%.
- FX (MAR50.59-50.62): bucket = each currency but the reporting one, one risk factor; delta RW 11%, vega 100%,
  gamma 60%.
- CCS (MAR50.63-50.65; delta only, no vega): buckets 1a (sovereigns, central banks, MDBs) and 1b (local
  government, government-backed non-financials, education, public administration) forming bucket 1 for the
  aggregation, 2 financials, 3 basic materials/energy/industrials, 4 consumer/transport/admin services, 5
  technology/telecom, 6 health care/utilities/professional, 7 other sector, 8 qualified indices. Risk factors:
  the credit spread of each name at tenors 0.5y 1y 3y 5y 10y, RW by bucket and credit quality (IG vs HY/NR,
  ``CCS_RW``; the same numbers as BA-CVA's MAR50.16). Intra-bucket rho = rho_tenor rho_name rho_quality:
  tenor 100% / 90%; name 100% same, 90% legally related, 50% otherwise (bucket 8: 100% same index, 90% related
  indices (``group``: e.g. the same index of another series), 80% otherwise); quality 100% same (IG, or
  HY/NR), 80% otherwise. gamma: ``CCS_GAMMA``.
- RCS (MAR50.66-50.69): buckets 1-7 IG and 8-14 HY/NR of the sectors sovereign, local government, financials,
  basic materials, consumer, technology, health care; 15 other sector; 16 IG indices; 17 HY indices. One risk
  factor per bucket (a parallel shift of every reference spread in it), RW ``RCS_RW``, vega RW 100%. gamma:
  ``RCS_SECTOR_GAMMA`` between sectors of the same quality, halved across IG and HY/NR; 0% with bucket 15; 75%
  between 16 and 17, 45% between 16/17 and 1-14.
- EQ (MAR50.70-50.73): buckets 1-4 large-cap emerging, 5-8 large-cap advanced (by sector), 9 small-cap
  emerging, 10 small-cap advanced, 11 other sector, 12 large-cap advanced-economy indices, 13 other indices. One
  risk factor per bucket; RW ``EQ_RW``; vega RW ``EQ_VEGA_RW`` (78% buckets 1-8 and 12, 100% buckets 9-11 and
  13). gamma 15% within 1-10, 0% with 11, 75% between 12 and 13, 45% between 12/13 and 1-10.
- CO (MAR50.74-50.77): buckets 1 solid combustibles, 2 liquid combustibles, 3 electricity and carbon trading,
  4 freight, 5 non-precious metals, 6 gaseous combustibles, 7 precious metals (incl. gold), 8 grains and
  oilseed, 9 livestock and dairy, 10 softs and other agriculturals, 11 other. One risk factor per bucket; RW
  ``CO_RW``, vega 100%; gamma 20% within 1-10, 0% with 11.
- R = 1% hedging disallowance (MAR50.53), m_CVA = 1 (MAR50.53 since the July 2020 revision, d507: the 2017
  text, d424, had 1.25; a supervisor may require more: ``capital.sa_cva.m_cva``).

Sources. The Basel text itself (bis.org, MAR50) is not in the reference store this was checked against, so
every table is checked against at least one independent public transcription (tests/test_capital_sacva_published.py
pins each value with its source):
  [ORE]  OpenSourceRisk/Engine OREAnalytics/orea/engine/standardapproachcvacalculator.cpp (IR delta RW and tenor
         correlations, other-currency 1.58% / 40%, IR vega 100% / 40%, IR gamma 50%, FX 11% / 100% / 60%, CCS
         cross-bucket table, R = 0.01, m_CVA = 1).
  [FNF]  frtb.net's BCBS configuration (AlanSkea/FRTB Configs/FRTBConfig_BCBS.xlsx, sheets CVA, CS_IR, CS_FX,
         CS_CC, CS_CR, CS_EQ, CS_CM): every SA-CVA table, including the RCS 17x17, EQ 13x13 and CO 11x11
         cross-bucket matrices, the EQ vega weights by bucket, SA-CapitalMultiplier 1, SA-HedgeDisallowance 0.01.
  [CRR3] Regulation (EU) 575/2013 as amended (CRR3) Art. 383v (SA-CVA equity RW, = MAR50.72) and Art. 383s (RCS
         RW, the EU variant of MAR50.67 with covered-bond buckets: sector weights agree).
Not verified against a second source: the EQ vega weight of bucket 13 (other indices, 100%: [FNF] only; the
market-risk analogue, CRR Art. 325ax, gives 'large cap and indices' 77.78%), and the CCS bucket-8 90% for
related indices ([FNF] only). The primary MAR50 text could not be consulted for either.
"""

from __future__ import annotations

SPECIFIED = ("USD", "EUR", "GBP", "AUD", "CAD", "SEK", "JPY")
IR_TENORS = ("1y", "2y", "5y", "10y", "30y", "inflation")
IR_OTHER_FACTORS = ("parallel", "inflation")
IR_VEGA_FACTORS = ("ir_vol", "inflation_vol")
IR_RW_SPECIFIED = (0.0111, 0.0093, 0.0074, 0.0074, 0.0074, 0.0111)
IR_RW_OTHER_CCY = 0.0158
# [ORE] irDeltaRiskWeights_, irDeltaRiskCorrelations_; [FNF] CS_IR
IR_TENOR_CORR = {("1y", "2y"): 0.91, ("1y", "5y"): 0.72, ("1y", "10y"): 0.55, ("1y", "30y"): 0.31,
                 ("2y", "5y"): 0.87, ("2y", "10y"): 0.72, ("2y", "30y"): 0.45, ("5y", "10y"): 0.91,
                 ("5y", "30y"): 0.68, ("10y", "30y"): 0.83}
FX_RW = {"delta": 0.11, "vega": 1.0}  # [ORE] getRiskWeight; [FNF] CS_FX

CCS_TENORS = ("0.5y", "1y", "3y", "5y", "10y")
CCS_BUCKETS = ("1a", "1b", "2", "3", "4", "5", "6", "7", "8")
CCS_RW = {  # bucket -> (IG, HY/NR); bucket 8: IG index, HY index. [FNF] CS_CC DeltaRiskWeight; = BA-CVA MAR50.16
    "1a": (0.005, 0.02), "1b": (0.01, 0.04), "2": (0.05, 0.12), "3": (0.03, 0.07), "4": (0.03, 0.085),
    "5": (0.02, 0.055), "6": (0.015, 0.05), "7": (0.05, 0.12), "8": (0.015, 0.05)}
_CCS_GAMMA_ROWS = (  # buckets 1..8 (1 = 1a and 1b), upper triangle. [ORE] cptyDeltaBucketCorrelations_; [FNF]
    (1.00, 0.10, 0.20, 0.25, 0.20, 0.15, 0.00, 0.45),
    (None, 1.00, 0.05, 0.15, 0.20, 0.05, 0.00, 0.45),
    (None, None, 1.00, 0.20, 0.25, 0.05, 0.00, 0.45),
    (None, None, None, 1.00, 0.25, 0.05, 0.00, 0.45),
    (None, None, None, None, 1.00, 0.05, 0.00, 0.45),
    (None, None, None, None, None, 1.00, 0.00, 0.45),
    (None, None, None, None, None, None, 1.00, 0.00),
    (None, None, None, None, None, None, None, 1.00))
CCS_GAMMA = {(str(i + 1), str(j + 1)): v for i, row in enumerate(_CCS_GAMMA_ROWS) for j, v in enumerate(row)
             if v is not None}
CCS_GAMMA.update({(c, b): v for (b, c), v in list(CCS_GAMMA.items())})

# [FNF] CS_CR DeltaBucketRiskWeight; [CRR3] Art. 383s for the sector weights
RCS_RW = {"1": 0.005, "2": 0.01, "3": 0.05, "4": 0.03, "5": 0.03, "6": 0.02, "7": 0.015,
          "8": 0.02, "9": 0.04, "10": 0.12, "11": 0.07, "12": 0.085, "13": 0.055, "14": 0.05,
          "15": 0.12, "16": 0.015, "17": 0.05}
# [FNF] CS_CR Gamma (17x17: this table within IG and within HY/NR, halved across, 0% with 15, 45%/75% indices)
_RCS_SECTOR_ROWS = (  # sectors 1..7: sovereign, local government, financials, basic materials, consumer, tech, health
    (1.00, 0.75, 0.10, 0.20, 0.25, 0.20, 0.15),
    (None, 1.00, 0.05, 0.15, 0.20, 0.15, 0.10),
    (None, None, 1.00, 0.05, 0.15, 0.20, 0.05),
    (None, None, None, 1.00, 0.20, 0.25, 0.05),
    (None, None, None, None, 1.00, 0.25, 0.05),
    (None, None, None, None, None, 1.00, 0.05),
    (None, None, None, None, None, None, 1.00))
RCS_SECTOR_GAMMA = {(i + 1, j + 1): v for i, row in enumerate(_RCS_SECTOR_ROWS) for j, v in enumerate(row)
                    if v is not None}
RCS_SECTOR_GAMMA.update({(c, b): v for (b, c), v in list(RCS_SECTOR_GAMMA.items())})

# [FNF] CS_EQ DeltaBucketRiskWeight; [CRR3] Art. 383v Table 1
EQ_RW = {"1": 0.55, "2": 0.60, "3": 0.45, "4": 0.55, "5": 0.30, "6": 0.35, "7": 0.40, "8": 0.50,
         "9": 0.70, "10": 0.50, "11": 0.70, "12": 0.15, "13": 0.25}
EQ_VEGA_RW_LARGE, EQ_VEGA_RW_SMALL = 0.78, 1.0
# [FNF] CS_EQ VegaBucketRiskWeight (bucket 13, other indices, 100%: this module had 78% before the check)
EQ_VEGA_RW = {b: EQ_VEGA_RW_SMALL if b in ("9", "10", "11", "13") else EQ_VEGA_RW_LARGE for b in EQ_RW}
# [FNF] CS_CM DeltaBucketRiskWeight
CO_RW = {"1": 0.30, "2": 0.35, "3": 0.60, "4": 0.80, "5": 0.40, "6": 0.45, "7": 0.20, "8": 0.35, "9": 0.25,
         "10": 0.35, "11": 0.50}
IR_GAMMA, FX_GAMMA = 0.5, 0.6  # [ORE] getBucketCorrelation; [FNF] CS_IR, CS_FX Gamma
QUALITIES = ("IG", "HY", "NR")
SINGLE_FACTOR = ("RCS", "EQ", "CO")  # one risk factor per bucket: every row of a bucket is the same factor


def specified(ccy: str, base_currency: str = "") -> bool:
    return ccy in SPECIFIED or ccy == base_currency


def buckets(rc: str) -> tuple:
    return {"CCS": CCS_BUCKETS, "RCS": tuple(RCS_RW), "EQ": tuple(EQ_RW), "CO": tuple(CO_RW)}.get(rc, ())


def aggregation_bucket(rc: str, bucket: str) -> str:
    """CCS 1a and 1b share bucket 1 (they differ in RW only, MAR50.63)."""
    return "1" if rc == "CCS" and bucket in ("1a", "1b") else bucket


def risk_weight(rc: str, kind: str, bucket: str, factor: str, quality: str = "", base_currency: str = "") -> float:
    """RW_k of one risk factor; ValueError (message naming what is wrong) outside the tables."""
    if rc == "IR":
        if kind == "vega":
            return 1.0
        if specified(bucket, base_currency):
            return IR_RW_SPECIFIED[IR_TENORS.index(factor)]
        return IR_RW_OTHER_CCY
    if rc == "FX":
        return FX_RW[kind]
    if rc not in ("CCS", "RCS", "EQ", "CO"):
        raise ValueError(f"unknown SA-CVA risk class '{rc}' (known: IR, FX, CCS, RCS, EQ, CO)")
    if bucket not in buckets(rc):
        raise ValueError(f"{rc} bucket '{bucket}' is not one of {', '.join(buckets(rc))} (MAR50)")
    if rc == "CCS":
        if kind != "delta":
            raise ValueError("counterparty credit spread has no vega risk (MAR50.63)")
        if quality not in QUALITIES:
            raise ValueError(f"CCS needs the credit quality IG, HY or NR (got '{quality}')")
        return CCS_RW[bucket][0 if quality == "IG" else 1]
    if kind == "vega":
        if rc == "EQ":
            return EQ_VEGA_RW[bucket]
        return 1.0
    return {"RCS": RCS_RW, "EQ": EQ_RW, "CO": CO_RW}[rc][bucket]


def ccs_rho(bucket: str, a: tuple, b: tuple) -> float:
    """rho_kl of two CCS factors a, b = (name, tenor, quality, group): rho_tenor rho_name rho_quality."""
    (na, ta, qa, ga), (nb, tb, qb, gb) = a, b
    tenor = 1.0 if ta == tb else 0.9
    if na == nb:
        name = 1.0
    elif bucket == "8":  # indices: 90% related (group: e.g. another series of the index), 80% otherwise [FNF]
        name = 0.9 if ga and ga == gb else 0.8
    else:
        name = 0.9 if ga and ga == gb else 0.5
    quality = 1.0 if (qa == "IG") == (qb == "IG") else 0.8
    return tenor * name * quality


def ir_rho(kind: str, bucket: str, a: str, b: str, base_currency: str = "") -> float:
    if a == b:
        return 1.0
    if kind == "vega" or "inflation" in (a, b) or not specified(bucket, base_currency):
        return 0.4
    return IR_TENOR_CORR.get((a, b), IR_TENOR_CORR.get((b, a), 0.0))


def gamma(rc: str, b: str, c: str) -> float:
    """Cross-bucket gamma_bc (aggregation buckets)."""
    if b == c:
        return 1.0
    if rc == "IR":
        return IR_GAMMA
    if rc == "FX":
        return FX_GAMMA
    if rc == "CCS":
        return CCS_GAMMA[(b, c)]
    if rc == "RCS":
        x, y = int(b), int(c)
        if 15 in (x, y):
            return 0.0
        if {x, y} == {16, 17}:
            return 0.75
        if 16 in (x, y) or 17 in (x, y):
            return 0.45
        g = RCS_SECTOR_GAMMA[((x - 1) % 7 + 1, (y - 1) % 7 + 1)]
        return g if (x <= 7) == (y <= 7) else g / 2.0
    if rc == "EQ":
        x, y = int(b), int(c)
        if 11 in (x, y):
            return 0.0
        if {x, y} == {12, 13}:
            return 0.75
        if 12 in (x, y) or 13 in (x, y):
            return 0.45
        return 0.15
    if rc == "CO":
        return 0.0 if "11" in (b, c) else 0.2
    raise ValueError(f"unknown SA-CVA risk class '{rc}'")
