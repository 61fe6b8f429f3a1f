"""Swaptions whose underlying pays with a lag (``payment_lag`` on both legs, as a Swap's): each coupon pays N
business days after its accrual end; a float coupon fixed at s on [s, e] and paid at p is worth, at s,
b P(s,p)/P(s,e).

References: QuantLib 1.44 FixedRateLeg / IborLeg(paymentLag) payment dates, and a scipy quadrature over x(T0)
(T0-forward measure) of the exercise value with textbook constant-vol Hull-White bonds (Brigo-Mercurio 3.39), each
lagged float coupon's T0 value taken as b P(T0,s) P(T0,p)/P(T0,e) e^C by the change to the p-forward measure,
C = (B(s,s) - B(s,e)) (B(s,p) - B(s,e)) Var[x(s) | x(T0)] (a derivation independent of the engine's, which writes
the coupon as one zero bond).
"""

from __future__ import annotations


import numpy as np
import pytest
from scipy import integrate, optimize, stats

from exposure.market.schedule import year_fraction
from tests.test_option_pricing import ASOF, MARKET, _hw_var, _values, _view, qd, today, trade

ql = pytest.importorskip("QuantLib")

A, SIG = 0.05, 0.01
SWO = dict(currency="USD", notional=1e6, expiry="2Y", maturity="7Y", fixed_rate=0.036, fixed_tenor="1Y",
           float_index="USD-LIBOR-3M", float_tenor="3M", calendar="US", settlement_days=2, payment_lag=2)
P0 = lambda T: float(np.exp(MARKET.curves["USD"].log_discount(T)))  # noqa: E731
Pf = lambda T: float(np.exp(MARKET.indices["USD-LIBOR-3M"].curve.log_discount(T)))  # noqa: E731
Bf = lambda t, T: (1 - np.exp(-A * (T - t))) / A  # noqa: E731


def _bond(t, T, x):
    return P0(T) / P0(t) * np.exp(-Bf(t, T) * x + 0.5 * (_hw_var(A, SIG, t, T) - _hw_var(A, SIG, 0, T)
                                                        + _hw_var(A, SIG, 0, t)))


def _swap_at(spec, t, x, skip_float: int = 0):
    """The holder's underlying at t <= every start: fixed coupons at their payment dates, float coupons
    b P(t,s) P(t,p) / P(t,e) e^C at the payment dates, C the payment-lag convexity seen from t; the first
    ``skip_float`` float coupons left out."""
    tm = MARKET.time
    fd, gd = spec.fixed_dates, spec.float_dates
    fp = spec.fixed_payment_dates or fd[1:]
    gp = spec.float_payment_dates or gd[1:]
    fixed = sum(spec.fixed_rate * year_fraction(a, b, spec.fixed_day_count) * _bond(t, tm(p), x)
                for a, b, p in zip(fd[:-1], fd[1:], fp))
    flt = 0.0
    for a, b, p in list(zip(gd[:-1], gd[1:], gp))[skip_float:]:
        s, e, pay = tm(a), tm(b), tm(p)
        basis = Pf(s) / Pf(e) * P0(e) / P0(s)
        var = SIG**2 / (2 * A) * (1 - np.exp(-2 * A * (s - t)))
        conv = (0.0 - Bf(s, e)) * (Bf(s, pay) - Bf(s, e)) * var
        flt += basis * _bond(t, s, x) * _bond(t, pay, x) / _bond(t, e, x) * np.exp(conv) - _bond(t, pay, x)
    return (1.0 if spec.payer else -1.0) * (flt - fixed)


def _quadrature(spec):
    T0 = MARKET.time(spec.expiry)
    mean = -(SIG**2 / A**2 * (1 - np.exp(-A * T0)) - SIG**2 / (2 * A**2) * (1 - np.exp(-2 * A * T0)))
    sd = np.sqrt(SIG**2 / (2 * A) * (1 - np.exp(-2 * A * T0)))
    lo, hi = mean - 12 * sd, mean + 12 * sd
    swap = lambda x: _swap_at(spec, T0, x)  # noqa: E731
    xs = optimize.brentq(swap, lo, hi, xtol=1e-15)
    f = lambda x: max(swap(x), 0.0) * stats.norm.pdf(x, mean, sd)  # noqa: E731
    v = sum(integrate.quad(f, u, z, epsabs=1e-15, epsrel=1e-13, limit=200)[0] for u, z in [(lo, xs), (xs, hi)])
    return P0(T0) * v * spec.notional


@pytest.fixture(autouse=True)
def _ql_today():
    ql.Settings.instance().evaluationDate = qd(ASOF)
    yield


