"""Property-based fuzzing of the ORE input readers: portfolio.xml, netting.xml and market.txt.

Whatever the file holds (malformed XML, unknown or missing elements, nonsense values, garbage quote lines), the
reader either returns its result or raises an ExposureError (ConfigError / TradeError / MarketDataError naming
the file and what is wrong), never another exception. A trade that cannot be converted is returned as its
TradeError (so ``portfolio.on_error`` can skip it), never raised as something else.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.errors import ExposureError
from exposure.market.ore_market import market_from_ore, read_quotes
from exposure.portfolio.ore_xml import read_netting, read_portfolio

TEXT = st.one_of(st.sampled_from(["USD", "EUR", "GBP", "XYZ", "2027-01-15", "20270115", "15/01/2027", "1Y", "6M",
                                  "-3M", "0", "1e12", "-5", "nan", "inf", "true", "false", "Payer", "Receiver",
                                  "Fixed", "Floating", "USD-LIBOR-3M", "EUR-EURIBOR-6M", "TARGET", "A360", "MF",
                                  "Long", "Short", "Call", "Put", "European", "Cash", "Physical", ""]),
                 st.text(max_size=12))
TAGS = ["TradeType", "Envelope", "CounterParty", "NettingSetId", "SwapData", "LegData", "LegType", "Payer",
        "Currency", "Notionals", "Notional", "ScheduleData", "Rules", "StartDate", "EndDate", "Tenor", "Calendar",
        "Convention", "FixedLegData", "Rates", "Rate", "FloatingLegData", "Index", "FixingDays", "DayCounter",
        "FxForwardData", "ValueDate", "BoughtCurrency", "BoughtAmount", "SoldCurrency", "SoldAmount", "FxOptionData",
        "OptionData", "LongShort", "OptionType", "Style", "Settlement", "ExerciseDates", "ExerciseDate",
        "StrikePrice", "SwaptionData", "CapFloorData", "Caps", "Floors", "Cap", "EquityOptionData", "Name",
        "Quantity", "Strike"]


def _node(depth: int):
    leaf = st.tuples(st.sampled_from(TAGS), TEXT).map(lambda t: f"<{t[0]}>{escape(t[1])}</{t[0]}>")
    if depth == 0:
        return leaf
    inner = st.lists(_node(depth - 1), max_size=4).map("".join)
    return st.one_of(leaf, st.tuples(st.sampled_from(TAGS), inner).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"))


TRADE_XML = st.tuples(st.sampled_from(["Swap", "FxForward", "FxOption", "Swaption", "CapFloor", "EquityOption",
                                       "EquityForward", "ForwardRateAgreement", "Bond", ""]),
                      st.lists(_node(3), max_size=5).map("".join)).map(
    lambda t: f'<Trade id="T1"><TradeType>{t[0]}</TradeType>{t[1]}</Trade>')
DOC = st.one_of(st.lists(TRADE_XML, max_size=3).map(lambda ts: "<Portfolio>" + "".join(ts) + "</Portfolio>"),
                st.text(max_size=60), st.just("<Portfolio><Trade"), st.just("<NotAPortfolio/>"))
NETTING = st.one_of(
    st.lists(_node(3), max_size=4).map(lambda ns: "<NettingSetDefinitions><NettingSet>" + "".join(ns)
                                       + "</NettingSet></NettingSetDefinitions>"),
    st.text(max_size=60))
QUOTE_LINE = st.one_of(
    st.tuples(st.sampled_from(["2026-11-20", "20261120", "2026-13-01", "x"]),
              st.sampled_from(["MM/RATE/USD/2D/3M", "IR_SWAP/RATE/EUR/2D/6M/10Y", "FX/RATE/EUR/USD",
                               "FX_OPTION/RATE_LNVOL/EUR/USD/1Y/ATM/AtmFwd", "ZERO/RATE/USD/A365/5Y",
                               "CDS/CREDIT_SPREAD/CP_A/SNRFOR/USD/5Y", "RECOVERY_RATE/RATE/CP_A/SNRFOR/USD",
                               "SWAPTION/RATE_NVOL/USD/1Y/5Y/ATM", "EQUITY/PRICE/SPX/USD", "BOGUS/QUOTE"]),
              st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), TEXT)).map(" ".join),
    st.text(max_size=40))


def _write(text: str, name: str) -> str:
    d = Path(tempfile.mkdtemp(prefix="fuzz_ore_"))
    p = d / name
    p.write_text(text, encoding="utf-8", errors="surrogatepass")  # lone surrogates: a file that is not UTF-8
    return str(p)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOC)
def test_portfolio_xml_is_read_or_refused_with_a_named_error(doc):
    try:
        trades = read_portfolio(_write(doc, "portfolio.xml"))
    except ExposureError:
        return
    for tid, item in trades:
        assert isinstance(tid, str)
        assert isinstance(item, (dict, ExposureError)), item


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NETTING)
def test_netting_xml_is_read_or_refused_with_a_named_error(doc):
    try:
        read_netting(_write(doc, "netting.xml"))
    except ExposureError:
        pass


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(QUOTE_LINE, max_size=8))
def test_ore_market_file_is_read_or_refused_with_a_named_error(lines):
    path = _write("\n".join(lines) + "\n", "market.txt")
    try:
        read_quotes(path)
        market_from_ore(path, dt.date(2026, 11, 20), "USD")
    except ExposureError:
        pass
