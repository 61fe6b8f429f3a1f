"""Dates: day counts, tenors, business-day calendars, QuantLib-style coupon schedules, CDS roll dates (the
CDS maturity rule is ``market.cds.cds_maturity``).

    ACT/365F: yf = days/365      ACT/360: yf = days/360
    30/360 (bond basis, QL Thirty360.BondBasis): 360 (y2-y1) + 30 (m2-m1) + (d2-d1) over 360, with
        d1 = 31 -> 30, then d2 = 31 -> 30 if d1 = 30
    ACT/ACT (ISDA): days falling in each calendar year over that year's length (365 or 366)

Every date is a ``datetime.date``; year fractions are Python floats. The calendar is "weekends only"
(Saturday and Sunday are holidays, as QuantLib's ``WeekendsOnly``) plus an optional explicit holiday
set: pass e.g. QuantLib's TARGET holiday list to get TARGET. Schedules reproduce QuantLib's
``Schedule`` constructor (rules Backward, Forward, Twentieth, TwentiethIMM, CDS, CDS2015; no
explicit first/next-to-last dates) date for date, including its stub and duplicate handling.
"""

from __future__ import annotations

import calendar as _cal
import dataclasses
import functools
import datetime as _dt

from exposure.dates import DAYS_PER_YEAR, add_tenor, parse_tenor  # noqa: F401  (re-exported)
from exposure.dates import add_months as _add_months
from exposure.dates import shift as _shift

_DAY_COUNTS = {"ACT/365F": "ACT/365F", "ACT/365FIXED": "ACT/365F", "A365F": "ACT/365F",
               "ACT/360": "ACT/360", "A360": "ACT/360",
               "30/360": "30/360", "30/360BOND": "30/360", "30/360BONDBASIS": "30/360",
               "ACT/ACT": "ACT/ACT", "ACT/ACTISDA": "ACT/ACT"}
CONVENTIONS = ("following", "modified_following", "preceding", "modified_preceding", "unadjusted")
RULES = ("backward", "forward", "twentieth", "twentieth_imm", "cds", "cds2015")
_TWENTIETH_RULES = ("twentieth", "twentieth_imm", "cds", "cds2015")


def _key(s: str) -> str:
    return str(s).upper().replace(" ", "").replace("_", "").replace("-", "")


def _canonical(value: str, allowed: tuple, what: str) -> str:
    for a in allowed:
        if _key(a) == _key(value):
            return a
    raise ValueError(f"unknown {what} '{value}' (expected one of {', '.join(allowed)})")


_DAY_COUNT_NAMES: dict = {}  # the names seen -> canonical (cash-flow generation asks once per coupon)


def day_count_name(day_count: str) -> str:
    """Canonical name of a day count ('ACT/365F', 'ACT/360', '30/360', 'ACT/ACT'); ValueError if unknown."""
    name = _DAY_COUNT_NAMES.get(day_count) if isinstance(day_count, str) else None
    if name is not None:
        return name
    k = _key(day_count)
    if k not in _DAY_COUNTS:
        raise ValueError(f"unknown day count '{day_count}' (expected ACT/365F, ACT/360, 30/360, ACT/ACT)")
    if isinstance(day_count, str) and len(_DAY_COUNT_NAMES) < 256:
        _DAY_COUNT_NAMES[day_count] = _DAY_COUNTS[k]
    return _DAY_COUNTS[k]


def year_fraction(d1: _dt.date, d2: _dt.date, day_count: str = "ACT/365F") -> float:
    """Year fraction from d1 to d2 (negative if d2 < d1) in the given day count; see module docstring."""
    dc = day_count_name(day_count)
    if dc == "ACT/365F":
        return (d2 - d1).days / DAYS_PER_YEAR
    if dc == "ACT/360":
        return (d2 - d1).days / 360.0
    if dc == "30/360":
        dd1, dd2 = d1.day, d2.day
        dd1 = 30 if dd1 == 31 else dd1
        dd2 = 30 if (dd2 == 31 and dd1 == 30) else dd2
        return (360 * (d2.year - d1.year) + 30 * (d2.month - d1.month) + (dd2 - dd1)) / 360.0
    # ACT/ACT ISDA, same operation order as QuantLib so results agree to the last bit
    if d1 == d2:
        return 0.0
    if d1 > d2:
        return -year_fraction(d2, d1, dc)
    dib1 = 366.0 if _cal.isleap(d1.year) else 365.0
    dib2 = 366.0 if _cal.isleap(d2.year) else 365.0
    total = float(d2.year - d1.year - 1)
    total += (_dt.date(d1.year + 1, 1, 1) - d1).days / dib1
    total += (d2 - _dt.date(d2.year, 1, 1)).days / dib2
    return total


