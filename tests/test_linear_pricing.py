"""Linear products: t0 prices against QuantLib and closed forms, the moment engine against an exact per-flow
evaluation on random and extreme states, and martingale consistency on simulated paths.

QuantLib is set up with the conventions the engine uses, so the two agree to rounding (1e-10 relative):
the same log-linear discount curves (pillars as dates, Actual365Fixed), schedules on WeekendsOnly with
the same convention, IBOR indices with 0 fixing days on WeekendsOnly (fixing = accrual start) and
at-par coupons (the forecast period is the accrual period, as in the engine), FRAs with an explicit
maturity date. The only differences from market practice are these conventions, not the engine's math.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

import exposure  # noqa: F401  (x64)
from exposure.config.schema import MarketConfig, ModelConfig
from exposure.market.snapshot import build_market
from exposure.models.build import build_model
from exposure.models.hull_white import hw_B, log_bond_intercept
from exposure.portfolio.fixings import Fixings
from exposure.pricing.linear import LinearBatch, SeriesRangeError, series_order
from exposure.pricing.linear_today import present_values, present_values_local
from exposure.pricing.cashflows import log_discount
from exposure.pricing.linear_parse import parse_trade
from exposure.pricing.view import PathView, PricingContext
from exposure.simulation.grid import TimeGrid
from exposure.simulation.paths import Discretisation, PathGenerator

ql = pytest.importorskip("QuantLib")
CONF = __import__("pathlib").Path(__file__).resolve().parent.parent / "conf"


@pytest.fixture(scope="module")
def mm():
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), OmegaConf.load(CONF / "market" / "example.yaml"))
    market = build_market(mc)
    md = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(CONF / "model" / "example.yaml"))
    return market, build_model(market, md, calibrate=False).model


# ---- QuantLib set-up --------------------------------------------------------------------------------


def qd(d: dt.date):
    return ql.Date(d.day, d.month, d.year)


def ql_curve(curve, asof):
    """The engine's log-linear DiscountCurve as a QuantLib DiscountCurve (pillars are whole days)."""
    days = np.rint(np.asarray(curve.times) * 365.0).astype(int)
    dates = [qd(asof)] + [qd(asof + dt.timedelta(days=int(n))) for n in days]
    dfs = [1.0] + list(np.exp(np.asarray(curve.log_dfs)))
    c = ql.DiscountCurve(dates, dfs, ql.Actual365Fixed())
    c.enableExtrapolation()
    return ql.YieldTermStructureHandle(c)


DC = {"30/360": ql.Thirty360(ql.Thirty360.BondBasis), "ACT/360": ql.Actual360(), "ACT/365F": ql.Actual365Fixed()}
CCY = {"USD": ql.USDCurrency(), "EUR": ql.EURCurrency(), "GBP": ql.GBPCurrency()}


def ql_setup(market):
    ql.Settings.instance().evaluationDate = qd(market.asof)
    ql.IborCoupon.createAtParCoupons()
    return {c: ql_curve(cv, market.asof) for c, cv in market.curves.items()}


def ql_ibor(market, name, fixings=()):
    idx = market.indices[name]
    n, unit = int(idx.tenor[:-1]), idx.tenor[-1]
    period = ql.Period(n, {"M": ql.Months, "Y": ql.Years}[unit])
    out = ql.IborIndex(name, period, 0, CCY[idx.currency], ql.WeekendsOnly(), ql.ModifiedFollowing, False,
                       DC[idx.day_count], ql_curve(idx.curve, market.asof))
    for d, v in fixings:
        out.addFixing(qd(d), v)
    return out


def ql_overnight(market, name, fixings=()):
    idx = market.indices[name]
    out = ql.OvernightIndex(name, 0, CCY[idx.currency], ql.WeekendsOnly(), DC[idx.day_count],
                            ql_curve(idx.curve, market.asof))
    for d, v in fixings:
        out.addFixing(qd(d), v)
    return out


def ql_schedule(start, end, months):
    return ql.Schedule(qd(start), qd(end), ql.Period(months, ql.Months), ql.WeekendsOnly(), ql.ModifiedFollowing,
                       ql.ModifiedFollowing, ql.DateGeneration.Backward, False)


