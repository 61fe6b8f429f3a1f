"""Credit curves and the CDS bootstrap against QuantLib (MidPointCdsEngine, PiecewiseFlatHazardRate),
closed forms and direct quadrature."""

from __future__ import annotations

import datetime as dt

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import QuantLib as ql
from scipy.integrate import quad

import exposure  # noqa: F401  (x64)
from exposure.errors import MarketDataError
from exposure.market.cds import bootstrap_cds, cds_contract, cds_legs, cds_par_spread
from exposure.market.credit import CreditCurve
from exposure.market.curves import DiscountCurve
from exposure.market.cds import cds_maturity
from exposure.market.schedule import year_fraction

RULES = {"twentieth_imm": ql.DateGeneration.TwentiethIMM, "cds": ql.DateGeneration.CDS,
         "cds2015": ql.DateGeneration.CDS2015}
TENORS = ["1Y", "2Y", "3Y", "5Y", "7Y", "10Y"]
SPREADS = [0.0045, 0.0060, 0.0075, 0.0100, 0.0118, 0.0130]  # upward sloping, 45bp..130bp


def qdate(d: dt.date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def pydate(d: ql.Date) -> dt.date:
    return dt.date(d.year(), d.month(), d.dayOfMonth())


def discount_pair(asof: dt.date):
    """Our log-linear DiscountCurve and the QuantLib DiscountCurve (log-linear) through the same pillars."""
    dates = [asof + dt.timedelta(days=n) for n in (91, 365, 730, 1826, 3652, 7305)]
    times = np.array([year_fraction(asof, d) for d in dates])
    rates = np.array([0.0310, 0.0295, 0.0290, 0.0305, 0.0330, 0.0345])
    ours = DiscountCurve.from_zero_rates(times, rates, name="USD")
    ref = ql.DiscountCurve([qdate(asof)] + [qdate(d) for d in dates], [1.0] + list(np.exp(-rates * times)),
                           ql.Actual365Fixed())
    ref.enableExtrapolation()
    return ours, ql.YieldTermStructureHandle(ref)


def test_curve_closed_forms_and_quantlib_hazard_curve():
    curve = CreditCurve.from_hazards([1.0, 3.0, 6.0], [0.01, 0.025, 0.04], recovery=0.35, name="ACME")
    t = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 9.0])
    cum = np.array([0.0, 0.0, 0.005, 0.01, 0.035, 0.06, 0.12, 0.18, 0.30])
    np.testing.assert_allclose(np.asarray(curve.survival(t)), np.exp(-cum), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(curve.default_probability(t)), -np.expm1(-cum), rtol=1e-14, atol=0.0)
    np.testing.assert_allclose(np.asarray(curve.hazard(t)), [0.01, 0.01, 0.01, 0.01, 0.025, 0.025, 0.04, 0.04, 0.04])
    between = float(curve.default_probability_between(2.0, 4.5))
    assert between == pytest.approx(np.exp(-0.035) - np.exp(-0.12), rel=1e-14)
    assert np.asarray(curve.survival(np.ones((2, 3, 4)))).shape == (2, 3, 4)
    # QuantLib's InterpolatedHazardRateCurve<BackwardFlat> through the same pillars (dates 365 t days out)
    today = ql.Date(13, 8, 2025)
    ref = ql.HazardRateCurve([today + int(365 * x) for x in (0, 1, 3, 6)], [0.01, 0.01, 0.025, 0.04],
                             ql.Actual365Fixed())
    ref.enableExtrapolation()
    for x in (0.25, 1.0, 2.2, 3.0, 5.0, 6.0, 12.0):
        assert float(curve.survival(x)) == pytest.approx(ref.survivalProbability(x), rel=1e-15)
    np.testing.assert_allclose(np.asarray(CreditCurve.flat(0.02).survival([1.0, 250.0])), np.exp([-0.02, -5.0]),
                               rtol=1e-14)


@pytest.mark.parametrize("rule,settlement_days,include_last_day", [
    ("cds2015", 0, True), ("cds", 1, False), ("twentieth_imm", 1, False)])
