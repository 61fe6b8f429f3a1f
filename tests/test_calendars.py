"""Holiday calendars (exposure.market.calendars) against QuantLib's, every day of 2020-2029."""

import datetime as dt

import numpy as np
import pytest

ql = pytest.importorskip("QuantLib")

from exposure.market.calendars import get_calendar  # noqa: E402
from exposure.market.schedule import make_schedule  # noqa: E402

START, END = dt.date(2020, 1, 1), dt.date(2030, 1, 1)
# Deliberate differences (documented in exposure/market/calendars.py and the README).
KNOWN = {"US": {dt.date(2021, 6, 18)}}


def _ql_cals():
    us = ql.UnitedStates
    return {
        "TARGET": ql.TARGET(),
        "US": us(us.Settlement),
        "US-GOV": us(us.GovernmentBond),
        "US-SOFR": us(us.SOFR),
        "US-FED": us(us.FederalReserve),
        "US-NYSE": us(us.NYSE),
        "UK": ql.UnitedKingdom(ql.UnitedKingdom.Settlement),
        "UK-EXCH": ql.UnitedKingdom(ql.UnitedKingdom.Exchange),
        "WeekendsOnly": ql.WeekendsOnly(),
        "TARGET,UK": ql.JointCalendar(ql.TARGET(), ql.UnitedKingdom(ql.UnitedKingdom.Settlement), ql.JoinHolidays),
        "TARGET|US-SOFR": ql.JointCalendar(ql.TARGET(), us(us.SOFR), ql.JoinBusinessDays),
        "US,UK,TARGET": ql.JointCalendar(us(us.Settlement), ql.UnitedKingdom(ql.UnitedKingdom.Settlement),
                                         ql.TARGET(), ql.JoinHolidays),
    }


def _days():
    d = START
    while d < END:
        yield d
        d += dt.timedelta(days=1)


@pytest.mark.parametrize("name", list(_ql_cals()))
def test_calendar_agrees_with_quantlib_every_day(name):
    qc, cal = _ql_cals()[name], get_calendar(name)
    known = set().union(*(KNOWN.get(p, set()) for p in name.replace("|", ",").split(",")))
    diff = [d for d in _days() if cal.is_business_day(d) != qc.isBusinessDay(ql.Date(d.day, d.month, d.year))
            and d not in known]
    assert diff == []
    # the documented difference really is one (so the exception list cannot hide a silent change)
    for d in KNOWN.get(name, ()):
        assert cal.is_business_day(d) != qc.isBusinessDay(ql.Date(d.day, d.month, d.year))


def _qd(d):
    return ql.Date(d.day, d.month, d.year)


def _pd(q):
    return dt.date(q.year(), q.month(), q.dayOfMonth())


_QL_BDC = {"following": ql.Following, "modified_following": ql.ModifiedFollowing, "preceding": ql.Preceding,
           "modified_preceding": ql.ModifiedPreceding, "unadjusted": ql.Unadjusted}


@pytest.mark.parametrize("name", ["TARGET", "UK", "US-SOFR", "TARGET,UK"])
def test_adjust_and_advance_agree_with_quantlib(name):
    qc, cal = _ql_cals()[name], get_calendar(name)
    for d in list(_days())[::7][:300]:
        for conv, q in _QL_BDC.items():
            assert cal.adjust(d, conv) == _pd(qc.adjust(_qd(d), q)), (d, conv)
        assert cal.advance(d, "2D") == _pd(qc.advance(_qd(d), 2, ql.Days))
        assert cal.advance(d, "-2D") == _pd(qc.advance(_qd(d), -2, ql.Days))
        for eom in (False, True):
            assert cal.advance(d, "1M", "modified_following", eom) == _pd(
                qc.advance(_qd(d), ql.Period(1, ql.Months), ql.ModifiedFollowing, eom)), (d, eom)
        assert cal.is_end_of_month(d) == qc.isEndOfMonth(_qd(d))


