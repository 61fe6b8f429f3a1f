"""ORE ``portfolio.xml`` and ``netting.xml`` -> the portfolio file's trade and netting-set mappings.

Each ORE trade becomes the same raw trade mapping a YAML portfolio would hold (``examples/portfolio/README.md``),
so the loader parses and validates it with the same product parsers:

    ORE TradeType                  engine type         notes
    Swap (fixed vs floating, 1 ccy)   Swap             notionals: one, or one per fixed period (amortising);
                                                        AmortizationData FixedAmount -> amortisation.amount
    Swap (two currencies)          CrossCurrencySwap   constant notionals; exchanges from <Exchanges>
    ForwardRateAgreement, FRA      Fra
    FxForward                      FxForward           physical settlement
    FxOption                       FxOption            European; call/put on the bought currency, strike =
                                                        sold / bought amount
    Swaption                       Swaption            European, one exercise date
    CapFloor                       CapFloor            one cap or one floor rate, no spread
    EquityForward, EquityOption    EquityForward, EquityOption (European)

Conventions carried over: schedule start/end/tenor, calendar (``exposure.market.calendars`` names; ORE's
spellings), business-day convention, day counts, index, spreads, payer/long flags. ORE features the engine does
not represent make the trade unsupported (TradeError naming the trade and the element): explicit schedule dates,
a rule other than Backward (Forward is accepted when it gives the Backward dates: no stub), end of month, in-arrears or capped/floored coupons, step-up rates, a payment lag.
``FixingDays`` is read but not applied: the engine fixes IBOR coupons on the accrual start (README). The envelope's CounterParty and NettingSetId become ``counterparty`` and ``netting_set``.

netting.xml: NettingSetId, ActiveCSAFlag, CSADetails (Bilateral: Bilateral -> two_way, CallOnly -> cpty_posts,
PostOnly -> bank_posts; ThresholdPay/Receive -> threshold_bank/_cpty; MinimumTransferAmountPay/Receive ->
mta_bank/_cpty; IndependentAmountHeld > 0 held, < 0 posted; CSACurrency -> collateral_currency). The margin
period of risk is the run's ``simulation.mpor``; MarginingFrequency is the simulation grid. XML is parsed with
defusedxml (no entity expansion, no external references).
"""

from __future__ import annotations

import defusedxml.ElementTree as ET

from exposure.errors import ConfigError, TradeError

SUPPORTED = ("Swap", "ForwardRateAgreement", "FRA", "FxForward", "FxOption", "Swaption", "CapFloor",
             "EquityForward", "EquityOption")
_CONV = {"F": "following", "FOLLOWING": "following", "MF": "modified_following", "MODIFIEDFOLLOWING": "modified_following",
         "P": "preceding", "PRECEDING": "preceding", "MP": "modified_preceding", "MODIFIEDPRECEDING": "modified_preceding",
         "U": "unadjusted", "UNADJUSTED": "unadjusted", "NONE": "unadjusted"}
_DC = {"A360": "ACT/360", "ACT/360": "ACT/360", "ACTUAL/360": "ACT/360", "ACT360": "ACT/360",
       "A365": "ACT/365F", "A365F": "ACT/365F", "ACT/365": "ACT/365F", "ACT/365(FIXED)": "ACT/365F",
       "ACTUAL/365(FIXED)": "ACT/365F", "ACT/365F": "ACT/365F", "ACT365": "ACT/365F",
       "30/360": "30/360", "30/360(BONDBASIS)": "30/360", "30/360BONDBASIS": "30/360", "30/360US": "30/360",
       "ACT/ACT": "ACT/ACT", "ACTACT": "ACT/ACT", "ACT/ACT(ISDA)": "ACT/ACT", "ACTUAL/ACTUAL(ISDA)": "ACT/ACT",
       "ACTACTISDA": "ACT/ACT", "ACT/ACTISDA": "ACT/ACT"}


def _parse(path: str, what: str):
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ConfigError(what, f"cannot parse ORE XML: {exc}", source=path) from None
    except Exception as exc:  # defusedxml's DTD/entity refusals
        raise ConfigError(what, f"refused unsafe XML: {exc}", source=path) from None


def _t(node, tag, default=None):
    """Stripped text of the first ``tag`` under ``node`` (a path like 'A/B'), else default."""
    if node is None:
        return default
    e = node.find(tag)
    if e is None or e.text is None or not e.text.strip():
        return default
    return e.text.strip()


def _iso(v: str) -> str:
    """ORE's date spellings as ISO: YYYYMMDD, DD/MM/YYYY, YYYY-MM-DD (a tenor is left as it is)."""
    v = v.strip()
    if len(v) == 8 and v.isdigit():
        return f"{v[:4]}-{v[4:6]}-{v[6:8]}"
    if len(v) == 10 and v[2] == "/" and v[5] == "/":
        return f"{v[6:]}-{v[3:5]}-{v[:2]}"
    return v