def engine_t0(specs, market, model):
    """t0 values of the specs through the path engine (one batch, so one compilation)."""
    return present_values(LinearBatch(specs, np.zeros(len(specs), dtype=int)), market, model)


def rel(a, b, scale):
    return abs(a - b) / scale


# ---- t0 against QuantLib ----------------------------------------------------------------------------


def test_ibor_swaps_match_quantlib(mm):
    """Spot, forward-starting and spread IBOR swaps in USD and EUR (separate forward and discount curves):
    VanillaSwap with at-par coupons on a DiscountingSwapEngine."""
    market, model = mm
    disc = ql_setup(market)
    cases = [
        dict(currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.037, float_index="USD-LIBOR-3M"),
        dict(currency="USD", notional=2.5e7, start="1Y", maturity="6Y", fixed_rate=0.031, payer=False,
             float_index="USD-LIBOR-3M", spread=0.0025),
        dict(currency="EUR", notional=5e6, start="2026-12-15", maturity="2036-12-15", fixed_rate=0.028,
             float_index="EUR-EURIBOR-6M", float_tenor="6M"),
        dict(currency="EUR", notional=5e6, maturity="7Y", fixed_rate=0.02, fixed_tenor="6M", fixed_day_count="ACT/360"),
    ]
    specs = [parse_trade({"id": f"S{i}", "type": "Swap", **c}, market) for i, c in enumerate(cases)]
    ours = engine_t0(specs, market, model)
    for s, c, v in zip(specs, cases, ours):
        fx = market.fx_spot(s.currency)
        fixed_m = 12 if c.get("fixed_tenor", "1Y") == "1Y" else 6
        if c.get("float_index"):
            index = ql_ibor(market, c["float_index"])
        else:  # no index: a 3M index forwarding off the discount curve
            index = ql.IborIndex("DISC", ql.Period(3, ql.Months), 0, CCY[s.currency], ql.WeekendsOnly(),
                                 ql.ModifiedFollowing, False, ql.Actual360(), disc[s.currency])
        float_m = index.tenor().length() * (12 if index.tenor().units() == ql.Years else 1)
        swap = ql.VanillaSwap(ql.Swap.Payer if c.get("payer", True) else ql.Swap.Receiver, c["notional"],
                              ql_schedule(s.start, s.maturity, fixed_m), c["fixed_rate"],
                              DC[c.get("fixed_day_count", "30/360")], ql_schedule(s.start, s.maturity, float_m),
                              index, c.get("spread", 0.0), index.dayCounter(), None, False)
        swap.setPricingEngine(ql.DiscountingSwapEngine(disc[s.currency]))
        ref = swap.NPV() * fx
        assert rel(v, ref, abs(swap.fixedLegNPV() * fx)) < 1e-10, (s.id, v, ref)


