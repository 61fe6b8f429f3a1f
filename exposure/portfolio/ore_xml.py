"""ORE ``portfolio.xml`` and ``netting.xml`` -> the portfolio file's trade and netting-set mappings.

Each ORE trade becomes the same raw trade mapping a YAML portfolio would hold (``examples/portfolio/README.md``),
so the loader parses and validates it with the same product parsers:

    ORE TradeType                  engine type         notes
    Swap (fixed vs floating, 1 ccy)   Swap             notionals: one, or one per fixed period (amortising);
                                                        AmortizationData FixedAmount -> amortisation.amount
    Swap (two currencies)          CrossCurrencySwap   constant notionals; exchanges from <Exchanges>;
                                                        FixingDays of a floating leg -> its fixing_days;
                                                        each leg's PaymentLag -> its payment_lag
    ForwardRateAgreement, FRA      Fra
    FxForward                      FxForward           physical settlement
    FxOption                       FxOption            European; call/put on the bought currency, strike =
                                                        sold / bought amount
    Swaption                       Swaption            European, one exercise date; the underlying starts
                                                        on its legs' StartDate (expiry + spot lag); its
                                                        PaymentLag -> payment_lag
    CapFloor                       CapFloor            one cap or one floor rate, no spread; FixingDays ->
                                                        fixing_days; PaymentLag -> payment_lag
    EquityForward, EquityOption    EquityForward, EquityOption (European)

Conventions carried over: schedule start/end/tenor, calendar (``exposure.market.calendars`` names; ORE's
spellings), business-day convention, day counts, index, spreads, payer/long flags. ORE features the engine does
not represent make the trade unsupported (TradeError naming the trade and the element): explicit schedule dates,
a rule other than Backward (Forward is accepted when it gives the Backward dates: no stub), end of month,
in-arrears or capped/floored coupons, step-up rates, different payment lags on the two legs of a single-currency
Swap or a Swaption's underlying (PaymentLag/PaymentCalendar/PaymentConvention -> payment_lag/payment_calendar/
payment_convention on a Swap, a cross-currency Swap's legs, a CapFloor and a Swaption).
``FixingDays`` (default: the index convention's) becomes ``fixing_days`` on the index's fixing calendar (Swap,
cross-currency and CapFloor legs). The envelope's CounterParty and NettingSetId become ``counterparty`` and
``netting_set``.

netting.xml: ``exposure.portfolio.ore_netting``. XML is parsed with defusedxml (no entity expansion, no external
references).
"""

from __future__ import annotations

from exposure.errors import ConfigError, TradeError
from exposure.portfolio.ore_xml_reader import _all, _iso, _parse, _t, _Trade

SUPPORTED = ("Swap", "ForwardRateAgreement", "FRA", "FxForward", "FxOption", "Swaption", "CapFloor",
             "EquityForward", "EquityOption")
def _swap_legs(tr, data):
    legs = [tr.leg(x) for x in data.findall("LegData")]
    if len(legs) != 2:
        tr.fail(f"{len(legs)} legs: exactly two are supported")
    return legs