def _all(node, tag):
    return [e.text.strip() for e in node.findall(tag) if e.text and e.text.strip()]


class _Trade:
    def __init__(self, node, source):
        self.node, self.source = node, source
        self.id = node.get("id") or "?"

    def fail(self, msg):
        raise TradeError(self.id, msg, source=self.source)

    def req(self, node, tag):
        v = _t(node, tag)
        if v is None:
            self.fail(f"missing <{tag}>")
        return v

    def num(self, node, tag, default=None):
        v = _t(node, tag)
        if v is None:
            if default is None:
                self.fail(f"missing <{tag}>")
            return default
        try:
            return float(v)
        except ValueError:
            self.fail(f"<{tag}>: '{v}' is not a number")

    def flag(self, node, tag, default=False):
        v = _t(node, tag)
        if v is None:
            return default
        if v.lower() in ("true", "y", "yes", "1"):
            return True
        if v.lower() in ("false", "n", "no", "0"):
            return False
        self.fail(f"<{tag}>: '{v}' is not a boolean")

    def date(self, node, tag):
        return _iso(self.req(node, tag))

    def dc(self, node, tag="DayCounter"):
        v = self.req(node, tag)
        k = v.upper().replace(" ", "")
        if k not in _DC:
            self.fail(f"<{tag}>: day counter '{v}' is not supported (ACT/360, ACT/365F, 30/360, ACT/ACT ISDA)")
        return _DC[k]

    def conv(self, v, tag):
        k = (v or "F").upper().replace(" ", "")
        if k not in _CONV:
            self.fail(f"<{tag}>: business-day convention '{v}' is not supported")
        return _CONV[k]

    def long(self, node, tag="LongShort"):
        v = (_t(node, tag) or "Long").lower()
        if v not in ("long", "short"):
            self.fail(f"<{tag}>: '{v}' (Long or Short)")
        return v == "long"

    # -- legs -----------------------------------------------------------------------------------------------

    def rules(self, leg):
        sd = leg.find("ScheduleData")
        if sd is None:
            self.fail("a leg has no <ScheduleData>")
        if sd.find("Dates") is not None or len(sd.findall("Rules")) != 1:
            self.fail("explicit schedule <Dates> (or several <Rules>) are not supported: give one <Rules> block")
        r = sd.find("Rules")
        rule = (_t(r, "Rule") or "Backward").lower()
        if rule not in ("backward", "forward"):
            self.fail(f"schedule <Rule> {rule}: only Backward (or Forward without a stub) is supported")
        if self.flag(r, "EndOfMonth"):
            self.fail("schedule <EndOfMonth> true is not supported")
        conv = self.conv(_t(r, "Convention"), "Convention")
        term = self.conv(_t(r, "TermConvention", _t(r, "Convention")), "TermConvention")
        if term != conv:
            self.fail(f"<TermConvention> {term} differs from <Convention> {conv}: not supported")
        from exposure.market.calendars import get_calendar

        cal = _t(r, "Calendar", "WeekendsOnly")
        try:
            cal = get_calendar(cal).name  # one spelling per calendar: ORE's 'EUR' is 'TARGET'
        except ValueError as exc:
            self.fail(f"<Calendar>: {exc}")
        out = {"start": self.date(r, "StartDate"), "maturity": self.date(r, "EndDate"), "tenor": self.req(r, "Tenor"),
               "calendar": cal, "convention": conv}
        if rule == "forward" and not self._same_as_backward(out):
            self.fail("schedule <Rule> Forward with a stub period: only Backward (or Forward without a stub) "
                      "is supported")
        return out

    def _same_as_backward(self, r) -> bool:
        """A Forward schedule without a stub has the Backward schedule's dates."""
        import datetime as dt

        from exposure.market.calendars import get_calendar
        from exposure.market.schedule import make_schedule

        try:
            cal = get_calendar(r["calendar"])
            s, e = dt.date.fromisoformat(r["start"]), dt.date.fromisoformat(r["maturity"])
            f = make_schedule(s, e, r["tenor"], r["convention"], "forward", cal)
            b = make_schedule(s, e, r["tenor"], r["convention"], "backward", cal)
        except ValueError as exc:
            self.fail(f"schedule: {exc}")
        return f.dates == b.dates

    def leg(self, leg):
        """The common reading of a LegData: currency, payer, notionals, day count, schedule, fixed/floating."""
        kind = self.req(leg, "LegType")
        if kind not in ("Fixed", "Floating"):
            self.fail(f"<LegType> {kind}: only Fixed and Floating legs are supported")
        lag = _t(leg, "PaymentLag", "0")
        if lag not in ("0", "0D"):
            self.fail(f"<PaymentLag> {lag}: payment lags are not supported")
        out = {"kind": kind, "currency": self.req(leg, "Currency"), "payer": self.flag(leg, "Payer"),
               "day_count": self.dc(leg), **self.rules(leg)}
        nots = leg.find("Notionals")
        values = [float(x) for x in _all(nots, "Notional")] if nots is not None else []
        if not values:
            self.fail("a leg has no <Notionals><Notional>")
        out["notionals"] = values
        ex = nots.find("Exchanges") if nots is not None else None
        out["initial_exchange"] = self.flag(ex, "NotionalInitialExchange") if ex is not None else False
        out["final_exchange"] = self.flag(ex, "NotionalFinalExchange") if ex is not None else False
        amort = leg.find("Amortizations")
        out["amortisation"] = None
        if amort is not None and amort.find("AmortizationData") is not None:
            a = amort.find("AmortizationData")
            if (_t(a, "Type") or "") != "FixedAmount" or len(values) != 1:
                self.fail("<Amortizations>: only one FixedAmount amortisation on a single notional is supported")
            out["amortisation"] = {"amount": self.num(a, "Value")}
        if kind == "Fixed":
            rates = _all(leg, "FixedLegData/Rates/Rate")
            if len(rates) != 1:
                self.fail(f"<FixedLegData><Rates>: {len(rates)} rates; exactly one (no step-ups) is supported")
            out["fixed_rate"] = float(rates[0])
        else:
            fd = leg.find("FloatingLegData")
            out["index"] = self.req(fd, "Index")
            spreads = _all(fd, "Spreads/Spread") or ["0"]
            if len(spreads) != 1:
                self.fail("<FloatingLegData><Spreads>: one spread (no step-ups) is supported")
            out["spread"] = float(spreads[0])
            if self.flag(fd, "IsInArrears"):
                self.fail("in-arrears floating coupons are not supported")
            for tag in ("Caps", "Floors", "Gearings"):
                if fd.find(tag) is not None and _all(fd, f"{tag}/*"):
                    self.fail(f"<FloatingLegData><{tag}> on a swap leg is not supported")
            out["fixing_days"] = _t(fd, "FixingDays")
        return out


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
    if fx["amortisation"]:
        raw["amortisation"] = fx["amortisation"]
    return raw


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
        settle = (_t(od, "Settlement") or "Physical").lower()
        raw.update({"type": "Swaption", "currency": fx["currency"], "notional": fx["notionals"][0], "expiry": expiry,
                    "maturity": fx["maturity"], "fixed_rate": fx["fixed_rate"], "payer": fx["payer"],
                    "fixed_tenor": fx["tenor"], "fixed_day_count": fx["day_count"], "float_index": fl["index"],
                    "float_tenor": fl["tenor"], "settlement": "cash" if settle == "cash" else "physical",
                    "long": tr.long(od)})
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
                    "tenor": leg["tenor"]})
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


