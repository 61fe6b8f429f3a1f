"""Index and instrument conventions, with per-index defaults (as ORE's conventions.xml).

An interest-rate index fixes ``fixing_days`` business days (``calendar``) before its value date and accrues
from the value date over ``tenor`` (business-day ``convention``, ``end_of_month``) in ``day_count``:

    value = advance(fixing, +fixing_days D);   end = advance(value, tenor, convention, end_of_month)
    L(fixing) = (P(value)/P(end) - 1) / tau(value, end)            (IBOR, forward on the index's curve)

An overnight index (tenor 1D) compounds daily; over a period [s, e] on one curve the product of daily
factors telescopes to P(s)/P(e). Every name here is a string a user writes in config: day counts as in
``market.schedule``, calendars as in ``market.calendars``.

Defaults (``DEFAULT_INDICES``; a config entry overrides any field of one index or adds a new one):

    index              ccy  tenor fix  calendar   convention          eom   day count
    EUR-ESTER          EUR  1D    0    TARGET     following           no    ACT/360
    EUR-EURIBOR-{1,3,6,12}M   2    TARGET     modified_following  yes   ACT/360
    USD-SOFR           USD  1D    0    US-SOFR    following           no    ACT/360
    USD-FedFunds       USD  1D    0    US-FED     following           no    ACT/360
    USD-LIBOR-{1,3,6}M        2    US,UK      modified_following  yes   ACT/360
    GBP-SONIA          GBP  1D    0    UK         following           no    ACT/365F
    GBP-LIBOR-{3,6}M          0    UK         modified_following  yes   ACT/365F
    CHF-LIBOR-{3,6}M          2    UK,CH      modified_following  yes   ACT/360
    JPY-LIBOR-{3,6}M          2    UK,JP      modified_following  yes   ACT/360
    CHF-SARON          CHF  1D    0    CH         following           no    ACT/360
    JPY-TONAR          JPY  1D    0    JP         following           no    ACT/365F

Swap conventions per currency (``DEFAULT_SWAPS``: fixed leg of IBOR swaps; OIS: fixed leg frequency, spot
lag, payment lag) follow the market standards ORE ships in its Examples' conventions.xml.
"""

from __future__ import annotations

import dataclasses

from exposure.market.calendars import get_calendar
from exposure.market.schedule import CONVENTIONS, Calendar, _canonical, day_count_name, parse_tenor

OVERNIGHT = ("1D", "ON", "O/N")


@dataclasses.dataclass(frozen=True)
class IndexConvention:
    name: str
    currency: str
    tenor: str
    fixing_days: int
    calendar: str
    convention: str
    end_of_month: bool
    day_count: str

    @property
    def overnight(self) -> bool:
        return self.tenor.upper() in OVERNIGHT

    @property
    def cal(self) -> Calendar:
        return get_calendar(self.calendar)

    def value_date(self, fixing):
        return self.cal.advance(fixing, f"{self.fixing_days}D")

    def fixing_date(self, value):
        return self.cal.advance(value, f"{-self.fixing_days}D", "preceding")

    def maturity(self, value):
        return self.cal.advance(value, "1D" if self.overnight else self.tenor, self.convention, self.end_of_month)


@dataclasses.dataclass(frozen=True)
class SwapConvention:
    """Fixed leg of a fixed-vs-floating swap on ``index`` (IBOR or OIS) and the trade's date rules."""

    currency: str
    fixed_tenor: str
    fixed_day_count: str
    fixed_convention: str = "modified_following"
    settlement_days: int | None = None  # None: the index's fixing days (OIS: 2)
    payment_lag: int = 0  # business days after each period end (OIS)
    end_of_month: bool = False


def _ibor(ccy, tenor, fix, cal, dc):
    return (ccy, tenor, fix, cal, "modified_following", True, dc)


def _on(ccy, cal, dc):
    return (ccy, "1D", 0, cal, "following", False, dc)