def test_cds_legs_match_quantlib_midpoint_engine(rule, settlement_days, include_last_day):
    """Both legs, the accrual rebate and the fair spread of one 5Y CDS on a given hazard curve."""
    asof = dt.date(2025, 8, 13)
    ql.Settings.instance().evaluationDate = qdate(asof)
    disc, qdisc = discount_pair(asof)
    curve = CreditCurve.from_hazards([1.0, 3.0, 6.0], [0.01, 0.025, 0.04], recovery=0.35)
    qhaz = ql.HazardRateCurve([qdate(asof) + int(365 * x) for x in (0, 1, 3, 6)], [0.01, 0.01, 0.025, 0.04],
                              ql.Actual365Fixed())
    qhaz.enableExtrapolation()
    protection = asof + dt.timedelta(days=settlement_days)
    end = protection.replace(year=protection.year + 5) if rule == "twentieth_imm" else cds_maturity(asof, "5Y", rule)
    sched = ql.Schedule(qdate(protection), qdate(end), ql.Period("3M"), ql.WeekendsOnly(), ql.Following,
                        ql.Unadjusted, RULES[rule], False)
    cds = ql.CreditDefaultSwap(ql.Protection.Buyer, 1e7, 0.01, sched, ql.Following, ql.Actual360(), True, True,
                               qdate(protection), ql.FaceValueClaim(), ql.Actual360(include_last_day))
    cds.setPricingEngine(ql.MidPointCdsEngine(ql.DefaultProbabilityTermStructureHandle(qhaz), 0.35, qdisc))

    # padded with empty periods (one compilation for all cases); padding must not change any leg
    contract = cds_contract(asof, "5Y", rule=rule, settlement_days=settlement_days,
                            include_last_day=include_last_day, n_periods=44)
    prot, annuity = (float(x) for x in cds_legs(curve, contract, disc))
    assert prot * 1e7 == pytest.approx(cds.defaultLegNPV(), rel=1e-12)
    assert float(contract.rebate) * 1e5 * float(disc.discount(contract.rebate_time)) == pytest.approx(
        cds.accrualRebateNPV(), rel=1e-12, abs=1e-9)
    assert annuity * 1e5 == pytest.approx(-cds.couponLegNPV() - cds.accrualRebateNPV(), rel=1e-12)
    assert float(cds_par_spread(curve, contract, disc)) == pytest.approx(cds.fairSpread(), rel=1e-12)
    assert (rule == "twentieth_imm") == (float(contract.rebate) == 0.0)  # CDS rules rebate the first accrual


@pytest.mark.parametrize("asof,rule,settlement_days,include_last_day", [
    (dt.date(2025, 3, 19), "cds2015", 0, False),   # day before a roll date
    (dt.date(2025, 6, 21), "cds2015", 1, True),    # Saturday after the June roll (CDS2015: semi-annual)
    (dt.date(2024, 12, 20), "cds", 0, False),      # on a roll date
    (dt.date(2026, 1, 7), "twentieth_imm", 1, False),
])
def test_bootstrap_matches_quantlib_piecewise_flat_hazard(asof, rule, settlement_days, include_last_day):
    """Same quotes, same discount curve, same conventions as QuantLib's SpreadCdsHelper (WeekendsOnly,
    Quarterly, Following, ACT/360, MidPoint model) and PiecewiseFlatHazardRate(ACT/365F): the pillar
    dates agree exactly and survival at the pillars to 1e-11 (observed ~5e-13; both solvers stop at
    ~1e-12 on the hazard, so this is the solvers' agreement, not a convention gap)."""
    ql.Settings.instance().evaluationDate = qdate(asof)
    disc, qdisc = discount_pair(asof)
    last_dc = ql.Actual360(include_last_day)
    helpers = [ql.SpreadCdsHelper(s, ql.Period(t), settlement_days, ql.WeekendsOnly(), ql.Quarterly, ql.Following,
                                  RULES[rule], ql.Actual360(), 0.4, qdisc, True, True, ql.Date(), last_dc)
               for s, t in zip(SPREADS, TENORS)]
    ref = ql.PiecewiseFlatHazardRate(qdate(asof), helpers, ql.Actual365Fixed())
    curve = bootstrap_cds(asof, TENORS, SPREADS, 0.4, disc, name="ACME", rule=rule,
                          settlement_days=settlement_days, include_last_day=include_last_day)
    pillars = [pydate(h.pillarDate()) for h in helpers]
    ours = [cds_contract(asof, t, rule=rule, settlement_days=settlement_days).pillar_date for t in TENORS]
    assert ours == pillars
    times = np.array([year_fraction(asof, d) for d in pillars])
    np.testing.assert_array_equal(np.asarray(curve.times), times)
    np.testing.assert_allclose(np.asarray(curve.survival(times)), [ref.survivalProbability(qdate(d)) for d in pillars],
                               rtol=0.0, atol=1e-11)
    mid = 0.5 * (times[1:] + times[:-1])
    np.testing.assert_allclose(np.asarray(curve.hazard(mid)), [ref.hazardRate(t) for t in mid], rtol=1e-8)