_MARGINING = {"bilateral": "two_way", "callonly": "cpty_posts", "postonly": "bank_posts"}


def read_netting(path: str) -> dict:
    """netting set id -> {csa: {...}} (the portfolio file's netting-set mapping) from an ORE netting.xml."""
    root = _parse(path, "portfolio.netting_sets")
    out = {}
    for ns in root.iter("NettingSet"):
        nid = _t(ns, "NettingSetId")
        if nid is None:
            raise ConfigError("NettingSet", "missing <NettingSetId>", source=path)
        key = f"netting_sets.{nid}"
        entry: dict = {}
        if (_t(ns, "ActiveCSAFlag") or "false").lower() == "true":
            c = ns.find("CSADetails")
            if c is None:
                raise ConfigError(f"{key}.CSADetails", "ActiveCSAFlag is true but <CSADetails> is missing", source=path)
            m = (_t(c, "Bilateral") or "Bilateral").lower()
            if m not in _MARGINING:
                raise ConfigError(f"{key}.Bilateral", f"'{m}' (Bilateral, CallOnly or PostOnly)", source=path)

            def num(tag, default=0.0):
                v = _t(c, tag)
                try:
                    return default if v is None else float(v)
                except ValueError:
                    raise ConfigError(f"{key}.{tag}", f"'{v}' is not a number", source=path) from None

            ia = num("IndependentAmount/IndependentAmountHeld")
            csa = {"margining": _MARGINING[m], "threshold_bank": num("ThresholdPay"),
                   "threshold_cpty": num("ThresholdReceive"), "mta_bank": num("MinimumTransferAmountPay"),
                   "mta_cpty": num("MinimumTransferAmountReceive"),
                   "independent_amount_held": max(ia, 0.0), "independent_amount_posted": max(-ia, 0.0)}
            if _t(c, "CSACurrency"):
                csa["collateral_currency"] = _t(c, "CSACurrency")
            entry["csa"] = csa
        out[nid] = entry
    return out