def test_amortising_and_seasoned_swaps_match_quantlib(mm):
    """An amortising swap (linear per fixed period; a float coupon's notional is the fixed one in force at
    its start) and a seasoned swap whose current coupon fixed before the as-of date (fixings file)."""
    market, model = mm
    disc = ql_setup(market)
    asof = market.asof
    amort = parse_trade(dict(id="AM", type="Swap", currency="USD", notional=1e7, amortisation={"type": "linear"},
                             maturity="4Y", fixed_rate=0.035, float_index="USD-LIBOR-3M"), market)
    start = dt.date(2026, 5, 14)  # seasoned: the current coupon fixed on 2026-11-16
    fixing_day = dt.date(2026, 11, 16)
    fixings = Fixings({("USD-LIBOR-3M", fixing_day): 0.0412})
    seasoned = parse_trade(dict(id="SE", type="Swap", currency="USD", notional=1e7, start=start.isoformat(),
                                maturity="2031-05-14", fixed_rate=0.036, float_index="USD-LIBOR-3M", payer=False),
                           market, fixings)
    ours = engine_t0([amort, seasoned], market, model)

    index = ql_ibor(market, "USD-LIBOR-3M", [(fixing_day, 0.0412)])
    fs, ls = ql_schedule(amort.start, amort.maturity, 12), ql_schedule(amort.start, amort.maturity, 3)
    fixed_dates = list(fs)
    n = len(fixed_dates) - 1
    fixed_not = [1e7 * (n - i) / n for i in range(n)]
    float_not = [fixed_not[max(i for i in range(n) if fixed_dates[i] <= d)] for d in list(ls)[:-1]]
    fixed_leg = ql.FixedRateLeg(fs, ql.Thirty360(ql.Thirty360.BondBasis), fixed_not, [0.035])
    float_leg = ql.IborLeg(float_not, ls, index, ql.Actual360())
    swap = ql.Swap([fixed_leg, float_leg], [True, False])
    swap.setPricingEngine(ql.DiscountingSwapEngine(disc["USD"]))
    assert rel(ours[0], swap.NPV(), abs(swap.legNPV(0))) < 1e-10

    s2 = ql.VanillaSwap(ql.Swap.Receiver, 1e7, ql_schedule(start, seasoned.maturity, 12), 0.036,
                        ql.Thirty360(ql.Thirty360.BondBasis), ql_schedule(start, seasoned.maturity, 3), index, 0.0,
                        ql.Actual360(), None, False)
    s2.setPricingEngine(ql.DiscountingSwapEngine(disc["USD"]))
    assert rel(ours[1], s2.NPV(), abs(s2.fixedLegNPV())) < 1e-10
    assert asof == dt.date(2026, 11, 20)


def test_ois_swaps_match_quantlib(mm):
    """SOFR and SONIA swaps (daily compounding telescopes), one seasoned with daily past fixings:
    OvernightIndexedSwap with the same schedule on both legs."""
    market, model = mm
    disc = ql_setup(market)
    asof = market.asof
    start = dt.date(2026, 9, 15)
    days, d = [], start
    while d < asof:
        if d.weekday() < 5:
            days.append(d)
        d += dt.timedelta(days=1)
    past = [(d, 0.0385 + 0.0001 * (i % 7)) for i, d in enumerate(days)]
    fixings = Fixings({("USD-SOFR", d): v for d, v in past})
    cases = [
        (dict(currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.034, fixed_day_count="ACT/360",
              float_index="USD-SOFR"), asof, "USD-SOFR", ()),
        (dict(currency="GBP", notional=8e6, start="6M", maturity="10Y", fixed_rate=0.04, payer=False,
              fixed_day_count="ACT/365F", float_index="GBP-SONIA", spread=0.001), None, "GBP-SONIA", ()),
        (dict(currency="USD", notional=1e7, start=start.isoformat(), maturity="2029-09-15", fixed_rate=0.036,
              fixed_day_count="ACT/360", float_index="USD-SOFR"), start, "USD-SOFR", past),
    ]
    specs = [parse_trade({"id": f"O{i}", "type": "Swap", **c}, market, fixings) for i, (c, *_) in enumerate(cases)]
    ours = engine_t0(specs, market, model)
    for s, (c, _, name, past_fix), v in zip(specs, cases, ours):
        index = ql_overnight(market, name, past_fix)
        swap = ql.OvernightIndexedSwap(ql.Swap.Payer if c.get("payer", True) else ql.Swap.Receiver, c["notional"],
                                       ql_schedule(s.start, s.maturity, 12), c["fixed_rate"],
                                       DC[c["fixed_day_count"]], index, c.get("spread", 0.0))
        swap.setPricingEngine(ql.DiscountingSwapEngine(disc[s.currency]))
        fx = market.fx_spot(s.currency)
        assert rel(v, swap.NPV() * fx, abs(swap.fixedLegNPV() * fx)) < 1e-10, (s.id, v, swap.NPV() * fx)


