"""The SA-CVA tables pinned to their published values (Basel MAR50, July 2020 revision, in force 2023), every
value typed here from a public transcription independent of exposure/capital/sacva_tables.py:

  [ORE]  OpenSourceRisk/Engine, OREAnalytics/orea/engine/standardapproachcvacalculator.cpp (IR, FX, CCS, R,
         m_CVA = 1 "A bank's relevant supervisor may require a bank to use a higher value of mCVA").
  [FNF]  frtb.net BCBS configuration, AlanSkea/FRTB Configs/FRTBConfig_BCBS.xlsx, sheets CVA (SA-HedgeDisallowance
         0.01, SA-CapitalMultiplier 1), CS_IR, CS_FX, CS_CC, CS_CR, CS_EQ, CS_CM.
  [CRR3] Regulation (EU) No 575/2013 as amended by (EU) 2024/1623: Art. 383v Table 1 (SA-CVA equity RW) and
         Art. 383s Table 1 (SA-CVA reference credit spread RW, the EU variant of MAR50.67).

m_CVA: the December 2017 text (BCBS d424) set 1.25; the July 2020 targeted revisions (BCBS d507, consulted as
"from 1.25 to [1 to 1.25]") set 1, which MAR50.53 carries: the default here is 1 and 1.25 is reachable through
``capital.sa_cva.m_cva``.
"""

import pytest

from exposure.capital import sacva_tables as tb
from exposure.capital.sacva import HEDGING_DISALLOWANCE
from exposure.capital.settings import capital_settings


def test_ir_mar50_54_to_58():
    # MAR50.56 specified-currency delta RW [ORE irDeltaRiskWeights_] [FNF CS_IR DeltaTenorRiskWeight]
    rw = {"1y": 0.0111, "2y": 0.0093, "5y": 0.0074, "10y": 0.0074, "30y": 0.0074, "inflation": 0.0111}
    for ccy in ("USD", "EUR", "GBP", "AUD", "CAD", "SEK", "JPY"):
        for t, w in rw.items():
            assert tb.risk_weight("IR", "delta", ccy, t) == w
    assert tb.risk_weight("IR", "delta", "CHF", "1y", base_currency="CHF") == 0.0111  # reporting currency
    # MAR50.57 other currencies: parallel and inflation 1.58%, correlation 40% [ORE] [FNF DeltaTenorIlliquid*]
    assert tb.risk_weight("IR", "delta", "NOK", "parallel") == 0.0158
    assert tb.risk_weight("IR", "delta", "NOK", "inflation") == 0.0158
    assert tb.ir_rho("delta", "NOK", "parallel", "inflation") == 0.4
    # MAR50.57 tenor correlations [ORE irDeltaRiskCorrelations_]; 40% with inflation
    corr = {("1y", "2y"): 0.91, ("1y", "5y"): 0.72, ("1y", "10y"): 0.55, ("1y", "30y"): 0.31, ("2y", "5y"): 0.87,
            ("2y", "10y"): 0.72, ("2y", "30y"): 0.45, ("5y", "10y"): 0.91, ("5y", "30y"): 0.68, ("10y", "30y"): 0.83}
    for (a, b), v in corr.items():
        assert tb.ir_rho("delta", "USD", a, b) == v == tb.ir_rho("delta", "USD", b, a)
        assert tb.ir_rho("delta", "USD", a, "inflation") == 0.4
    # MAR50.58 vega RW 100%, rho 40%; gamma 50% (delta and vega) [ORE getBucketCorrelation] [FNF CS_IR]
    assert tb.risk_weight("IR", "vega", "USD", "ir_vol") == tb.risk_weight("IR", "vega", "NOK", "inflation_vol") == 1.0
    assert tb.ir_rho("vega", "USD", "ir_vol", "inflation_vol") == 0.4
    assert tb.gamma("IR", "USD", "EUR") == 0.5


def test_fx_mar50_59_to_62():
    # delta RW 11%, vega 100%, cross-bucket 60% [ORE getRiskWeight / getBucketCorrelation] [FNF CS_FX]
    assert tb.risk_weight("FX", "delta", "EUR", "EUR") == 0.11
    assert tb.risk_weight("FX", "vega", "EUR", "EUR") == 1.0
    assert tb.gamma("FX", "EUR", "JPY") == 0.6


