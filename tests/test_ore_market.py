"""ORE market.txt / fixings.txt import (exposure.market.ore_market, portfolio.fixings)."""

import datetime as dt

import numpy as np
import pytest
from omegaconf import OmegaConf

from exposure.config.schema import MarketConfig
from exposure.errors import ConfigError, MarketDataError
from exposure.market.ore_market import market_from_ore, read_quotes
from exposure.market.snapshot import build_market
from exposure.portfolio.fixings import Fixings

ASOF = dt.date(2026, 11, 20)
A = "20261120"
MARKET = f"""# an ORE market file
{A} MM/RATE/USD/0D/1D 0.0433
{A} IR_SWAP/RATE/USD/2D/1D/1Y 0.0395
{A} IR_SWAP/RATE/USD/2D/1D/5Y 0.0356
{A} IR_SWAP/RATE/USD/2D/1D/10Y 0.0367
{A} MM/RATE/USD/2D/3M 0.0445
{A} FRA/RATE/USD/3M/3M 0.0441
{A} IR_SWAP/RATE/USD/2D/3M/2Y 0.0398
{A} IR_SWAP/RATE/USD/2D/3M/10Y 0.0394
{A} IR_SWAP/RATE/EUR/2D/1D/1Y 0.0188
{A} IR_SWAP/RATE/EUR/2D/1D/1Y6M 0.0190
{A} IR_SWAP/RATE/EUR/2D/1D/18M 0.0190
{A} IR_SWAP/RATE/EUR/2D/1D/10Y 0.0245
{A} MM/RATE/EUR/2D/6M 0.0212
{A} IR_SWAP/RATE/EUR/2D/6M/5Y 0.0243
{A} BASIS_SWAP/BASIS_SPREAD/6M/3M/EUR/5Y -0.0009
{A} MM/RATE/EUR/2D/3M 0.0205
{A} FX/RATE/EUR/USD 1.085
{A} FX/RATE/USD/JPY 150.0
{A} FX_OPTION/RATE_LNVOL/EUR/USD/1Y/ATM 0.081
{A} FX_OPTION/RATE_LNVOL/EUR/USD/6M/ATM 0.078
{A} SWAPTION/RATE_NVOL/USD/1Y/5Y/ATM 0.0104
{A} SWAPTION/RATE_NVOL/USD/1Y/10Y/ATM 0.0098
{A} SWAPTION/RATE_NVOL/USD/5Y/5Y/ATM 0.0096
{A} SWAPTION/RATE_NVOL/USD/5Y/10Y/ATM 0.0090
{A} CDS/CREDIT_SPREAD/CP_A/SR/USD/1Y 0.0035
{A} CDS/CREDIT_SPREAD/CP_A/SR/USD/5Y 0.0062
{A} RECOVERY_RATE/RATE/CP_A/SR/USD 0.35
{A} EQUITY/PRICE/SPX/USD 5800
{A} EQUITY_OPTION/RATE_LNVOL/SPX/USD/1Y/ATMF 0.185
{A} EQUITY_DIVIDEND/RATE/SPX/USD/1Y 0.014
{A} CAPFLOOR/RATE_NVOL/USD/1Y/3M/0/0/0.01 0.009
{A} EQUITY/PRICE/Lufthansa/EUR 12.75
{A} EQUITY_OPTION/RATE_LNVOL/Lufthansa/EUR/1Y/ATMF 0.30
{A} CDS/CREDIT_SPREAD/Cpty_b/SR/USD/5Y 0.0100
{A} RECOVERY_RATE/RATE/Cpty_b/SR/USD 0.4
20261119 IR_SWAP/RATE/USD/2D/1D/30Y 0.0400
"""


@pytest.fixture
def market_file(tmp_path):
    p = tmp_path / "market.txt"
    p.write_text(MARKET)
    return p


def test_quotes_to_market_config(market_file):
    m = market_from_ore(str(market_file), ASOF, "USD")
    c = m.config
    ci = c["curve_inputs"]["curves"]
    assert [i["type"] for i in ci["USD"]["instruments"]] == ["deposit", "ois", "ois", "ois"]  # not the 20261119 line
    assert ci["USD-LIBOR-3M"]["discount"] == "USD" and len(ci["USD-LIBOR-3M"]["instruments"]) == 4
    assert ci["EUR-EURIBOR-3M"]["instruments"][-1]["other_index"] == "EUR-EURIBOR-6M"
    assert c["fx_spots"] == {"EUR": 1.085}  # JPY has no curve: left out and counted
    assert c["fx_vols"]["EUR"] == {"tenors": ["6M", "1Y"], "vols": [0.078, 0.081]}
    assert c["swaption_vols"]["USD"]["vols"] == [[0.0104, 0.0098], [0.0096, 0.0090]]
    assert c["credit"]["CP_A"]["spreads_bp"] == pytest.approx([35.0, 62.0]) and c["credit"]["CP_A"]["recovery"] == 0.35
    assert c["equities"]["SPX"]["dividend_yield"] == 0.014
    # equity and credit names keep their case, as ORE's portfolio refers to them (Lufthansa, not LUFTHANSA)
    assert "Lufthansa" in c["equities"] and c["credit"]["Cpty_b"]["recovery"] == 0.4
    assert m.unused["CAPFLOOR/RATE_NVOL"] == 1 and m.unused["FX/RATE (currency without a curve)"] == 1