def test_fra_matches_quantlib(mm):
    """ForwardRateAgreement(index, value date, maturity date, ...) discounted on the OIS curve."""
    market, model = mm
    disc = ql_setup(market)
    specs = [parse_trade(dict(id="F1", type="Fra", float_index="USD-LIBOR-3M", notional=1e7, start="6M",
                              fixed_rate=0.037), market),
             parse_trade(dict(id="F2", type="Fra", float_index="EUR-EURIBOR-6M", notional=2e7, start="1Y", tenor="6M",
                              fixed_rate=0.021, long=False), market)]
    ours = engine_t0(specs, market, model)
    for s, v in zip(specs, ours):
        index = ql_ibor(market, s.float_index)
        fra = ql.ForwardRateAgreement(index, qd(s.start), qd(s.end), ql.Position.Long if s.long else ql.Position.Short,
                                      s.fixed_rate, s.notional, disc[s.currency])
        fx = market.fx_spot(s.currency)
        assert rel(v, fra.NPV() * fx, s.notional * fx * 1e-4) < 1e-8, (s.id, v, fra.NPV() * fx)


def test_fx_forward_equity_forward_and_xccy_closed_forms(mm):
    """FX forward: N_buy X_buy P_buy(0,T) - N_sell X_sell P_sell(0,T); equity forward: q X (S e^{-qT} - K P(0,T));
    cross-currency swap: each leg's QuantLib leg NPV on its own curves, plus the notional exchanges."""
    market, model = mm
    disc = ql_setup(market)
    asof = market.asof
    T = dt.date(2028, 3, 20)
    t = (T - asof).days / 365.0
    P = {c: float(np.exp(market.curves[c].log_discount(t))) for c in market.curves}
    fxf = parse_trade(dict(id="FX", type="FxForward", buy_currency="EUR", buy_amount=1e6, sell_currency="GBP",
                           sell_amount=8.6e5, maturity=T.isoformat()), market)
    eqf = parse_trade(dict(id="EQ", type="EquityForward", name="SX5E", quantity=250, strike=5100.0,
                           maturity=T.isoformat(), long=False), market)
    xccy = parse_trade(dict(id="XC", type="CrossCurrencySwap", start="1M", maturity="5Y",
                            pay_leg=dict(currency="EUR", notional=9e6, float_index="EUR-EURIBOR-6M", spread=0.001),
                            receive_leg=dict(currency="USD", notional=1e7, fixed_rate=0.036)), market)
    ours = engine_t0([fxf, eqf, xccy], market, model)
    ref_fx = 1e6 * market.fx_spot("EUR") * P["EUR"] - 8.6e5 * market.fx_spot("GBP") * P["GBP"]
    assert rel(ours[0], ref_fx, 1e6) < 1e-12
    eq = market.equities["SX5E"]
    ref_eq = -250 * market.fx_spot("EUR") * (eq.spot * math.exp(-eq.dividend_yield * t) - 5100.0 * P["EUR"])
    assert rel(ours[1], ref_eq, 250 * eq.spot) < 1e-12

    start, end = xccy.start, xccy.maturity
    eur_idx = ql_ibor(market, "EUR-EURIBOR-6M")
    eur_leg = ql.IborLeg([9e6], ql_schedule(start, end, 6), eur_idx, ql.Actual360(), ql.ModifiedFollowing,
                         [0], [1.0], [0.001])
    usd_leg = ql.FixedRateLeg(ql_schedule(start, end, 12), ql.Thirty360(ql.Thirty360.BondBasis), [1e7], [0.036])
    s_adj, e_adj = ql_schedule(start, end, 12)[0], ql_schedule(start, end, 12)[-1]

    def df(c, d):
        return disc[c].discount(d)

    eur = ql.CashFlows.npv(eur_leg, disc["EUR"], False, qd(asof), qd(asof))
    eur += 9e6 * (df("EUR", e_adj) - df("EUR", s_adj))
    usd = ql.CashFlows.npv(usd_leg, disc["USD"], False, qd(asof), qd(asof))
    usd += 1e7 * (df("USD", e_adj) - df("USD", s_adj))
    ref = usd - eur * market.fx_spot("EUR")
    assert rel(ours[2], ref, 1e7) < 1e-10, (ours[2], ref)


