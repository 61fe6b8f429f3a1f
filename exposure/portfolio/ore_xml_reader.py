"""Reading ORE XML: safe parsing (defusedxml), element text, ORE's date/day-count/convention spellings, and a
trade's legs (``_Trade.leg``: currency, payer, notionals, day count, schedule rules, fixed or floating terms).

Every problem is a TradeError naming the trade and the element (ConfigError for a file that is not XML)."""

from __future__ import annotations

import defusedxml.ElementTree as ET

from exposure.errors import ConfigError, TradeError

_CONV = {"F": "following", "FOLLOWING": "following", "MF": "modified_following",
         "MODIFIEDFOLLOWING": "modified_following", "P": "preceding", "PRECEDING": "preceding",
         "MP": "modified_preceding", "MODIFIEDPRECEDING": "modified_preceding",
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

    def payment(self, leg):
        """PaymentLag (business days: '2' or '2D'), PaymentCalendar (default: the schedule's), PaymentConvention."""
        lag = _t(leg, "PaymentLag", "0").upper()
        days = lag[:-1] if lag.endswith("D") else lag
        if not days.isdigit():
            self.fail(f"<PaymentLag> '{lag}': only a whole number of business days (e.g. 2 or 2D) is supported")
        out = {"payment_lag": int(days), "payment_calendar": None,
               "payment_convention": self.conv(_t(leg, "PaymentConvention"), "PaymentConvention")}
        pc = _t(leg, "PaymentCalendar")
        if pc is not None:
            from exposure.market.calendars import get_calendar

            try:
                out["payment_calendar"] = get_calendar(pc).name
            except ValueError as exc:
                self.fail(f"<PaymentCalendar>: {exc}")
        return out

    def leg(self, leg):
        """The common reading of a LegData: currency, payer, notionals, day count, schedule, fixed/floating."""
        kind = self.req(leg, "LegType")
        if kind not in ("Fixed", "Floating"):
            self.fail(f"<LegType> {kind}: only Fixed and Floating legs are supported")
        out = {"kind": kind, "currency": self.req(leg, "Currency"), "payer": self.flag(leg, "Payer"),
               "day_count": self.dc(leg), **self.rules(leg), **self.payment(leg)}
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
            fdays = _t(fd, "FixingDays")
            if fdays is not None and not fdays.isdigit():
                self.fail(f"<FixingDays> '{fdays}' is not a whole number of days")
            out["fixing_days"] = None if fdays is None else int(fdays)
        return out
