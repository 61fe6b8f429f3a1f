"""IMM EEPE / EAD, the IRB risk weight and BA-CVA against published values and closed forms.

References: shared/reference/closed_forms.md (Basel EEPE toy; BA-CVA two-counterparty example); the IRB
risk weights of Basel II Annex 5 ("Illustrative IRB risk weights", corporate, LGD 45%, M = 2.5, printed to
0.01%) and of the Basel III table (CRE99 / SAMA 26.1 Table 1: LGD 40%, corporate, M = 2.5).
"""

import math

import numpy as np
import pytest

from exposure.capital import bacva, imm, irb


def test_eepe_toy_example_and_imm_ead():
    t = np.array([0.25, 0.5, 0.75, 1.0])
    e = imm.eepe(np.array([[100.0, 120.0, 90.0, 130.0]]), t)
    assert e[0] == pytest.approx(117.5, rel=1e-14)
    assert imm.imm_ead(e)[0] == pytest.approx(164.5, rel=1e-14)
    # stressed calibration: the larger EEPE wins
    assert imm.imm_ead(e, eepe_stressed=[150.0])[0] == pytest.approx(210.0, rel=1e-14)
    assert imm.imm_ead(e, alpha=1.2)[0] == pytest.approx(141.0, rel=1e-14)


def test_eepe_of_a_netting_set_shorter_than_one_year():
    # Matures at 0.6y: the average runs over (0, 0.6]; EE is 0 after maturity but EEE keeps its maximum.
    t = np.array([0.25, 0.5, 0.75, 1.0])
    ee = np.array([[100.0, 120.0, 0.0, 0.0]])
    e = imm.eepe(ee, t, maturity=[0.6])
    assert e[0] == pytest.approx((100 * 0.25 + 120 * 0.25 + 120 * 0.1) / 0.6, rel=1e-13)
    assert imm.eepe(ee, t)[0] == pytest.approx(115.0, rel=1e-13)  # the uncapped one-year average
    # maturing before the first grid date: the effective EE at that date, not 0
    assert imm.eepe(ee, t, maturity=[0.1])[0] == pytest.approx(100.0, rel=1e-14)


ANNEX5_LGD45 = {0.0003: 14.44, 0.0005: 19.65, 0.001: 29.65, 0.0025: 49.47, 0.004: 62.72, 0.005: 69.61,
                0.0075: 82.78, 0.01: 92.32, 0.013: 100.95, 0.015: 105.59, 0.02: 114.86, 0.025: 122.16,
                0.03: 128.44}
BASEL3_LGD40 = {0.0005: 17.47, 0.001: 26.36, 0.0025: 43.97, 0.004: 55.75, 0.005: 61.88, 0.0075: 73.58,
                0.01: 82.06, 0.013: 89.73}


@pytest.mark.parametrize("table,lgd,floor", [(ANNEX5_LGD45, 0.45, 0.0003), (BASEL3_LGD40, 0.40, 0.0005)])
def test_irb_risk_weights_against_the_published_tables(table, lgd, floor):
    for pd, printed in table.items():
        rw = 100 * float(irb.risk_weight(pd, lgd, 2.5, pd_floor=floor))
        # printed to 0.01%; the tables (computed in a spreadsheet) sit up to 0.006% from the exact formula
        assert abs(rw - printed) <= 0.01, (pd, rw, printed)


def test_irb_floor_maturity_and_financial_multiplier():
    assert irb.risk_weight(0.0001, 0.45, pd_floor=0.0005) == irb.risk_weight(0.0005, 0.45, pd_floor=0.0005)
    assert irb.risk_weight(0.01, 0.45, 7.0) == irb.risk_weight(0.01, 0.45, 5.0)  # M clipped to [1, 5]
    r = irb.asset_correlation(0.01)
    assert irb.asset_correlation(0.01, True) == pytest.approx(1.25 * r, rel=1e-15)
    assert irb.risk_weight(0.01, 0.45, large_financial=True) > irb.risk_weight(0.01, 0.45)
    assert irb.rwa(1000.0, 0.01, 0.45)[()] == pytest.approx(1000 * 0.9232, abs=0.05)


def test_ba_cva_reduced_two_counterparties():
    s1 = bacva.scva(0.05, [5.0], [1000.0], bacva.discount_factor([5.0]))
    s2 = bacva.scva(0.03, [2.0], [2000.0], bacva.discount_factor([2.0]))
    out = bacva.ba_cva({"A": s1, "B": s2})
    assert out["K"] == pytest.approx(195.092269, abs=5e-7)
    assert out["capital"] == pytest.approx(126.809975, abs=5e-7)
    assert bacva.risk_weight("financial", True) == 0.05 and bacva.risk_weight("technology", False) == 0.055


def test_ba_cva_full_with_hedges_by_hand():
    s = {"A": 100.0, "B": 50.0}
    hedges = [bacva.CdsHedge("A", 0.05, 5.0, 100.0, r=1.0), bacva.CdsHedge("B", 0.03, 2.0, 200.0, r=0.8),
              bacva.CdsHedge(None, 0.7 * 0.05, 5.0, 100.0)]
    df5, df2 = (1 - math.exp(-0.25)) / 0.25, (1 - math.exp(-0.1)) / 0.1
    hA = 0.05 * 5 * 100 * df5
    hB = 0.03 * 2 * 200 * df2
    ih = 0.035 * 5 * 100 * df5
    netA, netB = 100 - hA, 50 - 0.8 * hB
    kh = math.sqrt((0.5 * (netA + netB) - ih) ** 2 + 0.75 * (netA ** 2 + netB ** 2) + (1 - 0.64) * hB ** 2)
    kr = math.sqrt((0.5 * 150) ** 2 + 0.75 * (100 ** 2 + 50 ** 2))
    out = bacva.ba_cva(s, hedges)
    assert out["K_hedged"] == pytest.approx(kh, rel=1e-14)
    assert out["K"] == pytest.approx(0.25 * kr + 0.75 * kh, rel=1e-14)
    assert out["capital"] == pytest.approx(0.65 * (0.25 * kr + 0.75 * kh), rel=1e-14)
    assert out["K"] < kr  # hedges reduce the charge
    # hedging more than the exposure still leaves the beta floor: K >= beta K_reduced
    big = [bacva.CdsHedge("A", 0.05, 5.0, 1e4), bacva.CdsHedge("B", 0.03, 2.0, 1e4)]
    assert bacva.ba_cva(s, big)["K"] >= 0.25 * kr