def test_model_free_t0_and_engine_t0_match_quantlib(mm):
    """Both t0 routes (the path engine ``present_values`` and the model-free tables ``present_values_local``)
    against references written here: a SONIA swap as QuantLib's OvernightIndexedSwap, and an FX forward as
    N_buy X_buy P_buy(0,T) - N_sell X_sell P_sell(0,T) with P read off QuantLib's curves."""
    market, model = mm
    disc = ql_setup(market)
    specs = [parse_trade(dict(id="A", type="Swap", currency="GBP", notional=3e6, maturity="12Y", fixed_rate=0.04,
                              fixed_day_count="ACT/365F", float_index="GBP-SONIA"), market),
             parse_trade(dict(id="B", type="FxForward", buy_currency="USD", buy_amount=2e6, sell_currency="EUR",
                              sell_amount=1.8e6, maturity="9M"), market)]
    swap = ql.OvernightIndexedSwap(ql.Swap.Payer, 3e6, ql_schedule(specs[0].start, specs[0].maturity, 12), 0.04,
                                   ql.Actual365Fixed(), ql_overnight(market, "GBP-SONIA"), 0.0)
    swap.setPricingEngine(ql.DiscountingSwapEngine(disc["GBP"]))
    T = qd(market.asof) + ql.Period(9, ql.Months)  # the engine's 9M: unadjusted 2027-08-20 is a Friday
    fwd = (2e6 * market.fx_spot("USD") * disc["USD"].discount(T)
           - 1.8e6 * market.fx_spot("EUR") * disc["EUR"].discount(T))
    refs = [swap.NPV() * market.fx_spot("GBP"), fwd]
    scales = [abs(swap.fixedLegNPV() * market.fx_spot("GBP")), 2e6]
    b = LinearBatch(specs, [0, 1])
    for name, got in (("engine", present_values(b, market, model)), ("local", present_values_local(b, market))):
        for v, ref, scale, s in zip(np.asarray(got), refs, scales, specs):
            assert rel(v, ref, scale) < 1e-10, (name, s.id, v, ref)


# ---- the moment engine against exact per-flow evaluation -------------------------------------------


def exact_reference(batch, ctx, view):
    """(K, n_trades, P) values and gross magnitudes, one exp per flow, coupon and path (the obvious way).

    Bond coefficients come from ``PricingContext.bond_coefficients`` (checked against the context's own in
    ``test_numpy_bond_coefficients_equal_the_context``); everything else is written out here."""
    cf = batch.cashflows(ctx.market)
    times = np.asarray(ctx.times)
    days = np.rint(times * 365).astype(int)
    x, fx, eq = np.asarray(view.x), np.asarray(view.fx), np.asarray(view.eq)
    K, P = times.size, x.shape[-1]
    val, gross = np.zeros((K, cf.n_trades, P)), np.zeros((K, cf.n_trades, P))

    def add(k, tr, v):
        val[k, tr] += v
        gross[k, tr] += np.abs(v)

    for r in range(cf.f_trade.size):
        ccy = cf.currencies[cf.f_ccy[r]]
        c = ctx.ccy_index(ccy)
        lnA, B = ctx.bond_coefficients(ccy, np.array([cf.f_day[r] / 365.0]))
        for k in range(K):
            if days[k] < cf.f_dead[r]:
                add(k, cf.f_trade[r], cf.f_amount[r] * np.exp(lnA[k, 0] - B[k, 0] * x[c, k]) * fx[c, k])
    for r in range(cf.c_trade.size):
        ccy = cf.currencies[cf.c_ccy[r]]
        c = ctx.ccy_index(ccy)
        T1, T2 = cf.c_start[r] / 365.0, cf.c_pay[r] / 365.0
        before = np.nonzero(days <= cf.c_fix[r])[0]  # the fixing state: last view date on or before T1
        s, xs = (times[before[-1]], x[c, before[-1]]) if before.size else (0.0, np.zeros(P))
        a_s, b_s = dataclasses.replace(ctx, times=np.array([s])).bond_coefficients(ccy, np.array([T1, T2]))
        fwd = np.exp(a_s[0, 0] - a_s[0, 1] - (b_s[0, 0] - b_s[0, 1]) * xs)  # P(s,T1) / P(s,T2)
        a_k, b_k = ctx.bond_coefficients(ccy, np.array([T2]))
        for k in range(K):
            if cf.c_fix[r] <= days[k] < cf.c_pay[r]:
                add(k, cf.c_trade[r], cf.c_weight[r] * fwd * np.exp(a_k[k, 0] - b_k[k, 0] * x[c, k]) * fx[c, k])
    for r in range(cf.e_trade.size):
        e = ctx.model.equity_names.index(cf.equities[cf.e_equity[r]])
        c = ctx.ccy_index(cf.currencies[cf.e_ccy[r]])
        for k in range(K):
            if days[k] < cf.e_day[r]:
                add(k, cf.e_trade[r],
                    cf.e_qty[r] * eq[e, k] * np.exp(-cf.e_div[r] * (cf.e_day[r] / 365.0 - times[k])) * fx[c, k])
    return val, gross


