"""Exposure through the whole chain (config -> paths -> pricing -> netting/CSA -> measures) vs closed forms.

References from ../shared/reference/closed_forms.md and textbook formulas; MC tolerance 4 standard errors.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import QuantLib as ql
import yaml
from scipy.stats import norm

import exposure
from exposure.market.schedule import make_schedule

ASOF = dt.date(2026, 11, 20)
ZERO_RATES = ["market.curves.USD.quotes=[0.0]", "market.curves.EUR.quotes=[0.0]", "market.fx_spots.EUR=1.0",
              "market.fx_vols.EUR.vols=[0.1]", "model.ir.USD.volatility=[0.0]", "model.ir.EUR.volatility=[0.0]"]


def _run(tmp_path, trades, overrides, netting_sets=None, paths=20_000):
    pf = tmp_path / "portfolio.yaml"
    pf.write_text(yaml.safe_dump({"netting_sets": netting_sets or {}, "trades": trades}))
    cfg = exposure.compose([
        "market=flat", "model=flat", f"portfolio.trades={pf}", "portfolio.fixings=null",
        f"simulation.paths={paths}", "simulation.chunk_size=10000", f"output.dir={tmp_path / 'out'}",
        *overrides,
    ])
    return exposure.run(cfg).dataset


def black_call(F, K, var):
    sd = np.sqrt(var)
    d1 = np.log(F / K) / sd + 0.5 * sd
    return F * norm.cdf(d1) - K * norm.cdf(d1 - sd)


def test_black_reference_reproduces_the_published_numbers():
    for t, ee in ((0.25, 0.019945036), (0.5, 0.028203603), (1.0, 0.039877612)):
        assert black_call(1.0, 1.0, 0.01 * t) == pytest.approx(ee, abs=1e-9)


FX_FORWARD = {"id": "FXF", "type": "FxForward", "buy_currency": "EUR", "buy_amount": 1.0,
              "sell_currency": "USD", "sell_amount": 1.0, "maturity": "2Y"}


def test_fx_forward_ee_and_pfe_match_garman_kohlhagen(tmp_path):
    """Zero rates, sigma = 10%: discounted EE(t) = Black call(F=1, K=1, var = sigma^2 t);
    PFE_q(t) = exp(sigma sqrt(t) z_q - sigma^2 t / 2) - 1, each within 4 SE."""
    ds = _run(tmp_path, [FX_FORWARD], ZERO_RATES + ["simulation.grid='3M,6M,1Y,18M'"])
    t = ds["time"].values[1:]
    epe = ds["EPE"].values[0, 1:]
    se = ds["EE_stderr"].values[0, 1:]
    ref = black_call(1.0, 1.0, 0.01 * t)
    assert np.all(np.abs(epe - ref) < 4 * se), (epe, ref, se)
    n = ds.attrs["n_paths"]
    for qi, q in enumerate(ds["quantile"].values):
        z = norm.ppf(q)
        x_q = np.exp(0.1 * np.sqrt(t) * z - 0.005 * t)
        ref_pfe = x_q - 1.0
        # SE of a sample quantile: sqrt(q (1-q) / n) / f(x_q), f the lognormal density of X at x_q.
        dens = norm.pdf(z) / (x_q * 0.1 * np.sqrt(t))
        se_q = np.sqrt(q * (1 - q) / n) / dens
        pfe = ds["PFE"].values[0, 1:, qi]
        assert np.all(np.abs(pfe - ref_pfe) < 4 * se_q), (q, pfe, ref_pfe, se_q)
    # The published PFE values for T = 1 at t = 0.5 (95%: 0.120538, 99%: 0.175857).
    assert np.exp(0.1 * np.sqrt(0.5) * norm.ppf(0.95) - 0.0025) - 1 == pytest.approx(0.120538, abs=1e-6)
    assert np.exp(0.1 * np.sqrt(0.5) * norm.ppf(0.99) - 0.0025) - 1 == pytest.approx(0.175857, abs=1e-6)


def ql_swaption(asof, expiry, pay_dates, K, payer=True, a=0.1, sigma=0.01, rate=0.03):
    """Unit-notional European swaption priced by QuantLib's JamshidianSwaptionEngine under HullWhite(a, sigma)
    on a flat continuously compounded ACT/365F curve; fixed leg ACT/365F from ``expiry`` to each ``pay_dates``.

    The engine reads times as ACT/365F year fractions of the curve's day counter (days / 365, as ours) and
    values the floating leg at par, so the float index below only has to exist."""
    qd = lambda d: ql.Date(d.day, d.month, d.year)  # noqa: E731
    ql.Settings.instance().evaluationDate = qd(asof)
    curve = ql.YieldTermStructureHandle(ql.FlatForward(qd(asof), rate, ql.Actual365Fixed(), ql.Continuous))
    sched = ql.Schedule([qd(expiry)] + [qd(d) for d in pay_dates], ql.NullCalendar(), ql.Unadjusted)
    index = ql.IborIndex("FLAT", ql.Period(1, ql.Years), 0, ql.USDCurrency(), ql.NullCalendar(), ql.Unadjusted,
                         False, ql.Actual365Fixed(), curve)
    swap = ql.VanillaSwap(ql.Swap.Payer if payer else ql.Swap.Receiver, 1.0, sched, K, ql.Actual365Fixed(),
                          sched, index, 0.0, ql.Actual365Fixed())
    swaption = ql.Swaption(swap, ql.EuropeanExercise(qd(expiry)))
    swaption.setPricingEngine(ql.JamshidianSwaptionEngine(ql.HullWhite(curve, a, sigma)))
    return swaption.NPV()


def test_quantlib_swaption_reference_reproduces_the_published_numbers():
    """closed_forms.md: 5y x 5y payer, annual fixed leg, flat 3%, a = 0.1, sigma = 1% (checks our QL set-up;
    QuantLib agrees to 1e-10 at ATM and 3%, to 6e-10 at 4%: the rounding of the published root)."""
    year = lambda n: ASOF + dt.timedelta(days=365 * n)  # noqa: E731  (exact ACT/365F years)
    pay = [year(n) for n in range(6, 11)]
    atm = (np.exp(-0.15) - np.exp(-0.3)) / sum(np.exp(-0.03 * n) for n in range(6, 11))
    for K, ref in ((atm, 0.0227716871), (0.03, 0.0236705503), (0.04, 0.0088651945)):
        assert ql_swaption(ASOF, year(5), pay, K) == pytest.approx(ref, abs=1e-9)  # 4% case: 6e-10 apart


def test_payer_swap_ee_equals_swaption_prices(tmp_path):
    """Flat 3%, HW a = 0.1, sigma = 1%: discounted EE(t) of a payer swap at a reset date t equals the
    European payer swaption expiring at t on the remaining swap, priced by QuantLib's Jamshidian engine,
    within 4 SE."""
    end = ASOF.replace(year=ASOF.year + 8)
    sched = make_schedule(ASOF, end, "1Y", convention="modified_following")
    dates = list(sched.dates)
    K = 0.03
    swap = {"id": "PAY", "type": "Swap", "currency": "USD", "notional": 1.0, "start": ASOF.isoformat(),
            "maturity": end.isoformat(), "fixed_rate": K, "payer": True, "fixed_tenor": "1Y",
            "fixed_day_count": "ACT/365F", "float_tenor": "1Y", "float_day_count": "ACT/365F"}
    grid = ",".join(d.isoformat() for d in dates[1:-1])
    ds = _run(tmp_path, [swap], [f"simulation.grid='{grid}'", "market.curves.USD.quotes=[0.03]"], paths=20_000)
    for k in range(1, len(dates) - 1):
        ref = ql_swaption(ASOF, dates[k], dates[k + 1:], K)
        epe, se = float(ds["EPE"].values[0, k]), float(ds["EE_stderr"].values[0, k])
        assert abs(epe - ref) < 4 * se, (k, epe, ref, se)


CSA_ZERO = {"margining": "two_way", "threshold_cpty": 0.0, "threshold_bank": 0.0, "mta_cpty": 0.0, "mta_bank": 0.0}


def test_fully_collateralised_set_has_zero_exposure(tmp_path):
    trade = dict(FX_FORWARD, netting_set="NS")
    ds = _run(tmp_path, [trade], ZERO_RATES + ["simulation.grid='3M,6M,1Y'"],
              netting_sets={"NS": {"counterparty": "CP_A", "csa": CSA_ZERO}}, paths=2000)
    assert np.all(ds["EPE"].values == 0.0) and np.all(ds["PFE"].values == 0.0)


def test_mpor_exposure_is_the_move_over_the_margin_period(tmp_path):
    """Zero threshold and MTA, MPoR 2W: exposure = (V(t + d) - V(t))^+ with V = X - 1, so discounted
    EE(t) = X_0 * Black call(F=1, K=1, var = sigma^2 d) at every date (zero rates), within 4 SE."""
    trade = dict(FX_FORWARD, netting_set="NS")
    ds = _run(tmp_path, [trade], ZERO_RATES + ["simulation.grid='3M,6M,1Y'", "simulation.mpor=2W"],
              netting_sets={"NS": {"counterparty": "CP_A", "csa": CSA_ZERO}})
    ref = black_call(1.0, 1.0, 0.01 * 14 / 365)
    epe, se = ds["EPE"].values[0, 1:], ds["EE_stderr"].values[0, 1:]
    assert np.all(np.abs(epe - ref) < 4 * se), (epe, ref, se)


def test_threshold_caps_exposure(tmp_path):
    """Two-way CSA with threshold H, no MTA or MPoR: exposure = min(V^+, H), EE = call(1) - call(1 + H)."""
    H = 0.05
    csa = dict(CSA_ZERO, threshold_cpty=H, threshold_bank=H)
    trade = dict(FX_FORWARD, netting_set="NS")
    ds = _run(tmp_path, [trade], ZERO_RATES + ["simulation.grid='3M,6M,1Y'"],
              netting_sets={"NS": {"counterparty": "CP_A", "csa": csa}})
    t = ds["time"].values[1:]
    ref = black_call(1.0, 1.0, 0.01 * t) - black_call(1.0, 1.0 + H, 0.01 * t)
    epe, se = ds["EPE"].values[0, 1:], ds["EE_stderr"].values[0, 1:]
    assert np.all(np.abs(epe - ref) < 4 * se), (epe, ref, se)
    assert np.all(ds["PFE"].values[0, 1:] <= H + 1e-15)