def test_counterparty_credit_spread_mar50_63_to_65():
    # MAR50.65 RW by bucket (IG, HY/NR) [FNF CS_CC DeltaRiskWeight]
    rw = {"1a": (0.005, 0.02), "1b": (0.01, 0.04), "2": (0.05, 0.12), "3": (0.03, 0.07), "4": (0.03, 0.085),
          "5": (0.02, 0.055), "6": (0.015, 0.05), "7": (0.05, 0.12), "8": (0.015, 0.05)}
    for b, (ig, hy) in rw.items():
        for t in tb.CCS_TENORS:
            assert tb.risk_weight("CCS", "delta", b, t, "IG") == ig
            assert tb.risk_weight("CCS", "delta", b, t, "HY") == tb.risk_weight("CCS", "delta", b, t, "NR") == hy
    assert tb.CCS_TENORS == ("0.5y", "1y", "3y", "5y", "10y")
    with pytest.raises(ValueError, match="no vega"):
        tb.risk_weight("CCS", "vega", "2", "1y", "IG")
    # intra-bucket: tenor 90%, name 90% related / 50%, quality 80% [FNF CS_CC Delta*Rho]; indices 90% / 80%
    a = ("A", "1y", "IG", "G")
    assert tb.ccs_rho("2", a, ("A", "5y", "IG", "G")) == 0.9
    assert tb.ccs_rho("2", a, ("B", "1y", "IG", "G")) == 0.9
    assert tb.ccs_rho("2", a, ("B", "1y", "IG", "")) == 0.5
    assert tb.ccs_rho("2", a, ("B", "5y", "HY", "")) == pytest.approx(0.9 * 0.5 * 0.8, rel=1e-15)
    assert tb.ccs_rho("8", ("CDX.IG.41", "5y", "IG", "CDX.IG"), ("CDX.IG.40", "5y", "IG", "CDX.IG")) == 0.9
    assert tb.ccs_rho("8", ("CDX.IG", "5y", "IG", ""), ("ITRAXX", "5y", "IG", "")) == 0.8
    # cross-bucket table [ORE cptyDeltaBucketCorrelations_] [FNF CS_CC Gamma]
    g = ((1.00, 0.10, 0.20, 0.25, 0.20, 0.15, 0.00, 0.45),
         (0.10, 1.00, 0.05, 0.15, 0.20, 0.05, 0.00, 0.45),
         (0.20, 0.05, 1.00, 0.20, 0.25, 0.05, 0.00, 0.45),
         (0.25, 0.15, 0.20, 1.00, 0.25, 0.05, 0.00, 0.45),
         (0.20, 0.20, 0.25, 0.25, 1.00, 0.05, 0.00, 0.45),
         (0.15, 0.05, 0.05, 0.05, 0.05, 1.00, 0.00, 0.45),
         (0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 1.00, 0.00),
         (0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.00, 1.00))
    for i in range(8):
        for j in range(8):
            assert tb.gamma("CCS", str(i + 1), str(j + 1)) == g[i][j], (i + 1, j + 1)


# [FNF CS_CR Gamma], buckets 1-17 (off-diagonal; the diagonal is 100%)
RCS_GAMMA = (
    (0, 0.75, 0.1, 0.2, 0.25, 0.2, 0.15, 0.5, 0.375, 0.05, 0.1, 0.125, 0.1, 0.075, 0, 0.45, 0.45),
    (0.75, 0, 0.05, 0.15, 0.2, 0.15, 0.1, 0.375, 0.5, 0.025, 0.075, 0.1, 0.075, 0.05, 0, 0.45, 0.45),
    (0.1, 0.05, 0, 0.05, 0.15, 0.2, 0.05, 0.05, 0.025, 0.5, 0.025, 0.075, 0.1, 0.025, 0, 0.45, 0.45),
    (0.2, 0.15, 0.05, 0, 0.2, 0.25, 0.05, 0.1, 0.075, 0.025, 0.5, 0.1, 0.125, 0.025, 0, 0.45, 0.45),
    (0.25, 0.2, 0.15, 0.2, 0, 0.25, 0.05, 0.125, 0.1, 0.075, 0.1, 0.5, 0.125, 0.025, 0, 0.45, 0.45),
    (0.2, 0.15, 0.2, 0.25, 0.25, 0, 0.05, 0.1, 0.075, 0.1, 0.125, 0.125, 0.5, 0.025, 0, 0.45, 0.45),
    (0.15, 0.1, 0.05, 0.05, 0.05, 0.05, 0, 0.075, 0.05, 0.025, 0.025, 0.025, 0.025, 0.5, 0, 0.45, 0.45),
    (0.5, 0.375, 0.05, 0.1, 0.125, 0.1, 0.075, 0, 0.75, 0.1, 0.2, 0.25, 0.2, 0.15, 0, 0.45, 0.45),
    (0.375, 0.5, 0.025, 0.075, 0.1, 0.075, 0.05, 0.75, 0, 0.05, 0.15, 0.2, 0.15, 0.1, 0, 0.45, 0.45),
    (0.05, 0.025, 0.5, 0.025, 0.075, 0.1, 0.025, 0.1, 0.05, 0, 0.05, 0.15, 0.2, 0.05, 0, 0.45, 0.45),
    (0.1, 0.075, 0.025, 0.5, 0.1, 0.125, 0.025, 0.2, 0.15, 0.05, 0, 0.2, 0.25, 0.05, 0, 0.45, 0.45),
    (0.125, 0.1, 0.075, 0.1, 0.5, 0.125, 0.025, 0.25, 0.2, 0.15, 0.2, 0, 0.25, 0.05, 0, 0.45, 0.45),
    (0.1, 0.075, 0.1, 0.125, 0.125, 0.5, 0.025, 0.2, 0.15, 0.2, 0.25, 0.25, 0, 0.05, 0, 0.45, 0.45),
    (0.075, 0.05, 0.025, 0.025, 0.025, 0.025, 0.5, 0.15, 0.1, 0.05, 0.05, 0.05, 0.05, 0, 0, 0.45, 0.45),
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    (0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0, 0, 0.75),
    (0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0, 0.75, 0))


