"""ORE ``conventions.xml`` (and which quote uses which convention, from ``curveconfig.xml``) for the ORE market import.

Read (other convention types are ignored; ``Deposit``/``FRA`` conventions that are ``IndexBased`` follow the index):

    <Swap>            Id, Index, FixedFrequency, FixedDayCounter, FixedConvention, FixedCalendar
                      -> a swap instrument's fixed_tenor, fixed_day_count, convention, calendar
    <OIS>             Id, Index, SpotLag, PaymentLag, FixedFrequency, FixedDayCounter, FixedConvention, EOM
                      -> an ois instrument's settlement_days, payment_lag, fixed_tenor, fixed_day_count,
                         convention, end_of_month
    <IborIndex>       Id (the index name CCY-NAME-TENOR), FixingCalendar, DayCounter, SettlementDays,
                      BusinessDayConvention, EndOfMonth -> ``market.curve_inputs.conventions[Id]``
    <OvernightIndex>  Id (CCY-NAME), FixingCalendar, DayCounter, SettlementDays -> the same, tenor 1D

A quote's convention: the ``<Conventions>`` of the curveconfig.xml segment listing the quote, when a curveconfig
is given and lists it; otherwise the only Swap (OIS) convention on the instrument's index (none, or several with
no curveconfig to choose: the per-index defaults of ``exposure.market.conventions`` stay). Frequencies: Annual
1Y, Semiannual 6M, Quarterly 3M, Bimonthly 2M, Monthly 1M, Weekly 1W, or a tenor. Day counters and business-day
conventions take ORE's spellings (A360, A365, 30/360, ACT/ACT; F, MF, P, MP, U). XML is parsed with defusedxml.
A bad file or element is a MarketDataError naming the file and the convention.
"""

from __future__ import annotations

import dataclasses

from exposure.errors import MarketDataError

_FREQ = {"ANNUAL": "1Y", "SEMIANNUAL": "6M", "QUARTERLY": "3M", "BIMONTHLY": "2M", "MONTHLY": "1M", "WEEKLY": "1W",
         "DAILY": "1D"}
_CONV = {"F": "following", "FOLLOWING": "following", "MF": "modified_following",
         "MODIFIEDFOLLOWING": "modified_following", "P": "preceding", "PRECEDING": "preceding",
         "MP": "modified_preceding", "MODIFIEDPRECEDING": "modified_preceding", "U": "unadjusted",
         "UNADJUSTED": "unadjusted"}
_DC = {"A360": "ACT/360", "ACT/360": "ACT/360", "ACTUAL/360": "ACT/360", "A365": "ACT/365F", "A365F": "ACT/365F",
       "ACT/365": "ACT/365F", "ACT/365F": "ACT/365F", "ACTUAL/365(FIXED)": "ACT/365F", "ACT/365(FIXED)": "ACT/365F",
       "30/360": "30/360", "30/360(BONDBASIS)": "30/360", "30/360US": "30/360", "ACT/ACT": "ACT/ACT",
       "ACT/ACT(ISDA)": "ACT/ACT", "ACTUAL/ACTUAL(ISDA)": "ACT/ACT", "ACTACT": "ACT/ACT"}


@dataclasses.dataclass(frozen=True)
class OreConventions:
    """swaps / ois: convention id -> (index, instrument override fields); indices: index name -> convention
    fields (``IndexConventionConfig``); quote_conventions: upper-case quote key -> convention id."""

    swaps: dict
    ois: dict
    indices: dict
    quote_conventions: dict
    broken: dict = dataclasses.field(default_factory=dict)  # id -> (index or None, the error): raised when used

    def fields(self, kind: str, index: str, quote_key: str) -> dict:
        """Override fields of one instrument (``kind`` 'swap' or 'ois') on ``index`` quoted as ``quote_key``;
        MarketDataError if the convention it uses could not be read."""
        table = self.swaps if kind == "swap" else self.ois
        cid = self.quote_conventions.get(quote_key.upper())
        if cid is None:
            hits = [k for k, (ix, _) in table.items() if ix == index] + \
                [k for k, (ix, _) in self.broken.items() if ix == index]
            cid = hits[0] if len(hits) == 1 else None
        if cid in self.broken:
            raise MarketDataError(f"{self.broken[cid][1]} (used by the quote {quote_key})")
        return dict(table[cid][1]) if cid in table else {}


def _root(path: str, tag: str, what: str):
    import defusedxml.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise MarketDataError(f"{path}: {what} not found") from None
    except Exception as exc:  # noqa: BLE001 - defusedxml and expat errors alike: not a readable file
        raise MarketDataError(f"{path}: cannot read {what}: {exc}") from None
    if root.tag != tag:
        raise MarketDataError(f"{path}: root element <{root.tag}>, expected <{tag}>")
    return root


