"""Day counts, tenors, business-day calendars and schedules against QuantLib, date for date."""

from __future__ import annotations

import datetime as dt

import pytest
import QuantLib as ql

from exposure.market.cds import cds_maturity
from exposure.market.schedule import (WEEKENDS_ONLY, Calendar, add_tenor, adjust, make_schedule,
                                      next_twentieth, parse_tenor, previous_twentieth, twentieth_imm_dates,
                                      year_fraction)


def qdate(d: dt.date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def pydate(d: ql.Date) -> dt.date:
    return dt.date(d.year(), d.month(), d.dayOfMonth())


D = dt.date
DAY_COUNTERS = {"ACT/365F": ql.Actual365Fixed(), "ACT/360": ql.Actual360(),
                "30/360": ql.Thirty360(ql.Thirty360.BondBasis), "ACT/ACT": ql.ActualActual(ql.ActualActual.ISDA)}
DATE_PAIRS = [(D(2024, 1, 31), D(2024, 2, 29)), (D(2024, 2, 29), D(2025, 2, 28)), (D(2023, 12, 31), D(2024, 3, 31)),
              (D(2024, 5, 30), D(2024, 8, 31)), (D(2024, 5, 31), D(2024, 8, 31)), (D(2023, 7, 15), D(2033, 1, 15)),
              (D(2025, 3, 20), D(2025, 3, 20)), (D(2027, 6, 30), D(2026, 1, 31)), (D(1999, 12, 31), D(2000, 1, 1)),
              (D(2024, 1, 1), D(2025, 1, 1))]
TARGET_HOLIDAYS = Calendar.with_holidays(
    [pydate(d) for d in ql.Calendar.holidayList(ql.TARGET(), ql.Date(1, 1, 2020), ql.Date(31, 12, 2040))], "TARGET")
CONVENTIONS = {"following": ql.Following, "modified_following": ql.ModifiedFollowing, "preceding": ql.Preceding,
               "modified_preceding": ql.ModifiedPreceding, "unadjusted": ql.Unadjusted}


@pytest.mark.parametrize("day_count", sorted(DAY_COUNTERS))
def test_year_fraction_matches_quantlib(day_count):
    for d1, d2 in DATE_PAIRS:
        ours = year_fraction(d1, d2, day_count)
        assert ours == pytest.approx(DAY_COUNTERS[day_count].yearFraction(qdate(d1), qdate(d2)), rel=0.0, abs=1e-14)
    assert year_fraction(D(2024, 1, 31), D(2024, 3, 31), "30/360") == 60 / 360  # 31st -> 30th on both ends
    assert year_fraction(D(2024, 2, 28), D(2024, 3, 31), "30/360") == 33 / 360  # d2 = 31 kept when d1 < 30
    with pytest.raises(ValueError, match="unknown day count 'ACT/364'"):
        year_fraction(D(2024, 1, 1), D(2025, 1, 1), "ACT/364")


def test_tenors_and_calendar_arithmetic_match_quantlib():
    for d in (D(2024, 1, 31), D(2024, 2, 29), D(2023, 8, 31), D(2025, 6, 15)):
        for tenor in ("1D", "10D", "2W", "1M", "3M", "6M", "13M", "1Y", "10Y", "-1M", "-2Y"):
            assert add_tenor(d, tenor) == pydate(qdate(d) + ql.Period(tenor)), (d, tenor)
    assert parse_tenor(" 18m ") == (18, "M")
    for bad in ("3X", "M3", "", "1.5Y", "3MM"):
        with pytest.raises(ValueError, match=f"bad tenor '{bad}'"):
            add_tenor(D(2024, 1, 1), bad)


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_business_day_adjustment_matches_quantlib(convention):
    # weekends, a month end on a Saturday, TARGET's Easter and Christmas holidays
    days = [D(2024, 8, 31), D(2024, 9, 1), D(2024, 6, 29), D(2024, 3, 29), D(2024, 4, 1), D(2024, 12, 25),
            D(2025, 5, 1), D(2025, 5, 31), D(2025, 11, 1), D(2025, 3, 20)]
    for d in days:
        assert adjust(d, convention) == pydate(ql.WeekendsOnly().adjust(qdate(d), CONVENTIONS[convention])), d
        assert TARGET_HOLIDAYS.adjust(d, convention) == pydate(ql.TARGET().adjust(qdate(d), CONVENTIONS[convention]))
    for d, n in ((D(2024, 3, 28), "2D"), (D(2024, 12, 23), "3D"), (D(2024, 4, 2), "-2D"), (D(2024, 2, 29), "1M")):
        ref = ql.TARGET().advance(qdate(d), ql.Period(n), ql.ModifiedFollowing, True)
        assert TARGET_HOLIDAYS.advance(d, n, "modified_following", end_of_month=True) == pydate(ref)


SCHEDULE_CASES = [
    # start, end, tenor, convention, termination convention, rule, end of month, calendar
    (D(2025, 1, 15), D(2030, 4, 15), "6M", "modified_following", "modified_following", "backward", False, "wk"),
    (D(2025, 1, 15), D(2030, 4, 15), "6M", "modified_following", "modified_following", "forward", False, "wk"),
    (D(2024, 2, 29), D(2029, 8, 31), "3M", "modified_following", "unadjusted", "backward", True, "target"),
    (D(2024, 11, 29), D(2026, 5, 31), "1M", "following", "following", "forward", True, "target"),
    (D(2025, 3, 31), D(2027, 8, 31), "6M", "following", "following", "backward", False, "target"),
    (D(2025, 5, 7), D(2030, 5, 7), "3M", "following", "unadjusted", "twentieth_imm", False, "wk"),
    (D(2025, 5, 7), D(2030, 6, 20), "3M", "following", "unadjusted", "cds", False, "wk"),
    (D(2025, 6, 21), D(2030, 6, 20), "3M", "following", "unadjusted", "cds2015", False, "target"),
    (D(2025, 1, 10), D(2025, 1, 12), "1W", "following", "following", "forward", False, "wk"),  # one short period
]
RULES = {"backward": ql.DateGeneration.Backward, "forward": ql.DateGeneration.Forward,
         "twentieth_imm": ql.DateGeneration.TwentiethIMM, "cds": ql.DateGeneration.CDS,
         "cds2015": ql.DateGeneration.CDS2015}


@pytest.mark.parametrize("case", SCHEDULE_CASES, ids=lambda c: f"{c[5]}-{c[2]}-{c[0]}")
def test_schedule_matches_quantlib(case):
    start, end, tenor, conv, tconv, rule, eom, cal = case
    ours = make_schedule(start, end, tenor, conv, rule, WEEKENDS_ONLY if cal == "wk" else TARGET_HOLIDAYS, tconv, eom)
    ref = ql.Schedule(qdate(start), qdate(end), ql.Period(tenor), ql.WeekendsOnly() if cal == "wk" else ql.TARGET(),
                      CONVENTIONS[conv], CONVENTIONS[tconv], RULES[rule], eom)
    assert list(ours.dates) == [pydate(d) for d in ref.dates()]
    assert list(ours.is_regular) == [ref.isRegular(i) for i in range(1, len(ref))]
    assert len(ours.unadjusted) == len(ours.dates)


def test_schedule_stubs_and_errors():
    back = make_schedule(D(2025, 2, 10), D(2027, 6, 15), "6M", "unadjusted")
    assert back.dates[:2] == (D(2025, 2, 10), D(2025, 6, 15)) and back.is_regular[0] is False  # short front stub
    fwd = make_schedule(D(2025, 2, 10), D(2027, 6, 15), "6M", "unadjusted", "forward")
    assert fwd.dates[-2:] == (D(2027, 2, 10), D(2027, 6, 15)) and fwd.is_regular[-1] is False  # short back stub
    with pytest.raises(ValueError, match="must be before"):
        make_schedule(D(2026, 1, 1), D(2025, 1, 1), "3M")
    with pytest.raises(ValueError, match="unknown date generation rule 'sideways'"):
        make_schedule(D(2025, 1, 1), D(2026, 1, 1), "3M", rule="sideways")
    with pytest.raises(ValueError, match="unknown business-day convention 'nearest'"):
        make_schedule(D(2025, 1, 1), D(2026, 1, 1), "3M", "nearest")


def test_cds_dates_match_quantlib():
    for d in (D(2025, 3, 19), D(2025, 3, 20), D(2025, 3, 21), D(2025, 6, 20), D(2025, 7, 1), D(2025, 12, 31),
              D(2026, 9, 19)):
        for tenor in ("6M", "1Y", "5Y", "10Y"):
            for rule, qrule in (("cds", ql.DateGeneration.CDS), ("cds2015", ql.DateGeneration.CDS2015)):
                assert cds_maturity(d, tenor, rule) == pydate(ql.cdsMaturity(qdate(d), ql.Period(tenor), qrule))
    assert next_twentieth(D(2025, 3, 20)) == D(2025, 3, 20) and next_twentieth(D(2025, 3, 21)) == D(2025, 6, 20)
    assert previous_twentieth(D(2025, 3, 19)) == D(2024, 12, 20)
    assert next_twentieth(D(2025, 4, 21), imm_only=False) == D(2025, 5, 20)
    assert twentieth_imm_dates(D(2025, 3, 20), D(2026, 3, 19)) == [D(2025, 3, 20), D(2025, 6, 20), D(2025, 9, 20),
                                                                D(2025, 12, 20)]
    with pytest.raises(ValueError, match="multiple of 3 months"):
        cds_maturity(D(2025, 1, 1), "2M")
