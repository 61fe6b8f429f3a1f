"""SA-CVA aggregation on a small case computed by hand (MAR50.53-50.55)."""

import math

import pytest

from exposure.capital.sacva import Sensitivity, capital, read_sensitivities
from exposure.errors import ConfigError


def test_sa_cva_small_case_by_hand():
    s = [Sensitivity("IR", "delta", "USD", "1y", 1000.0, 400.0),
         Sensitivity("IR", "delta", "USD", "5y", 2000.0, 0.0),
         Sensitivity("IR", "delta", "USD", "inflation", 300.0, 0.0),
         Sensitivity("IR", "delta", "XYZ", "parallel", -500.0, 0.0),
         Sensitivity("IR", "delta", "XYZ", "inflation", 200.0, 0.0),
         Sensitivity("FX", "delta", "EUR", "EUR", 300.0, 100.0)]
    # USD bucket (specified): WS_1y = 1.11% (1000 - 400), WS_5y = 0.74% 2000, WS_infl = 1.11% 300, hedge WS 1.11% 400
    w1, w5, wi, h1 = 0.0111 * 600, 0.0074 * 2000, 0.0111 * 300, 0.0111 * 400
    k_usd = math.sqrt(w1 ** 2 + w5 ** 2 + wi ** 2 + 2 * 0.72 * w1 * w5 + 2 * 0.4 * (w1 + w5) * wi + 0.01 * h1 ** 2)
    s_usd = max(min(w1 + w5 + wi, k_usd), -k_usd)
    # XYZ (not specified): parallel and inflation, RW 1.58%, correlation 40%
    wp, wx = 0.0158 * -500, 0.0158 * 200
    k_x = math.sqrt(wp ** 2 + wx ** 2 + 2 * 0.4 * wp * wx)
    s_x = max(min(wp + wx, k_x), -k_x)
    k_ir = math.sqrt(k_usd ** 2 + k_x ** 2 + 2 * 0.5 * s_usd * s_x)
    k_fx = math.sqrt((0.11 * 200) ** 2 + 0.01 * (0.11 * 100) ** 2)
    out = capital(s)
    assert out[("IR", "delta")] == pytest.approx(k_ir, rel=1e-14)
    assert out[("FX", "delta")] == pytest.approx(k_fx, rel=1e-14)
    assert out["K"] == pytest.approx(k_ir + k_fx, rel=1e-14)
    assert capital(s, m_cva=1.25)["K"] == pytest.approx(1.25 * (k_ir + k_fx), rel=1e-14)
    # a perfect hedge leaves only the hedging disallowance R = 1%
    h = capital([Sensitivity("FX", "delta", "EUR", "EUR", 300.0, 300.0)])["K"]
    assert h == pytest.approx(math.sqrt(0.01) * 0.11 * 300, rel=1e-14)


def test_sa_cva_csv_errors_name_line_and_field(tmp_path):
    p = tmp_path / "sens.csv"
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,s_hedge\nIR,delta,USD,3y,1.0,0\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'risk_factor'"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,s_hedge\nIR,delta,XYZ,5y,1.0,0\n")
    with pytest.raises(ConfigError, match=r"parallel, inflation"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva\nEQ,delta,14,SPX,1.0\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'bucket'.*EQ bucket '14'"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,name\nCCS,delta,2,5y,1.0,BANK\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'quality'"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,name,quality\nCCS,delta,2,4y,1.0,BANK,IG\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'risk_factor'.*0.5y, 1y, 3y, 5y, 10y"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,quality\nCCS,delta,2,5y,1.0,IG\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'name'"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,name,quality\nCCS,vega,2,5y,1.0,BANK,IG\n")
    with pytest.raises(ConfigError, match=r"no vega"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,rw\nEQ,delta,1,SPX,1.0,0.3\nIR,delta,USD,10Y,2,\n")
    rows = read_sensitivities(str(p))
    assert rows[0].rw == 0.3 and rows[1].risk_factor == "10y"
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,s_hedge,name,quality,group\n"
                 "CCS,delta,1a,5Y,100,0,SOV,ig,\nEQ,delta,5,SPX,50,10,,,\n")
    rows = read_sensitivities(str(p))
    assert rows[0].quality == "IG" and rows[0].risk_factor == "5y" and rows[1].s_hedge == 10.0
    eq = math.sqrt((0.30 * 40) ** 2 + 0.01 * (0.30 * 10) ** 2)  # EQ bucket 5: RW 30%, hedge disallowance 1%
    assert capital(rows)["K"] == pytest.approx(0.005 * 100 + eq, rel=1e-14)
