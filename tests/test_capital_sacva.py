"""SA-CVA aggregation on a small case computed by hand (MAR50.53-50.55)."""

import math

import pytest

from exposure.capital.sacva import Sensitivity, capital, read_sensitivities
from exposure.errors import ConfigError


def test_sa_cva_small_case_by_hand():
    s = [Sensitivity("IR", "delta", "USD", "1y", 1000.0, -400.0),
         Sensitivity("IR", "delta", "USD", "5y", 2000.0, 0.0),
         Sensitivity("IR", "delta", "XYZ", "10y", -500.0, 0.0),
         Sensitivity("FX", "delta", "EUR", "EUR", 300.0, -100.0)]
    # USD bucket: WS_1y = 0.0111 (1000 - 400), WS_5y = 0.0074 2000, hedge WS 0.0111 (-400)
    w1, w5, h1 = 0.0111 * 600, 0.0074 * 2000, 0.0111 * -400
    k_usd = math.sqrt(w1 ** 2 + w5 ** 2 + 2 * 0.72 * w1 * w5 + 0.01 * h1 ** 2)
    s_usd = max(min(w1 + w5, k_usd), -k_usd)
    w_x = 0.0106 * -500  # XYZ: not a specified currency
    k_x = abs(w_x)
    k_ir = math.sqrt(k_usd ** 2 + k_x ** 2 + 2 * 0.5 * s_usd * w_x)
    k_fx = math.sqrt((0.11 * 200) ** 2 + 0.01 * (0.11 * -100) ** 2)
    out = capital(s)
    assert out[("IR", "delta")] == pytest.approx(k_ir, rel=1e-14)
    assert out[("FX", "delta")] == pytest.approx(k_fx, rel=1e-14)
    assert out["K"] == pytest.approx(k_ir + k_fx, rel=1e-14)
    assert capital(s, m_cva=1.25)["K"] == pytest.approx(1.25 * (k_ir + k_fx), rel=1e-14)


def test_sa_cva_csv_errors_name_line_and_field(tmp_path):
    p = tmp_path / "sens.csv"
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,s_hedge\nIR,delta,USD,3y,1.0,0\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'risk_factor'"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva\nEQ,delta,1,SPX,1.0\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'rw'"):
        read_sensitivities(str(p))
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,rw\nEQ,delta,1,SPX,1.0,0.3\n")
    assert read_sensitivities(str(p))[0].rw == 0.3