def test_schedule_on_holiday_calendar_matches_quantlib():
    cal = get_calendar("TARGET,UK")
    qc = _ql_cals()["TARGET,UK"]
    for start, end in [(dt.date(2020, 12, 25), dt.date(2030, 5, 1)), (dt.date(2021, 3, 31), dt.date(2028, 12, 31))]:
        for eom in (False, True):
            s = make_schedule(start, end, "3M", "modified_following", "backward", cal, end_of_month=eom)
            q = ql.Schedule(_qd(start), _qd(end), ql.Period("3M"), qc, ql.ModifiedFollowing, ql.ModifiedFollowing,
                            ql.DateGeneration.Backward, eom)
            assert list(s.dates) == [_pd(x) for x in q.dates()]


def test_errors_name_the_calendar():
    with pytest.raises(ValueError, match="unknown calendar 'NARNIA'"):
        get_calendar("TARGET,NARNIA")
    with pytest.raises(ValueError, match="mix"):
        get_calendar("TARGET,UK|US")


def test_netting_set_close_out_date_rolls_on_its_calendar():
    from exposure.errors import ConfigError
    from exposure.portfolio.netting import NettingSet, parse_calendar

    ns = NettingSet("NS", "CP", None, parse_calendar("uk", "netting_sets.NS.calendar"))
    # 2026-12-11 + 2W = Fri 25 Dec (UK holiday), Mon 28 Dec (Boxing Day substitute) -> Tue 29 Dec
    assert ns.close_out_date(dt.date(2026, 12, 11), "2W") == dt.date(2026, 12, 29)
    assert NettingSet("NS", "CP").close_out_date(dt.date(2026, 12, 11), "2W") == dt.date(2026, 12, 25)
    with pytest.raises(ConfigError, match="netting_sets.NS.calendar"):
        parse_calendar("XXX-NOPE", "netting_sets.NS.calendar")


