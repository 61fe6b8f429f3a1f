"""IBOR swap coupons with a fixing lag fix on their real fixing date on the paths.

A coupon accruing over [T1, T2] fixes ``fixing_days`` business days before T1, at Tf. From Tf on (also between Tf
and T1) its rate is the one seen from the state at Tf, a known amount; before Tf it is projected off the date-t
curve. References: textbook Hull-White zero bonds (Brigo-Mercurio 3.39 with constant parameters) on hand-made
states, QuantLib 1.44 IborLeg fixing dates, and the martingale property of the discounted value on a coarse grid
(E[V(t)/N(t)] = V(0) within 4 standard errors), with the fixing dates simulated by the exact bridge
(``simulation.events=fixings``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from exposure.pricing.linear import LinearBatch
from exposure.pricing.linear_parse import parse_trade
from exposure.pricing.view import PricingContext
from tests.test_option_pricing import MARKET, MODEL, _hw_var, _view, qd

ql = pytest.importorskip("QuantLib")

# 3M USD-LIBOR (its own forwarding curve over the USD discount curve), fixing 2 US/UK business days before each
# accrual start; the first coupon accrues from Mon 22 Feb 2027 and fixes on Thu 18 Feb.
RAW = {"id": "S", "type": "Swap", "currency": "USD", "notional": 1e7, "start": "2027-02-22", "maturity": "2027-08-22",
       "fixed_rate": 0.037, "fixed_tenor": "3M", "fixed_day_count": "ACT/360", "float_index": "USD-LIBOR-3M",
       "float_tenor": "3M", "calendar": "US", "fixing_days": 2, "fixing_calendar": "US,UK"}
A, SIG = 0.05, 0.01  # the constant Hull-White parameters of MODEL's USD


def _p0(curve, T):
    return float(np.exp(curve.log_discount(T)))


def _bond(t, T, x):
    """Textbook Hull-White P(t, T | x(t) = x) on the USD discount curve."""
    P0 = lambda u: _p0(MARKET.curves["USD"], u)  # noqa: E731
    B = (1 - np.exp(-A * (T - t))) / A
    return P0(T) / P0(t) * np.exp(-B * x + 0.5 * (_hw_var(A, SIG, t, T) - _hw_var(A, SIG, 0, T) + _hw_var(A, SIG, 0, t)))


def _basis(T):
    return _p0(MARKET.indices["USD-LIBOR-3M"].curve, T) / _p0(MARKET.curves["USD"], T)


def _values(spec, times, xs, exact=True):
    b = LinearBatch([spec], [0], exact_fixings=exact)
    c = PricingContext(MARKET, MODEL, np.asarray(times, float), None, ())
    return np.asarray(b.values(b.prepare(c), _view(times, xs)))[:, 0, :]


def test_fixing_dates_are_quantlib_iborleg_fixing_dates():
    spec = parse_trade(RAW, MARKET)
    flt = spec.legs[1]
    h = ql.YieldTermStructureHandle(ql.FlatForward(qd(MARKET.asof), 0.03, ql.Actual365Fixed()))
    cal = ql.JointCalendar(ql.UnitedStates(ql.UnitedStates.Settlement), ql.UnitedKingdom(ql.UnitedKingdom.Settlement),
                           ql.JoinHolidays)
    idx = ql.IborIndex("L3M", ql.Period("3M"), 2, ql.USDCurrency(), cal, ql.ModifiedFollowing, False, ql.Actual360(), h)
    sch = ql.Schedule(qd(dt.date(2027, 2, 22)), qd(dt.date(2027, 8, 22)), ql.Period("3M"),
                      ql.UnitedStates(ql.UnitedStates.Settlement), ql.ModifiedFollowing, ql.ModifiedFollowing,
                      ql.DateGeneration.Backward, False)
    leg = ql.IborLeg([1e7], sch, idx, ql.Actual360(), ql.ModifiedFollowing, fixingDays=[2])
    ref = [ql.as_floating_rate_coupon(c).fixingDate() for c in leg]
    assert [qd(d) for d in flt.fixing_dates] == ref
    assert flt.fixing_dates[0] == dt.date(2027, 2, 18) < flt.accrual_start[0]
    assert LinearBatch([spec], [0], exact_fixings=True).event_dates() == flt.fixing_dates
    assert LinearBatch([spec], [0]).event_dates() == ()  # the default: no extra simulated dates


def test_coupon_fixed_at_its_fixing_date_on_a_path_matches_textbook_hull_white():
    """On a hand-made path: before Tf the first coupon is projected off the date-t curve; from Tf (between Tf and
    T1, and inside the accrual period) it pays N (D(T1)/D(T2) P(Tf,T1|x_f)/P(Tf,T2|x_f) - 1), the rate fixed on
    that path's state at Tf, discounted on the date-t curve; the second coupon is projected."""
    spec = parse_trade(RAW, MARKET)
    fixed, flt = spec.legs
    tm = MARKET.time
    f0 = tm(flt.fixing_dates[0])
    s = [tm(d) for d in flt.accrual_start] + [tm(flt.accrual_end[-1])]
    times = np.array([f0 - 10 / 365, f0, f0 + 1 / 365, (s[0] + s[1]) / 2])  # before Tf, Tf, Tf < t < T1, accruing
    xs = np.array([[0.004, -0.01, 0.02], [0.012, -0.015, 0.0], [0.010, -0.02, 0.003], [-0.005, 0.01, 0.03]])
    got = _values(spec, times, xs)
    N, K = 1e7, 0.037
    taus = [(b - a).days / 360.0 for a, b in zip(fixed.accrual_start, fixed.accrual_end)]
    fe = [tm(d) for d in fixed.accrual_end]
    for k, t in enumerate(times):
        for p in range(xs.shape[1]):
            x = xs[k, p]
            v = -sum(N * K * ta * _bond(t, T, x) for ta, T in zip(taus, fe))
            if t < f0 - 1e-12:
                v += N * (_basis(s[0]) / _basis(s[1]) * _bond(t, s[0], x) - _bond(t, s[1], x))
            else:  # fixed on the state at Tf (row 1), whatever the state at t
                xf = xs[1, p]
                fwd = _basis(s[0]) / _basis(s[1]) * _bond(f0, s[0], xf) / _bond(f0, s[1], xf)
                v += N * (fwd - 1.0) * _bond(t, s[1], x)
            v += N * (_basis(s[1]) / _basis(s[2]) * _bond(t, s[1], x) - _bond(t, s[2], x))
            assert got[k, p] == pytest.approx(v, rel=1e-10, abs=1e-6), (k, p)
    # the coupon known between Tf and T1 is the fixed amount: it moves with x(Tf) and not with the curve at t
    # beyond its discounting: shifting the state at Tf moves the value at t (x(t) kept)
    xs2 = xs.copy()
    xs2[1] += 0.01
    assert np.all(np.abs(_values(spec, times, xs2)[2] - got[2]) > 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("events", ["fixings", "options"])
def test_lagged_swap_stays_a_martingale_on_a_coarse_grid(tmp_path, events):
    """A 6M EURIBOR swap starting at 20M, fixing 2 TARGET days before each start, first payment at 26M; grid 1Y, a
    date between the first fixing and its accrual start, 2Y: E[V(t)/N(t)] = V(0) within 4 SE at each (nothing is
    paid before 2Y). With events=fixings the fixing dates are simulated event dates (the exact bridge); with the
    default the fixing reads the last reporting date before it, the fixing's conditional expectation."""
    import yaml

    from exposure import api
    from tests.test_exact_events import _discounted_values, _z_scores

    trade = {"id": "SW_LAG", "type": "Swap", "currency": "EUR", "notional": 1.0e7, "start": "20M", "maturity": "32M",
             "fixed_rate": 0.0255, "fixed_tenor": "6M", "float_index": "EUR-EURIBOR-6M", "float_tenor": "6M",
             "calendar": "TARGET", "fixing_days": 2, "netting_set": "NS"}
    path = tmp_path / "sw.yaml"
    path.write_text(yaml.safe_dump({"netting_sets": {"NS": {"counterparty": "CP"}}, "trades": [trade]}))
    probe = api.compose([f"portfolio.trades={path}", "portfolio.fixings=null"])
    leg = api.setup(probe).portfolio.batches[0].specs[0].legs[1]
    between = leg.fixing_dates[0] + dt.timedelta(days=1)
    assert leg.fixing_dates[0] < between < leg.accrual_start[0]
    cfg = api.compose([f"portfolio.trades={path}", "portfolio.fixings=null",
                       f"simulation.grid='1Y,{between.isoformat()},2Y'", "simulation.paths=6000",
                       "simulation.chunk_size=6000", f"simulation.events={events}", f"output.dir={tmp_path / 'out'}"])
    s = api.setup(cfg)
    simulated = set(s.grid.event_dates())
    assert simulated == ({d for d in leg.fixing_dates if d <= s.grid.dates[-1]} if events == "fixings" else set())
    v, npv0, _ = _discounted_values(cfg, s)
    z = _z_scores(v, npv0)[:, 0]
    assert np.all(np.abs(z) < 4.0), z
    assert abs(npv0[0]) > 0