def _swap(tr, data, raw):
    a, b = _swap_legs(tr, data)
    same = lambda k: a[k] == b[k]  # noqa: E731
    if not (same("start") and same("maturity")):
        tr.fail("the two legs have different start or end dates")
    if not same("calendar"):
        tr.fail("the two legs have different calendars")
    if a["currency"] != b["currency"]:
        if not same("convention"):
            tr.fail("the two legs of a cross-currency swap have different business-day conventions")
        return _xccy(tr, a, b, raw)
    kinds = {a["kind"], b["kind"]}
    if kinds != {"Fixed", "Floating"}:
        tr.fail(f"a single-currency {' vs '.join(sorted(kinds))} swap: only fixed vs floating is supported")
    fx, fl = (a, b) if a["kind"] == "Fixed" else (b, a)
    if fx["payer"] == fl["payer"]:
        tr.fail("both legs have the same <Payer>")
    if fx["initial_exchange"] or fx["final_exchange"]:
        tr.fail("notional exchanges on a single-currency swap are not supported")
    notional = fx["notionals"][0] if len(fx["notionals"]) == 1 else fx["notionals"]
    raw.update({"type": "Swap", "currency": fx["currency"], "notional": notional, "start": fx["start"],
                "maturity": fx["maturity"], "fixed_rate": fx["fixed_rate"], "payer": fx["payer"],
                "fixed_tenor": fx["tenor"], "fixed_day_count": fx["day_count"], "float_index": fl["index"],
                "float_tenor": fl["tenor"], "float_day_count": fl["day_count"], "spread": fl["spread"],
                "convention": fx["convention"], "calendar": fx["calendar"]})
    if fl["convention"] != fx["convention"]:
        raw["float_convention"] = fl["convention"]
    _fixing_lag(raw, fl)
    _payment_lag(tr, raw, fx, fl)
    if fx["amortisation"]:
        raw["amortisation"] = fx["amortisation"]
    return raw


def _payment_lag(tr, raw, a, b):
    """PaymentLag / PaymentCalendar / PaymentConvention of a Swap's legs (they must agree) -> payment_*."""
    def key(leg):
        return leg["payment_lag"], leg["payment_calendar"] or leg["calendar"], leg["payment_convention"]

    if a["payment_lag"] == 0 and b["payment_lag"] == 0 and a["payment_calendar"] is None \
            and b["payment_calendar"] is None:
        return
    if key(a) != key(b):
        tr.fail("the two legs have different <PaymentLag>, <PaymentCalendar> or <PaymentConvention>: not supported")
    raw.update({"payment_lag": a["payment_lag"], "payment_calendar": key(a)[1], "payment_convention": key(a)[2]})


def _leg_payment_lag(d, leg):
    """One leg's PaymentLag / PaymentCalendar (default: the schedule's) / PaymentConvention -> payment_*."""
    if leg["payment_lag"] or leg["payment_calendar"] is not None:
        d.update({"payment_lag": leg["payment_lag"], "payment_calendar": leg["payment_calendar"] or leg["calendar"],
                  "payment_convention": leg["payment_convention"]})


def _fixing_lag(raw, leg):
    """FixingDays (default: the index convention's) on the index's fixing calendar (default: the leg's)."""
    from exposure.market.conventions import DEFAULT_INDICES

    conv = DEFAULT_INDICES.get(leg["index"])
    days = leg["fixing_days"] if leg["fixing_days"] is not None else (conv[2] if conv else 0)
    if str(leg["index"]).upper().endswith(("-1D", "ON")) or (conv and conv[1] == "1D"):
        return  # overnight legs compound daily: no fixing lag
    raw["fixing_days"] = int(days)
    raw["fixing_calendar"] = conv[3] if conv else leg["calendar"]


def _xccy(tr, a, b, raw):
    pay, rec = (a, b) if a["payer"] else (b, a)
    if pay["payer"] == rec["payer"]:
        tr.fail("both legs have the same <Payer>")
    out_legs = {}
    for key, leg in (("pay_leg", pay), ("receive_leg", rec)):
        if len(leg["notionals"]) != 1 or leg["amortisation"]:
            tr.fail("cross-currency swaps with varying notionals (or resets) are not supported")
        d = {"currency": leg["currency"], "notional": leg["notionals"][0], "tenor": leg["tenor"],
             "day_count": leg["day_count"]}
        if leg["kind"] == "Fixed":
            d["fixed_rate"] = leg["fixed_rate"]
        else:
            d.update({"float_index": leg["index"], "spread": leg["spread"]})
            _fixing_lag(d, leg)
        _leg_payment_lag(d, leg)  # each leg its own, as in ORE
        out_legs[key] = d
    if pay["initial_exchange"] != rec["initial_exchange"] or pay["final_exchange"] != rec["final_exchange"]:
        tr.fail("the legs' notional exchanges differ")
    raw.update({"type": "CrossCurrencySwap", "start": a["start"], "maturity": a["maturity"],
                "convention": a["convention"], "calendar": a["calendar"], **out_legs,
                "initial_exchange": pay["initial_exchange"], "final_exchange": pay["final_exchange"]})
    return raw


