"""SA-CVA per risk class, by hand: every weight, correlation and gamma below is typed from Basel MAR50 (July
2020 revision) in this file, independently of exposure/capital/sacva_tables.py, and pushed through MAR50.53:

    K_b = sqrt(sum_k WS_k^2 + sum_{k != l} rho_kl WS_k WS_l + R sum_k (WS_k^Hdg)^2),  S_b = clip(sum WS_k, +-K_b)
    K   = m_CVA sqrt(sum_b K_b^2 + sum_{b != c} gamma_bc S_b S_c)

Published values checked: the counterparty-credit-spread cross-bucket table (MAR50, the same rows 1-6 in the
2017 text and the 2020 revision; 7 other sector 0%, 8 indices 45%), as also coded in ORE 1.8.17's
StandardApproachCvaCalculator; the CCS risk weights equal BA-CVA's MAR50.16 table (the standard uses the same
numbers for both), checked against exposure/capital/bacva.py.
"""

import math

import numpy as np
import pytest

from exposure.capital import bacva
from exposure.capital import sacva_tables as tb
from exposure.capital.sacva import Sensitivity, capital

R = 0.01


def _kb(ws, corr, hdg=()):
    ws = np.asarray(ws, dtype=float)
    k = math.sqrt(float(ws @ np.asarray(corr, dtype=float) @ ws) + R * sum(h * h for h in hdg))
    return k, max(min(float(ws.sum()), k), -k)


def _k(kbs, gamma):
    k = np.array([x[0] for x in kbs])
    s = np.array([x[1] for x in kbs])
    g = np.asarray(gamma, dtype=float)
    return math.sqrt(float(k @ k) + float(s @ (g - np.diag(np.diag(g))) @ s))


def test_counterparty_credit_spread_by_hand():
    rows = [Sensitivity("CCS", "delta", "2", "1y", 1000.0, name="A", quality="IG", group="GA"),
            Sensitivity("CCS", "delta", "2", "5y", 2000.0, name="A", quality="IG", group="GA"),
            Sensitivity("CCS", "delta", "2", "5y", 800.0, name="B", quality="HY"),
            Sensitivity("CCS", "delta", "2", "1y", 0.0, 600.0, name="C", quality="IG", group="GA"),  # hedge
            Sensitivity("CCS", "delta", "1a", "5y", 3000.0, name="SOV", quality="IG"),
            Sensitivity("CCS", "delta", "1b", "3y", -1500.0, name="CITY", quality="NR"),
            Sensitivity("CCS", "delta", "8", "5y", -4000.0, name="CDX.IG", quality="IG"),
            Sensitivity("CCS", "delta", "8", "5y", 1000.0, name="CDX.HY", quality="HY")]
    # bucket 2 (financials): RW IG 5%, HY 12%; rho = tenor (90%) x name (50%, legally related 90%) x quality (80%)
    ws2 = [0.05 * 1000, 0.05 * 2000, 0.12 * 800, -0.05 * 600]  # A1y, A5y, B5y, C1y
    c2 = [[1, 0.9, 0.9 * 0.5 * 0.8, 0.9],
          [0.9, 1, 0.5 * 0.8, 0.9 * 0.9],
          [0.9 * 0.5 * 0.8, 0.5 * 0.8, 1, 0.9 * 0.5 * 0.8],
          [0.9, 0.9 * 0.9, 0.9 * 0.5 * 0.8, 1]]
    b2 = _kb(ws2, c2, [0.05 * 600])
    # bucket 1 = 1a (sovereign IG 0.5%) + 1b (local government HY/NR 4%): different names, tenors and qualities
    b1 = _kb([0.005 * 3000, 0.04 * -1500], [[1, 0.9 * 0.5 * 0.8], [0.9 * 0.5 * 0.8, 1]])
    # bucket 8 (qualified indices): IG 1.5%, HY 5%; different indices 80%, same tenor, qualities differ 80%
    b8 = _kb([0.015 * -4000, 0.05 * 1000], [[1, 0.8 * 0.8], [0.8 * 0.8, 1]])
    assert b2[1] == b2[0]  # the bucket sum exceeds K_b here: S_b is clipped
    k = _k([b1, b2, b8], [[1, 0.10, 0.45], [0.10, 1, 0.45], [0.45, 0.45, 1]])
    out = capital(rows)
    assert out[("CCS", "delta")] == pytest.approx(k, rel=1e-13)
    assert capital(rows, m_cva=1.25)["K"] == pytest.approx(1.25 * k, rel=1e-13)