def test_trade_calendar_drives_its_schedule():
    import pathlib

    from omegaconf import OmegaConf

    from exposure.config.schema import MarketConfig
    from exposure.errors import TradeError
    from exposure.market.snapshot import build_market
    from exposure.pricing.linear_parse import parse_trade

    conf = pathlib.Path(__file__).resolve().parent.parent / "conf" / "market" / "example.yaml"
    market = build_market(OmegaConf.merge(OmegaConf.structured(MarketConfig), OmegaConf.load(conf)))
    raw = {"id": "S", "type": "Swap", "currency": "GBP", "notional": 1e6, "start": "2026-12-24",
           "maturity": "2031-12-24", "fixed_rate": 0.03, "fixed_tenor": "6M", "calendar": "UK"}
    spec = parse_trade(raw, market)
    qc = ql.UnitedKingdom(ql.UnitedKingdom.Settlement)
    q = ql.Schedule(_qd(dt.date(2026, 12, 24)), _qd(dt.date(2031, 12, 24)), ql.Period("6M"), qc, ql.ModifiedFollowing,
                    ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    fixed = spec.legs[0]
    assert [fixed.accrual_start[0]] + list(fixed.accrual_end) == [_pd(x) for x in q.dates()]
    assert dt.date(2028, 12, 27) in fixed.accrual_end  # Sun 24 Dec 2028 -> Mon 25, Tue 26 are UK holidays -> Wed 27
    with pytest.raises(TradeError, match="calendar: unknown calendar"):
        parse_trade({**raw, "calendar": "MARS"}, market)


def test_null_calendar_and_joins_with_it():
    null = get_calendar("NullCalendar")
    sat = dt.date(2026, 12, 26)
    assert null.is_business_day(sat) and null.is_business_day(dt.date(2026, 12, 25))
    qn = ql.JointCalendar(ql.NullCalendar(), ql.TARGET(), ql.JoinBusinessDays)
    qh = ql.JointCalendar(ql.NullCalendar(), ql.TARGET(), ql.JoinHolidays)
    for d in list(_days())[:800]:
        assert get_calendar("NullCalendar|TARGET").is_business_day(d) == qn.isBusinessDay(_qd(d))
        assert get_calendar("NullCalendar,TARGET").is_business_day(d) == qh.isBusinessDay(_qd(d))


def test_swap_with_fixing_lag_over_a_holiday_matches_quantlib_cash_flows():
    """EUR swap on TARGET, 2-day fixing lag: the coupon starting Mon 4 Jan 2027 (1 Jan a holiday) fixes on Wed 30
    Dec 2026, before the as-of date 31 Dec 2026, so its fixing comes from the file although it accrues later."""
    from omegaconf import OmegaConf

    from exposure.config.schema import MarketConfig
    from exposure.market.snapshot import build_market
    from exposure.portfolio.fixings import Fixings
    from exposure.pricing.linear_parse import parse_trade

    asof = dt.date(2026, 12, 31)
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": asof.isoformat(), "base_currency": "EUR", "curves": {"EUR": {"tenors": ["1Y", "10Y"],
                                                                             "quotes": [0.021, 0.027]}},
        "indices": {"EUR-EURIBOR-6M": {"currency": "EUR", "tenor": "6M", "day_count": "ACT/360"}}})
    market = build_market(mc)
    fixings = Fixings({("EUR-EURIBOR-6M", dt.date(2026, 6, 29)): 0.0231, ("EUR-EURIBOR-6M", dt.date(2026, 12, 30)): 0.0244})
    raw = {"id": "S", "type": "Swap", "currency": "EUR", "notional": 1e7, "start": "2025-07-01", "maturity": "2030-07-01",
           "fixed_rate": 0.025, "fixed_tenor": "1Y", "fixed_day_count": "30/360", "float_index": "EUR-EURIBOR-6M",
           "float_tenor": "6M", "spread": 0.0015, "calendar": "TARGET", "fixing_days": 2}
    spec = parse_trade(raw, market, fixings)
    flt = spec.legs[1]
    assert flt.past[:4] == (None, None, 0.0231, 0.0244)  # the 4th coupon is fixed by the lag
    with pytest.raises(Exception, match="missing past fixing of EUR-EURIBOR-6M on 2026-12-30"):
        parse_trade(raw, market, Fixings({("EUR-EURIBOR-6M", dt.date(2026, 6, 29)): 0.0231}))

    # QuantLib: the same curve (log-linear discount factors on the same pillars), Euribor 6M with 2 fixing days
    ql.Settings.instance().evaluationDate = _qd(asof)
    curve = market.curves["EUR"]
    days = [int(round(t * 365)) for t in np.asarray(curve.times)]
    qc = ql.DiscountCurve([_qd(asof)] + [_qd(asof) + d for d in days], [1.0] + list(np.exp(np.asarray(curve.log_dfs))),
                          ql.Actual365Fixed())
    qc.enableExtrapolation()
    h = ql.YieldTermStructureHandle(qc)
    idx = ql.IborIndex("EUR6M", ql.Period("6M"), 2, ql.EURCurrency(), ql.TARGET(), ql.ModifiedFollowing, False,
                       ql.Actual360(), h)
    for (_, d), v in fixings.values.items():
        idx.addFixing(_qd(d), v)
    sched = ql.Schedule(_qd(dt.date(2025, 7, 1)), _qd(dt.date(2030, 7, 1)), ql.Period("6M"), ql.TARGET(),
                        ql.ModifiedFollowing, ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    leg = ql.IborLeg([1e7], sched, idx, ql.Actual360(), ql.ModifiedFollowing, [2], [1.0], [0.0015])
    ref = [(c.date(), c.amount()) for c in leg if c.date() > _qd(asof)]
    got = []
    for N, t1, t2, pay, past in zip(flt.notionals, flt.accrual_start, flt.accrual_end, flt.payment, flt.past):
        if pay <= asof:
            continue
        tau = (t2 - t1).days / 360.0
        rate = past if past is not None else (np.exp(float(curve.log_discount_np((t1 - asof).days / 365.0)
                                                        - curve.log_discount_np((t2 - asof).days / 365.0))) - 1) / tau
        got.append((_qd(pay), N * tau * (rate + 0.0015)))
    assert [d for d, _ in got] == [d for d, _ in ref]
    for (_, a), (_, b) in zip(got, ref):
        assert a == pytest.approx(b, rel=1e-12)
    assert len(ref) == 8 and ql.IborCoupon.usingAtParCoupons()
