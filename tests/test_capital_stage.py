"""The capital stage end to end: trade table (CSV) input and errors, the engine-trade mapping, and a run of
the bundled example with the capital variables in results.h5 and capital.csv consistent with the formulas."""

import dataclasses
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
def example():
    """The bundled example's market and portfolio (no calibration, no simulation)."""
    from exposure.market.snapshot import build_market
    from exposure.portfolio import load_portfolio
    from exposure.simulation.grid import TimeGrid

    cfg = exposure.compose([])
    market = build_market(cfg.market)
    grid = TimeGrid.build(market.asof, cfg.simulation.grid, cfg.simulation.mpor)
    return cfg, market, load_portfolio(cfg.portfolio, market, grid), grid


def test_engine_trades_are_mapped(example):
    from exposure.capital.saccr import option_delta
    from exposure.capital.saccr_engine import map_portfolio

    _, mkt, pf, _ = example
    m = {t.trade_id: t for t in map_portfolio(pf, mkt)}
    swp = m["SWP_USD_5Y"]  # payer: long the floating rate
    assert swp.asset_class == "IR" and swp.long and swp.hedging_set == "USD" and swp.notional == 5e7
    fxf = m["FXF_EURUSD_6M"]
    spec = next(t for t in pf.trades if t.id == "FXF_EURUSD_6M")
    eur = spec.buy_amount if spec.buy_currency == "EUR" else spec.sell_amount
    assert fxf.hedging_set == "EURUSD" and fxf.long == (spec.buy_currency == "EUR")
    assert fxf.notional == pytest.approx(eur * mkt.fx_spot("EUR"), rel=1e-15)
    opt = m["FXO_EURUSD_1Y_PUT"]
    o = next(t for t in pf.trades if t.id == "FXO_EURUSD_1Y_PUT")
    T = o.expiry_time
    fwd = mkt.fx_spot("EUR") * float(mkt.curves["EUR"].discount(T)) / float(mkt.curves["USD"].discount(T))
    assert opt.price == pytest.approx(fwd, rel=1e-12) and opt.option == "put" and opt.expiry == T
    d1 = (math.log(fwd / o.strike) + 0.5 * 0.15 ** 2 * T) / (0.15 * math.sqrt(T))
    assert option_delta(opt) == pytest.approx((-1 if o.long else 1) * norm.cdf(-d1), rel=1e-12)


def _synthetic_results(pf, market):
    """A results Dataset with a hand-made EE profile: EE = 100 k (1 + t) for netting set k (base currency)."""
    import xarray as xr

    times = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0])
    ids = [n.id for n in pf.netting_sets]
    ee = np.array([[100.0 * (k + 1) * (1 + t) for t in times] for k in range(len(ids))])
    ds = xr.Dataset(
        {"BaselEE": (("netting_set", "date"), ee), "EPE": (("netting_set", "date"), ee),
         "ExpectedCollateral": (("netting_set", "date"), np.zeros_like(ee)),
         "NPV": ("netting_set", np.arange(len(ids)) * 10.0 - 10.0), "DiscountFactor": ("date", np.ones(7)),
         "BaselEEPE": ("netting_set", np.zeros(len(ids))), "BaselEPE": ("netting_set", np.zeros(len(ids))),
         "EEPE": ("netting_set", np.zeros(len(ids)))},
        coords={"netting_set": ids, "counterparty": ("netting_set", [n.counterparty for n in pf.netting_sets]),
                "date": np.arange(7), "time": ("date", times)})
    return ds