def test_reference_credit_spread_by_hand():
    rows = [Sensitivity("RCS", "delta", "3", "BANK1", 400.0), Sensitivity("RCS", "delta", "3", "BANK2", 100.0),
            Sensitivity("RCS", "delta", "10", "JUNKBANK", -300.0, 100.0),
            Sensitivity("RCS", "delta", "15", "OTHER", 200.0),
            Sensitivity("RCS", "delta", "16", "CDX.IG", 1000.0),
            Sensitivity("RCS", "delta", "4", "MINER", 500.0),
            Sensitivity("RCS", "vega", "3", "BANKS", 20.0), Sensitivity("RCS", "vega", "17", "CDX.HY", -10.0)]
    # one risk factor per bucket (rows add up): 3 financials IG 5%, 10 financials HY 12%, 15 other 12%,
    # 16 IG indices 1.5%, 4 basic materials IG 3%
    b3 = _kb([0.05 * 500], [[1]])
    b10 = _kb([0.12 * -400], [[1]], [0.12 * 100])
    b15, b16, b4 = _kb([0.12 * 200], [[1]]), _kb([0.015 * 1000], [[1]]), _kb([0.03 * 500], [[1]])
    # gamma: same sector across IG/HY 100%/2; financials-basic materials 5% (IG-IG), /2 across qualities;
    # 15 with anything 0%; 16 with 1-14 45%
    g = [[1, 0.5, 0, 0.45, 0.05], [0.5, 1, 0, 0.45, 0.025], [0, 0, 1, 0, 0], [0.45, 0.45, 0, 1, 0.45],
         [0.05, 0.025, 0, 0.45, 1]]
    out = capital(rows)
    assert out[("RCS", "delta")] == pytest.approx(_k([b3, b10, b15, b16, b4], g), rel=1e-13)
    # vega RW 100%; 16/17 indices 75%, 17 with 3: 45%
    assert out[("RCS", "vega")] == pytest.approx(_k([_kb([20.0], [[1]]), _kb([-10.0], [[1]])],
                                                    [[1, 0.45], [0.45, 1]]), rel=1e-13)


def test_equity_by_hand():
    rows = [Sensitivity("EQ", "delta", "5", "AAA", 100.0), Sensitivity("EQ", "delta", "5", "BBB", -40.0),
            Sensitivity("EQ", "delta", "9", "SMALL", 50.0), Sensitivity("EQ", "delta", "11", "OTHER", 30.0),
            Sensitivity("EQ", "delta", "12", "SPX", 200.0, 150.0), Sensitivity("EQ", "delta", "13", "MSCI.EM", -80.0),
            Sensitivity("EQ", "vega", "5", "AAA", 10.0), Sensitivity("EQ", "vega", "10", "SMALL.ADV", 5.0)]
    # RW: 5 large-cap advanced 30%, 9 small-cap emerging 70%, 11 other 70%, 12 advanced indices 15%, 13 other
    # indices 25%; gamma 15% within 1-10, 0% with 11, 45% between 12/13 and 1-10, 75% between 12 and 13
    bk = [_kb([0.30 * 60], [[1]]), _kb([0.70 * 50], [[1]]), _kb([0.70 * 30], [[1]]),
          _kb([0.15 * 50], [[1]], [0.15 * 150]), _kb([0.25 * -80], [[1]])]
    g = [[1, 0.15, 0, 0.45, 0.45], [0.15, 1, 0, 0.45, 0.45], [0, 0, 1, 0, 0], [0.45, 0.45, 0, 1, 0.75],
         [0.45, 0.45, 0, 0.75, 1]]
    out = capital(rows)
    assert out[("EQ", "delta")] == pytest.approx(_k(bk, g), rel=1e-13)
    # vega: 78% large caps and advanced-economy indices (1-8, 12), 100% small caps, other and other indices (9-11, 13)
    assert out[("EQ", "vega")] == pytest.approx(_k([_kb([7.8], [[1]]), _kb([5.0], [[1]])],
                                                  [[1, 0.15], [0.15, 1]]), rel=1e-13)