def _text(node, tag):
    el = node.find(tag)
    return None if el is None or el.text is None or not el.text.strip() else el.text.strip()


class _Conv:
    def __init__(self, path, node):
        self.path, self.node = path, node
        self.id = _text(node, "Id") or "?"

    def fail(self, msg):
        raise MarketDataError(f"{self.path}: <{self.node.tag}> {self.id}: {msg}")

    def get(self, tag, table=None, required=False):
        v = _text(self.node, tag)
        if v is None:
            if required:
                self.fail(f"missing <{tag}>")
            return None
        if table is None:
            return v
        k = v.upper().replace(" ", "")
        if k not in table:
            self.fail(f"<{tag}> '{v}' is not supported (known: {', '.join(sorted(set(table)))})")
        return table[k]

    def freq(self, tag):
        v = _text(self.node, tag)
        if v is None:
            return None
        if v.upper() in _FREQ:
            return _FREQ[v.upper()]
        from exposure.market.schedule import parse_tenor

        try:
            n, unit = parse_tenor(v.upper())
        except ValueError:
            self.fail(f"<{tag}> '{v}': not a frequency (Annual, Semiannual, Quarterly, Monthly) or a tenor")
        return f"{n}{unit}"

    def integer(self, tag):
        v = _text(self.node, tag)
        if v is None:
            return None
        if not v.isdigit():
            self.fail(f"<{tag}> '{v}': expected a whole number of days")
        return int(v)

    def boolean(self, tag):
        v = _text(self.node, tag)
        if v is None:
            return None
        if v.lower() not in ("true", "false", "y", "n"):
            self.fail(f"<{tag}> '{v}': expected true or false")
        return v.lower() in ("true", "y")

    def calendar(self, tag):
        v = _text(self.node, tag)
        if v is None:
            return None
        from exposure.market.calendars import get_calendar

        try:
            get_calendar(v)
        except ValueError as exc:
            self.fail(f"<{tag}>: {exc}")
        return v


def _clean(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def read_conventions(path: str, curveconfig: str | None = None) -> OreConventions:
    """The Swap, OIS and index conventions of ORE's conventions.xml ``path``; see the module docstring."""
    root = _root(path, "Conventions", "conventions file")
    swaps, ois, indices, broken = {}, {}, {}, {}
    for node in root:
        c = _Conv(path, node)
        try:
            _read_one(c, node, swaps, ois, indices)
        except MarketDataError as exc:  # kept: an error only if a quote uses this convention
            broken[c.id] = (_text(node, "Index") or (c.id if node.tag in ("IborIndex", "OvernightIndex") else None),
                            str(exc))
    quotes = {}
    if curveconfig:
        cc = _root(curveconfig, "CurveConfiguration", "curve configuration")
        for seg in cc.iter():
            conv = _text(seg, "Conventions")
            if conv is None or seg.find("Quotes") is None:
                continue
            for q in seg.find("Quotes").findall("Quote"):
                if q.text and q.text.strip():
                    quotes[q.text.strip().upper()] = conv
    return OreConventions(swaps, ois, indices, quotes, broken)


def _read_one(c, node, swaps, ois, indices):
    """One convention element into its table (others are ignored); MarketDataError if unreadable."""
    if node.tag == "Swap":
        swaps[c.id] = (c.get("Index", required=True), _clean({
            "fixed_tenor": c.freq("FixedFrequency"), "fixed_day_count": c.get("FixedDayCounter", _DC),
            "convention": c.get("FixedConvention", _CONV), "calendar": c.calendar("FixedCalendar")}))
    elif node.tag == "OIS":
        ois[c.id] = (c.get("Index", required=True), _clean({
            "settlement_days": c.integer("SpotLag"), "payment_lag": c.integer("PaymentLag"),
            "fixed_tenor": c.freq("FixedFrequency"), "fixed_day_count": c.get("FixedDayCounter", _DC),
            "convention": c.get("FixedConvention", _CONV), "end_of_month": c.boolean("EOM")}))
    elif node.tag in ("IborIndex", "OvernightIndex"):
        parts = c.id.split("-")
        if len(parts) < 2 or len(parts[0]) != 3:
            c.fail("the Id must be an index name (CCY-NAME[-TENOR])")
        tenor = "1D" if node.tag == "OvernightIndex" else parts[-1]
        indices[c.id] = _clean({
            "currency": parts[0], "tenor": tenor, "fixing_days": c.integer("SettlementDays"),
            "calendar": c.calendar("FixingCalendar"), "day_count": c.get("DayCounter", _DC),
            "convention": c.get("BusinessDayConvention", _CONV), "end_of_month": c.boolean("EndOfMonth")})
