"""ORE conventions.xml (and curveconfig.xml's quote -> convention map) in the ORE market import.

References: QuantLib 1.44 (a VanillaSwap with the conventions read from the file, priced on the bootstrapped
curves, has the quoted fair rate) and ORE's own Examples/Input/conventions.xml (parsed when the ORE mirror is
present). The conventions files here are small ORE-format files written for the test.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from omegaconf import OmegaConf

from exposure.config.schema import MarketConfig
from exposure.errors import ConfigError, MarketDataError
from exposure.market.ore_conventions import read_conventions
from exposure.market.ore_market import market_from_ore
from exposure.market.snapshot import build_market
from tests.test_ore_market import ASOF, MARKET

ql = pytest.importorskip("QuantLib")

# USD-LIBOR-3M swaps quoted with an annual ACT/360 fixed leg (the default is semi-annual 30/360); SOFR OIS with a
# quarterly fixed leg; two Swap conventions on EUR-EURIBOR-6M (ambiguous without a curveconfig)
CONVENTIONS = """<?xml version="1.0"?>
<Conventions>
  <Swap><Id>USD-3M-SWAP-ANNUAL</Id><FixedCalendar>US,UK</FixedCalendar><FixedFrequency>Annual</FixedFrequency>
    <FixedConvention>MF</FixedConvention><FixedDayCounter>A360</FixedDayCounter><Index>USD-LIBOR-3M</Index></Swap>
  <OIS><Id>USD-SOFR-OIS</Id><SpotLag>2</SpotLag><Index>USD-SOFR</Index><FixedDayCounter>A360</FixedDayCounter>
    <PaymentLag>2</PaymentLag><EOM>false</EOM><FixedFrequency>Quarterly</FixedFrequency>
    <FixedConvention>Following</FixedConvention></OIS>
  <Swap><Id>EUR-6M-SWAP-A</Id><FixedFrequency>Annual</FixedFrequency><FixedConvention>MF</FixedConvention>
    <FixedDayCounter>30/360</FixedDayCounter><Index>EUR-EURIBOR-6M</Index></Swap>
  <Swap><Id>EUR-6M-SWAP-B</Id><FixedFrequency>Semiannual</FixedFrequency><FixedConvention>MF</FixedConvention>
    <FixedDayCounter>A365</FixedDayCounter><Index>EUR-EURIBOR-6M</Index></Swap>
  <IborIndex><Id>USD-LIBOR-3M</Id><FixingCalendar>US,UK</FixingCalendar><DayCounter>A360</DayCounter>
    <SettlementDays>2</SettlementDays><BusinessDayConvention>MF</BusinessDayConvention><EndOfMonth>true</EndOfMonth>
  </IborIndex>
  <Deposit><Id>USD-LIBOR-CONVENTIONS</Id><IndexBased>true</IndexBased><Index>USD-LIBOR</Index></Deposit>
</Conventions>
"""
CURVECONFIG = """<?xml version="1.0"?>
<CurveConfiguration><YieldCurves><YieldCurve><CurveId>EUR6M</CurveId><Currency>EUR</Currency><Segments>
  <Simple><Type>Swap</Type><Quotes><Quote>IR_SWAP/RATE/EUR/2D/6M/5Y</Quote></Quotes>
    <Conventions>EUR-6M-SWAP-B</Conventions><ProjectionCurve>EUR6M</ProjectionCurve></Simple>