def test_payment_dates_are_quantlib_legs_payment_dates():
    s = trade("Swaption", payer=True, **SWO)
    us = ql.UnitedStates(ql.UnitedStates.Settlement)
    h = ql.YieldTermStructureHandle(ql.FlatForward(qd(ASOF), 0.03, ql.Actual365Fixed()))
    idx = ql.IborIndex("L3M", ql.Period("3M"), 2, ql.USDCurrency(), us, ql.ModifiedFollowing, False, ql.Actual360(), h)

    def sched(d, tenor):  # the underlying's own (adjusted) schedule dates
        return ql.Schedule([qd(x) for x in d], us, ql.Unadjusted)

    fixed = ql.FixedRateLeg(sched(s.fixed_dates, "1Y"), ql.Thirty360(ql.Thirty360.BondBasis), [1e6], [0.036],
                            paymentAdjustment=ql.Following, paymentCalendar=us, paymentLag=2)
    flt = ql.IborLeg([1e6], sched(s.float_dates, "3M"), idx, ql.Actual360(), ql.Following, paymentCalendar=us,
                     paymentLag=2)
    assert [qd(d) for d in s.fixed_payment_dates] == [c.date() for c in fixed]
    assert [qd(d) for d in s.float_payment_dates] == [c.date() for c in flt]
    assert trade("Swaption", payer=True, **{**SWO, "payment_lag": 0}).float_payment_dates == ()


@pytest.mark.parametrize("payer", [True, False])
def test_lagged_underlying_swaption_matches_a_quadrature(payer):
    s = trade("Swaption", payer=payer, **SWO)
    ref = _quadrature(s)
    assert today(s)[0] == pytest.approx(ref, rel=1e-9)
    nolag = trade("Swaption", payer=payer, **{**SWO, "payment_lag": 0})
    assert abs(today(nolag)[0] / ref - 1.0) > 1e-5  # the lag is visible


@pytest.mark.parametrize("payer", [True, False])
def test_physical_exercise_takes_the_lagged_swap(payer):
    """At the expiry the physical swaption is max(V_swap(T0), 0), V_swap the lagged swap (convexity included);
    a float coupon that accrued to its end is kept until its lagged payment."""
    s = trade("Swaption", payer=payer, **SWO)
    T0 = MARKET.time(s.expiry)
    times = np.array([0.5, T0])
    xs = np.array([[0.0, 0.01, -0.01, 0.02], [0.02, -0.02, 0.004, -0.004]])
    got = _values(s, times, _view(times, xs))[:, 0, :]
    swap_T0 = np.array([_swap_at(s, T0, x) for x in xs[1]]) * s.notional
    np.testing.assert_allclose(got[1], np.maximum(swap_T0, 0.0), rtol=1e-10, atol=1e-8)
    assert (swap_T0 > 0).any() and (swap_T0 < 0).any()
    # after the first float period's end and before its payment, on an exercised path, the coupon fixed at s_0
    # (on the state at the last view date before it, here T0) is still in the value
    tm = MARKET.time
    s0, e0, p0 = tm(s.float_dates[0]), tm(s.float_dates[1]), tm(s.float_payment_dates[0])
    t = np.array([T0, (e0 + p0) / 2])
    x2 = np.array([xs[1], [0.01, 0.0, -0.01, 0.005]])
    v = _values(s, t, _view(t, x2))[:, 0, :]
    basis = Pf(s0) / Pf(e0) * P0(e0) / P0(s0)
    F = basis * _bond(T0, s0, x2[0]) / _bond(T0, e0, x2[0])  # fixed at s0 on the state at T0
    u = 1.0 if payer else -1.0
    cpn = u * s.notional * F * _bond(t[1], p0, x2[1])
    # the second float coupon, accruing from e0 < t, fixed on the state at T0 too (the last view date before e0)
    s1, e1, p1 = tm(s.float_dates[1]), tm(s.float_dates[2]), tm(s.float_payment_dates[1])
    F1 = Pf(s1) / Pf(e1) * P0(e1) / P0(s1) * _bond(T0, s1, x2[0]) / _bond(T0, e1, x2[0])
    rest = np.array([_rest(s, t[1], x) for x in x2[1]]) * s.notional + u * s.notional * (F1 - 1.0) * _bond(t[1], p1, x2[1])
    ex = swap_T0 > 0
    np.testing.assert_allclose(v[1], np.where(ex, cpn - u * s.notional * _bond(t[1], p0, x2[1]) + rest, 0.0),
                               rtol=1e-9, atol=1e-8)


def _rest(spec, t, x):
    """The holder's swap at t without the first two float coupons (t between the first float end and payment)."""
    return _swap_at(spec, t, x, skip_float=2)
