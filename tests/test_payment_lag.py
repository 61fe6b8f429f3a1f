"""Payment lag on swap legs (Swap ``payment_lag``, ORE's PaymentLag): each coupon pays N business days of the
payment calendar after its accrual end, the same amount discounted to the later date.

References: QuantLib 1.44's FixedRateLeg / IborLeg with paymentLag and paymentCalendar (dates and amounts coupon
by coupon, and the legs' NPVs on the same log-linear discount curve), and textbook constant-vol Hull-White bonds
for the coupon values on a hand-made path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from exposure.config.schema import MarketConfig
from exposure.market.snapshot import build_market
from exposure.portfolio.fixings import Fixings
from exposure.pricing.cashflows import generate
from exposure.pricing.linear_parse import parse_trade

ql = pytest.importorskip("QuantLib")

ASOF = dt.date(2027, 1, 5)  # the coupons ending Mon 4 Jan 2027 (1 Jan a TARGET holiday) pay on Wed 6 Jan
FIX = {dt.date(2026, 6, 29): 0.0231, dt.date(2026, 12, 30): 0.0244}
RAW = {"id": "S", "type": "Swap", "currency": "EUR", "notional": 1e7, "start": "2025-07-01", "maturity": "2030-07-01",
       "fixed_rate": 0.025, "fixed_tenor": "1Y", "fixed_day_count": "30/360", "float_index": "EUR-EURIBOR-6M",
       "float_tenor": "6M", "spread": 0.0015, "calendar": "TARGET", "fixing_days": 2, "payment_lag": 2}


def _qd(d):
    return ql.Date(d.day, d.month, d.year)


@pytest.fixture(scope="module")
def market():
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "EUR",
        "curves": {"EUR": {"tenors": ["6M", "1Y", "3Y", "10Y"], "quotes": [0.019, 0.021, 0.024, 0.027]}},
        "indices": {"EUR-EURIBOR-6M": {"currency": "EUR", "tenor": "6M", "day_count": "ACT/360"}}})
    return build_market(mc)


@pytest.fixture(scope="module")
def quantlib(market):
    ql.Settings.instance().evaluationDate = _qd(ASOF)
    curve = market.curves["EUR"]
    days = [int(round(t * 365)) for t in np.asarray(curve.times)]
    qc = ql.DiscountCurve([_qd(ASOF)] + [_qd(ASOF) + d for d in days], [1.0] + list(np.exp(np.asarray(curve.log_dfs))),
                          ql.Actual365Fixed())
    qc.enableExtrapolation()
    h = ql.YieldTermStructureHandle(qc)
    idx = ql.IborIndex("EUR6M", ql.Period("6M"), 2, ql.EURCurrency(), ql.TARGET(), ql.ModifiedFollowing, False,
                       ql.Actual360(), h)
    for d, v in FIX.items():
        idx.addFixing(_qd(d), v)

    def sched(tenor):
        return ql.Schedule(_qd(dt.date(2025, 7, 1)), _qd(dt.date(2030, 7, 1)), ql.Period(tenor), ql.TARGET(),
                           ql.ModifiedFollowing, ql.ModifiedFollowing, ql.DateGeneration.Backward, False)

    fixed = ql.FixedRateLeg(sched("1Y"), ql.Thirty360(ql.Thirty360.BondBasis), [1e7], [0.025],
                            paymentAdjustment=ql.Following, paymentCalendar=ql.TARGET(), paymentLag=2)
    flt = ql.IborLeg([1e7], sched("6M"), idx, ql.Actual360(), ql.Following, fixingDays=[2], gearings=[1.0],
                     spreads=[0.0015], paymentCalendar=ql.TARGET(), paymentLag=2)
    return h, fixed, flt


def _pd(d):
    return dt.date(d.year(), d.month(), d.dayOfMonth())


def test_payment_dates_and_amounts_match_quantlib_coupon_by_coupon(market, quantlib):
    h, qfixed, qflt = quantlib
    spec = parse_trade(RAW, market, Fixings({("EUR-EURIBOR-6M", d): v for d, v in FIX.items()}))
    fixed, flt = spec.legs
    assert list(fixed.payment) == [_pd(c.date()) for c in qfixed]
    assert list(flt.payment) == [_pd(c.date()) for c in qflt]
    assert any(p != e for p, e in zip(flt.payment, flt.accrual_end))
    # the coupon accrued to 4 Jan and paid on 6 Jan is still in the trade on 5 Jan, with its past fixing
    k = flt.accrual_end.index(dt.date(2027, 1, 4))
    assert flt.payment[k] == dt.date(2027, 1, 6) and flt.past[k] == 0.0231 and flt.past[k + 1] == 0.0244

    # cash flow by cash flow: the t0 value of each coupon from the engine's tables = QuantLib amount x DF(payment)
    for leg, qleg in ((fixed, qfixed), (flt, qflt)):
        cf = generate([dataclasses.replace(spec, legs=(leg,))], market)
        curve = market.curves["EUR"]
        lnp = lambda day: float(curve.log_discount_np(day / 365.0))  # noqa: E731
        pv = {}
        for day, settle, amount, num, den in zip(cf.f_day, cf.f_settle, cf.f_amount, cf.f_num, cf.f_den):
            pv[settle] = pv.get(settle, 0.0) + amount * np.exp(lnp(day) + lnp(num) - lnp(den))
        for fx, settle, w, end in zip(cf.c_fix, cf.c_pay, cf.c_weight, cf.c_end):
            if fx <= 0:  # fixing today (none here): the forward part is in the current-coupon table
                pv[settle] = pv.get(settle, 0.0) + w * np.exp(lnp(settle) - lnp(end))
        ref = {(_pd(c.date()) - ASOF).days: c.amount() * h.discount(c.date()) for c in qleg if c.date() > _qd(ASOF)}
        sign = leg.sign
        assert sorted(pv) == sorted(ref)
        for d in ref:
            assert sign * pv[d] == pytest.approx(ref[d], rel=1e-12, abs=1e-9), d


def test_swap_npv_through_the_path_code_matches_quantlib(market, quantlib):
    from exposure.models.build import build_model
    from exposure.config.schema import ModelConfig
    from exposure.pricing.linear_batching import make_batches
    from exposure.pricing.linear_today import present_values

    h, qfixed, qflt = quantlib
    fixings = Fixings({("EUR-EURIBOR-6M", d): v for d, v in FIX.items()})
    spec = parse_trade(RAW, market, fixings)
    conf = Path(__file__).resolve().parent.parent / "conf" / "model" / "flat.yaml"
    mc = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(conf))
    mc.ir = {"EUR": mc.ir["EUR"]}
    model = build_model(market, mc, calibrate=False).model
    (batch,) = make_batches([spec], [0])
    ours = float(present_values(batch, market, model)[0])
    eng = ql.DiscountingSwapEngine(h)
    swap = ql.Swap(qfixed, qflt)  # first leg paid
    swap.setPricingEngine(eng)
    assert ours == pytest.approx(swap.NPV(), rel=1e-10)
    nolag = parse_trade({**RAW, "payment_lag": 0}, market, fixings)
    (b0,) = make_batches([nolag], [0])
    assert abs(float(present_values(b0, market, model)[0]) - ours) > 1e-6 * 1e7 * 1e-3  # the lag is visible


def test_bad_payment_lag_names_the_field(market):
    from exposure.errors import TradeError

    fix = Fixings({("EUR-EURIBOR-6M", d): v for d, v in FIX.items()})
    with pytest.raises(TradeError, match="payment_lag"):
        parse_trade({**RAW, "payment_lag": 1.5}, market, fix)
    with pytest.raises(TradeError, match="payment_calendar"):
        parse_trade({**RAW, "payment_calendar": "MARS"}, market, fix)


def _hw_var(a, sig, t, T):
    """V(t,T) = Var[int_t^T x(u) du] for constant sigma (Brigo-Mercurio 4.10, one factor)."""
    return sig**2 / a**2 * (T - t + 2 / a * np.exp(-a * (T - t)) - np.exp(-2 * a * (T - t)) / (2 * a) - 1.5 / a)


def test_lagged_coupons_on_a_path_match_textbook_hull_white(market):
    """Forward-starting single-curve swap with a 2-day payment lag at a date before its start and at a date
    inside its first coupon (fixed on a view date): the projected coupon is N (P(t,T1) P(t,Tp) / P(t,T2) - 1
    ... ) - its forward off the date-t curve paid at Tp (ORE's simulated-curve value), the fixed one
    N P(s,T1)/P(s,T2) P(t,Tp); textbook bonds P(t,T|x) = P(0,T)/P(0,t) exp(-B x + (V(t,T) - V(0,T) + V(0,t))/2)."""
    from exposure.config.schema import ModelConfig
    from exposure.models.build import build_model
    from exposure.pricing.linear_batching import make_batches
    from exposure.pricing.view import PathView, PricingContext

    conf = Path(__file__).resolve().parent.parent / "conf" / "model" / "flat.yaml"
    mc = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(conf))
    mc.ir = {"EUR": mc.ir["EUR"]}
    model = build_model(market, mc, calibrate=False).model
    a, sig = 0.1, 0.01
    raw = {"id": "F", "type": "Swap", "currency": "EUR", "notional": 1e7, "start": "2027-06-01",
           "maturity": "2029-06-01", "fixed_rate": 0.025, "float_tenor": "6M", "calendar": "TARGET",
           "payment_lag": 2, "payer": True}
    spec = parse_trade(raw, market)
    fixed, flt = spec.legs
    s0 = flt.accrual_start[0]
    dates = (dt.date(2027, 3, 1), s0, s0 + dt.timedelta(days=40))
    times = np.array([(d - ASOF).days / 365.0 for d in dates])
    xs = np.array([[0.01, -0.02, 0.0], [0.015, -0.01, 0.02], [0.0, 0.03, -0.01]])
    view = PathView(times, xs[None], np.ones((1, 3, 3)), np.zeros((0, 3, 3)), np.ones((3, 3)), ("EUR",), ())
    (batch,) = make_batches([spec], [0])
    got = np.asarray(batch.values(batch.prepare(PricingContext(market, model, times, None, dates)), view))[:, 0, :]

    P0 = lambda T: np.exp(float(market.curves["EUR"].log_discount_np(T)))  # noqa: E731
    yrs = lambda d: (d - ASOF).days / 365.0  # noqa: E731

    def P(t, T, x):
        B = (1 - np.exp(-a * (T - t))) / a
        return P0(T) / P0(t) * np.exp(-B * x + 0.5 * (_hw_var(a, sig, t, T) - _hw_var(a, sig, 0, T) + _hw_var(a, sig, 0, t)))

    def value(k, x, x_fix):
        t = times[k]
        v = 0.0
        for a1, b1, p1, N in zip(fixed.accrual_start, fixed.accrual_end, fixed.payment, fixed.notionals):
            if yrs(p1) > t:
                v -= N * 0.025 * _thirty360(a1, b1) * P(t, yrs(p1), x)
        for t1, t2, tp, N in zip(flt.accrual_start, flt.accrual_end, flt.payment, flt.notionals):
            T1, T2, Tp = yrs(t1), yrs(t2), yrs(tp)
            if Tp <= t:
                continue
            if T1 > t:
                v += N * (P(t, T1, x) * P(t, Tp, x) / P(t, T2, x) - P(t, Tp, x))
            else:  # fixed at T1 = times[1] on the state x_fix
                v += N * (P(t, Tp, x) / P(T1, T2, x_fix) - P(t, Tp, x))
        return v

    for k in range(3):
        ref = [value(k, xs[k, p], xs[1, p]) for p in range(3)]
        np.testing.assert_allclose(got[k], ref, rtol=1e-10, atol=1e-6)


def _thirty360(a, b):
    from exposure.market.schedule import year_fraction

    return year_fraction(a, b, "30/360")


def test_ois_with_payment_lag_matches_quantlib(market, quantlib):
    """A forward-starting EUR OIS (ESTR, TARGET) with a 1-day payment lag on both legs against QuantLib's
    OvernightLeg / FixedRateLeg with paymentLag (compounded coupons telescope to P(s)/P(e) in both)."""
    from exposure.config.schema import ModelConfig
    from exposure.models.build import build_model
    from exposure.pricing.linear_batching import make_batches
    from exposure.pricing.linear_today import present_values

    mc_market = OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "EUR",
        "curves": {"EUR": {"tenors": ["6M", "1Y", "3Y", "10Y"], "quotes": [0.019, 0.021, 0.024, 0.027]}},
        "indices": {"EUR-ESTER": {"currency": "EUR", "tenor": "1D", "day_count": "ACT/360"}}})
    m = build_market(mc_market)
    raw = {"id": "O", "type": "Swap", "currency": "EUR", "notional": 2e7, "start": "2027-02-01",
           "maturity": "2030-02-01", "fixed_rate": 0.022, "fixed_tenor": "1Y", "fixed_day_count": "ACT/360",
           "float_index": "EUR-ESTER", "calendar": "TARGET", "payment_lag": 1, "payer": False}
    spec = parse_trade(raw, m)
    conf = Path(__file__).resolve().parent.parent / "conf" / "model" / "flat.yaml"
    mcfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(conf))
    mcfg.ir = {"EUR": mcfg.ir["EUR"]}
    model = build_model(m, mcfg, calibrate=False).model
    (batch,) = make_batches([spec], [0])
    ours = float(present_values(batch, m, model)[0])

    h = quantlib[0]
    estr = ql.Estr(h)
    sched = ql.Schedule(_qd(dt.date(2027, 2, 1)), _qd(dt.date(2030, 2, 1)), ql.Period("1Y"), ql.TARGET(),
                        ql.ModifiedFollowing, ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    fixed = ql.FixedRateLeg(sched, ql.Actual360(), [2e7], [0.022], paymentAdjustment=ql.Following,
                            paymentCalendar=ql.TARGET(), paymentLag=1)
    flt = ql.OvernightLeg([2e7], sched, estr, ql.Actual360(), ql.Following, paymentCalendar=ql.TARGET(), paymentLag=1)
    assert [_pd(c.date()) for c in flt] == list(spec.legs[1].payment)
    swap = ql.Swap(flt, fixed)  # receive fixed: the floating leg is paid
    swap.setPricingEngine(ql.DiscountingSwapEngine(h))
    assert ours == pytest.approx(swap.NPV(), rel=1e-10)