</Segments></YieldCurve></YieldCurves></CurveConfiguration>
"""


@pytest.fixture
def files(tmp_path):
    m, c, cc = tmp_path / "market.txt", tmp_path / "conventions.xml", tmp_path / "curveconfig.xml"
    m.write_text(MARKET)
    c.write_text(CONVENTIONS)
    cc.write_text(CURVECONFIG)
    return str(m), str(c), str(cc)


def test_conventions_reach_the_instruments(files):
    m, c, cc = files
    conv = read_conventions(c)
    cfg = market_from_ore(m, ASOF, "USD", conv).config["curve_inputs"]
    swaps = [i for i in cfg["curves"]["USD-LIBOR-3M"]["instruments"] if i["type"] == "swap"]
    assert swaps and all(i["fixed_tenor"] == "1Y" and i["fixed_day_count"] == "ACT/360" and i["calendar"] == "US,UK"
                         for i in swaps)
    ois = [i for i in cfg["curves"]["USD"]["instruments"] if i["type"] == "ois"]
    assert ois and all((i["fixed_tenor"], i["settlement_days"], i["payment_lag"]) == ("3M", 2, 2) for i in ois)
    assert cfg["conventions"]["USD-LIBOR-3M"] == {"currency": "USD", "tenor": "3M", "fixing_days": 2,
                                                  "calendar": "US,UK", "day_count": "ACT/360",
                                                  "convention": "modified_following", "end_of_month": True}
    # two conventions on EUR-EURIBOR-6M: the defaults without a curveconfig, the listed one with it
    eur = [i for i in cfg["curves"]["EUR-EURIBOR-6M"]["instruments"] if i["type"] == "swap"]
    assert eur and "fixed_tenor" not in eur[0]
    eur = [i for i in market_from_ore(m, ASOF, "USD", read_conventions(c, cc)).config["curve_inputs"]["curves"]
           ["EUR-EURIBOR-6M"]["instruments"] if i["type"] == "swap"]
    assert (eur[0]["fixed_tenor"], eur[0]["fixed_day_count"]) == ("6M", "ACT/365F")
    assert market_from_ore(m, ASOF, "USD").config["curve_inputs"]["curves"]["USD-LIBOR-3M"]["instruments"][-1] \
        .get("fixed_tenor") is None  # without conventions.xml: the defaults


def _qd(d):
    return ql.Date(d.day, d.month, d.year)


def _q_curve(curve):
    days = [int(round(t * 365)) for t in np.asarray(curve.times)]
    h = ql.YieldTermStructureHandle(ql.DiscountCurve([_qd(ASOF)] + [_qd(ASOF) + d for d in days],
                                                     [1.0] + list(np.exp(np.asarray(curve.log_dfs))),
                                                     ql.Actual365Fixed()))
    h.enableExtrapolation()
    return h


def test_bootstrapped_libor_curve_reprices_the_quotes_with_the_files_conventions_as_quantlib(files):
    """The USD-LIBOR-3M curve built with the file's annual ACT/360 fixed leg: QuantLib's VanillaSwap with those
    conventions (spot 2 US+UK days, 3M LIBOR forwarding on our curve, discounting on our SOFR curve) has fair rate
    = quote within 1e-10; with the default (semi-annual 30/360) conventions it does not."""
    m, c, _ = files
    ql.Settings.instance().evaluationDate = _qd(ASOF)
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "curve_inputs": {"ore_market": m, "ore_conventions": c}})
    mk = build_market(mc)
    base = build_market(OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "curve_inputs": {"ore_market": m}}))
    cal = ql.JointCalendar(ql.UnitedStates(ql.UnitedStates.Settlement), ql.UnitedKingdom(ql.UnitedKingdom.Settlement),
                           ql.JoinHolidays)

    def fair(market, tenor):
        disc, fwd = _q_curve(market.curves["USD"]), _q_curve(market.indices["USD-LIBOR-3M"].curve)
        idx = ql.IborIndex("L3M", ql.Period("3M"), 2, ql.USDCurrency(), cal, ql.ModifiedFollowing, True,
                           ql.Actual360(), fwd)
        spot = cal.advance(_qd(ASOF), 2, ql.Days)
        end = cal.advance(spot, ql.Period(tenor), ql.ModifiedFollowing, True)
        fixed = ql.Schedule(spot, end, ql.Period("1Y"), cal, ql.ModifiedFollowing, ql.ModifiedFollowing,
                            ql.DateGeneration.Backward, True)
        flt = ql.Schedule(spot, end, ql.Period("3M"), cal, ql.ModifiedFollowing, ql.ModifiedFollowing,
                          ql.DateGeneration.Backward, True)
        sw = ql.VanillaSwap(ql.VanillaSwap.Payer, 1e6, fixed, 0.03, ql.Actual360(), flt, idx, 0.0, ql.Actual360())
        sw.setPricingEngine(ql.DiscountingSwapEngine(disc))
        return sw.fairRate()

    for tenor, quote in (("2Y", 0.0398), ("10Y", 0.0394)):
        assert fair(mk, tenor) == pytest.approx(quote, abs=1e-10), tenor
        assert abs(fair(base, tenor) - quote) > 1e-6, tenor  # the default fixed leg differs


def test_bad_conventions_name_the_file_and_the_convention(tmp_path, files):
    m, c, _ = files
    bad = tmp_path / "bad.xml"
    bad.write_text(CONVENTIONS.replace("<FixedDayCounter>A360</FixedDayCounter><Index>USD-LIBOR-3M",
                                       "<FixedDayCounter>Bus/252</FixedDayCounter><Index>USD-LIBOR-3M"))
    conv = read_conventions(str(bad))  # read; the broken convention is an error only where a quote uses it
    assert "EUR-6M-SWAP-A" in conv.swaps and "USD-3M-SWAP-ANNUAL" in conv.broken
    with pytest.raises(MarketDataError, match="bad.xml: <Swap> USD-3M-SWAP-ANNUAL: <FixedDayCounter> 'Bus/252'"):
        market_from_ore(m, ASOF, "USD", conv)
    bad.write_text("<Conventions><OIS><Id>X</Id><Index>USD-SOFR</Index><SpotLag>two</SpotLag></OIS></Conventions>")
    with pytest.raises(MarketDataError, match="<OIS> X: <SpotLag> 'two'"):
        read_conventions(str(bad)).fields("ois", "USD-SOFR", "IR_SWAP/RATE/USD/2D/1D/5Y")
    bad.write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><Conventions>&a;</Conventions>')
    with pytest.raises(MarketDataError, match="cannot read conventions file"):
        read_conventions(str(bad))
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD",
        "curve_inputs": {"ore_market": m, "ore_conventions": str(tmp_path / "none.xml")}})
    with pytest.raises(ConfigError, match="market.curve_inputs.ore_conventions"):
        build_market(mc)


MIRROR = "/work/.mirror/OpenSourceRisk+Engine/repo"


@pytest.mark.skipif(not os.path.isdir(MIRROR), reason="needs the ORE mirror")
def test_ores_own_example_conventions_parse(tmp_path):
    for name in ("conventions.xml", "curveconfig.xml"):
        text = subprocess.run(["git", "-C", MIRROR, "show", f"HEAD:Examples/Input/{name}"], capture_output=True,
                              check=True).stdout
        (tmp_path / name).write_bytes(text)
    conv = read_conventions(str(tmp_path / "conventions.xml"), str(tmp_path / "curveconfig.xml"))
    assert conv.swaps["EUR-6M-SWAP-CONVENTIONS"] == ("EUR-EURIBOR-6M", {
        "fixed_tenor": "1Y", "fixed_day_count": "30/360", "convention": "modified_following", "calendar": "TARGET"})
    assert conv.ois["USD-OIS-CONVENTIONS"][0] == "USD-FedFunds"
    assert conv.ois["USD-OIS-CONVENTIONS"][1]["payment_lag"] == 2
    assert conv.quote_conventions["IR_SWAP/RATE/CAD/2D/3M/10Y"] == "CAD-3M-SWAP-CONVENTIONS"
    # conventions on calendars the holidays library does not know (ORE's currency-code calendars DEN, CZK, ...)
    # are kept aside: an error only where a quote uses them
    assert len(conv.swaps) > 30 and all("Calendar>" in e or "Frequency>" in e for _, e in conv.broken.values())
    assert not {"EUR-6M-SWAP-CONVENTIONS", "USD-3M-SWAP-CONVENTIONS", "GBP-6M-SWAP-CONVENTIONS"} & set(conv.broken)