MIXED = [
    dict(id="S1", type="Swap", currency="USD", notional=1e7, maturity="30Y", fixed_rate=0.037,
         float_index="USD-LIBOR-3M", amortisation={"amount": 1e5}),
    dict(id="S2", type="Swap", currency="USD", notional=4e7, start="2Y", maturity="7Y", fixed_rate=0.035,
         float_index="USD-SOFR", payer=False, spread=0.001, fixed_day_count="ACT/360"),
    dict(id="X1", type="CrossCurrencySwap", maturity="10Y", pay_leg=dict(currency="EUR", notional=9e6,
         float_index="EUR-EURIBOR-6M"), receive_leg=dict(currency="USD", notional=1e7, float_index="USD-LIBOR-3M")),
    dict(id="F1", type="FxForward", buy_currency="GBP", buy_amount=1e6, sell_currency="USD", sell_amount=1.3e6,
         maturity="18M"),
    dict(id="E1", type="EquityForward", name="SX5E", quantity=1000, strike=4800, maturity="3Y"),
    dict(id="R1", type="Fra", float_index="EUR-EURIBOR-6M", notional=5e6, start="9M", fixed_rate=0.022),
]


def random_view(model, times, P, scale, rng, ratio_to=None, batch_pre=None):
    n, ne, K = model.n_ccy, len(model.equity_names), times.size
    x = rng.standard_normal((n, K, P)) * scale * np.sqrt(np.maximum(times, 1e-4))[None, :, None]
    x[:, 0, :] = 0.0
    fx = np.ones((n, K, P))
    fx[1:] = np.asarray(model.fx_spot)[:, None, None] * np.exp(0.1 * rng.standard_normal((n - 1, K, P)))
    eq = np.asarray(model.equity_spot)[:, None, None] * np.exp(0.2 * rng.standard_normal((ne, K, P)))
    return PathView(jnp.asarray(times), jnp.asarray(x), jnp.asarray(fx), jnp.asarray(eq), jnp.ones((K, P)),
                    tuple(model.currencies), tuple(model.equity_names))


def test_series_order_bound():
    n = series_order(6.0)
    assert 6.0 ** (n + 1) / math.factorial(n + 1) * math.exp(12.0) <= 1e-13
    assert 6.0 ** n / math.factorial(n) * math.exp(12.0) > 1e-13


def test_numpy_bond_coefficients_equal_the_context(mm):
    """PricingContext.bond_coefficients (NumPy) against the JAX formulas it mirrors
    (hull_white.log_bond_intercept and hw_B at max(T, t)), jitted here to compile once."""
    market, model = mm
    times = np.array([0.0, 0.25, 1.0, 3.7, 12.0, 31.0])
    ctx = PricingContext(market, model, times)
    T = np.array([0.01, 0.5, 1.0, 2.0, 5.0, 12.0, 25.0, 45.0])
    c = ctx.ccy_index("USD")  # piecewise-constant vol

    @jax.jit
    def reference(hw, curve, t, T):
        Tm = jnp.maximum(T[None, :], t[:, None])
        tt = jnp.broadcast_to(t[:, None], Tm.shape)
        return log_bond_intercept(hw, curve, tt, Tm), hw_B(hw.mean_reversion, tt, Tm)

    a1, b1 = reference(model.hw[c], model.curves[c], jnp.asarray(times), jnp.asarray(T))
    a2, b2 = ctx.bond_coefficients("USD", T)
    np.testing.assert_allclose(a2, np.asarray(a1), atol=1e-14)
    np.testing.assert_allclose(b2, np.asarray(b1), atol=1e-13)


