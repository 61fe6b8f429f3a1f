"""Discount curves against QuantLib's log-linear discount curve on the same pillars."""

from __future__ import annotations

import numpy as np
import pytest

import exposure  # noqa: F401
from exposure.errors import MarketDataError
from exposure.market.curves import DiscountCurve

ql = pytest.importorskip("QuantLib")

TIMES = np.array([0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0])
RATES = np.array([0.039, 0.038, 0.0366, 0.0349, 0.035, 0.037, 0.0389])


def _ql_curve():
    today = ql.Date(20, 11, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    # Pillar dates at whole days so QuantLib's ACT/365F times equal ours exactly.
    days = np.round(TIMES * 365).astype(int)
    dates = [today] + [today + int(n) for n in days]
    dfs = [1.0] + list(np.exp(-RATES * days / 365.0))
    return ql.DiscountCurve(dates, dfs, dc), days / 365.0


def test_log_linear_matches_quantlib_inside_the_pillars():
    qc, t_pillars = _ql_curve()
    ours = DiscountCurve.from_zero_rates(t_pillars, RATES)
    for t in np.linspace(0.01, t_pillars[-1] - 1e-9, 97):
        assert float(ours.discount(t)) == pytest.approx(qc.discount(float(t)), rel=1e-13)


def test_flat_forward_extrapolation_beyond_the_last_pillar():
    qc, t_pillars = _ql_curve()
    ours = DiscountCurve.from_zero_rates(t_pillars, RATES)
    qc.enableExtrapolation()
    # QuantLib's LogLinear also extends the last segment's forward rate.
    for t in (31.0, 40.0, 60.0):
        assert float(ours.discount(t)) == pytest.approx(qc.discount(t), rel=1e-12)
    f_last = float(ours.instantaneous_forward(35.0))
    assert f_last == pytest.approx(float(ours.instantaneous_forward(50.0)), abs=1e-15)


def test_first_segment_is_a_flat_zero_rate():
    c = DiscountCurve.from_zero_rates(TIMES, RATES)
    for t in (0.0, 0.01, 0.1, 0.25):
        assert float(c.zero_rate(t)) == pytest.approx(RATES[0], abs=1e-14)


def test_forward_rate_and_discount_factor_input():
    dfs = np.exp(-RATES * TIMES)
    a = DiscountCurve.from_discount_factors(TIMES, dfs)
    b = DiscountCurve.from_zero_rates(TIMES, RATES)
    t1, t2 = 1.5, 3.25
    np.testing.assert_allclose(float(a.forward_rate(t1, t2)), float(b.forward_rate(t1, t2)), rtol=1e-13)
    expected = (float(b.discount(t1)) / float(b.discount(t2)) - 1.0) / (t2 - t1)
    assert float(b.forward_rate(t1, t2)) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    "times, values, words",
    [([1.0, 0.5], [0.01, 0.01], "strictly increasing"), ([0.0, 1.0], [0.01, 0.01], "> 0"), ([1.0], [0.01, 0.02], "2 rates for 1")],
)
def test_bad_pillars_raise(times, values, words):
    with pytest.raises(MarketDataError, match=words):
        DiscountCurve.from_zero_rates(times, values, name="X")