def test_stage_on_hand_made_exposures(example):
    from exposure.capital import add_capital, capital_settings
    from exposure.capital.saccr import saccr_netting_set
    from exposure.capital.saccr_engine import map_portfolio
    from exposure.capital import capital_csv_text
    from exposure.capital.stage import engine_margin_terms

    cfg, market, pf, _ = example
    ds = _synthetic_results(pf, market)
    st = capital_settings(cfg.capital)
    out = add_capital(ds, pf, market, st, {})
    # IMM: EE rising linearly, every set longer than a year: EEPE = mean of EE(0.25..1) = 100 k (1 + 0.625)
    k = np.arange(1, ds.sizes["netting_set"] + 1)
    np.testing.assert_allclose(out["EEPE"], 100 * k * 1.625, rtol=1e-14)
    np.testing.assert_allclose(out["EAD_IMM"], 1.4 * 100 * k * 1.625, rtol=1e-14)
    # SA-CCR per netting set = the SA-CCR function on the mapped trades, CSA terms and the run's NPV
    trades = map_portfolio(pf, market, equity_indices=st.equity_indices)  # SPX, SX5E: indices
    for i, n in enumerate(pf.netting_sets):
        r = saccr_netting_set(n.id, [t for t in trades if t.netting_set == n.id],
                              engine_margin_terms(n, market, 0.0, 10.0), V=float(ds["NPV"][i]))
        assert float(out["EAD_SACCR"][i]) == pytest.approx(r.EAD, rel=1e-14)
    np.testing.assert_allclose(out["EAD_SACCR"], 1.4 * (out["RC_SACCR"] + out["PFE_addon_SACCR"]), rtol=1e-13)
    rw = irb.risk_weight(out["PD"].values, out["LGD"].values, out["M_effective"].values, pd_floor=0.0005)
    np.testing.assert_allclose(out["RWA"], rw * out["EAD"].values, rtol=1e-13)
    np.testing.assert_allclose(out["Capital"], 0.08 * out["RWA"], rtol=1e-15)
    # PD: the credit curve's 1y default probability
    c0 = str(out["counterparty"].values[0])
    assert float(out["PD"][0]) == pytest.approx(float(market.credit[c0].default_probability(1.0)), rel=1e-14)
    # BA-CVA reduced by hand from the stand-alone numbers
    s = out["BA_CVA_cpty"].values / 0.65
    kk = math.sqrt((0.5 * s.sum()) ** 2 + 0.75 * np.sum(s * s))
    assert float(out["BA_CVA_total"]) == pytest.approx(0.65 * kk, rel=1e-13)
    np.testing.assert_allclose(out["EAD_profile"].values[:, 0], out["EAD"].values, rtol=1e-15)
    np.testing.assert_allclose(out["Capital_profile"], 0.08 * out["RW"].values[:, None] * out["EAD_profile"].values)
    # IMM approach: the EAD is EAD_IMM; profile at 5y: one date left, alpha EE(5y)
    out2 = add_capital(ds, pf, market, dataclasses.replace(st, approach="imm"), {})
    np.testing.assert_allclose(out2["EAD"], out2["EAD_IMM"], rtol=0)
    mats = out2["Maturity"].values
    for i in range(len(k)):
        if mats[i] > 5.0:
            assert float(out2["EAD_profile"][i, -1]) == pytest.approx(1.4 * 100 * k[i] * 6.0, rel=1e-14)
    # the EE grows, so the profile at 1y is the effective EE from 1y: mean of EE over (1y, 2y] = EE(2y)
    assert float(out2["EAD_profile"][0, 4]) == pytest.approx(1.4 * 100 * 3.0, rel=1e-14)
    # stand-alone BA-CVA profile at t0 = 0.65 SCVA of the set (one netting set per counterparty here)
    assert len(set(out["counterparty"].values)) == out.sizes["netting_set"]
    np.testing.assert_allclose(out["BA_CVA_profile"].values[:, 0], out["BA_CVA_cpty"].values, rtol=1e-13)
    text = capital_csv_text(out)
    assert sum(line.startswith("netting_set,") for line in text.splitlines()) == len(k)
    # BA-CVA full with a single-name CDS hedge on the first counterparty: K = 0.25 K_reduced + 0.75 K_hedged
    hedge = bacva.CdsHedge(c0, 0.05, 5.0, 2.0e5, r=1.0)
    out3 = add_capital(ds, pf, market, dataclasses.replace(st, ba_cva="full", cds_hedges=(hedge,)), {})
    scvas = dict(zip(out["cpty"].values, out["BA_CVA_cpty"].values / 0.65))
    x = 0.05 * 5.0 * 2.0e5 * (1 - math.exp(-0.25)) / 0.25
    net = np.array([v - (x if c == c0 else 0.0) for c, v in scvas.items()])
    kh = math.sqrt((0.5 * net.sum()) ** 2 + 0.75 * np.sum(net * net))
    assert float(out3["BA_CVA_total"]) == pytest.approx(0.65 * (0.25 * kk + 0.75 * kh), rel=1e-13)
    assert float(out3["BA_CVA_total"]) < float(out["BA_CVA_total"])
    # SA-CVA runs only with supplied sensitivities
    assert "SA_CVA_total" not in out and "not computed" in out.attrs["sa_cva"]