@pytest.mark.parametrize("engine", ["midpoint", "integral"])
def test_bootstrap_reprices_par_spreads(engine):
    asof = dt.date(2025, 5, 7)
    disc, _ = discount_pair(asof)
    curve = bootstrap_cds(asof, TENORS, SPREADS, 0.4, disc, name="ACME", engine=engine)
    # padded to one length so that the jitted pricer compiles once for all tenors
    contracts = [cds_contract(asof, tenor, n_periods=44) for tenor in TENORS]
    repriced = [float(cds_par_spread(curve, c, disc, engine)) for c in contracts]
    np.testing.assert_allclose(repriced, SPREADS, rtol=0.0, atol=1e-8)
    h = np.asarray(curve.hazards)
    assert np.all(h > 0.0) and np.all(np.diff(np.asarray(curve.survival(curve.times))) < 0.0)
    assert float(curve.recovery) == 0.4 and curve.name == "ACME"
    # credit triangle: the 5Y average hazard is close to s / (1 - R)
    assert float(curve.cumulative_hazard(5.0)) / 5.0 == pytest.approx(0.0100 / 0.6, rel=0.05)
    # maturities as dates give the same curve as the tenors that produce them
    dates = [cds_maturity(asof, t) for t in TENORS]
    same = bootstrap_cds(asof, dates, SPREADS, 0.4, disc, engine=engine)
    np.testing.assert_allclose(np.asarray(same.hazards), h, rtol=1e-12)


def test_integral_engine_matches_quadrature_and_midpoint():
    """The exact piecewise integrals against scipy quad of h S P (and accrual-weighted h S P) over each
    protection period, and the hazards against the mid-point engine (they differ at ~1e-4 relative)."""
    asof = dt.date(2025, 5, 7)
    disc, _ = discount_pair(asof)
    curve = bootstrap_cds(asof, TENORS, SPREADS, 0.4, disc, engine="integral")
    mid = bootstrap_cds(asof, TENORS, SPREADS, 0.4, disc, engine="midpoint")
    np.testing.assert_allclose(np.asarray(curve.hazards), np.asarray(mid.hazards), rtol=1e-3)
    c = cds_contract(asof, "7Y", n_periods=44)
    prot, annuity = (float(x) for x in cds_legs(curve, c, disc, "integral"))
    # independent NumPy rebuild of h(u) S(u) P(0,u) from the pillars: backward-flat hazard, log-linear P
    ht, hv = np.asarray(curve.times), np.asarray(curve.hazards)
    dt_, dl = np.concatenate([[0.0], np.asarray(disc.times)]), np.concatenate([[0.0], np.asarray(disc.log_dfs)])
    kinks = np.concatenate([ht, dt_])

    def density(u):
        i = min(np.searchsorted(ht, u), ht.size - 1)
        cum = np.sum(hv[:i] * np.diff(np.concatenate([[0.0], ht[:i]]))) + hv[i] * (u - (ht[i - 1] if i else 0.0))
        return hv[i] * np.exp(-cum + np.interp(u, dt_, dl))

    ref_prot, ref_ann = 0.0, -float(c.rebate) * float(disc.discount(c.rebate_time))
    for i in range(c.pay_time.size):
        a, b, s0 = c.prot_start[i], c.prot_end[i], c.accrual_start[i]
        pts = [k for k in kinks if a < k < b] or None
        rate = c.accrual[i] / (c.accrual_end[i] - s0)
        ref_prot += 0.6 * quad(density, a, b, points=pts, epsabs=1e-15, epsrel=1e-13)[0]
        ref_ann += quad(lambda u: rate * (u - s0) * density(u), a, b, points=pts, epsabs=1e-15, epsrel=1e-13)[0]
        ref_ann += density(c.pay_time[i]) / hv[min(np.searchsorted(ht, c.pay_time[i]), ht.size - 1)] * c.accrual[i]
    assert prot == pytest.approx(ref_prot, rel=1e-11)
    assert annuity == pytest.approx(ref_ann, rel=1e-11)


