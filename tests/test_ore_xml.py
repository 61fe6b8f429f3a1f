"""ORE portfolio.xml / netting.xml import (exposure.portfolio.ore_xml): every supported trade type maps to the
spec the YAML loader makes of the same trade; unsupported trades are listed by id; and the imported linear trades
and FX options reprice to ORE's own t0 NPVs (ORE in a child process, on the flat side-by-side market)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from exposure.config.schema import MarketConfig, ModelConfig
from exposure.errors import ConfigError, TradeError
from exposure.market.snapshot import build_market
from exposure.portfolio import loader
from exposure.pricing.registry import TRADE_TYPES
from exposure.portfolio.netting import Csa
from exposure.simulation.grid import TimeGrid

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"


def _rules(start, end, tenor, cal="WeekendsOnly", conv="MF"):
    return (f"<ScheduleData><Rules><StartDate>{start}</StartDate><EndDate>{end}</EndDate><Tenor>{tenor}</Tenor>"
            f"<Calendar>{cal}</Calendar><Convention>{conv}</Convention><TermConvention>{conv}</TermConvention>"
            f"<Rule>Backward</Rule><EndOfMonth>false</EndOfMonth></Rules></ScheduleData>")


def _leg(kind, payer, ccy, notionals, dc, rules, body, exchanges=""):
    nots = "".join(f"<Notional>{n!r}</Notional>" for n in notionals)
    return (f"<LegData><LegType>{kind}</LegType><Payer>{'true' if payer else 'false'}</Payer><Currency>{ccy}</Currency>"
            f"<Notionals>{nots}{exchanges}</Notionals><DayCounter>{dc}</DayCounter><PaymentConvention>MF</PaymentConvention>"
            f"{body}{rules}</LegData>")


def _fixed(rate):
    return f"<FixedLegData><Rates><Rate>{rate!r}</Rate></Rates></FixedLegData>"


def _float(index, spread=0.0, fixing_days=2):
    return (f"<FloatingLegData><Index>{index}</Index><Spreads><Spread>{spread!r}</Spread></Spreads>"
            f"<IsInArrears>false</IsInArrears><FixingDays>{fixing_days}</FixingDays></FloatingLegData>")


def _trade(tid, ttype, body, ns="NS_A", cp="CP_A"):
    return (f'<Trade id="{tid}"><TradeType>{ttype}</TradeType><Envelope><CounterParty>{cp}</CounterParty>'
            f"<NettingSetId>{ns}</NettingSetId><AdditionalFields/></Envelope>{body}</Trade>")


def _option(long, kind, expiry, settle="Physical"):
    return (f"<OptionData><LongShort>{'Long' if long else 'Short'}</LongShort><OptionType>{kind}</OptionType>"
            f"<Style>European</Style><Settlement>{settle}</Settlement><PayOffAtExpiry>false</PayOffAtExpiry>"
            f"<ExerciseDates><ExerciseDate>{expiry}</ExerciseDate></ExerciseDates></OptionData>")


# Linear trades and FX options (these are also priced by ORE below), on the flat market's indices.
LINEAR = {
    "SWP_EUR_TARGET": _trade("SWP_EUR_TARGET", "Swap", "<SwapData>" + _leg(
        "Fixed", True, "EUR", [1e7], "30/360", _rules("2026-12-31", "2031-12-31", "1Y", "EUR", "F"), _fixed(0.021)) + _leg(
        "Floating", False, "EUR", [1e7], "A360", _rules("2026-12-31", "2031-12-31", "6M", "TARGET"),
        _float("EUR-EURIBOR-6M", 0.001)) + "</SwapData>"),
    "SWP_USD_AMORT": _trade("SWP_USD_AMORT", "Swap", "<SwapData>" + _leg(
        "Fixed", False, "USD", [4e6, 3e6, 2e6, 1e6], "30/360", _rules("2026-11-24", "2030-11-24", "1Y", "USD,GBP"),
        _fixed(0.031)) + _leg(
        "Floating", True, "USD", [n for n in (4e6, 3e6, 2e6, 1e6) for _ in range(4)], "A360",
        _rules("2026-11-24", "2030-11-24", "3M", "USD,GBP"), _float("USD-LIBOR-3M")) + "</SwapData>", ns="NS_B", cp="CP_B"),
    "XCS_EURUSD": _trade("XCS_EURUSD", "Swap", "<SwapData>" + _leg(
        "Fixed", True, "EUR", [1e7], "30/360", _rules("2026-11-24", "2029-11-24", "1Y", "TARGET,US"), _fixed(0.02),
        "<Exchanges><NotionalInitialExchange>true</NotionalInitialExchange>"
        "<NotionalFinalExchange>true</NotionalFinalExchange></Exchanges>") + _leg(
        "Floating", False, "USD", [1.1e7], "A360", _rules("2026-11-24", "2029-11-24", "3M", "TARGET,US"),
        _float("USD-LIBOR-3M", -0.001),
        "<Exchanges><NotionalInitialExchange>true</NotionalInitialExchange>"
        "<NotionalFinalExchange>true</NotionalFinalExchange></Exchanges>") + "</SwapData>"),
    # payment lag: every coupon pays 2 US business days after its accrual end (ORE's PaymentLag)
    "SWP_USD_PAYLAG": _trade("SWP_USD_PAYLAG", "Swap", ("<SwapData>" + _leg(
        "Fixed", True, "USD", [5e6], "30/360", _rules("2026-12-22", "2029-12-24", "6M", "US"), _fixed(0.03)) + _leg(
        "Floating", False, "USD", [5e6], "A360", _rules("2026-12-22", "2029-12-24", "3M", "US"),
        _float("USD-LIBOR-3M")) + "</SwapData>").replace("</PaymentConvention>",
                                                          "</PaymentConvention><PaymentLag>2</PaymentLag>")),
    # cross-currency with a payment lag on each leg (1 day on the EUR leg, 2 on the USD leg), exchanges unlagged
    "XCS_PAYLAG": _trade("XCS_PAYLAG", "Swap", "<SwapData>" + _leg(
        "Fixed", False, "EUR", [8e6], "30/360", _rules("2026-12-22", "2029-12-24", "1Y", "TARGET,US"), _fixed(0.022),
        "<Exchanges><NotionalInitialExchange>true</NotionalInitialExchange>"
        "<NotionalFinalExchange>true</NotionalFinalExchange></Exchanges>").replace(
        "</PaymentConvention>", "</PaymentConvention><PaymentLag>1</PaymentLag>") + _leg(
        "Floating", True, "USD", [9e6], "A360", _rules("2026-12-22", "2029-12-24", "3M", "TARGET,US"),
        _float("USD-LIBOR-3M", 0.0005),
        "<Exchanges><NotionalInitialExchange>true</NotionalInitialExchange>"
        "<NotionalFinalExchange>true</NotionalFinalExchange></Exchanges>").replace(
        "</PaymentConvention>", "</PaymentConvention><PaymentLag>2D</PaymentLag>") + "</SwapData>"),
    "FRA_USD": _trade("FRA_USD", "ForwardRateAgreement", "<ForwardRateAgreementData><StartDate>2027-05-20</StartDate>"
                      "<EndDate>2027-08-20</EndDate><Currency>USD</Currency><Index>USD-LIBOR-3M</Index>"
                      "<LongShort>Long</LongShort><Strike>0.028</Strike><Notional>5e7</Notional>"
                      "</ForwardRateAgreementData>"),
    "FXF_1": _trade("FXF_1", "FxForward", "<FxForwardData><ValueDate>2027-06-15</ValueDate><BoughtCurrency>EUR"
                    "</BoughtCurrency><BoughtAmount>1e6</BoughtAmount><SoldCurrency>USD</SoldCurrency><SoldAmount>1.12e6"
                    "</SoldAmount><Settlement>Physical</Settlement></FxForwardData>", ns="NS_B", cp="CP_B"),
    "FXO_1": _trade("FXO_1", "FxOption", "<FxOptionData>" + _option(True, "Call", "2027-11-22") +
                    "<BoughtCurrency>EUR</BoughtCurrency><BoughtAmount>1e6</BoughtAmount><SoldCurrency>USD"
                    "</SoldCurrency><SoldAmount>1.15e6</SoldAmount></FxOptionData>"),
    "FXO_2": _trade("FXO_2", "FxOption", "<FxOptionData>" + _option(False, "Put", "2028-05-22") +
                    "<BoughtCurrency>EUR</BoughtCurrency><BoughtAmount>2e6</BoughtAmount><SoldCurrency>USD"
                    "</SoldCurrency><SoldAmount>2.1e6</SoldAmount></FxOptionData>"),
}
# The engine's YAML mapping of each (what the loader must produce from the XML).
YAML = {
    "SWP_EUR_TARGET": {"type": "Swap", "currency": "EUR", "notional": 1e7, "start": "2026-12-31", "maturity": "2031-12-31",
                       "fixed_rate": 0.021, "payer": True, "fixed_tenor": "1Y", "fixed_day_count": "30/360",
                       "float_index": "EUR-EURIBOR-6M", "float_tenor": "6M", "float_day_count": "ACT/360",
                       "spread": 0.001, "convention": "following", "float_convention": "modified_following",
                       "calendar": "TARGET", "fixing_days": 2, "fixing_calendar": "TARGET"},
    "SWP_USD_AMORT": {"type": "Swap", "currency": "USD", "notional": [4e6, 3e6, 2e6, 1e6], "start": "2026-11-24",
                      "maturity": "2030-11-24", "fixed_rate": 0.031, "payer": False, "fixed_tenor": "1Y",
                      "float_index": "USD-LIBOR-3M", "float_tenor": "3M", "calendar": "US,UK", "fixing_days": 2,
                      "fixing_calendar": "US,UK"},
    "XCS_EURUSD": {"type": "CrossCurrencySwap", "start": "2026-11-24", "maturity": "2029-11-24", "calendar": "TARGET,US",
                   "pay_leg": {"currency": "EUR", "notional": 1e7, "fixed_rate": 0.02, "tenor": "1Y",
                               "day_count": "30/360"},
                   "receive_leg": {"currency": "USD", "notional": 1.1e7, "float_index": "USD-LIBOR-3M",
                                   "spread": -0.001, "tenor": "3M", "day_count": "ACT/360", "fixing_days": 2,
                                   "fixing_calendar": "US,UK"}},
    "SWP_USD_PAYLAG": {"type": "Swap", "currency": "USD", "notional": 5e6, "start": "2026-12-22",
                       "maturity": "2029-12-24", "fixed_rate": 0.03, "payer": True, "fixed_tenor": "6M",
                       "float_index": "USD-LIBOR-3M", "float_tenor": "3M", "calendar": "US", "fixing_days": 2,
                       "fixing_calendar": "US,UK", "payment_lag": 2, "payment_calendar": "US",
                       "payment_convention": "modified_following"},
    "XCS_PAYLAG": {"type": "CrossCurrencySwap", "start": "2026-12-22", "maturity": "2029-12-24",
                   "calendar": "TARGET,US",
                   "pay_leg": {"currency": "USD", "notional": 9e6, "float_index": "USD-LIBOR-3M", "spread": 0.0005,
                               "tenor": "3M", "day_count": "ACT/360", "fixing_days": 2, "fixing_calendar": "US,UK",
                               "payment_lag": 2, "payment_calendar": "TARGET,US",
                               "payment_convention": "modified_following"},
                   "receive_leg": {"currency": "EUR", "notional": 8e6, "fixed_rate": 0.022, "tenor": "1Y",
                                   "day_count": "30/360", "payment_lag": 1, "payment_calendar": "TARGET,US",
                                   "payment_convention": "modified_following"}},
    "FRA_USD": {"type": "Fra", "float_index": "USD-LIBOR-3M", "notional": 5e7, "start": "2027-05-20",
                "end": "2027-08-20", "fixed_rate": 0.028},
    "FXF_1": {"type": "FxForward", "buy_currency": "EUR", "buy_amount": 1e6, "sell_currency": "USD",
              "sell_amount": 1.12e6, "maturity": "2027-06-15"},
    "FXO_1": {"type": "FxOption", "foreign_currency": "EUR", "domestic_currency": "USD", "notional": 1e6,
              "strike": 1.15, "expiry": "2027-11-22", "call": True},
    "FXO_2": {"type": "FxOption", "foreign_currency": "EUR", "domestic_currency": "USD", "notional": 2e6,
              "strike": 1.05, "expiry": "2028-05-22", "call": False, "long": False},
}
OTHER = {
    "SWO_1": _trade("SWO_1", "Swaption", "<SwaptionData>" + _option(True, "Call", "2027-11-22", "Cash") + _leg(
        "Fixed", True, "USD", [1e7], "30/360", _rules("2027-11-24", "2032-11-24", "1Y"), _fixed(0.03)) + _leg(
        "Floating", False, "USD", [1e7], "A360", _rules("2027-11-24", "2032-11-24", "3M"), _float("USD-LIBOR-3M")) +
        "</SwaptionData>"),
    # the underlying's coupons pay 2 days after their accrual end on both legs
    "SWO_PAYLAG": _trade("SWO_PAYLAG", "Swaption", ("<SwaptionData>" + _option(True, "Put", "2027-11-22") + _leg(
        "Fixed", False, "USD", [1e7], "30/360", _rules("2027-11-24", "2032-11-24", "1Y", "US"), _fixed(0.03)) + _leg(
        "Floating", True, "USD", [1e7], "A360", _rules("2027-11-24", "2032-11-24", "3M", "US"),
        _float("USD-LIBOR-3M")) + "</SwaptionData>").replace("</PaymentConvention>",
                                                             "</PaymentConvention><PaymentLag>2</PaymentLag>")),
    "CAP_1": _trade("CAP_1", "CapFloor", "<CapFloorData><LongShort>Short</LongShort>" + _leg(
        "Floating", False, "USD", [1e7], "A360", _rules("2026-11-20", "2031-11-20", "3M"), _float("USD-LIBOR-3M", 0.0, 0))
        + "<Caps><Cap>0.035</Cap></Caps></CapFloorData>"),
    # a floor whose floorlets pay 2 days after their accrual end on the US calendar
    "FLOOR_PAYLAG": _trade("FLOOR_PAYLAG", "CapFloor", "<CapFloorData><LongShort>Long</LongShort>" + _leg(
        "Floating", False, "USD", [5e6], "A360", _rules("2026-12-22", "2029-12-24", "3M", "US"),
        _float("USD-LIBOR-3M", 0.0, 2)).replace("</PaymentConvention>", "</PaymentConvention><PaymentLag>2</PaymentLag>"
                                               "<PaymentCalendar>US</PaymentCalendar>")
        + "<Floors><Floor>0.025</Floor></Floors></CapFloorData>"),
    "EQF_1": _trade("EQF_1", "EquityForward", "<EquityForwardData><LongShort>Short</LongShort><Maturity>2027-11-19"
                    "</Maturity><Name>SPX</Name><Currency>USD</Currency><Strike>101.5</Strike><Quantity>1000</Quantity>"
                    "</EquityForwardData>"),
    "EQO_1": _trade("EQO_1", "EquityOption", "<EquityOptionData>" + _option(True, "Put", "2027-11-19") +
                    "<Underlying><Type>Equity</Type><Name>SPX</Name></Underlying><Currency>USD</Currency>"
                    "<Strike>95</Strike><Quantity>500</Quantity></EquityOptionData>"),
}
YAML_OTHER = {
    "SWO_1": {"type": "Swaption", "currency": "USD", "notional": 1e7, "expiry": "2027-11-22", "maturity": "2032-11-24",
              "settlement_days": 2,  # the underlying starts on its legs' StartDate, two days after the expiry
              "fixed_rate": 0.03, "payer": True, "fixed_tenor": "1Y", "fixed_day_count": "30/360",
              "float_index": "USD-LIBOR-3M", "float_tenor": "3M", "settlement": "cash"},
    "SWO_PAYLAG": {"type": "Swaption", "currency": "USD", "notional": 1e7, "expiry": "2027-11-22",
                   "start": "2027-11-24", "maturity": "2032-11-24", "fixed_rate": 0.03, "payer": False,
                   "fixed_tenor": "1Y", "fixed_day_count": "30/360", "float_index": "USD-LIBOR-3M",
                   "float_tenor": "3M", "settlement": "physical", "calendar": "US", "payment_lag": 2,
                   "payment_calendar": "US", "payment_convention": "modified_following"},
    "CAP_1": {"type": "CapFloor", "currency": "USD", "index": "USD-LIBOR-3M", "notional": 1e7, "start": "2026-11-20",
              "maturity": "2031-11-20", "strike": 0.035, "cap": True, "long": False, "tenor": "3M", "fixing_days": 0,
              "fixing_calendar": "US,UK"},
    "FLOOR_PAYLAG": {"type": "CapFloor", "currency": "USD", "index": "USD-LIBOR-3M", "notional": 5e6,
                     "start": "2026-12-22", "maturity": "2029-12-24", "strike": 0.025, "cap": False, "long": True,
                     "tenor": "3M", "calendar": "US", "fixing_days": 2, "fixing_calendar": "US,UK", "payment_lag": 2,
                     "payment_calendar": "US", "payment_convention": "modified_following"},
    "EQF_1": {"type": "EquityForward", "name": "SPX", "quantity": 1000, "strike": 101.5, "maturity": "2027-11-19",
              "long": False},
    "EQO_1": {"type": "EquityOption", "name": "SPX", "quantity": 500, "strike": 95, "expiry": "2027-11-19",
              "call": False},
}
UNSUPPORTED = {
    "BOND_1": _trade("BOND_1", "Bond", "<BondData/>"),
    "SWP_ARREARS": _trade("SWP_ARREARS", "Swap", "<SwapData>" + _leg(
        "Fixed", True, "USD", [1e6], "30/360", _rules("2026-11-24", "2028-11-24", "1Y"), _fixed(0.03)) + _leg(
        "Floating", False, "USD", [1e6], "A360", _rules("2026-11-24", "2028-11-24", "3M"),
        _float("USD-LIBOR-3M").replace("<IsInArrears>false", "<IsInArrears>true")) + "</SwapData>"),
    "SWO_BERM": _trade("SWO_BERM", "Swaption", "<SwaptionData>" + _option(True, "Call", "2027-11-22").replace(
        "European", "Bermudan") + "</SwaptionData>"),
}
REASONS = {"BOND_1": "trade type 'Bond' is not supported", "SWP_ARREARS": "in-arrears",
           "SWO_BERM": "only European"}
NETTING = """<?xml version="1.0"?>
<NettingSetDefinitions>
  <NettingSet><NettingSetId>NS_A</NettingSetId><ActiveCSAFlag>true</ActiveCSAFlag>
    <CSADetails><Bilateral>CallOnly</Bilateral><CSACurrency>EUR</CSACurrency><Index>EUR-ESTER</Index>
      <ThresholdPay>2000000</ThresholdPay><ThresholdReceive>1000000</ThresholdReceive>
      <MinimumTransferAmountPay>50000</MinimumTransferAmountPay><MinimumTransferAmountReceive>25000</MinimumTransferAmountReceive>
      <IndependentAmount><IndependentAmountHeld>-300000</IndependentAmountHeld><IndependentAmountType>FIXED</IndependentAmountType></IndependentAmount>
      <MarginingFrequency><CallFrequency>1D</CallFrequency><PostFrequency>1D</PostFrequency></MarginingFrequency>
      <MarginPeriodOfRisk>2W</MarginPeriodOfRisk></CSADetails></NettingSet>
  <NettingSet><NettingSetId>NS_B</NettingSetId><ActiveCSAFlag>false</ActiveCSAFlag></NettingSet>