def test_commodity_by_hand():
    rows = [Sensitivity("CO", "delta", "2", "WTI", 300.0), Sensitivity("CO", "delta", "2", "BRENT", -100.0),
            Sensitivity("CO", "delta", "4", "FREIGHT", 50.0), Sensitivity("CO", "delta", "7", "GOLD", -60.0),
            Sensitivity("CO", "delta", "11", "OTHER", 40.0), Sensitivity("CO", "vega", "3", "POWER", 12.0)]
    # RW: 2 liquid combustibles 35%, 4 freight 80%, 7 precious metals 20%, 11 other 50%; gamma 20%, 0% with 11
    bk = [_kb([0.35 * 200], [[1]]), _kb([0.80 * 50], [[1]]), _kb([0.20 * -60], [[1]]), _kb([0.50 * 40], [[1]])]
    g = [[1, 0.2, 0.2, 0], [0.2, 1, 0.2, 0], [0.2, 0.2, 1, 0], [0, 0, 0, 1]]
    out = capital(rows)
    assert out[("CO", "delta")] == pytest.approx(_k(bk, g), rel=1e-13)
    assert out[("CO", "vega")] == pytest.approx(12.0, rel=1e-14)  # vega RW 100%


def test_ir_and_fx_vega_by_hand():
    rows = [Sensitivity("IR", "vega", "USD", "ir_vol", 30.0), Sensitivity("IR", "vega", "USD", "inflation_vol", -10.0),
            Sensitivity("IR", "vega", "EUR", "ir_vol", 20.0),
            Sensitivity("FX", "vega", "EUR", "EUR", 15.0), Sensitivity("FX", "vega", "JPY", "JPY", 5.0)]
    usd, eur = _kb([30.0, -10.0], [[1, 0.4], [0.4, 1]]), _kb([20.0], [[1]])  # RW 100%, rho 40%
    out = capital(rows)
    assert out[("IR", "vega")] == pytest.approx(_k([usd, eur], [[1, 0.5], [0.5, 1]]), rel=1e-13)  # gamma 50%
    assert out[("FX", "vega")] == pytest.approx(_k([_kb([15.0], [[1]]), _kb([5.0], [[1]])],
                                                  [[1, 0.6], [0.6, 1]]), rel=1e-13)  # gamma 60%


def test_tables_reproduce_the_published_values():
    # MAR50 counterparty credit spread cross-bucket correlations (buckets 1-6 as printed; 7: 0%, 8: 45%)
    printed = {(1, 2): 0.10, (1, 3): 0.20, (1, 4): 0.25, (1, 5): 0.20, (1, 6): 0.15, (2, 3): 0.05, (2, 4): 0.15,
               (2, 5): 0.20, (2, 6): 0.05, (3, 4): 0.20, (3, 5): 0.25, (3, 6): 0.05, (4, 5): 0.25, (4, 6): 0.05,
               (5, 6): 0.05}
    for (b, c), v in printed.items():
        assert tb.gamma("CCS", str(b), str(c)) == v and tb.gamma("CCS", str(c), str(b)) == v
    for b in range(1, 8):
        assert tb.gamma("CCS", str(b), "7") == (1.0 if b == 7 else 0.0)
        assert tb.gamma("CCS", str(b), "8") == (0.0 if b == 7 else 0.45)
    # CCS delta risk weights = BA-CVA's MAR50.16 weights, sector by sector (bucket 8: indices 1.5% / 5%)
    sectors = {"1a": "sovereign", "1b": "local_government", "2": "financial", "3": "basic_materials",
               "4": "consumer", "5": "technology", "6": "health_care", "7": "other"}
    for b, sector in sectors.items():
        for q, ig in (("IG", True), ("HY", False), ("NR", False)):
            assert tb.risk_weight("CCS", "delta", b, "5y", q) == bacva.risk_weight(sector, ig)
    assert (tb.risk_weight("CCS", "delta", "8", "1y", "IG"), tb.risk_weight("CCS", "delta", "8", "1y", "HY")) == (
        0.015, 0.05)
    # IR delta of a specified currency (the values ORE 1.8.17 also carries; the ORE side by side agrees)
    assert [tb.risk_weight("IR", "delta", "USD", t) for t in tb.IR_TENORS] == [0.0111, 0.0093, 0.0074, 0.0074,
                                                                               0.0074, 0.0111]
    # every table symmetric, within [0, 1], unit diagonal
    for rc in ("CCS", "RCS", "EQ", "CO"):
        bks = sorted({tb.aggregation_bucket(rc, b) for b in tb.buckets(rc)}, key=int)
        for b in bks:
            assert tb.gamma(rc, b, b) == 1.0
            for c in bks:
                assert tb.gamma(rc, b, c) == tb.gamma(rc, c, b) and 0.0 <= tb.gamma(rc, b, c) <= 1.0