def month_end(d: _dt.date) -> _dt.date:
    """Last calendar day of d's month."""
    return d.replace(day=_cal.monthrange(d.year, d.month)[1])


@dataclasses.dataclass(frozen=True)
class Calendar:
    """Business days = days not in ``weekend`` (Saturday, Sunday) nor in ``holidays`` (default: weekends only,
    QuantLib's WeekendsOnly)."""

    holidays: frozenset = frozenset()
    name: str = "weekends_only"
    weekend: frozenset = frozenset({5, 6})  # weekday numbers that are never business days (NullCalendar: none)

    @staticmethod
    def with_holidays(holidays, name: str = "custom") -> "Calendar":
        return Calendar(frozenset(holidays), name)

    def is_business_day(self, d: _dt.date) -> bool:
        return d.weekday() not in self.weekend and d not in self.holidays

    def adjust(self, d: _dt.date, convention: str = "following") -> _dt.date:
        """Roll a holiday to a business day: Following, ModifiedFollowing (stay in month), Preceding, ..."""
        c = _canonical(convention, CONVENTIONS, "business-day convention")
        if c == "unadjusted":
            return d
        step = 1 if c in ("following", "modified_following") else -1
        d1 = d
        while not self.is_business_day(d1):
            d1 += _dt.timedelta(days=step)
        if c.startswith("modified") and d1.month != d.month:
            return self.adjust(d, "preceding" if step == 1 else "following")
        return d1

    def is_end_of_month(self, d: _dt.date) -> bool:
        """True when d is on or after the month's last business day (QuantLib's Calendar::isEndOfMonth)."""
        return d.month != self.adjust(d + _dt.timedelta(days=1)).month

    def advance(self, d: _dt.date, tenor: str, convention: str = "following", end_of_month: bool = False):
        """QuantLib's Calendar::advance: 'nD' counts business days; W/M/Y shift then adjust; with
        end_of_month a date on its month's last business day rolls to the target month's last one."""
        n, unit = parse_tenor(tenor)
        if n == 0:
            return self.adjust(d, convention)
        if unit == "D":
            step, d1 = (1 if n > 0 else -1), d
            for _ in range(abs(n)):
                d1 += _dt.timedelta(days=step)
                while not self.is_business_day(d1):
                    d1 += _dt.timedelta(days=step)
            return d1
        d1 = _shift(d, n, unit)
        if end_of_month and unit in "MY":
            # Unadjusted: calendar month ends map to calendar month ends; otherwise business month ends.
            if _canonical(convention, CONVENTIONS, "business-day convention") == "unadjusted":
                if d == month_end(d):
                    return month_end(d1)
            elif self.is_end_of_month(d):
                return self.adjust(month_end(d1), "preceding")
        return self.adjust(d1, convention)


WEEKENDS_ONLY = Calendar()


def adjust(d: _dt.date, convention: str = "following", calendar: Calendar = WEEKENDS_ONLY) -> _dt.date:
    """Business-day adjustment of d under ``convention`` on ``calendar``."""
    return calendar.adjust(d, convention)


def next_twentieth(d: _dt.date, imm_only: bool = True) -> _dt.date:
    """First 20th on or after d; with imm_only the first 20 Mar/Jun/Sep/Dec on or after d (CDS roll)."""
    r = d.replace(day=20)
    if r < d:
        r = _add_months(r, 1)
    if imm_only and r.month % 3:
        r = _add_months(r, 3 - r.month % 3)
    return r