@pytest.mark.parametrize("scale", [0.012, "extreme"])
def test_moment_engine_equals_exact_evaluation(mm, scale):
    """values and netting_values agree with one exp per flow to 1e-10 of the gross magnitude, on ordinary
    random states and on extreme ones (the largest |xi| just inside the series range)."""
    market, model = mm
    specs = [parse_trade(r, market) for r in MIXED]
    batch = LinearBatch(specs, [3, 0, 3, 1, 0, 3])
    times = np.array([0.0, 0.1, 0.3, 0.75, 1.0, 1.6, 2.5, 4.0, 6.5, 9.99, 15.0, 29.5])
    ctx = PricingContext(market, model, times)
    pre = batch.prepare(ctx)
    rng = np.random.default_rng(5)
    if scale == "extreme":
        view = random_view(model, times, 64, 0.05, rng)
        # push every date's largest state to 0.97 of the series range
        xi = np.abs(np.asarray(view.x))[list(pre.ccy_idx)] * np.asarray(pre.inv_scale).T[:, :, None]
        peak = np.maximum(xi.max(axis=(0, 2)), 1e-300)
        x = np.asarray(view.x) * np.where(peak > 0, 0.97 / peak, 1.0)[None, :, None]
        view = dataclasses.replace(view, x=jnp.asarray(x))
    else:
        view = random_view(model, times, 64, scale, rng)
    ref, gross = exact_reference(batch, ctx, view)
    v = np.asarray(batch.values(pre, view))
    assert np.all(np.abs(v - ref) <= 1e-10 * np.maximum(gross, 1.0)), np.max(np.abs(v - ref) / np.maximum(gross, 1))
    nv = np.asarray(batch.netting_values(pre, view, 5))
    ns_ref = np.zeros_like(nv)
    ns_gross = np.zeros_like(nv)
    for i, n in enumerate(batch.netting_set):
        ns_ref[:, n] += ref[:, i]
        ns_gross[:, n] += gross[:, i]
    assert np.all(np.abs(nv - ns_ref) <= 1e-10 * np.maximum(ns_gross, 1.0))
    assert np.all(nv[:, [2, 4]] == 0.0)
    # matured trades are worth zero
    assert np.all(v[-1, [1, 3, 4, 5]] == 0.0)


def test_states_beyond_the_series_range_raise(mm):
    market, model = mm
    batch = LinearBatch([parse_trade(MIXED[0], market)], [0])
    times = np.array([0.0, 1.0, 5.0])
    pre = batch.prepare(PricingContext(market, model, times))
    view = random_view(model, times, 8, 0.01, np.random.default_rng(1))
    x = np.asarray(view.x).copy()
    x[0, 1, 3] = 1.5 / float(pre.inv_scale[1, 0])  # 1.5 times the range
    with pytest.raises(SeriesRangeError, match="beyond the range"):
        batch.netting_values(pre, dataclasses.replace(view, x=jnp.asarray(x)), 1)


# ---- martingale consistency on simulated paths ------------------------------------------------------