</NettingSetDefinitions>
"""


def _portfolio_xml(trades: dict) -> str:
    return '<?xml version="1.0"?>\n<Portfolio>\n' + "\n".join(trades.values()) + "\n</Portfolio>\n"


@pytest.fixture(scope="module")
def market():
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), OmegaConf.load(CONF / "market" / "flat.yaml"),
                         {"indices": {"USD-LIBOR-3M": {"currency": "USD", "tenor": "3M", "day_count": "ACT/360"},
                                      "EUR-EURIBOR-6M": {"currency": "EUR", "tenor": "6M", "day_count": "ACT/360"}},
                          "swaption_vols": {"USD": {"kind": "normal", "expiries": ["1Y", "10Y"], "tenors": ["1Y", "10Y"],
                                                    "vols": [[0.01, 0.01], [0.01, 0.01]]}}})
    return build_market(mc)


def _load(tmp_path, market, trades, **pc):
    px = tmp_path / "portfolio.xml"
    px.write_text(_portfolio_xml(trades))
    nx = tmp_path / "netting.xml"
    nx.write_text(NETTING)
    cfg = OmegaConf.create({"trades": "unused.yaml", "ore_xml": str(px), "netting_sets": str(nx), "fixings": None,
                            "on_error": "fail", **pc})
    return loader.load_portfolio(cfg, market, TimeGrid.build(market.asof, "1Y,2Y"))


def test_every_supported_type_maps_to_the_yaml_spec(tmp_path, market):
    p = _load(tmp_path, market, {**LINEAR, **OTHER})
    assert p.trade_ids == tuple(LINEAR) + tuple(OTHER) and not p.skipped
    ctx = loader.ParseContext(market, None, p.fixings, None)
    for spec in p.trades:
        raw = {"id": spec.id, "netting_set": spec.netting_set, "counterparty": spec.counterparty,
               **{**YAML, **YAML_OTHER}[spec.id]}
        assert TRADE_TYPES[raw["type"]].parse(raw, ctx) == spec, spec.id


def test_netting_xml_csa_terms(tmp_path, market):
    p = _load(tmp_path, market, LINEAR)
    ns = {n.id: n for n in p.netting_sets}
    assert ns["NS_A"].counterparty == "CP_A" and ns["NS_B"].counterparty == "CP_B" and ns["NS_B"].csa is None
    assert ns["NS_A"].csa == Csa(margining="cpty_posts", threshold_cpty=1e6, threshold_bank=2e6, mta_cpty=25000.0,
                                 mta_bank=50000.0, independent_amount_posted=300000.0, collateral_currency="EUR")


def test_unsupported_trades_are_listed_or_fail(tmp_path, market):
    p = _load(tmp_path, market, {**LINEAR, **UNSUPPORTED}, on_error="skip")
    assert p.trade_ids == tuple(LINEAR)
    assert [t for t, _ in p.skipped] == list(UNSUPPORTED)
    for tid, why in p.skipped:
        assert REASONS[tid] in why, why
    with pytest.raises(TradeError, match="trade 'BOND_1'"):
        _load(tmp_path, market, {**LINEAR, **UNSUPPORTED})


def test_unsafe_or_broken_xml_is_refused(tmp_path, market):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            "<Portfolio><Trade id='&lol2;'/></Portfolio>")
    px = tmp_path / "p.xml"
    for text, msg in ((bomb, "unsafe"), ("<Portfolio><Trade>", "cannot parse")):
        px.write_text(text)
        cfg = OmegaConf.create({"trades": "x", "ore_xml": str(px), "fixings": None, "on_error": "fail"})
        with pytest.raises(ConfigError, match=msg):
            loader.load_portfolio(cfg, market, TimeGrid.build(market.asof, "1Y"))


# ---- ORE itself ----------------------------------------------------------------------------------------
def _engine_npvs(portfolio, market):
    from exposure.models.build import build_model
    from exposure.pricing.linear import LinearBatch
    from exposure.pricing.linear_today import present_values
    from exposure.pricing.options import price_today

    mc = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(CONF / "model" / "flat.yaml"))
    model = build_model(market, mc, calibrate=False).model
    out = {}
    for b in portfolio.batches:
        vals = present_values(b, market, model) if isinstance(b, LinearBatch) else price_today(b, market, model)
        ids = b.ids if hasattr(b, "ids") else [s.id for s in b.specs]
        out.update(dict(zip(ids, np.asarray(vals, dtype=float))))
    return out


_ORE_CHILD = """
import sys, ORE
p = ORE.Parameters(); p.fromFile(sys.argv[1]); app = ORE.OREApp(p); app.run()
errs = list(app.getErrors())
if errs: print("\\n".join(errs), file=sys.stderr)
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ORE") is None, reason="needs open-source-risk-engine (import ORE)")
def test_imported_trades_match_ore_t0_npvs(tmp_path, market):
    from benchmarks.ore import ore_inputs as oi

    spec = oi.SideBySide()
    ore_xml = Path(oi.write_ore_inputs(tmp_path / "ore", spec, [], exposure=False))
    inp = ore_xml.parent
    (inp / "portfolio.xml").write_text(_portfolio_xml(LINEAR))
    (inp / "netting.xml").write_text(NETTING)
    # the indices' spot lag = the trades' FixingDays (2): ORE's par coupon then forwards over the accrual period
    conv = (inp / "conventions.xml").read_text()
    (inp / "conventions.xml").write_text(conv.replace("<SettlementDays>0</SettlementDays>",
                                                      "<SettlementDays>2</SettlementDays>"))
    engines = oi.pricingengine_xml().replace("</PricingEngines>", """  <Product type="FxOption">
    <Model>GarmanKohlhagen</Model><ModelParameters/><Engine>AnalyticEuropeanEngine</Engine><EngineParameters/>
  </Product>
  <Product type="CrossCurrencySwap">
    <Model>DiscountedCashflows</Model><ModelParameters/><Engine>DiscountingCrossCurrencySwapEngine</Engine>
    <EngineParameters/>
  </Product>
  <Product type="ForwardRateAgreement">
    <Model>DiscountedCashflows</Model><ModelParameters/><Engine>DiscountingForwardRateAgreementEngine</Engine>
    <EngineParameters/>
  </Product>
</PricingEngines>""")
    (inp / "pricingengine.xml").write_text(engines)
    text = ore_xml.read_text().replace('<Analytic type="curves">\n      <Parameter name="active">Y',
                                       '<Analytic type="curves">\n      <Parameter name="active">N')
    ore_xml.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", _ORE_CHILD, str(ore_xml)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=300)
    npv_csv = tmp_path / "ore" / "Output" / "npv.csv"
    assert proc.returncode == 0 and npv_csv.exists(), proc.stderr[-3000:]
    ore = pd.read_csv(npv_csv).set_index("#TradeId")["NPV(Base)"].astype(float).to_dict()
    p = _load(tmp_path, market, LINEAR)
    eng = _engine_npvs(p, market)
    assert set(ore) == set(LINEAR), (set(ore), proc.stderr[-2000:])
    print({tid: (eng[tid], ore[tid], eng[tid] / ore[tid] - 1.0) for tid in LINEAR})
    for tid in LINEAR:
        assert eng[tid] == pytest.approx(ore[tid], rel=1e-8, abs=1e-6), (tid, eng[tid], ore[tid])


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ORE") is None, reason="needs open-source-risk-engine (import ORE)")
def test_imported_netting_set_exposure_matches_ore(tmp_path):
    """One netting set of imported trades (holiday calendars, per-leg conventions, amortising, FX forward) with
    fixed model parameters: the engine's EPE profile within 4 combined standard errors of ORE's at every date."""
    import exposure
    from benchmarks.ore import compare as cp
    from benchmarks.ore import ore_inputs as oi
    from benchmarks.ore import run_ore as ro

    spec = oi.SideBySide(n_swaps=0, n_fx=0, paths=2000, grid_points=16, grid_step_months=3,
                         correlations=(("IR:USD", "IR:EUR", 0.3), ("IR:USD", "FX:EUR", -0.2)))
    ids = ("SWP_EUR_TARGET", "SWP_USD_AMORT", "FXF_1")
    trades = {k: LINEAR[k].replace("NS_B", oi.NETTING_SET).replace("NS_A", oi.NETTING_SET)
              .replace("CP_B", oi.COUNTERPARTY) for k in ids}
    ore_xml = Path(oi.write_ore_inputs(tmp_path / "ore", spec, [], paths=spec.paths, seed=11))
    inp = ore_xml.parent
    (inp / "portfolio.xml").write_text(_portfolio_xml(trades))
    conv = (inp / "conventions.xml").read_text()
    (inp / "conventions.xml").write_text(conv.replace("<SettlementDays>0</SettlementDays>",
                                                      "<SettlementDays>2</SettlementDays>"))
    ore = ro.run_ore_isolated(str(ore_xml), oi.NETTING_SET, reports=("npv", "netcube"))

    cfg = exposure.compose(oi.engine_overrides(spec, str(tmp_path / "unused.yaml"), str(tmp_path / "eng"),
                                               paths=spec.paths, seed=5))
    OmegaConf.set_struct(cfg, False)
    cfg.portfolio.ore_xml = str(inp / "portfolio.xml")
    from exposure.config.schema import IndexCurveConfig

    cfg.market.indices["USD-LIBOR-3M"] = IndexCurveConfig(currency="USD", tenor="3M", day_count="ACT/360")
    cfg.market.indices["EUR-EURIBOR-6M"] = IndexCurveConfig(currency="EUR", tenor="6M", day_count="ACT/360")
    res = exposure.run(cfg)
    ds = res.dataset
    X = np.asarray(ds["cube_exposure"].values[0], dtype=np.float64)
    eng = cp.EngineRun(0.0, 0.0, ds, dict(res.npv), ds["date"].values, X / np.asarray(ds["cube_numeraire"].values))
    t = cp.npv_table(ore, eng)
    assert len(t) == 3
    np.testing.assert_allclose(t["engine"], t["ore"], rtol=1e-8)
    p = cp.profile_table(ore, eng, spec.quantile)
    assert (p["EPE_ore"].iloc[1:] > 0).all()
    print(p[["date", "EPE_ore", "EPE_eng", "EPE_z"]].to_string())
    assert p["EPE_z"].abs().max() < 4.0, p[["date", "EPE_ore", "EPE_eng", "EPE_z"]].to_string()