def test_reference_credit_spread_mar50_66_to_69():
    # MAR50.67 RW, buckets 1-7 IG, 8-14 HY/NR, 15 other, 16 IG indices, 17 HY indices [FNF CS_CR
    # DeltaBucketRiskWeight]; the sector weights agree with [CRR3 Art. 383s]
    rw = (0.005, 0.01, 0.05, 0.03, 0.03, 0.02, 0.015, 0.02, 0.04, 0.12, 0.07, 0.085, 0.055, 0.05, 0.12, 0.015, 0.05)
    assert tb.buckets("RCS") == tuple(str(b) for b in range(1, 18))
    for b, w in enumerate(rw, start=1):
        assert tb.risk_weight("RCS", "delta", str(b), "") == w
        assert tb.risk_weight("RCS", "vega", str(b), "") == 1.0  # MAR50.69 [FNF VegaRiskWeight]
    for i in range(17):
        for j in range(17):
            want = 1.0 if i == j else RCS_GAMMA[i][j]
            assert tb.gamma("RCS", str(i + 1), str(j + 1)) == pytest.approx(want, abs=1e-15), (i + 1, j + 1)


def test_equity_mar50_70_to_73():
    # MAR50.72 delta RW [FNF CS_EQ DeltaBucketRiskWeight] [CRR3 Art. 383v Table 1]
    rw = (0.55, 0.60, 0.45, 0.55, 0.30, 0.35, 0.40, 0.50, 0.70, 0.50, 0.70, 0.15, 0.25)
    # MAR50.73 vega RW [FNF CS_EQ VegaBucketRiskWeight]: 78% large caps and advanced-economy indices, 100% small
    # caps, other sector and other indices (bucket 13: [FNF] only, see sacva_tables)
    vega = (0.78, 0.78, 0.78, 0.78, 0.78, 0.78, 0.78, 0.78, 1.0, 1.0, 1.0, 0.78, 1.0)
    assert tb.buckets("EQ") == tuple(str(b) for b in range(1, 14))
    for b in range(1, 14):
        assert tb.risk_weight("EQ", "delta", str(b), "") == rw[b - 1]
        assert tb.risk_weight("EQ", "vega", str(b), "") == vega[b - 1], b
    # cross-bucket [FNF CS_EQ Gamma]: 15% within 1-10, 0% with 11, 45% 12/13 with 1-10, 75% between 12 and 13
    for b in range(1, 14):
        for c in range(1, 14):
            if b == c:
                want = 1.0
            elif 11 in (b, c):
                want = 0.0
            elif {b, c} == {12, 13}:
                want = 0.75
            elif 12 in (b, c) or 13 in (b, c):
                want = 0.45
            else:
                want = 0.15
            assert tb.gamma("EQ", str(b), str(c)) == want, (b, c)


def test_commodity_mar50_74_to_77():
    # MAR50.76 RW [FNF CS_CM DeltaBucketRiskWeight]; vega 100%; gamma 20% within 1-10, 0% with 11 [FNF Gamma]
    rw = (0.30, 0.35, 0.60, 0.80, 0.40, 0.45, 0.20, 0.35, 0.25, 0.35, 0.50)
    assert tb.buckets("CO") == tuple(str(b) for b in range(1, 12))
    for b in range(1, 12):
        assert tb.risk_weight("CO", "delta", str(b), "") == rw[b - 1]
        assert tb.risk_weight("CO", "vega", str(b), "") == 1.0
        for c in range(1, 12):
            assert tb.gamma("CO", str(b), str(c)) == (1.0 if b == c else 0.0 if 11 in (b, c) else 0.2)


def test_hedging_disallowance_and_multiplier_mar50_53():
    assert HEDGING_DISALLOWANCE == 0.01  # [ORE R = 0.01] [FNF SA-HedgeDisallowance]
    assert capital_settings(None).m_cva == 1.0  # [ORE mcva = 1] [FNF SA-CapitalMultiplier]