DEFAULT_INDICES = {
    "EUR-ESTER": _on("EUR", "TARGET", "ACT/360"),
    "EUR-EONIA": _on("EUR", "TARGET", "ACT/360"),
    "USD-SOFR": _on("USD", "US-SOFR", "ACT/360"),
    "USD-FedFunds": _on("USD", "US-FED", "ACT/360"),
    "GBP-SONIA": _on("GBP", "UK", "ACT/365F"),
    "CHF-SARON": _on("CHF", "CH", "ACT/360"),
    "JPY-TONAR": _on("JPY", "JP", "ACT/365F"),
    **{f"EUR-EURIBOR-{t}": _ibor("EUR", t, 2, "TARGET", "ACT/360") for t in ("1M", "3M", "6M", "12M")},
    **{f"USD-LIBOR-{t}": _ibor("USD", t, 2, "US,UK", "ACT/360") for t in ("1M", "3M", "6M")},
    **{f"GBP-LIBOR-{t}": _ibor("GBP", t, 0, "UK", "ACT/365F") for t in ("3M", "6M")},
    **{f"CHF-LIBOR-{t}": _ibor("CHF", t, 2, "UK,CH", "ACT/360") for t in ("3M", "6M")},
    **{f"JPY-LIBOR-{t}": _ibor("JPY", t, 2, "UK,JP", "ACT/360") for t in ("3M", "6M")},
}

# currency -> (IBOR fixed tenor, IBOR fixed day count, OIS fixed tenor, OIS spot lag, OIS payment lag)
DEFAULT_SWAPS = {
    "EUR": ("1Y", "30/360", "1Y", 2, 1),
    "USD": ("6M", "30/360", "1Y", 2, 2),
    "GBP": ("6M", "ACT/365F", "1Y", 0, 0),
    "CHF": ("1Y", "30/360", "1Y", 2, 2),
    "JPY": ("6M", "ACT/365F", "1Y", 2, 2),
}


def make_index(name: str, overrides=None) -> IndexConvention:
    """The convention of index ``name``: its default, with any non-None field of ``overrides`` (an object
    with attributes currency, tenor, fixing_days, calendar, convention, end_of_month, day_count) applied.
    ValueError names the index and the bad field."""
    fields = ("currency", "tenor", "fixing_days", "calendar", "convention", "end_of_month", "day_count")
    base = dict(zip(fields, DEFAULT_INDICES.get(name, (None,) * 7)))
    for k in fields:
        v = getattr(overrides, k, None) if overrides is not None else None
        if v is not None:
            base[k] = v
    missing = [k for k in fields if base[k] is None]
    if missing:
        raise ValueError(f"index '{name}': no default convention; give {', '.join(missing)}")
    try:
        n, unit = parse_tenor(str(base["tenor"]).upper().replace("ON", "1D").replace("O/N", "1D"))
        get_calendar(base["calendar"])
        conv = _canonical(base["convention"], CONVENTIONS, "business-day convention")
        dc = day_count_name(base["day_count"])
    except ValueError as exc:
        raise ValueError(f"index '{name}': {exc}") from None
    if int(base["fixing_days"]) < 0:
        raise ValueError(f"index '{name}': fixing_days must be >= 0")
    return IndexConvention(name, str(base["currency"]), f"{n}{unit}", int(base["fixing_days"]), str(base["calendar"]),
                           conv, bool(base["end_of_month"]), dc)


def default_swap(index: IndexConvention) -> SwapConvention:
    """The fixed-leg convention of a swap on ``index`` in its currency (ValueError if none is known)."""
    row = DEFAULT_SWAPS.get(index.currency)
    if row is None:
        raise ValueError(f"no default swap convention for currency {index.currency}: give fixed_tenor, "
                         "fixed_day_count (and settlement_days, payment_lag for OIS)")
    if index.overnight:
        return SwapConvention(index.currency, row[2], index.day_count, "modified_following", row[3], row[4])
    return SwapConvention(index.currency, row[0], row[1], "modified_following", None, 0)