def test_load_examples_script_counts_loaded_and_skipped_trades(tmp_path, market):
    """benchmarks/ore/load_examples.py on a folder laid out as ORE's Examples: per file loaded/skipped with the
    importer's reasons; a file whose every trade is skipped still lists them."""
    from benchmarks.ore import load_examples as le

    ex = tmp_path / "Examples"
    (ex / "A" / "Input").mkdir(parents=True)
    (ex / "B").mkdir()
    (ex / "A" / "Input" / "portfolio.xml").write_text(_portfolio_xml({**LINEAR, **UNSUPPORTED}))
    (ex / "B" / "portfolio_bad.xml").write_text(_portfolio_xml(UNSUPPORTED))
    (ex / "A" / "Input" / "netting.xml").write_text(NETTING)
    src = le.Source(str(ex), None, str(tmp_path))
    assert src.files(le.PORTFOLIO) == ["Examples/A/Input/portfolio.xml", "Examples/B/portfolio_bad.xml"]
    grid = TimeGrid.build(market.asof, "1Y")
    a = le.load_file(src.path("Examples/A/Input/portfolio.xml"), market, grid, None)
    b = le.load_file(src.path("Examples/B/portfolio_bad.xml"), market, grid, None)
    assert a["loaded"] == len(LINEAR) and [t for t, _ in a["skipped"]] == list(UNSUPPORTED)
    assert b["loaded"] == 0 and b["error"] is None and [t for t, _ in b["skipped"]] == list(UNSUPPORTED)
    for tid, why in b["skipped"]:
        assert REASONS[tid] in why
    text = le.summary({"files": {"a": a, "b": b}, "netting": {"n": {"sets": 2, "csas": 1, "error": None}}}, True)
    assert f"trades: {len(LINEAR) + 2 * len(UNSUPPORTED)}; loaded: {len(LINEAR)}" in text
    assert "      2: trade type 'Bond' is not supported" in text
    assert le.reason_key("<DayCounter> 'T360' on 2026-01-02: 3 legs") == "<DayCounter> 'T360' on DATE: N legs"
