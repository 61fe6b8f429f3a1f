"""Payment lag on cross-currency swap legs (each leg's ``payment_lag``, ORE's PaymentLag per LegData): each coupon
pays N business days of the leg's payment calendar after its accrual end, the same amount discounted to the later
date; the notional exchanges stay on the start and maturity dates (ORE's NotionalPaymentLag, default 0).

References: QuantLib 1.44 FixedRateLeg / IborLeg with paymentLag and paymentCalendar (dates and amounts coupon by
coupon, each leg's NPV on the same log-linear curves, the forwarding curve of the index separate from the
discount curve), and textbook constant-vol Hull-White bonds for a lagged coupon on a hand-made path.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from exposure.portfolio.fixings import Fixings
from exposure.pricing.cashflows import generate
from exposure.pricing.linear import LinearBatch
from exposure.pricing.linear_today import present_values
from exposure.pricing.linear_parse import parse_trade
from exposure.pricing.view import PricingContext
from tests.test_option_pricing import ASOF, MARKET, MODEL, _hw_var, _view, q_curve, qd

ql = pytest.importorskip("QuantLib")

US_UK = "US,UK"
# Pay EUR fixed (payment lag 2 TARGET days), receive USD-LIBOR-3M + 10bp (fixing lag 2 US/UK days, payment lag 1
# US day); the USD coupon accrued to Mon 23 Nov 2026 is paid on Tue 24 Nov, after the as-of date (Fri 20 Nov).
XCS = {"id": "X", "type": "CrossCurrencySwap", "start": "2025-11-24", "maturity": "2028-11-23", "calendar": "US",
       "pay_leg": {"currency": "EUR", "notional": 9e6, "fixed_rate": 0.02, "tenor": "1Y", "day_count": "30/360",
                   "payment_lag": 2, "payment_calendar": "TARGET"},
       "receive_leg": {"currency": "USD", "notional": 1e7, "float_index": "USD-LIBOR-3M", "spread": 0.001,
                       "tenor": "3M", "day_count": "ACT/360", "fixing_days": 2, "fixing_calendar": US_UK,
                       "payment_lag": 1}}
FIX = {dt.date(2025, 8, 20): 0.0431, dt.date(2025, 11, 20): 0.0425, dt.date(2026, 2, 19): 0.0418,
       dt.date(2026, 5, 20): 0.0409, dt.date(2026, 8, 20): 0.0412, dt.date(2026, 11, 19): 0.0405}
FIXINGS = Fixings({("USD-LIBOR-3M", d): v for d, v in FIX.items()})


def _pd(d):
    return dt.date(d.year(), d.month(), d.dayOfMonth())


@pytest.fixture(autouse=True)
def _ql_today():
    ql.Settings.instance().evaluationDate = qd(ASOF)
    yield


def _ql_legs():
    us = ql.UnitedStates(ql.UnitedStates.Settlement)
    joint = ql.JointCalendar(us, ql.UnitedKingdom(ql.UnitedKingdom.Settlement), ql.JoinHolidays)
    fwd = q_curve(MARKET.indices["USD-LIBOR-3M"].curve)
    index = ql.IborIndex("L3M", ql.Period("3M"), 2, ql.USDCurrency(), joint, ql.ModifiedFollowing, False,
                         ql.Actual360(), fwd)
    index.clearFixings()
    for d, v in FIX.items():
        index.addFixing(qd(d), v)

    def sched(tenor):
        return ql.Schedule(qd(dt.date(2025, 11, 24)), qd(dt.date(2028, 11, 23)), ql.Period(tenor), us,
                           ql.ModifiedFollowing, ql.ModifiedFollowing, ql.DateGeneration.Backward, False)

    eur = ql.FixedRateLeg(sched("1Y"), ql.Thirty360(ql.Thirty360.BondBasis), [9e6], [0.02],
                          paymentAdjustment=ql.Following, paymentCalendar=ql.TARGET(), paymentLag=2)
    usd = ql.IborLeg([1e7], sched("3M"), index, ql.Actual360(), ql.Following, fixingDays=[2], spreads=[0.001],
                     paymentCalendar=us, paymentLag=1)
    return eur, usd


def test_lagged_xccy_coupons_match_quantlib_cash_flow_by_cash_flow():
    spec = parse_trade(XCS, MARKET, FIXINGS)
    eur, usd = _ql_legs()
    legs = {leg.currency: leg for leg in spec.legs if hasattr(leg, "payment")}
    assert list(legs["EUR"].payment) == [_pd(c.date()) for c in eur]
    assert list(legs["USD"].payment) == [_pd(c.date()) for c in usd]
    assert all(p > e for p, e in zip(legs["USD"].payment, legs["USD"].accrual_end))
    # the exchanges stay on the start and the maturity (no notional payment lag)
    ex = sorted((x.currency, x.date, x.amount) for x in spec.legs if not hasattr(x, "payment"))
    # (23 Nov 2028 is Thanksgiving: the maturity rolls to the 24th)
    assert ex == [("EUR", dt.date(2028, 11, 24), -9e6), ("USD", dt.date(2028, 11, 24), 1e7)]
    k = legs["USD"].accrual_end.index(dt.date(2026, 11, 23))
    assert legs["USD"].payment[k] == dt.date(2026, 11, 24) and legs["USD"].past[k] == 0.0412
    for ccy, qleg in (("EUR", eur), ("USD", usd)):
        leg = legs[ccy]
        cf = generate([type(spec)(**{**spec.__dict__, "legs": (leg,)})], MARKET)
        lnp = lambda day, c=ccy: float(MARKET.curves[c].log_discount_np(day / 365.0))  # noqa: E731
        pv: dict = {}
        for day, settle, amount, num, den in zip(cf.f_day, cf.f_settle, cf.f_amount, cf.f_num, cf.f_den):
            pv[settle] = pv.get(settle, 0.0) + amount * np.exp(lnp(day) + lnp(num) - lnp(den))
        disc = q_curve(MARKET.curves[ccy])
        ref = {(_pd(c.date()) - ASOF).days: c.amount() * disc.discount(c.date()) for c in qleg if c.date() > qd(ASOF)}
        assert sorted(pv) == sorted(ref)
        for d in ref:
            assert leg.sign * pv[d] == pytest.approx(ref[d], rel=1e-12, abs=1e-9), (ccy, d)


def test_lagged_xccy_npv_through_the_path_code_matches_quantlib():
    spec = parse_trade(XCS, MARKET, FIXINGS)
    (batch,) = [LinearBatch([spec], [0])]
    ours = float(present_values(batch, MARKET, MODEL)[0])
    eur, usd = _ql_legs()
    npv = {}
    for ccy, leg in (("EUR", eur), ("USD", usd)):
        disc = q_curve(MARKET.curves[ccy])
        npv[ccy] = sum(c.amount() * disc.discount(c.date()) for c in leg if c.date() > qd(ASOF))
    ex_eur = -9e6 * q_curve(MARKET.curves["EUR"]).discount(qd(dt.date(2028, 11, 24)))
    ex_usd = 1e7 * q_curve(MARKET.curves["USD"]).discount(qd(dt.date(2028, 11, 24)))
    ref = npv["USD"] + ex_usd + (-npv["EUR"] + ex_eur) * MARKET.fx_spots["EUR"]
    assert ours == pytest.approx(ref, rel=1e-11)
    nolag = parse_trade({**XCS, "receive_leg": {**XCS["receive_leg"], "payment_lag": 0}}, MARKET, FIXINGS)
    assert abs(float(present_values(LinearBatch([nolag], [0]), MARKET, MODEL)[0]) - ours) > 10.0  # visible


def test_lagged_usd_coupon_on_a_path_is_paid_after_its_accrual_end():
    """At t between a USD coupon's accrual end (Mon 23 Nov 2026) and its payment (Tue 24 Nov), the coupon, fixed
    before the as-of date, is still in the value: N tau (L + s) P(t, Tp | x), textbook Hull-White; after Tp gone."""
    spec = parse_trade(XCS, MARKET, FIXINGS)
    usd = [leg for leg in spec.legs if getattr(leg, "currency", "") == "USD" and hasattr(leg, "payment")][0]
    only = type(spec)(**{**spec.__dict__, "legs": (usd,)})
    tm = MARKET.time
    end, pay = tm(dt.date(2026, 11, 23)), tm(dt.date(2026, 11, 24))
    times = np.array([end, pay])
    xs = np.array([[0.01, -0.02], [0.015, -0.01]])
    b = LinearBatch([only], [0])
    got = np.asarray(b.values(b.prepare(PricingContext(MARKET, MODEL, times, FIXINGS, ())), _view(times, xs)))[:, 0]
    a, sig = 0.05, 0.01
    P0 = lambda T: float(np.exp(MARKET.curves["USD"].log_discount(T)))  # noqa: E731

    def P(t, T, x):
        B = (1 - np.exp(-a * (T - t))) / a
        return P0(T) / P0(t) * np.exp(-B * x + 0.5 * (_hw_var(a, sig, t, T) - _hw_var(a, sig, 0, T) + _hw_var(a, sig, 0, t)))

    tau = (dt.date(2026, 11, 23) - dt.date(2026, 8, 24)).days / 360.0
    amount = 1e7 * tau * (0.0412 + 0.001)
    # rest of the leg at t = end: the value without this coupon, from the same code on a leg with it removed
    k = usd.accrual_end.index(dt.date(2026, 11, 23))
    rest = type(usd)(**{**usd.__dict__, **{f: getattr(usd, f)[k + 1:] for f in
                                            ("accrual_start", "accrual_end", "payment", "notionals", "past",
                                             "past_end", "fixing")}})
    rb = LinearBatch([type(spec)(**{**spec.__dict__, "legs": (rest,)})], [0])
    others = np.asarray(rb.values(rb.prepare(PricingContext(MARKET, MODEL, times, FIXINGS, ())), _view(times, xs)))[:, 0]
    for p in range(2):
        assert got[0, p] - others[0, p] == pytest.approx(amount * P(end, pay, xs[0, p]), rel=1e-10)
        assert got[1, p] - others[1, p] == pytest.approx(0.0, abs=1e-6)  # paid on Tp: not in the value at Tp


def test_bad_xccy_payment_lag_names_the_field():
    from exposure.errors import TradeError

    with pytest.raises(TradeError, match="payment_lag"):
        parse_trade({**XCS, "pay_leg": {**XCS["pay_leg"], "payment_lag": -1}}, MARKET, FIXINGS)
    with pytest.raises(TradeError, match="payment_calendar"):
        parse_trade({**XCS, "pay_leg": {**XCS["pay_leg"], "payment_calendar": "MARS"}}, MARKET, FIXINGS)