def test_addons_computed_ahead_give_the_same_capital(example, monkeypatch):
    """The pipeline's SA-CCR profile add-ons computed while the paths run (capital.ahead) cover every netting
    set of the example and leave every capital variable as add_capital computes it alone, bit for bit."""
    from exposure.capital import add_capital, capital_settings, profile as prof_mod
    from exposure.capital.ahead import profile_addons

    cfg, market, pf, _ = example
    ds = _synthetic_results(pf, market)
    st = capital_settings(cfg.capital)
    ahead = profile_addons(pf, market, st, ds["time"].values)
    assert ahead is not None and all(ahead.get(n.id, ds["time"].values) is not None for n in pf.netting_sets)
    alone = add_capital(ds, pf, market, st, {})
    monkeypatch.setattr(prof_mod, "addon_profile", None)  # with the add-ons given, nothing computes them again
    both = add_capital(ds, pf, market, st, {}, addons=ahead)
    assert both["EAD_profile"].values.tobytes() == alone["EAD_profile"].values.tobytes()
    assert both.identical(alone)
    assert profile_addons(pf, market, dataclasses.replace(st, approach="imm"), ds["time"].values) is None


def test_trade_table_joins_the_engine_netting_sets(example, tmp_path):
    from exposure.capital import add_capital, capital_settings

    cfg, market, pf, _ = example
    ds = _synthetic_results(pf, market)
    ns = pf.netting_sets[0].id
    p = tmp_path / "t.csv"
    p.write_text("trade_id,netting_set,asset_class,notional,maturity,mtm,risk_factor,sub_class\n"
                 f"C1,{ns},CO,1e7,2,5e5,gold,metals\n")
    st = dataclasses.replace(capital_settings(cfg.capital), trade_table=str(p))
    out = add_capital(ds, pf, market, st, {})
    # the first set has a two-way CSA: margined MF = 1.5 sqrt(10 / 250) = 0.3
    assert pf.netting_sets[0].csa.margining == "two_way"
    assert float(out["AddOn_SACCR_CO"][0]) == pytest.approx(0.18 * 1e7 * 0.3, rel=1e-14)
    p.write_text("trade_id,netting_set,asset_class,notional,maturity,risk_factor,sub_class\n"
                 "C1,NOPE,CO,1e7,2,gold,metals\n")
    with pytest.raises(ConfigError, match="netting set 'NOPE'"):
        add_capital(ds, pf, market, st, {})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cap")
    cfg = exposure.compose(["simulation.paths=64", "simulation.grid='3M,6M,1Y,2Y,5Y,10Y'", f"output.dir={out}"])
    return exposure.run(cfg), cfg, out


@pytest.mark.slow
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


def test_capital_settings_from_config_and_errors():
    from exposure.capital import capital_settings

    cfg = exposure.compose(["capital.approach=imm", "+capital.eepe_stressed.NS_CP_A=5.0e5", "capital.ba_cva=full",
                            "capital.cds_hedges=[{counterparty: CP_A, sector: financial, investment_grade: true, "
                            "maturity: 5, notional: 1.0e6}]"])
    st = capital_settings(cfg.capital)
    assert st.approach == "imm" and dict(st.eepe_stressed) == {"NS_CP_A": 5e5} and st.ba_cva == "full"
    assert st.cds_hedges[0].rw == 0.05 and st.cds_hedges[0].counterparty == "CP_A"
    assert st.counterparty("CP_E").sector == "consumer" and not st.counterparty("CP_E").investment_grade
    with pytest.raises(ConfigError, match="capital.approach"):
        capital_settings(exposure.compose(["capital.approach=foo"]).capital)
    with pytest.raises(ConfigError, match=r"capital.counterparties.CP_A.sector"):
        capital_settings(exposure.compose(["capital.counterparties.CP_A.sector=banks"]).capital)