def test_discounted_values_are_martingales(mm):
    """E[V(t_k)/N(t_k)] equals the t0 value of the cash flows paid after t_k, within 4 standard errors,
    for a forward-starting swap (projected, then current coupons fixed off-grid), a float/float XCCY swap
    with exchanges, an FX forward and a quanto equity forward."""
    market, model = mm
    raw = [
        dict(id="SW", type="Swap", currency="USD", notional=1e7, start="2M", maturity="5Y", fixed_rate=0.036,
             float_index="USD-LIBOR-3M"),
        dict(id="XC", type="CrossCurrencySwap", maturity="4Y", pay_leg=dict(currency="EUR", notional=9e6,
             float_index="EUR-EURIBOR-6M"), receive_leg=dict(currency="USD", notional=1e7, float_index="USD-SOFR")),
        dict(id="FX", type="FxForward", buy_currency="EUR", buy_amount=1e7, sell_currency="USD", sell_amount=1.1e7,
             maturity="3Y"),
        dict(id="EQ", type="EquityForward", name="SX5E", quantity=2000, strike=5000, maturity="2Y"),
    ]
    specs = [parse_trade(r, market) for r in raw]
    grid = TimeGrid.build(market.asof, "1M,2M,3M,5M,7M,1Y,15M,20M,2Y,30M,3Y,40M,4Y,5Y,6Y")
    P = 4000
    gen = PathGenerator(Discretisation.build(model, grid), P, P, 11)
    states = gen.all_states()
    times = np.concatenate([[0.0], grid.times])
    ctx = PricingContext(market, model, times, None, (market.asof,) + tuple(grid.dates))
    view = PathView.from_states(model, jnp.asarray(states), times, ctx.numeraire_log_det())
    batch = LinearBatch(specs, [0, 1, 2, 3])  # one batch: one compilation
    days = np.array([(d - market.asof).days for d in ctx.dates])
    values = np.asarray(batch.values(batch.prepare(ctx), view)) / np.asarray(view.numeraire)[:, None, :]
    for i, s in enumerate(specs):
        v = values[:, i, :]
        cf = LinearBatch([s], [0]).cashflows(market)
        for k in range(1, times.size):
            expect = 0.0
            for r in range(cf.f_trade.size):
                if cf.f_settle[r] > days[k]:
                    c = cf.currencies[cf.f_ccy[r]]
                    p0 = float(np.exp(log_discount(market.curves[c], cf.f_day[r] / 365)))
                    expect += cf.f_amount[r] * market.fx_spot(c) * p0
            for r in range(cf.c_trade.size):
                if cf.c_fix[r] <= 0 and cf.c_pay[r] > days[k]:
                    expect += cf.c_weight[r] * market.fx_spot(cf.currencies[cf.c_ccy[r]])  # fixed today: w P(0,0)
            for r in range(cf.e_trade.size):
                if cf.e_day[r] > days[k]:
                    e = market.equities[cf.equities[cf.e_equity[r]]]
                    fwd = e.spot * math.exp(-e.dividend_yield * cf.e_day[r] / 365)
                    expect += cf.e_qty[r] * fwd * market.fx_spot(e.currency)
            mean, se = v[k].mean(), v[k].std(ddof=1) / math.sqrt(P)
            assert abs(mean - expect) <= 4 * se + 1e-9 * abs(expect), (s.id, k, mean, expect, se)


# ---- properties -------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(ccy_index=st.sampled_from([("USD", "USD-LIBOR-3M"), ("USD", "USD-SOFR"), ("EUR", "EUR-EURIBOR-6M"),
                                  ("GBP", "GBP-SONIA"), ("EUR", None)]),
       start_m=st.integers(0, 36), years=st.integers(1, 30), spread=st.floats(-0.01, 0.01))
def test_par_swap_is_worth_zero_and_payer_mirrors_receiver(mm, ccy_index, start_m, years, spread):
    """At the par rate (float leg value / annuity, from the model-free t0 tables) a swap is worth 0, and
    payer + receiver = 0, for any start, tenor, index and spread."""
    market, _ = mm
    ccy, index = ccy_index
    base = dict(type="Swap", currency=ccy, notional=1e7, start=f"{start_m}M", tenor=f"{years}Y",
                float_index=index, spread=spread)
    b = LinearBatch([parse_trade(dict(id="Z", fixed_rate=0.0, **base), market),
                     parse_trade(dict(id="A", fixed_rate=0.01, **base), market)], [0, 0])
    v0, v1 = present_values_local(b, market)  # payer: -fixed + float
    par = v0 / (v0 - v1) * 0.01  # value is linear in the fixed rate
    pb = LinearBatch([parse_trade(dict(id="P", fixed_rate=par, **base), market),
                      parse_trade(dict(id="R", fixed_rate=par, payer=False, **base), market)], [0, 0])
    vp, vr = present_values_local(pb, market)
    assert abs(vp) < 1e-9 * 1e7 * market.fx_spot(ccy) and abs(vp + vr) < 1e-12 * 1e7 * market.fx_spot(ccy)
