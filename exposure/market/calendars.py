"""Holiday calendars by name, from the ``holidays`` library (no hand-written holiday rules here).

    business day(d) = d is Monday..Friday and d is not a holiday of the calendar

Names (case-insensitive; ORE's ``conventions.xml``/``portfolio.xml`` spellings are accepted):

    WeekendsOnly (also WEEKENDS_ONLY);  NullCalendar (every day a business day)
    TARGET (EUR, TARGET2, XECB)            ECB TARGET2 closing days          holidays: financial XECB
    US (USD, US-SET, USA, UnitedStates)    US settlement (federal, observed)  holidays: country US
    US-GOV (US-SIFMA, XSIF, USGS)          SIFMA US government bond market    holidays: financial XSIF
    US-SOFR (SOFR)                         SOFR publication days: US-GOV plus every Good Friday
    US-FED (XFED, USNY)                    Federal Reserve Bank of New York   holidays: financial XFED
    US-NYSE (NYSE, XNYS)                   New York Stock Exchange            holidays: financial XNYS
    UK (GB, GBP, UK-SET, London)           England & Wales bank holidays      holidays: country GB, subdiv ENG
    UK-EXCH (XLON, LSE)                    London Stock Exchange              holidays: financial XLON
    any other ISO country code ('JP', 'CH', ...) or market code known to ``holidays``, and ORE's currency
    and city codes for them (CHF, ZUB, JPY, SEK, SS, ...): not checked against QuantLib

Joint calendars (QuantLib's JointCalendar): ``'TARGET,UK'`` joins holidays (a holiday in any is a holiday:
ORE's comma syntax); ``'TARGET|UK'`` joins business days (a holiday only if a holiday in every one).

Agreement with QuantLib (tests/test_calendars.py, every day 2020-2029): TARGET = ql.TARGET, UK =
UnitedKingdom(Settlement), UK-EXCH = UnitedKingdom(Exchange), US-GOV = UnitedStates(GovernmentBond), US-SOFR =
UnitedStates(SOFR), US-FED = UnitedStates(FederalReserve), US-NYSE = UnitedStates(NYSE), and US =
UnitedStates(Settlement) except on Friday 18 June 2021, Juneteenth's first observed day (a federal holiday,
enacted the day before; QuantLib starts Juneteenth in 2022). Known projection difference outside that window:
QuantLib's GovernmentBond keeps Good Friday 7 April 2034 open (a guessed SIFMA early close), ``holidays`` closes it.
Holidays are tabulated for 1901..2199.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

from dateutil.easter import easter

from exposure.market.schedule import WEEKENDS_ONLY, Calendar

YEARS = range(1901, 2200)
_GOOD_FRIDAY_OFFSET = _dt.timedelta(days=2)  # Easter Sunday - 2 days

_ALIASES = {
    "WEEKENDSONLY": "WeekendsOnly", "WEEKENDS": "WeekendsOnly", "NULLCALENDAR": "NullCalendar", "NULL": "NullCalendar",
    "TGT": "TARGET",
    "TARGET": "TARGET", "EUR": "TARGET", "TARGET2": "TARGET", "XECB": "TARGET", "ECB": "TARGET",
    "US": "US", "USD": "US", "USSET": "US", "USA": "US", "UNITEDSTATES": "US", "USSETTLEMENT": "US",
    "USGOV": "US-GOV", "USSIFMA": "US-GOV", "XSIF": "US-GOV", "USGS": "US-GOV", "USGOVERNMENTBOND": "US-GOV",
    "USSOFR": "US-SOFR", "SOFR": "US-SOFR",
    "USFED": "US-FED", "XFED": "US-FED", "USNY": "US-FED", "USFEDERALRESERVE": "US-FED",
    "USNYSE": "US-NYSE", "NYSE": "US-NYSE", "XNYS": "US-NYSE",
    "UK": "UK", "GB": "UK", "GBP": "UK", "UKSET": "UK", "LONDON": "UK", "UNITEDKINGDOM": "UK", "GBLO": "UK",
    "UKEXCH": "UK-EXCH", "XLON": "UK-EXCH", "LSE": "UK-EXCH",
    # ORE's currency and city codes for country calendars (not checked against QuantLib)
    "CHF": "CH", "ZUB": "CH", "JPY": "JP", "SEK": "SE", "SS": "SE", "NOK": "NO", "DKK": "DK", "CAD": "CA",
    "AUD": "AU", "NZD": "NZ", "RUB": "RU", "TRY": "TR", "ZAR": "ZA", "PLN": "PL", "HKD": "HK", "SGD": "SG",
}


def _hol():
    """The ``holidays`` library, imported on the first calendar with holidays (WeekendsOnly and NullCalendar,
    what a trade without a calendar gets, need none: a fresh what-if process skips its 0.1-0.2 s import)."""
    import holidays

    return holidays


def _key(name: str) -> str:
    return re.sub(r"[\s_\-/]", "", str(name)).upper()


def canonical_name(name: str) -> str:
    """The canonical name of a single calendar ('TARGET', 'US-SOFR', ...); ValueError if unknown."""
    k = _key(name)
    if k in _ALIASES:
        return _ALIASES[k]
    if k in _hol().list_supported_financial() or k in _hol().list_supported_countries():
        return k
    raise ValueError(f"unknown calendar '{name}' (known: {', '.join(sorted(set(_ALIASES.values())))}, "
                     "an ISO country code, or a market code of the 'holidays' library)")


def _dates(h) -> frozenset:
    return frozenset(h)


@functools.lru_cache(maxsize=None)
def _single(canon: str) -> Calendar:
    if canon == "WeekendsOnly":
        return WEEKENDS_ONLY
    if canon == "NullCalendar":  # every day is a business day
        return Calendar(frozenset(), "NullCalendar", frozenset())
    if canon == "TARGET":
        h = _hol().financial_holidays("XECB", years=YEARS)
    elif canon == "US":
        h = _hol().country_holidays("US", years=YEARS)
    elif canon in ("US-GOV", "US-SOFR"):
        h = _hol().financial_holidays("XSIF", years=YEARS)
    elif canon == "US-FED":
        h = _hol().financial_holidays("XFED", years=YEARS)
    elif canon == "US-NYSE":
        h = _hol().financial_holidays("XNYS", years=YEARS)
    elif canon == "UK":
        h = _hol().country_holidays("GB", subdiv="ENG", years=YEARS)
    elif canon == "UK-EXCH":
        h = _hol().financial_holidays("XLON", years=YEARS)
    elif canon in _hol().list_supported_financial():
        h = _hol().financial_holidays(canon, years=YEARS)
    else:
        h = _hol().country_holidays(canon, years=YEARS)
    days = _dates(h)
    if canon == "US-SOFR":
        # No SOFR is published on Good Friday even in the years SIFMA recommends only an early close.
        days = days | frozenset(easter(y) - _GOOD_FRIDAY_OFFSET for y in YEARS)
    return Calendar(days, canon)


def joint(calendars, rule: str = "join_holidays") -> Calendar:
    """QuantLib's JointCalendar: join_holidays (union of holidays) or join_business_days (intersection)."""
    cals = list(calendars)
    if not cals:
        raise ValueError("a joint calendar needs at least one calendar")
    if rule == "join_holidays":
        days = frozenset().union(*(c.holidays for c in cals))
        weekend = frozenset().union(*(c.weekend for c in cals))
        sep = ","
    elif rule == "join_business_days":
        # a holiday only where every calendar is closed: a weekday holiday of all, or a common weekend day
        closed = [frozenset(c.holidays) for c in cals]
        weekend = frozenset.intersection(*(frozenset(c.weekend) for c in cals))
        days = frozenset(d for d in frozenset().union(*closed)
                         if all(d in h or d.weekday() in c.weekend for h, c in zip(closed, cals)))
        sep = "|"
    else:
        raise ValueError(f"unknown joint-calendar rule '{rule}' (join_holidays or join_business_days)")
    return Calendar(days, sep.join(c.name for c in cals), weekend)


@functools.lru_cache(maxsize=256)
def get_calendar(name) -> Calendar:
    """A Calendar from a name (see module docstring); 'A,B' joins holidays, 'A|B' joins business days.

    A Calendar object is returned unchanged. ValueError names an unknown calendar."""
    if isinstance(name, Calendar):
        return name
    s = str(name).strip()
    if not s:
        raise ValueError("empty calendar name")
    if "," in s and "|" in s:
        raise ValueError(f"calendar '{s}': mix of ',' (join holidays) and '|' (join business days)")
    if "," in s:
        return joint([get_calendar(p) for p in s.split(",")], "join_holidays")
    if "|" in s:
        return joint([get_calendar(p) for p in s.split("|")], "join_business_days")
    return _single(canonical_name(s))