def test_bad_capital_inputs_fail_at_validate(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("trade_id,netting_set,asset_class,notional,maturity\n1,NS_CP_A,IR,100,1\n")
    with pytest.raises(ConfigError, match=r"line 2, field 'hedging_set'"):
        exposure.validate(exposure.compose([f"capital.trade_table={p}"]))
    with pytest.raises(ConfigError, match=r"capital.trade_table: file not found"):
        exposure.validate(exposure.compose([f"capital.trade_table={tmp_path / 'nope.csv'}"]))
    p.write_text("netting_set,margined\nNS_X,true\n")
    with pytest.raises(ConfigError, match=r"netting set 'NS_X' is not in the portfolio"):
        exposure.validate(exposure.compose([f"capital.margin_table={p}"]))


def test_cap_floor_and_equity_option_mapping(tmp_path):
    from exposure.capital.saccr import option_delta
    from exposure.capital.saccr_engine import map_portfolio
    from exposure.market.schedule import year_fraction
    from exposure.market.snapshot import build_market
    from exposure.portfolio import load_portfolio
    from exposure.simulation.grid import TimeGrid

    p = tmp_path / "pf.yaml"
    p.write_text("trades:\n"
                 "  - {id: CAP, type: CapFloor, index: USD-LIBOR-3M, notional: 1.0e+6, start: 3M, maturity: 2Y,\n"
                 "     strike: 0.04, cap: true}\n"
                 "  - {id: EQO, type: EquityOption, name: SPX, quantity: 100, strike: 6000, expiry: 1Y, call: false,\n"
                 "     long: false}\n")
    cfg = exposure.compose([f"portfolio.trades={p}", "portfolio.fixings=null"])
    market = build_market(cfg.market)
    pf = load_portfolio(cfg.portfolio, market, TimeGrid.build(market.asof, cfg.simulation.grid, None))
    m = map_portfolio(pf, market, {"CAP": 123.0}, equity_indices=("SPX",))
    caplets = [t for t in m if t.trade_id.startswith("CAP#")]
    spec = pf.trades[0]
    assert len(caplets) == len(spec.dates) - 1  # forward start: no period fixed yet
    assert sum(t.mtm for t in caplets) == 123.0
    c = caplets[2]
    s, e = spec.dates[2], spec.dates[3]
    curve = market.indices["USD-LIBOR-3M"].curve
    tau = year_fraction(s, e, market.indices["USD-LIBOR-3M"].day_count)
    fwd = (float(curve.discount(market.time(s))) / float(curve.discount(market.time(e))) - 1) / tau
    assert c.price == pytest.approx(fwd, rel=1e-12) and c.option == "call" and c.strike == 0.04
    assert c.start == c.expiry == pytest.approx(market.time(s)) and c.end == c.maturity == pytest.approx(market.time(e))
    eq = next(t for t in m if t.trade_id == "EQO")
    spx = market.equities["SPX"]
    T = pf.trades[1].expiry_time
    f = spx.spot * math.exp(-spx.dividend_yield * T) / float(market.curves["USD"].discount(T))
    assert eq.price == pytest.approx(f, rel=1e-12) and eq.is_index and eq.notional == 100 * spx.spot
    d1 = (math.log(f / 6000) + 0.5 * 0.75 ** 2 * T) / (0.75 * math.sqrt(T))
    assert option_delta(eq) == pytest.approx(norm.cdf(-d1), rel=1e-12)  # sold put: +Phi(-d1), index vol 75%


def test_sa_cva_through_the_stage_when_sensitivities_are_supplied(example, tmp_path):
    from exposure.capital import add_capital, capital_csv_text, capital_settings

    cfg, market, pf, _ = example
    p = tmp_path / "sens.csv"
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,s_hedge\nIR,delta,USD,5y,2000,0\nFX,delta,EUR,EUR,300,0\n")
    st = dataclasses.replace(capital_settings(cfg.capital), sa_cva_sensitivities=str(p))
    out = add_capital(_synthetic_results(pf, market), pf, market, st, {})
    assert float(out["SA_CVA_total"]) == pytest.approx(0.0074 * 2000 + 0.11 * 300, rel=1e-14)
    assert "from supplied sensitivities" in out.attrs["sa_cva"]
    total = capital_csv_text(out).splitlines()[-1].split(",")
    assert float(total[-1]) == pytest.approx(float(out["SA_CVA_total"]), rel=1e-15)


def test_an_existing_cpty_dim_keeps_its_order(example):
    from exposure.capital import add_capital, capital_settings

    cfg, market, pf, _ = example
    ds = _synthetic_results(pf, market)
    cps = list(dict.fromkeys(ds["counterparty"].values))[::-1] + ["CP_NOBODY"]
    ds = ds.assign_coords(cpty=("cpty", np.array(cps, dtype=object)))
    ds["CVA_cpty"] = ("cpty", np.arange(len(cps), dtype=float))
    ref = add_capital(_synthetic_results(pf, market), pf, market, capital_settings(cfg.capital), {})
    out = add_capital(ds, pf, market, capital_settings(cfg.capital), {})
    assert list(out["cpty"].values) == cps
    np.testing.assert_array_equal(out["CVA_cpty"].values, np.arange(len(cps)))
    for c in cps[:-1]:
        assert float(out["EAD_cpty"].sel(cpty=c)) == float(ref["EAD_cpty"].sel(cpty=c))
    assert float(out["EAD_cpty"].sel(cpty="CP_NOBODY")) == 0.0
    assert float(out["BA_CVA_total"]) == pytest.approx(float(ref["BA_CVA_total"]), rel=1e-14)


def test_stressed_eepe_from_a_stressed_run(example, tmp_path):
    """capital.eepe_stressed_run: EAD_IMM = alpha max(EEPE, EEPE_stressed) with EEPE_stressed the BaselEEPE of a
    stressed-calibration run's results.h5 (here written by hand: twice the base EEPE for the first netting set,
    half for the others); an explicit capital.eepe_stressed value wins; a run missing a netting set is refused."""
    import xarray as xr

    from exposure.capital import add_capital, capital_settings
    from exposure.capital.stage import check_inputs

    cfg, market, pf, _ = example
    ds = _synthetic_results(pf, market)
    st = capital_settings(cfg.capital)
    ids = [n.id for n in pf.netting_sets]
    base = 100 * np.arange(1, len(ids) + 1) * 1.625  # the base EEPE of these exposures (test above)
    stressed = base * np.where(np.arange(len(ids)) == 0, 2.0, 0.5)
    run = tmp_path / "stressed"
    run.mkdir()
    xr.Dataset({"BaselEEPE": ("netting_set", stressed)}, coords={"netting_set": ids}).to_netcdf(
        run / "results.h5", engine="h5netcdf")
    out = add_capital(ds, pf, market, dataclasses.replace(st, approach="imm", eepe_stressed_run=str(run)), {})
    np.testing.assert_allclose(out["EAD_IMM"], 1.4 * np.maximum(base, stressed), rtol=1e-14)
    assert float(out["EAD_IMM"][0]) == pytest.approx(1.4 * 2.0 * base[0], rel=1e-14)
    own = dataclasses.replace(st, approach="imm", eepe_stressed_run=str(run), eepe_stressed=((ids[0], 0.0),))
    assert float(add_capital(ds, pf, market, own, {})["EAD_IMM"][0]) == pytest.approx(1.4 * base[0], rel=1e-14)
    xr.Dataset({"BaselEEPE": ("netting_set", stressed[1:])}, coords={"netting_set": ids[1:]}).to_netcdf(
        tmp_path / "partial.h5", engine="h5netcdf")
    node = exposure.compose([f"capital.eepe_stressed_run={tmp_path / 'partial.h5'}"]).capital
    with pytest.raises(ConfigError, match=f"no netting set {ids[0]}"):
        check_inputs(node, market, pf)
    node = exposure.compose([f"capital.eepe_stressed_run={tmp_path / 'nope'}"]).capital
    with pytest.raises(ConfigError, match="eepe_stressed_run"):
        check_inputs(node, market, pf)