def previous_twentieth(d: _dt.date, imm_only: bool = True) -> _dt.date:
    """Last 20th on or before d; with imm_only the last 20 Mar/Jun/Sep/Dec on or before d."""
    r = d.replace(day=20)
    if r > d:
        r = _add_months(r, -1)
    if imm_only and r.month % 3:
        r = _add_months(r, -(r.month % 3))
    return r


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Period boundary dates, adjusted (``dates``, as QuantLib's Schedule.dates()) and before business-day
    adjustment (``unadjusted``); ``is_regular[i]`` says whether period i (dates[i]..dates[i+1]) is a full
    tenor."""

    dates: tuple
    unadjusted: tuple
    is_regular: tuple
    tenor: str
    rule: str
    convention: str
    calendar: Calendar


def _make_schedule(start: _dt.date, end: _dt.date, tenor: str, convention: str = "following",
                   rule: str = "backward", calendar: Calendar = WEEKENDS_ONLY,
                   termination_convention: str | None = None, end_of_month: bool = False) -> Schedule:
    """QuantLib's Schedule(start, end, tenor, calendar, convention, termination_convention, rule, eom).

    backward: dates roll back from ``end`` by k*tenor (a short stub at the front); forward: forward from
    ``start`` (short stub at the back). twentieth/twentieth_imm: forward from the first (IMM) 20th after
    start, last date rolled to the next 20th. cds/cds2015: as twentieth_imm but starting on the 20th IMM
    date on or before start, with the termination date left unadjusted. ``termination_convention``
    defaults to ``convention`` (QuantLib's MakeSchedule default).
    """
    n, unit = parse_tenor(tenor)
    if n <= 0:
        raise ValueError(f"schedule tenor '{tenor}' must be positive")
    if start >= end:
        raise ValueError(f"schedule start {start} must be before end {end}")
    rule = _canonical(rule, RULES, "date generation rule")
    conv = _canonical(convention, CONVENTIONS, "business-day convention")
    tconv = conv if termination_convention is None else _canonical(
        termination_convention, CONVENTIONS, "business-day convention")
    eom = bool(end_of_month) and unit in "MY"
    if eom and rule != "backward" and rule != "forward":
        raise ValueError(f"end_of_month is incompatible with rule '{rule}'")

    def adj(d, c=conv):
        return calendar.adjust(d, c)

    def step(seed, k):
        # Always from the seed by k tenors (not iteratively) so month-end clipping does not accumulate.
        d1 = _shift(seed, k * n, unit)
        return month_end(d1) if eom and seed == month_end(seed) else d1

    imm = rule != "twentieth"
    if rule == "backward":
        dates, reg, seed, k = [end], [], end, 1
        while (temp := step(seed, -k)) >= start:
            if adj(dates[-1]) != adj(temp):  # skip dates that would coincide once adjusted
                dates.append(temp)
                reg.append(True)
            k += 1
        if adj(dates[-1]) != adj(start):
            dates.append(start)
            reg.append(step(dates[-2], -1) == start)
        dates.reverse()
        reg.reverse()
    else:
        if rule in ("cds", "cds2015"):
            prev = previous_twentieth(start)
            dates, reg = ([_add_months(prev, -3), prev], [True]) if adj(prev) > start else ([prev], [])
        else:
            dates, reg = [start], []
        seed = dates[-1]
        if rule in _TWENTIETH_RULES:
            nxt = next_twentieth(start, imm)
            if nxt != start:
                dates.append(nxt)
                reg.append(rule in ("cds", "cds2015"))
                seed = nxt
        k = 1
        while (temp := step(seed, k)) <= end:
            if adj(dates[-1]) != adj(temp):
                dates.append(temp)
                reg.append(True)
            k += 1
        if adj(dates[-1], tconv) != adj(end, tconv):
            if rule in _TWENTIETH_RULES:
                dates.append(next_twentieth(end, imm))
                reg.append(True)
            else:
                dates.append(end)
                reg.append(False)

    if len(dates) < 2:
        raise ValueError(f"degenerate schedule {start}..{end} ({tenor}, {rule}): a single date")
    unadj = list(dates)
    if eom and calendar.is_end_of_month(seed):
        unadj[1:-1] = [month_end(d) for d in unadj[1:-1]]
    out = [adj(dates[0])] + [adj(d) for d in unadj[1:-1]] + [dates[-1]]
    if tconv != "unadjusted" and rule not in ("cds", "cds2015"):  # CDS keep the unadjusted maturity (ISDA)
        out[-1] = adj(out[-1], tconv)
    # QuantLib's final safety checks: drop a next-to-last (or second) date that adjustment pushed onto
    # or past the end (or start) date.
    if len(out) >= 2 and out[-2] >= out[-1]:
        if len(reg) >= 2:
            reg[-2] = out[-2] == out[-1]
        del out[-2], unadj[-2], reg[-1]
    if len(out) >= 2 and out[1] <= out[0]:
        if len(reg) >= 2:
            reg[1] = out[1] == out[0]
        del out[1], unadj[1], reg[0]
    if len(out) < 2:
        raise ValueError(f"degenerate schedule {start}..{end} ({tenor}, {rule})")
    return Schedule(tuple(out), tuple(unadj), tuple(reg), f"{n}{unit}", rule, conv, calendar)


def twentieth_imm_dates(start: _dt.date, end: _dt.date) -> list[_dt.date]:
    """All 20 Mar/Jun/Sep/Dec dates in [start, end] (unadjusted CDS roll dates)."""
    out, d = [], next_twentieth(start)
    while d <= end:
        out.append(d)
        d = _add_months(d, 3)
    return out


# Memoised (every argument is a value; Schedule is frozen): a warm process re-prepares the same trades each run
# (bench-1k: ~1,500 schedules, each a day-by-day calendar roll in Python).
make_schedule = functools.lru_cache(maxsize=16384)(_make_schedule)
