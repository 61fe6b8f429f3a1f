"""Caps and floors with a payment lag (``payment_lag``, ORE's PaymentLag on the cap's leg): each caplet pays
N tau (L - K)^+ ``payment_lag`` business days after its accrual end, L the forward of its accrual period.

References: QuantLib 1.44 IborLeg(paymentLag) coupon payment dates; each lagged caplet's t0 price against a scipy
quadrature over x(f) of the payoff (b P(f,s)/P(f,e) - 1 - K tau)^+ P(f,p) with textbook constant-vol Hull-White
bonds (Brigo-Mercurio 3.39); path values after the accrual end and before the payment against textbook bonds; the
discounted value on a coarse grid a martingale around the t0 price (within 4 SE).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from exposure.errors import TradeError
from tests.test_option_pricing import ASOF, MARKET, _hw_var, _values, _view, qd, today, trade

ql = pytest.importorskip("QuantLib")

CAP = dict(index="USD-3M", notional=1e7, start="2026-12-28", maturity="2029-12-28", strike=0.035, tenor="3M",
           calendar="US", fixing_days=2, payment_lag=2)
A, SIG = 0.05, 0.01
P0 = lambda T: float(np.exp(MARKET.curves["USD"].log_discount(T)))  # noqa: E731


def _bond(t, T, x):
    B = (1 - np.exp(-A * (T - t))) / A
    return P0(T) / P0(t) * np.exp(-B * x + 0.5 * (_hw_var(A, SIG, t, T) - _hw_var(A, SIG, 0, T) + _hw_var(A, SIG, 0, t)))


def _quadrature(s, j, cap):
    """P(0,f) E^f[(P(f,s) - (1 + K tau) P(f,e))^+ P(f,p)/P(f,e)] over x(f) ~ N(-M, v) (f-forward measure)."""
    tm = MARKET.time
    f, st, en, pay = tm(s.fixing_dates[j]), tm(s.dates[j]), tm(s.dates[j + 1]), tm(s.payment_dates[j])
    scale = 1.0 + s.strike * (s.dates[j + 1] - s.dates[j]).days / 360.0
    w = 1.0 if cap else -1.0
    payoff = lambda x: max(w * (_bond(f, st, x) / _bond(f, en, x) - scale), 0.0) * _bond(f, pay, x)  # noqa: E731
    mean = -(SIG**2 / A**2 * (1 - np.exp(-A * f)) - SIG**2 / (2 * A**2) * (1 - np.exp(-2 * A * f)))
    sd = np.sqrt(SIG**2 / (2 * A) * (1 - np.exp(-2 * A * f)))
    lo, hi = mean - 12 * sd, mean + 12 * sd
    xs = optimize.brentq(lambda x: _bond(f, st, x) / _bond(f, en, x) - scale, lo, hi, xtol=1e-16)
    g = lambda x: payoff(x) * stats.norm.pdf(x, mean, sd)  # noqa: E731
    v = sum(integrate.quad(g, u, z, epsabs=1e-16, epsrel=1e-13, limit=200)[0] for u, z in [(lo, xs), (xs, hi)])
    return P0(f) * v * s.notional


@pytest.fixture(autouse=True)
def _ql_today():
    ql.Settings.instance().evaluationDate = qd(ASOF)
    yield


def test_payment_dates_are_quantlib_iborleg_payment_dates():
    s = trade("CapFloor", cap=True, **CAP)
    us = ql.UnitedStates(ql.UnitedStates.Settlement)
    h = ql.YieldTermStructureHandle(ql.FlatForward(qd(ASOF), 0.03, ql.Actual365Fixed()))
    idx = ql.IborIndex("L3M", ql.Period("3M"), 2, ql.USDCurrency(), us, ql.ModifiedFollowing, False, ql.Actual360(), h)
    sch = ql.Schedule(qd(dt.date(2026, 12, 28)), qd(dt.date(2029, 12, 28)), ql.Period("3M"), us, ql.ModifiedFollowing,
                      ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    leg = ql.IborLeg([1e7], sch, idx, ql.Actual360(), ql.ModifiedFollowing, fixingDays=[2], paymentCalendar=us,
                     paymentLag=2)
    assert [qd(d) for d in s.payment_dates] == [c.date() for c in leg]
    assert [qd(d) for d in s.fixing_dates] == [ql.as_floating_rate_coupon(c).fixingDate() for c in leg]
    assert all(p > e for p, e in zip(s.payment_dates, s.dates[1:]))
    assert trade("CapFloor", cap=True, **{**CAP, "payment_lag": 0}).payment_dates == ()


@pytest.mark.parametrize("cap", [True, False])
def test_lagged_payment_caplets_match_a_quadrature(cap):
    s = trade("CapFloor", cap=cap, **CAP)
    for j in (0, 3, 11):
        one = trade("CapFloor", cap=cap, **{**CAP, "start": s.dates[j].isoformat(),
                                            "maturity": s.dates[j + 1].isoformat(), "tenor": "1Y"})
        assert one.payment_dates == (s.payment_dates[j],)
        ref = _quadrature(s, j, cap)
        assert today(one)[0] == pytest.approx(ref, rel=1e-9), j
        nolag = trade("CapFloor", cap=cap, **{**CAP, "start": s.dates[j].isoformat(),
                                              "maturity": s.dates[j + 1].isoformat(), "tenor": "1Y", "payment_lag": 0})
        assert abs(today(nolag)[0] / ref - 1.0) > 1e-5  # the lag is visible


def test_caplet_fixed_and_accrued_stays_in_the_value_until_paid():
    """One caplet: after its accrual end and before its payment it is the known payoff discounted to p; from p, 0."""
    s = trade("CapFloor", cap=True, **{**CAP, "maturity": "2027-03-28", "strike": 0.03})
    tm = MARKET.time
    f, e, p = tm(s.fixing_dates[0]), tm(s.dates[1]), tm(s.payment_dates[0])
    assert f < e < p
    times = np.array([f, e, (e + p) / 2, p])
    xs = np.array([[0.01, -0.02, 0.0], [0.0, 0.01, -0.01], [0.02, 0.0, 0.005], [0.0, 0.0, 0.0]])
    got = _values(s, times, _view(times, xs))[:, 0, :]
    scale = 1.0 + s.strike * (s.dates[1] - s.dates[0]).days / 360.0
    st = tm(s.dates[0])
    fixed = np.array([max(_bond(f, st, x) / _bond(f, e, x) - scale, 0.0) for x in xs[0]]) * s.notional
    assert (fixed > 0).any() and (fixed == 0).any()
    for k in (0, 1, 2):
        np.testing.assert_allclose(got[k], fixed * np.array([_bond(times[k], p, x) for x in xs[k]]), rtol=1e-10,
                                   atol=1e-8, err_msg=str(k))
    np.testing.assert_array_equal(got[3], 0.0)


def test_bad_payment_lag_names_the_field():
    with pytest.raises(TradeError, match="payment_lag"):
        trade("CapFloor", cap=True, **{**CAP, "payment_lag": 1.5})
    with pytest.raises(TradeError, match="payment_calendar"):
        trade("CapFloor", cap=True, **{**CAP, "payment_calendar": "MARS"})


@pytest.mark.slow
def test_lagged_payment_caplet_stays_a_martingale_on_a_coarse_grid(tmp_path):
    """A caplet fixing at 20M (2 TARGET days before its start), paid 5 days after its 26M end; grid 1Y, 2Y,
    the date between its end and its payment: E[V(t)/N(t)] = V(0) within 4 SE at each (nothing paid before)."""
    import yaml

    from exposure import api
    from tests.test_exact_events import _discounted_values, _z_scores

    trade_ = {"id": "CAPLET_PAYLAG", "type": "CapFloor", "index": "EUR-EURIBOR-6M", "notional": 1.0e7, "start": "20M",
              "maturity": "26M", "tenor": "6M", "strike": 0.0255, "cap": True, "calendar": "TARGET",
              "fixing_days": 2, "payment_lag": 5, "netting_set": "NS"}
    path = tmp_path / "cap.yaml"
    path.write_text(yaml.safe_dump({"netting_sets": {"NS": {"counterparty": "CP"}}, "trades": [trade_]}))
    probe = api.setup(api.compose([f"portfolio.trades={path}", "portfolio.fixings=null"]))
    spec = probe.portfolio.batches[0].specs[0]
    between = spec.dates[1] + dt.timedelta(days=2)
    assert spec.dates[1] < between < spec.payment_dates[0]
    cfg = api.compose([f"portfolio.trades={path}", "portfolio.fixings=null",
                       f"simulation.grid='1Y,2Y,{between.isoformat()}'", "simulation.paths=8000",
                       "simulation.chunk_size=8000", f"output.dir={tmp_path / 'out'}"])
    s = api.setup(cfg)
    v, npv0, _ = _discounted_values(cfg, s)
    z = _z_scores(v, npv0)[:, 0]
    assert np.all(np.abs(z) < 4.0), z
    assert np.abs(v[-1]).max() > 0  # still in the value after its accrual end
