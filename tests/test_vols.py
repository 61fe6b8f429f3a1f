"""Black vol curve and Black/Bachelier closed forms against QuantLib and independent quadrature."""

from __future__ import annotations

import datetime as dt

import jax
import numpy as np
import pytest
import QuantLib as ql
from scipy.integrate import quad

import exposure  # noqa: F401  (x64)
from exposure.errors import MarketDataError
from exposure.market.vols import (BlackVolCurve, bachelier_implied_vol, bachelier_price, black_implied_vol,
                                  black_price)

CALL, PUT = ql.Option.Call, ql.Option.Put
# QuantLib's normal cdf is 0.5 (1 + erf(x/sqrt 2)) with an asymptotic switch below 1e-8, which loses
# relative accuracy in the far tails; these cases keep |d1|, |d2| <~ 3 where it is exact to ~1e-15.
BLACK_CASES = [(100.0, k, sd, call, df) for k in (70.0, 90.0, 100.0, 115.0, 140.0) for sd in (0.2, 0.45, 1.1)
               for call in (True, False) for df in (1.0, 0.87)]


def test_black_matches_quantlib_black_calculator():
    f, k, sd, call, df = (np.array(x) for x in zip(*BLACK_CASES))
    ours = np.asarray(black_price(f, k, sd**2, df, call))  # one vectorised call over all cases
    for i, (fi, ki, si, ci, di) in enumerate(BLACK_CASES):
        ref = ql.BlackCalculator(ql.PlainVanillaPayoff(CALL if ci else PUT, ki), fi, si, di).value()
        assert ours[i] == pytest.approx(ref, rel=1e-12, abs=0.0), BLACK_CASES[i]


def test_black_deep_out_of_the_money_matches_quadrature():
    """Far tails, where QuantLib's own cdf is off by ~1e-8 relative: compare with direct integration of
    the payoff against the lognormal density (no cancellation), to 1e-12 relative."""
    for f, k, sd, call in [(100.0, 130.0, 0.05, True), (100.0, 80.0, 0.05, False), (100.0, 200.0, 0.2, True)]:
        z0 = (np.log(k / f) + 0.5 * sd * sd) / sd
        eps = 1.0 if call else -1.0
        lo, hi = (z0, z0 + 40.0) if call else (z0 - 40.0, z0)
        ref = quad(lambda z: eps * (f * np.exp(sd * z - 0.5 * sd * sd) - k) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi),
                   lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)[0]
        assert float(black_price(f, k, sd * sd, 1.0, call)) == pytest.approx(ref, rel=1e-12, abs=0.0)


def test_garman_kohlhagen_matches_quantlib_analytic_european():
    asof = dt.date(2025, 1, 15)
    today = ql.Date(15, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    spot, rd, rf, vol = 1.0850, 0.043, 0.027, 0.095
    dc = ql.Actual365Fixed()
    process = ql.GarmanKohlagenProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rf, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rd, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)))
    for expiry in (dt.date(2025, 4, 15), dt.date(2026, 1, 15), dt.date(2030, 7, 1)):
        t = (expiry - asof).days / 365.0
        fwd = spot * np.exp(-rf * t) / np.exp(-rd * t)
        for strike in (0.98, 1.08, 1.20):
            for call in (True, False):
                opt = ql.VanillaOption(ql.PlainVanillaPayoff(CALL if call else PUT, strike),
                                       ql.EuropeanExercise(ql.Date(expiry.day, expiry.month, expiry.year)))
                opt.setPricingEngine(ql.AnalyticEuropeanEngine(process))
                ours = float(black_price(fwd, strike, vol * vol * t, np.exp(-rd * t), call))
                assert ours == pytest.approx(opt.NPV(), rel=1e-12, abs=0.0)


def test_bachelier_matches_quantlib():
    # within 4 standard deviations of the money, where QuantLib's erf-based cdf keeps full precision
    cases = [(k, sd) for k in (-0.01, 0.0, 0.015, 0.02, 0.03, 0.05) for sd in (0.002, 0.01, 0.03)
             if abs(k - 0.02) <= 4 * sd]
    for k, sd in cases:
        for call in (True, False):
            ref = ql.bachelierBlackFormula(CALL if call else PUT, k, 0.02, sd, 0.91)
            assert float(bachelier_price(0.02, k, sd * sd, 0.91, call)) == pytest.approx(ref, rel=1e-12, abs=0.0)