def _option(tr, data):
    od = data.find("OptionData")
    if od is None:
        tr.fail("missing <OptionData>")
    style = (_t(od, "Style") or "European").lower()
    if style != "european":
        tr.fail(f"option <Style> {style}: only European is supported")
    dates = _all(od, "ExerciseDates/ExerciseDate")
    if len(dates) != 1:
        tr.fail(f"{len(dates)} <ExerciseDate>s: exactly one is supported")
    return od, _iso(dates[0])


def _equity_name(tr, data):
    return _t(data, "Name") or _t(data, "Underlying/Name") or tr.fail("missing <Name> (or <Underlying><Name>)")


def convert_trade(node, source: str | None = None) -> dict:
    """The engine's raw trade mapping of one ORE <Trade> element; TradeError if it is not supported."""
    tr = _Trade(node, source)
    ttype = _t(node, "TradeType")
    env = node.find("Envelope")
    raw = {"id": tr.id}
    if _t(env, "NettingSetId"):
        raw["netting_set"] = _t(env, "NettingSetId")
    if _t(env, "CounterParty"):
        raw["counterparty"] = _t(env, "CounterParty")
    if ttype not in SUPPORTED:
        tr.fail(f"trade type '{ttype}' is not supported (supported: {', '.join(SUPPORTED)})")
    data = node.find(f"{'ForwardRateAgreement' if ttype == 'FRA' else ttype}Data")
    if data is None:
        tr.fail(f"missing <{ttype}Data>")
    if ttype == "Swap":
        return _swap(tr, data, raw)
    if ttype in ("ForwardRateAgreement", "FRA"):
        raw.update({"type": "Fra", "float_index": tr.req(data, "Index"), "currency": tr.req(data, "Currency"),
                    "notional": tr.num(data, "Notional"), "start": tr.date(data, "StartDate"),
                    "end": tr.date(data, "EndDate"), "fixed_rate": tr.num(data, "Strike"), "long": tr.long(data)})
        return raw
    if ttype == "FxForward":
        if (_t(data, "Settlement") or "Physical").lower() != "physical":
            tr.fail("cash-settled FX forwards are not supported")
        raw.update({"type": "FxForward", "maturity": tr.date(data, "ValueDate"),
                    "buy_currency": tr.req(data, "BoughtCurrency"), "buy_amount": tr.num(data, "BoughtAmount"),
                    "sell_currency": tr.req(data, "SoldCurrency"), "sell_amount": tr.num(data, "SoldAmount")})
        return raw
    if ttype == "FxOption":
        od, expiry = _option(tr, data)
        bought, sold = tr.num(data, "BoughtAmount"), tr.num(data, "SoldAmount")
        raw.update({"type": "FxOption", "foreign_currency": tr.req(data, "BoughtCurrency"),
                    "domestic_currency": tr.req(data, "SoldCurrency"), "notional": bought, "strike": sold / bought,
                    "expiry": expiry, "call": tr.req(od, "OptionType").lower() == "call", "long": tr.long(od)})
        return raw
    if ttype == "Swaption":
        od, expiry = _option(tr, data)
        a, b = _swap_legs(tr, data)
        if {a["kind"], b["kind"]} != {"Fixed", "Floating"} or a["currency"] != b["currency"]:
            tr.fail("a swaption's underlying must be a single-currency fixed vs floating swap")
        fx, fl = (a, b) if a["kind"] == "Fixed" else (b, a)
        if len(fx["notionals"]) != 1:
            tr.fail("swaptions on amortising swaps are not supported")
        if not (fx["start"] == fl["start"] and fx["maturity"] == fl["maturity"]):
            tr.fail("the underlying's two legs have different start or end dates")
        if fx["calendar"] != fl["calendar"]:
            tr.fail("the underlying's two legs have different calendars")
        settle = (_t(od, "Settlement") or "Physical").lower()
        # The underlying starts on its legs' StartDate (typically the expiry plus the spot lag), as in ORE.
        raw.update({"type": "Swaption", "currency": fx["currency"], "notional": fx["notionals"][0], "expiry": expiry,
                    "start": fx["start"], "maturity": fx["maturity"], "fixed_rate": fx["fixed_rate"],
                    "payer": fx["payer"], "fixed_tenor": fx["tenor"], "fixed_day_count": fx["day_count"],
                    "float_index": fl["index"], "float_tenor": fl["tenor"],
                    "settlement": "cash" if settle == "cash" else "physical", "long": tr.long(od),
                    "calendar": fx["calendar"], "convention": fx["convention"]})
        if fl["convention"] != fx["convention"]:
            raw["float_convention"] = fl["convention"]
        _payment_lag(tr, raw, fx, fl)  # the underlying's PaymentLag, equal on both legs
        return raw
    if ttype == "CapFloor":
        legs = data.findall("LegData")
        if len(legs) != 1:
            tr.fail("a CapFloor needs exactly one <LegData>")
        leg = tr.leg(legs[0])
        caps, floors = _all(data, "Caps/Cap"), _all(data, "Floors/Floor")
        if leg["kind"] != "Floating" or len(caps) + len(floors) != 1:
            tr.fail("only a floating leg with one cap rate or one floor rate (no collar) is supported")
        if leg["spread"] != 0.0 or len(leg["notionals"]) != 1:
            tr.fail("cap/floor with a spread or varying notionals is not supported")
        raw.update({"type": "CapFloor", "currency": leg["currency"], "index": leg["index"],
                    "notional": leg["notionals"][0], "start": leg["start"], "maturity": leg["maturity"],
                    "strike": float((caps or floors)[0]), "cap": bool(caps), "long": tr.long(data),
                    "tenor": leg["tenor"], "calendar": leg["calendar"], "convention": leg["convention"]})
        _leg_payment_lag(raw, leg)
        _fixing_lag(raw, leg)
        return raw
    if ttype == "EquityForward":
        raw.update({"type": "EquityForward", "name": _equity_name(tr, data), "quantity": tr.num(data, "Quantity"),
                    "strike": tr.num(data, "Strike"), "maturity": tr.date(data, "Maturity"), "long": tr.long(data)})
        return raw
    od, expiry = _option(tr, data)
    strike = _t(data, "Strike") or _t(data, "StrikeData/Value") or _t(data, "StrikeData/StrikePrice/Value")
    if strike is None:
        tr.fail("missing <Strike>")
    raw.update({"type": "EquityOption", "name": _equity_name(tr, data), "quantity": tr.num(data, "Quantity"),
                "strike": float(strike), "expiry": expiry, "call": tr.req(od, "OptionType").lower() == "call",
                "long": tr.long(od)})
    return raw


def read_portfolio(path: str) -> list:
    """[(trade id, raw mapping or TradeError)] for every <Trade> of an ORE portfolio.xml, in file order."""
    root = _parse(path, "portfolio.ore_xml")
    if root.tag != "Portfolio":
        raise ConfigError("portfolio.ore_xml", f"root element <{root.tag}>, expected <Portfolio>", source=path)
    out = []
    for node in root.findall("Trade"):
        try:
            out.append((node.get("id") or "?", convert_trade(node, path)))
        except TradeError as exc:
            out.append((node.get("id") or "?", exc))
    return out


def read_netting(path: str) -> dict:
    """See ``exposure.portfolio.ore_netting.read_netting``."""
    from exposure.portfolio.ore_netting import read_netting as _read

    return _read(path)
