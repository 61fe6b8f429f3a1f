"""The capital stage end to end: trade table (CSV) input and errors, the engine-trade mapping, and a run of
the bundled example with the capital variables in results.h5 and capital.csv consistent with the formulas."""

import math

import numpy as np
import pytest
from scipy.stats import norm

import exposure
from exposure.capital import bacva, irb
from exposure.capital.__main__ import report
from exposure.capital.saccr import saccr
from exposure.capital.saccr_input import read_margin_table, read_trade_table
from exposure.errors import ConfigError

EX = "examples/capital/bcbs279_example5_"


def test_trade_table_reproduces_bcbs279_example5():
    r = saccr(read_trade_table(EX + "trades.csv"), read_margin_table(EX + "margins.csv"))["EX5"]
    assert r.EAD == pytest.approx(1879.2126315, abs=1e-6)
    text = report(EX + "trades.csv", EX + "margins.csv")
    assert text.splitlines()[1].startswith("EX5,true,80.0,200.0,0.0,")


@pytest.mark.parametrize("row,where", [
    ("1,NS,XX,100,1", "line 2, field 'asset_class'"),
    ("1,NS,IR,100,1", "line 2, field 'hedging_set'"),
    ("1,NS,CR,100,1", "line 2, field 'risk_factor'"),
    ("1,NS,IR,-5,1", "line 2, field 'notional'"),
    ("1,NS,IR,100,0", "line 2, field 'maturity'"),
    ("1,NS,IR,abc,1", "line 2, field 'notional'"),
])
def test_trade_table_errors_name_file_line_and_field(tmp_path, row, where):
    p = tmp_path / "t.csv"
    p.write_text("trade_id,netting_set,asset_class,notional,maturity\n" + row + "\n")
    with pytest.raises(ConfigError, match=where) as exc:
        read_trade_table(str(p))
    assert str(p) in str(exc.value)


def test_trade_table_unknown_column_duplicates_and_option_fields(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("trade_id,netting_set,asset_class,notional,maturity,colour\n1,NS,FX,1,1,red\n")
    with pytest.raises(ConfigError, match="column 'colour'"):
        read_trade_table(str(p))
    p.write_text("trade_id,netting_set,asset_class,notional,maturity,hedging_set\n1,NS,FX,1,1,EURUSD\n"
                 "1,NS,FX,1,1,EURUSD\n")
    with pytest.raises(ConfigError, match="line 3, field 'trade_id'"):
        read_trade_table(str(p))
    p.write_text("trade_id,netting_set,asset_class,notional,maturity,risk_factor,option,price,expiry\n"
                 "1,NS,EQ,1,1,SPX,call,100,1\n")
    with pytest.raises(ConfigError, match="line 2, field 'strike'"):
        read_trade_table(str(p))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cap")
    cfg = exposure.compose(["simulation.paths=64", "simulation.grid='3M,6M,1Y,2Y,5Y,10Y'", f"output.dir={out}"])
    return exposure.run(cfg), cfg, out


def test_engine_trades_are_mapped(run):
    from exposure.api import setup
    from exposure.capital.saccr_engine import map_portfolio

    _, cfg, _ = run
    s = setup(cfg)
    m = {t.trade_id: t for t in map_portfolio(s.portfolio, s.market)}
    mkt = s.market
    swp = m["SWP_USD_5Y"]  # payer: long the floating rate
    assert swp.asset_class == "IR" and swp.long and swp.hedging_set == "USD" and swp.notional == 5e7
    fxf = m["FXF_EURUSD_6M"]
    spec = next(t for t in s.portfolio.trades if t.id == "FXF_EURUSD_6M")
    eur = spec.buy_amount if spec.buy_currency == "EUR" else spec.sell_amount
    assert fxf.hedging_set == "EURUSD" and fxf.long == (spec.buy_currency == "EUR")
    assert fxf.notional == pytest.approx(eur * mkt.fx_spot("EUR"), rel=1e-15)
    opt = m["FXO_EURUSD_1Y_PUT"]
    o = next(t for t in s.portfolio.trades if t.id == "FXO_EURUSD_1Y_PUT")
    T = o.expiry_time
    fwd = mkt.fx_spot("EUR") * float(mkt.curves["EUR"].discount(T)) / float(mkt.curves["USD"].discount(T))
    assert opt.price == pytest.approx(fwd, rel=1e-12) and opt.option == "put" and opt.expiry == T
    from exposure.capital.saccr import option_delta
    d1 = (math.log(fwd / o.strike) + 0.5 * 0.15 ** 2 * T) / (0.15 * math.sqrt(T))
    assert option_delta(opt) == pytest.approx((-1 if o.long else 1) * norm.cdf(-d1), rel=1e-12)


def test_run_writes_consistent_capital_results(run):
    res, cfg, out = run
    ds = exposure.results.read_results(str(out / "results.h5"))
    for v in ("EAD_SACCR", "RC_SACCR", "PFE_addon_SACCR", "EAD_IMM", "EAD", "RWA", "Capital", "EAD_profile",
              "Capital_profile", "EAD_cpty", "RWA_cpty", "Capital_cpty", "BA_CVA_cpty", "BA_CVA_total"):
        assert v in ds, v
        assert np.all(np.isfinite(ds[v].values)), v
    assert "SA_CVA_total" not in ds and "not computed" in ds.attrs["sa_cva"]
    np.testing.assert_allclose(ds["EAD_IMM"], 1.4 * ds["EEPE"], rtol=1e-14)
    np.testing.assert_allclose(ds["EAD"], ds["EAD_SACCR"], rtol=0)  # approach saccr
    np.testing.assert_allclose(ds["EAD_SACCR"], 1.4 * (ds["RC_SACCR"] + ds["PFE_addon_SACCR"]), rtol=1e-13)
    rw = irb.risk_weight(ds["PD"].values, ds["LGD"].values, ds["M_effective"].values, pd_floor=0.0005)
    np.testing.assert_allclose(ds["RWA"], rw * ds["EAD"].values, rtol=1e-13)
    np.testing.assert_allclose(ds["Capital"], 0.08 * ds["RWA"], rtol=1e-15)
    np.testing.assert_allclose(ds["EAD_profile"].values[:, 0], ds["EAD"].values, rtol=1e-15)
    # BA-CVA reduced by hand from the per-counterparty stand-alone numbers: K = sqrt((0.5 sum S)^2 + 0.75 sum S^2)
    s = ds["BA_CVA_cpty"].values / 0.65
    k = math.sqrt((0.5 * s.sum()) ** 2 + 0.75 * np.sum(s * s))
    assert float(ds["BA_CVA_total"]) == pytest.approx(0.65 * k, rel=1e-13)
    # CP_A is a financial, investment grade: RW 5% (conf/capital/default.yaml)
    assert bacva.risk_weight("financial", True) == 0.05
    text = (out / "capital.csv").read_text().splitlines()
    assert text[0].startswith("Level,NettingSet,Counterparty,Approach,NPV,Collateral,RC_SACCR")
    assert sum(line.startswith("netting_set,") for line in text) == ds.sizes["netting_set"]
    assert "EAD_SACCR" in res.summary() and "BA-CVA capital" in res.summary()