def test_zero_variance_gives_discounted_intrinsic():
    np.testing.assert_allclose(np.asarray(black_price(100.0, [90.0, 110.0], 0.0, 0.9, True)), [9.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(np.asarray(bachelier_price(0.02, [0.01, 0.03], 0.0, 2.0, False)), [0.0, 0.02],
                               rtol=1e-15)


def test_implied_vols_invert_quantlib_prices():
    for k, call in ((80.0, False), (100.0, True), (135.0, True)):
        payoff = ql.PlainVanillaPayoff(CALL if call else PUT, k)
        price = ql.BlackCalculator(payoff, 100.0, 0.3 * np.sqrt(2.5), 0.9).value()
        assert float(black_implied_vol(price, 100.0, k, 2.5, 0.9, call)) == pytest.approx(0.3, rel=1e-12)
    for k, call in ((0.005, False), (0.02, True), (0.04, True)):
        price = ql.bachelierBlackFormula(CALL if call else PUT, k, 0.021, 0.0085 * np.sqrt(4.0), 0.8)
        assert float(bachelier_implied_vol(price, 0.021, k, 4.0, 0.8, call)) == pytest.approx(0.0085, rel=1e-12)
    with pytest.raises(MarketDataError, match="no-arbitrage"):
        black_implied_vol(1.0, 100.0, 80.0, 1.0, 1.0, True)  # below intrinsic


PILLARS_T = np.array([0.25, 0.5, 1.0, 2.0, 5.0])
PILLARS_V = np.array([0.30, 0.27, 0.25, 0.24, 0.22])


def test_vol_curve_matches_quantlib_black_variance_curve():
    """Linear total variance and flat-vol extrapolation, as QuantLib's BlackVarianceCurve, to 1e-14."""
    today = ql.Date(2, 1, 2025)
    dates = [today + int(round(t * 365)) for t in PILLARS_T]
    times = np.array([(d - today) / 365.0 for d in dates])
    ref = ql.BlackVarianceCurve(today, dates, list(PILLARS_V), ql.Actual365Fixed())
    ref.enableExtrapolation()
    curve = BlackVolCurve.from_implied_vols(times, PILLARS_V)
    query = np.array([0.01, 0.1, 0.25, 0.3, 0.77, 1.0, 1.5, 3.3, 5.0, 7.0, 30.0])
    np.testing.assert_allclose(np.asarray(curve.total_variance(query)), [ref.blackVariance(t, 1.0) for t in query],
                               rtol=1e-14)
    np.testing.assert_allclose(np.asarray(curve.implied_vol(query)), [ref.blackVol(t, 1.0) for t in query], rtol=1e-14)


def test_vol_curve_reproduces_pillars_and_piecewise_local_vol():
    curve = BlackVolCurve.from_implied_vols(PILLARS_T, PILLARS_V)
    np.testing.assert_allclose(np.asarray(curve.implied_vol(PILLARS_T)), PILLARS_V, rtol=1e-15)
    breaks, sig = (np.asarray(x) for x in curve.local_vol_piecewise())
    w = PILLARS_V**2 * PILLARS_T
    expected = np.sqrt(np.diff(np.concatenate([[0.0], w])) / np.diff(np.concatenate([[0.0], PILLARS_T])))
    np.testing.assert_array_equal(breaks, PILLARS_T)
    np.testing.assert_allclose(sig, np.concatenate([expected, [PILLARS_V[-1]]]), rtol=1e-15)
    # integrating sigma_inst^2 reproduces w at every pillar and beyond the last
    lengths = np.diff(np.concatenate([[0.0], breaks, [8.0]]))
    np.testing.assert_allclose(np.cumsum(sig**2 * lengths), np.append(w, PILLARS_V[-1] ** 2 * 8.0), rtol=1e-14)
    assert float(curve.variance_between(0.5, 2.0)) == pytest.approx(w[3] - w[1], rel=1e-14)
    assert float(curve.implied_vol(0.0)) == pytest.approx(PILLARS_V[0], rel=1e-15)
    assert np.asarray(curve.total_variance(np.ones((2, 3)))).shape == (2, 3)
    flat = BlackVolCurve.flat(0.2)
    np.testing.assert_allclose(np.asarray(flat.implied_vol([0.1, 1.0, 10.0])), 0.2, rtol=1e-15)
    # a pytree: jit sees the curve as leaves
    assert float(jax.jit(lambda c: c.total_variance(3.0))(curve)) == pytest.approx(float(curve.total_variance(3.0)))


def test_calendar_arbitrage_and_bad_vols_raise():
    with pytest.raises(MarketDataError, match=r"vol curve 'EURUSD'.*calendar arbitrage at pillar 2 \(T=1"):
        BlackVolCurve.from_implied_vols([0.5, 0.75, 1.0], [0.30, 0.30, 0.20], name="EURUSD")
    with pytest.raises(MarketDataError, match="pillar 1"):
        BlackVolCurve.from_implied_vols([0.5, 1.0], [0.2, -0.1])
    with pytest.raises(MarketDataError, match="strictly increasing"):
        BlackVolCurve.from_implied_vols([1.0, 0.5], [0.2, 0.2])
    # equal total variance (zero forward vol) is allowed
    BlackVolCurve.from_implied_vols([1.0, 4.0], [0.2, 0.1])