def test_curve_is_a_differentiable_pytree():
    curve = CreditCurve.from_hazards([1.0, 3.0, 5.0], [0.01, 0.02, 0.03], recovery=0.4)
    t = jnp.array([0.5, 2.0, 7.0])
    # dS(t)/dh_i = -S(t) * (time spent in segment i before t), the last segment extending to infinity
    def total_survival(h):
        return jnp.sum(CreditCurve(curve.times, h, curve.recovery).survival(t))

    grad = np.asarray(jax.grad(total_survival)(curve.hazards))
    s = np.exp(-np.array([0.005, 0.03, 0.01 + 0.04 + 0.12]))
    overlap = np.array([[0.5, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 2.0, 4.0]])
    np.testing.assert_allclose(grad, -(s[:, None] * overlap).sum(axis=0), rtol=1e-14)
    assert len(jax.tree_util.tree_leaves(curve)) == 3  # times, hazards, recovery; the name is static
    assert float(jax.jit(lambda cv: cv.survival(2.0))(curve)) == pytest.approx(np.exp(-0.03), rel=1e-15)


def test_bad_quotes_raise_market_data_error_naming_curve_and_pillar():
    asof = dt.date(2025, 5, 7)
    disc = DiscountCurve.flat(0.03)
    with pytest.raises(MarketDataError, match=r"'ACME'.*pillar 3Y.*par spread -0.001"):
        bootstrap_cds(asof, ["1Y", "3Y"], [0.005, -0.001], 0.4, disc, name="ACME")
    for rec in (1.0, -0.1, float("nan")):
        with pytest.raises(MarketDataError, match=r"'ACME'.*recovery"):
            bootstrap_cds(asof, ["1Y"], [0.005], rec, disc, name="ACME")
    with pytest.raises(MarketDataError, match=r"'ACME'.*pillar 1Y.*increasing"):
        bootstrap_cds(asof, ["3Y", "1Y"], [0.005, 0.006], 0.4, disc, name="ACME")
    with pytest.raises(MarketDataError, match=r"'ACME'.*pillar 2026-06-20.*increasing"):
        bootstrap_cds(asof, [dt.date(2027, 6, 20), dt.date(2026, 6, 20)], [0.005, 0.006], 0.4, disc, name="ACME")
    with pytest.raises(MarketDataError, match=r"'ACME'.*pillar 5Y.*no root.*below what a zero hazard gives"):
        bootstrap_cds(asof, ["1Y", "5Y"], [0.05, 0.002], 0.4, disc, name="ACME")  # steeply inverted
    with pytest.raises(MarketDataError, match=r"'ACME'.*pillar 1Y.*no root"):
        bootstrap_cds(asof, ["1Y"], [40.0], 0.4, disc, name="ACME")
    with pytest.raises(MarketDataError, match=r"'ACME'.*bad tenor '5X'"):
        bootstrap_cds(asof, ["5X"], [0.01], 0.4, disc, name="ACME")
    with pytest.raises(MarketDataError, match=r"'ACME'.*2 spreads for 1"):
        bootstrap_cds(asof, ["1Y"], [0.01, 0.02], 0.4, disc, name="ACME")
