"""Hull-White swaption-strip calibration.

The references are independent of the calibrator: market prices from this file's own Bachelier/Black
formulas and annuities (numpy, checked against QuantLib's bachelierBlackFormula/blackFormula), and model
prices from ``swaption_jamshidian``, which test_hull_white.py checks against closed forms and QuantLib.
Tolerances: known vols recovered to 1e-10 relative (the bootstrap solves each piece to ~1e-15, so this
leaves room only for float64 noise amplified by small vegas); every instrument reprices to 1e-10 relative.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import optimize
from scipy.stats import norm

import exposure  # noqa: F401  (float64)
from exposure.errors import CalibrationError, ConfigError
from exposure.market.curves import DiscountCurve
from exposure.market.vols import bachelier_price_np, black_price_np
from exposure.models.calibration import (
    SwaptionQuote,
    calibrate_hull_white,
    coterminal_strip,
    diagonal_strip,
)
from exposure.models.hull_white import HullWhiteParams
from exposure.models.hw_options import pad_cashflows, swap_coupon_bond, swaption_jamshidian

CURVE = DiscountCurve.from_zero_rates(
    [0.5, 1, 2, 3, 5, 7, 10, 15, 30], [0.029, 0.030, 0.031, 0.032, 0.034, 0.0355, 0.037, 0.038, 0.0385]
)
MR = 0.03
NPAD, NVOL = 20, 12  # one jitted signature for all the reference model prices below


def padded(params):
    """The same vol function with NVOL pieces: extra breakpoints far out, the last vol repeated."""
    vt, vv = np.asarray(params.vol_times), np.asarray(params.vol_values)
    extra = NVOL - vv.size
    return HullWhiteParams.create(MR, np.r_[vv, np.full(extra, vv[-1])], np.r_[vt, 100.0 + np.arange(extra)])


def ref_swaption(q, vol_or_model, curve=CURVE):
    """(forward, annuity, strike, price): market price for a vol, or the HW price for HullWhiteParams."""
    f = q.fixed_frequency
    n = int(round(q.tenor * f))
    pay = q.expiry + np.arange(1, n + 1) / f
    d = np.exp(np.interp(np.r_[q.expiry, pay], np.r_[0.0, curve.times], np.r_[0.0, curve.log_dfs]))
    annuity = np.sum(d[1:]) / f
    fwd = (d[0] - d[-1]) / annuity
    k = fwd if q.strike is None else q.strike
    w = 1.0 if q.is_payer else -1.0
    if isinstance(vol_or_model, HullWhiteParams):
        times, amounts, target = swap_coupon_bond(q.expiry, pay, np.full(n, 1.0 / f), k)
        times, amounts = (z[0] for z in pad_cashflows([(times, amounts)], pad_to=NPAD))
        p = padded(vol_or_model)
        price = float(swaption_jamshidian(p, curve, 0.0, 0.0, q.expiry, times, amounts, q.is_payer, target))
    elif q.vol_type == "normal":
        sd = vol_or_model * np.sqrt(q.expiry)
        dd = (fwd - k) / sd
        price = annuity * (w * (fwd - k) * norm.cdf(w * dd) + sd * norm.pdf(dd))
    else:
        sd, fs, ks = vol_or_model * np.sqrt(q.expiry), fwd + q.shift, k + q.shift
        d1 = np.log(fs / ks) / sd + 0.5 * sd
        price = annuity * w * (fs * norm.cdf(w * d1) - ks * norm.cdf(w * (d1 - sd)))
    return fwd, annuity, k, price


def implied(q, price):
    return optimize.brentq(lambda v: ref_swaption(q, v)[3] - price, 1e-6, 3.0, xtol=1e-16, rtol=1e-15)


def test_market_formulas_vs_quantlib():
    ql = pytest.importorskip("QuantLib")
    for f, k, sd, ann in [(0.03, 0.025, 0.008 * np.sqrt(2), 4.2), (0.01, 0.02, 0.009 * np.sqrt(7), 1.3)]:
        for is_payer, kind in ((True, ql.Option.Call), (False, ql.Option.Put)):
            ref = ann * ql.bachelierBlackFormula(kind, k, f, sd)
            ours = bachelier_price_np(f, k, sd * sd, ann, is_payer)  # the calibration's market formulas
            assert abs(ours / ref - 1) < 1e-13
            ref = ann * ql.blackFormula(kind, k, f, 20 * sd, 1.0, 0.01)  # shifted lognormal, shift 1%
            assert abs(black_price_np(f + 0.01, k + 0.01, (20 * sd) ** 2, ann, is_payer) / ref - 1) < 1e-13


def test_recovers_known_piecewise_vol_from_its_prices():
    expiries = np.arange(1.0, 8.0)
    true_vols = np.array([0.0110, 0.0085, 0.0097, 0.0070, 0.0081, 0.0090, 0.0064])
    truth = HullWhiteParams.create(MR, true_vols, expiries[:-1])
    quotes = []
    for e in expiries:  # co-terminal into 8Y, semiannual fixed, lognormal vols shifted by 2%
        q = SwaptionQuote(float(e), 8.0 - e, 0.2, "lognormal", shift=0.02, fixed_frequency=2)
        quotes.append(dataclasses.replace(q, vol=implied(q, ref_swaption(q, truth)[3])))
    params, report = calibrate_hull_white(CURVE, quotes[::-1], MR)  # any input order
    np.testing.assert_allclose(params.vol_times, expiries[:-1], rtol=0, atol=0)
    np.testing.assert_allclose(params.vol_values, true_vols, rtol=1e-10, atol=0)
    assert float(params.mean_reversion) == MR
    assert [r.instrument for r in report.rows] == [f"{e:g}Yx{8 - e:g}Y" for e in expiries]


def test_realistic_normal_coterminal_strip_reprices():
    vols_bp = np.array([92.0, 95.0, 94.0, 91.0, 88.0, 85.0, 83.0, 80.0, 78.0])  # humped, 1Y..9Y into 10Y
    quotes = coterminal_strip(10.0, vols_bp * 1e-4)
    params, report = calibrate_hull_white(CURVE, quotes, MR)
    assert np.all(np.asarray(params.vol_values) > 0.0)
    frame = report.to_frame()
    assert list(frame.columns) == [
        "instrument", "expiry", "tenor", "strike", "market_vol", "market_price", "model_price",
        "abs_error", "rel_error", "model_vol", "sigma",
    ]
    for q, row in zip(quotes, report.rows):
        fwd, _, k, market = ref_swaption(q, q.vol)
        _, _, _, model = ref_swaption(q, params)
        assert abs(k - fwd) < 1e-16 and abs(row.strike - fwd) < 1e-15  # ATM = forward swap rate
        assert abs(row.market_price / market - 1) < 1e-13
        assert abs(model / market - 1) < 1e-10, q.label
        assert abs(row.rel_error) < 1e-10 and abs(row.model_vol / q.vol - 1) < 1e-9
    assert report.max_rel_error < 1e-10


def test_diagonal_strip_with_strikes_and_receivers():
    quotes = diagonal_strip([0.5, 1, 2, 3, 5], [2, 3, 5, 5, 10], np.array([70, 80, 90, 88, 84]) * 1e-4)
    quotes[1] = SwaptionQuote(1.0, 3.0, 0.0082, strike=0.028, is_payer=False)  # OTM receiver
    quotes[3] = SwaptionQuote(3.0, 5.0, 0.0089, strike=0.045, fixed_frequency=2)  # OTM payer
    params, report = calibrate_hull_white(CURVE, quotes, MR)
    for q in quotes:
        assert abs(ref_swaption(q, params)[3] / ref_swaption(q, q.vol)[3] - 1) < 1e-10, q.label


def test_multicurve_strip_reprices():
    # Forecasting curve 15-25bp over discounting, semiannual float resets, annual fixed; deterministic basis.
    pillars = np.asarray(CURVE.times)
    zeros = -np.asarray(CURVE.log_dfs) / pillars
    fwd_curve = DiscountCurve.from_zero_rates(pillars, zeros + np.linspace(0.0015, 0.0025, pillars.size))
    quotes = diagonal_strip([1, 2, 3, 4], [5, 5, 4, 3], np.array([85, 88, 86, 83]) * 1e-4)
    params, report = calibrate_hull_white(CURVE, quotes, MR, forward_curve=fwd_curve, float_frequency=2)
    log_d = lambda t: np.interp(t, np.r_[0.0, CURVE.times], np.r_[0.0, CURVE.log_dfs])  # noqa: E731
    log_f = lambda t: np.interp(t, np.r_[0.0, fwd_curve.times], np.r_[0.0, fwd_curve.log_dfs])  # noqa: E731
    for q, row in zip(quotes, report.rows):
        pay = q.expiry + np.arange(1.0, q.tenor + 1)
        grid = q.expiry + np.arange(0.0, q.tenor + 0.25, 0.5)
        s_, e_ = grid[:-1], grid[1:]
        annuity = np.sum(np.exp(log_d(pay)))
        fwd = np.sum((np.exp(log_f(s_) - log_f(e_)) - 1) * np.exp(log_d(e_))) / annuity  # sum tau L P / A
        market = bachelier_price_np(fwd, fwd, q.vol**2 * q.expiry, annuity)
        basis = np.exp(log_f(s_) - log_f(e_) - log_d(s_) + log_d(e_))
        times, amounts, target = swap_coupon_bond(q.expiry, pay, np.ones(pay.size), fwd, s_, e_, basis)
        times, amounts = (z[0] for z in pad_cashflows([(times, amounts)], pad_to=NPAD))
        model = float(swaption_jamshidian(padded(params), CURVE, 0.0, 0.0, q.expiry, times, amounts, True, target))
        assert abs(row.strike / fwd - 1) < 1e-13 and abs(row.market_price / market - 1) < 1e-13
        assert abs(model / market - 1) < 1e-10, q.label


def test_unreachable_quote_raises_naming_it():
    # 3Yx7Y at 20bp after 1Y and 2Y at ~90bp: even sigma = 0 on [2, 3) leaves the model too expensive.
    quotes = coterminal_strip(10.0, [0.0090, 0.0090, 0.0020, 0.0085], expiries=[1, 2, 3, 4])
    with pytest.raises(CalibrationError, match="swaption 3Yx7Y: .* below the model price"):
        calibrate_hull_white(CURVE, quotes, MR)
    with pytest.raises(CalibrationError, match="1Yx9Y.*max_vol"):
        calibrate_hull_white(CURVE, coterminal_strip(10.0, [0.05, 0.009], expiries=[1, 2]), MR, max_vol=0.02)
    with pytest.raises(ConfigError, match="2Yx3Y.*2Yx8Y|2Yx8Y.*2Yx3Y"):
        calibrate_hull_white(CURVE, diagonal_strip([1, 2, 2], [9, 8, 3], 0.009), MR)
    with pytest.raises(ConfigError, match="1.5Yx2.3Y"):
        calibrate_hull_white(CURVE, [SwaptionQuote(1.5, 2.3, 0.009)], MR)