def test_build_market_from_ore_file_reprices_quotes(market_file):
    cfg = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "own_name": "CP_A",
        "curve_inputs": {"ore_market": str(market_file)},
        "fx_spots": {"EUR": 1.09}})  # an explicit entry wins over the file's
    mk = build_market(cfg)
    assert sorted(mk.curves) == ["EUR", "USD"] and mk.fx_spots["EUR"] == 1.09
    assert {"USD-SOFR", "USD-LIBOR-3M", "EUR-ESTER", "EUR-EURIBOR-6M", "EUR-EURIBOR-3M"} <= set(mk.indices)
    # the USD OIS curve reprices the 5Y OIS quote: its annual fixed leg against the compounded float leg
    from exposure.market.conventions import default_swap, make_index
    from exposure.market.rate_helpers import Swap
    from exposure.market.bootstrap import _Curves

    sofr = make_index("USD-SOFR")
    curves = _Curves(ASOF, {"USD": mk.curves["USD"]})
    assert abs(Swap(sofr, default_swap(sofr), "5Y", 0.0356, ASOF).implied(curves, "USD", "USD") - 0.0356) < 1e-10
    assert np.isfinite(np.asarray(mk.indices["EUR-EURIBOR-3M"].curve.log_dfs)).all()


@pytest.mark.parametrize("line, msg", [
    ("20261120 MM/RATE/USD/0D/1D", ":2: expected '<date> <quote key> <value>'"),
    ("2026112 MM/RATE/USD/0D/1D 0.01", ":2: bad date"),
    ("20261120 MM/RATE/USD/0D/1D abc", ":2: bad value 'abc'"),
    ("20261120 IR_SWAP/RATE/USD/2D/1D/1Q 0.01", ":2: IR_SWAP/RATE/USD/2D/1D/1Q: cannot read"),
])
def test_bad_line_names_file_and_line(tmp_path, line, msg):
    p = tmp_path / "m.txt"
    p.write_text("# header\n" + line + "\n")
    with pytest.raises(MarketDataError) as ei:
        market_from_ore(str(p), ASOF, "USD")
    assert str(p) in str(ei.value) and msg in str(ei.value)
    assert read_quotes  # noqa


def test_missing_file_is_a_config_error():
    cfg = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "curve_inputs": {"ore_market": "/no/such/market.txt"}})
    with pytest.raises(ConfigError, match="market.curve_inputs.ore_market"):
        build_market(cfg)


def test_ore_fixings_file(tmp_path):
    p = tmp_path / "fixings.txt"
    p.write_text("# ORE fixings\n20261118 USD-LIBOR-3M 0.0441\n2026-11-19 EUR-EURIBOR-6M 0.0215\n")
    f = Fixings.read(str(p))
    assert f.get("USD-LIBOR-3M", dt.date(2026, 11, 18)) == 0.0441
    assert f.get("EUR-EURIBOR-6M", dt.date(2026, 11, 19)) == 0.0215
    p.write_text("20261118 USD-LIBOR-3M\n")
    with pytest.raises(ConfigError, match="line 1"):
        Fixings.read(str(p))


def test_a_curve_given_twice_is_an_error_and_the_users_curve_beats_the_files(market_file):
    both = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "curves": {"USD": {"tenors": ["10Y"], "quotes": [0.03]}},
        "curve_inputs": {"curves": {"USD": {"index": "USD-SOFR",
                                            "instruments": [{"type": "ois", "tenor": "1Y", "quote": 0.04}]}}}})
    with pytest.raises(ConfigError, match="market.curve_inputs.curves.USD"):
        build_market(both)
    mine = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "curves": {"USD": {"tenors": ["10Y"], "quotes": [0.03]}},
        "curve_inputs": {"ore_market": str(market_file)}})
    mk = build_market(mine)
    assert float(mk.curves["USD"].zero_rate(5.0)) == pytest.approx(0.03, abs=1e-14)
