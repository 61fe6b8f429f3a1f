"""CVA, DVA and FVA through the whole chain (config -> paths -> pricing -> measures -> xva) against references
nobody here wrote: QuantLib's JamshidianSwaptionEngine (a payer swap's discounted EE at a reset date is the
European swaption on the remaining swap), the Black / Garman-Kohlhagen call for an FX forward, hand-computed
survival and funding factors. Monte Carlo tolerance: 4 standard errors of the figure itself (``<name>_stderr``,
streamed per path), and the streamed errors are checked against the stored path cube.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml
from scipy.stats import norm

import exposure
from exposure.market.schedule import make_schedule

ASOF = dt.date(2026, 11, 20)
ZERO_RATES = ["market.curves.USD.quotes=[0.0]", "market.curves.EUR.quotes=[0.0]", "market.fx_spots.EUR=1.0",
              "market.fx_vols.EUR.vols=[0.1]", "model.ir.USD.volatility=[0.0]", "model.ir.EUR.volatility=[0.0]"]
FUNDING = ["market.funding.tenors=[10Y]", "market.funding.borrowing_bp=[100.0]", "market.funding.lending_bp=[40.0]"]
H_C, H_B, LGD = 0.02, 0.01, 0.6  # conf/market/flat.yaml: CP_A and BANK flat hazards, recovery 40%


def _run(tmp_path, trades, netting_sets, overrides, paths):
    pf = tmp_path / "portfolio.yaml"
    pf.write_text(yaml.safe_dump({"netting_sets": netting_sets, "trades": trades}))
    cfg = exposure.compose(["market=flat", "model=flat", f"portfolio.trades={pf}", "portfolio.fixings=null",
                            f"simulation.paths={paths}", f"output.dir={tmp_path / 'out'}", *overrides])
    return exposure.run(cfg).dataset


def black_call(F, K, var):
    sd = np.sqrt(var)
    d1 = np.log(F / K) / sd + 0.5 * sd
    return F * norm.cdf(d1) - K * norm.cdf(d1 - sd)


def _fx(tid, ns, buy_ccy, buy, sell_ccy, sell, maturity="2Y"):
    return {"id": tid, "type": "FxForward", "netting_set": ns, "buy_currency": buy_ccy, "buy_amount": buy,
            "sell_currency": sell_ccy, "sell_amount": sell, "maturity": maturity}


@pytest.fixture(scope="module")
def fx_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xva_fx")
    trades = [_fx("ATM", "NS_ATM", "EUR", 1.0, "USD", 1.0), _fx("ITM", "NS_ITM", "EUR", 1.0, "USD", 0.5),
              _fx("SHORT", "NS_SHORT", "USD", 0.5, "EUR", 1.0),
              _fx("MIX1", "NS_MIX", "EUR", 1.0, "USD", 1.05), _fx("MIX2", "NS_MIX", "USD", 0.6, "EUR", 0.5, "1Y")]
    sets = {n: {"counterparty": "CP_A"} for n in ("NS_ATM", "NS_ITM", "NS_SHORT", "NS_MIX")}
    return _run(tmp, trades, sets, ZERO_RATES + FUNDING + ["simulation.grid='3M,6M,9M,1Y,15M,18M,21M'",
                                                  "output.store_cube=true", "output.trade_level=true",
                                                  "simulation.chunk_size=1500"], paths=4000)


def _ns(ds, name):
    return list(ds["netting_set"].values).index(name)


def test_fx_forward_cva_and_dva_match_black(fx_run):
    """Zero rates, sigma 10%: EPE(t) = ENE(t) = Black call(1, 1, 0.01 t) (put = call at the money);
    unilateral CVA = 0.6 sum_j (e^{-0.02 t_{j-1}} - e^{-0.02 t_j}) EPE(t_j), DVA likewise with 1%."""
    ds, j = fx_run, _ns(fx_run, "NS_ATM")
    t = ds["time"].values
    ee = np.where(t > 0, black_call(1.0, 1.0, 0.01 * np.maximum(t, 1e-12)), 0.0)
    cva_ref = LGD * np.sum(-np.diff(np.exp(-H_C * t)) * ee[1:])
    dva_ref = LGD * np.sum(-np.diff(np.exp(-H_B * t)) * ee[1:])
    cva, se = float(ds["CVA"].values[j]), float(ds["CVA_stderr"].values[j])
    assert abs(cva - cva_ref) < 4 * se, (cva, cva_ref, se)
    dva, se_d = float(ds["DVA"].values[j]), float(ds["DVA_stderr"].values[j])
    assert abs(dva - dva_ref) < 4 * se_d, (dva, dva_ref, se_d)
    assert 0 < se < 0.05 * cva_ref  # a real, small error


def test_fva_signs_on_one_trade_by_hand(fx_run):
    """Deep in the money forward (value 0.5 on every path, discounted; zero rates): FCA = 0.5 sum_j S_c S_b
    (t_{j-1}) (e^{0.01 dt_j} - 1) over the live dates, FBA = 0: a cost. The opposite trade: FBA with 40bp,
    FCA = 0: a benefit, FVA < 0."""
    ds = fx_run
    t = ds["time"].values
    live = t[1:] < 2.0 - 1e-9
    surv = np.exp(-(H_C + H_B) * t[:-1])
    fca_ref = 0.5 * np.sum((surv * np.expm1(0.01 * np.diff(t)))[live])
    fba_ref = 0.5 * np.sum((surv * np.expm1(0.004 * np.diff(t)))[live])
    i, s = _ns(ds, "NS_ITM"), _ns(ds, "NS_SHORT")
    for j, name, ref in ((i, "FCA", fca_ref), (s, "FBA", fba_ref)):
        got, se = float(ds[name].values[j]), float(ds[f"{name}_stderr"].values[j])
        assert abs(got - ref) < 4 * se + 1e-12, (name, got, ref, se)
    assert ds["FBA"].values[i] < 1e-8 and ds["FCA"].values[s] < 1e-8
    assert ds["FVA"].values[i] > 0 > ds["FVA"].values[s]
    np.testing.assert_allclose(ds["FVA"].values, ds["FCA"].values - ds["FBA"].values, rtol=1e-14)


def test_streamed_standard_errors_equal_the_path_cube(fx_run):
    """Per-path CVA_p = sum_k w_k max(X_k,p, 0)/N_k,p recomputed from the stored cube (float32), for netting
    sets, the counterparty (all four sets on the same paths) and ENE."""
    from exposure.market.credit import CreditCurve
    from exposure.xva import credit_weights

    ds = fx_run
    t = ds["time"].values
    w = credit_weights(LGD, CreditCurve.flat(H_C, 0.4), t, None, "ore")
    X = ds["cube_exposure"].values.astype(np.float64)
    N = ds["cube_numeraire"].values.astype(np.float64)
    per_path = np.einsum("k,nkp->np", w, np.maximum(X, 0.0) / N[None])
    P = per_path.shape[1]
    np.testing.assert_allclose(ds["CVA_stderr"].values, per_path.std(axis=1, ddof=1) / np.sqrt(P), rtol=1e-5)
    np.testing.assert_allclose(ds["CVA_cpty_stderr"].values, [per_path.sum(0).std(ddof=1) / np.sqrt(P)], rtol=1e-5)
    np.testing.assert_allclose(ds["CVA_total_stderr"].values, per_path.sum(0).std(ddof=1) / np.sqrt(P), rtol=1e-5)
    ene = np.maximum(-X, 0.0) / N[None]
    np.testing.assert_allclose(ds["ENE_stderr"].values[:, 1:], (ene.std(axis=2, ddof=1) / np.sqrt(P))[:, 1:],
                               rtol=1e-5, atol=1e-12)
    assert np.all(ds["PFE_lower"].values <= ds["PFE"].values) and np.all(ds["PFE"].values <= ds["PFE_upper"].values)


def test_counterparty_totals_and_allocation_add_up(fx_run):
    ds = fx_run
    for v in ("CVA", "DVA", "FCA", "FBA", "FVA", "KVA"):
        assert ds[f"{v}_cpty"].values[0] == pytest.approx(ds[v].values.sum(), rel=1e-13)
    assert float(ds["CVA_total"]) == pytest.approx(ds["CVA"].values.sum(), rel=1e-13)
    ns = ds["trade_netting_set"].values
    for j, name in enumerate(ds["netting_set"].values):
        members = ns == name
        for v in ("CVA", "DVA"):
            assert ds[f"Allocated{v}"].values[members].sum() == pytest.approx(ds[v].values[j], rel=1e-12, abs=1e-15)
    mix = ns == "NS_MIX"
    # netting benefit: the stand-alone CVAs of the two offsetting trades exceed the set's
    assert ds["trade_CVA"].values[mix].sum() > ds["CVA"].values[_ns(ds, "NS_MIX")]


def test_xva_csv_has_ore_columns(fx_run, tmp_path):
    from exposure.xva import write_xva_csv

    import pandas as pd

    path = write_xva_csv(fx_run, str(tmp_path))[0]
    df = pd.read_csv(path)
    for col in ("TradeId", "NettingSetId", "CVA", "DVA", "FBA", "FCA", "FBAexOwnSP", "FCAexOwnSP", "FBAexAllSP",
                "FCAexAllSP", "KVA", "AllocatedCVA", "AllocatedDVA", "BaselEPE", "BaselEEPE"):
        assert col in df.columns
    rows = df[df["TradeId"].isna()].set_index("NettingSetId")
    np.testing.assert_allclose(rows.loc[list(fx_run["netting_set"].values), "CVA"], fx_run["CVA"].values, rtol=1e-15)
    assert len(df) == fx_run.sizes["netting_set"] + fx_run.sizes["trade"]


def _ql_swaption(dates, strike, payer):
    """QuantLib JamshidianSwaptionEngine price of the swaption expiring at dates[0] on the annual ACT/365F swap
    over dates, flat 3% continuously compounded ACT/365F curve, Hull-White a = 0.1, sigma = 1%."""
    import QuantLib as ql

    def qd(d):
        return ql.Date(d.day, d.month, d.year)

    saved = ql.Settings.instance().evaluationDate
    ql.Settings.instance().evaluationDate = qd(ASOF)
    try:
        dc = ql.Actual365Fixed()
        ts = ql.YieldTermStructureHandle(ql.FlatForward(qd(ASOF), 0.03, dc, ql.Continuous, ql.NoFrequency))
        index = ql.IborIndex("IDX", ql.Period("1Y"), 0, ql.USDCurrency(), ql.WeekendsOnly(), ql.ModifiedFollowing,
                             False, dc, ts)
        sched = ql.Schedule(ql.DateVector([qd(d) for d in dates]))
        kind = ql.Swap.Payer if payer else ql.Swap.Receiver
        swap = ql.VanillaSwap(kind, 1.0, sched, strike, dc, sched, index, 0.0, dc)
        swo = ql.Swaption(swap, ql.EuropeanExercise(qd(dates[0])))
        swo.setPricingEngine(ql.JamshidianSwaptionEngine(ql.HullWhite(ts, 0.1, 0.01)))
        return swo.NPV()
    finally:
        ql.Settings.instance().evaluationDate = saved


def test_swap_cva_and_dva_match_quantlib_jamshidian(tmp_path):
    """Flat 3%, HW a = 0.1, sigma = 1%, 5Y payer swap at 3%, exposure dates at the resets: EPE(t_k) = payer
    swaption on the remaining swap, ENE(t_k) = receiver swaption (QuantLib). Bilateral (first to default,
    independent flat hazards): CVA = 0.6 sum_j (h_c / (h_c + h_b)) (e^{-(h_c+h_b) t_{j-1}} - e^{-(h_c+h_b) t_j})
    EPE(t_j), DVA the same with h_b / (h_c + h_b) and ENE."""
    pytest.importorskip("QuantLib")
    end = ASOF.replace(year=ASOF.year + 5)
    dates = list(make_schedule(ASOF, end, "1Y", convention="modified_following").dates)
    K = 0.03
    swap = {"id": "PAY", "type": "Swap", "currency": "USD", "notional": 1.0, "start": ASOF.isoformat(),
            "maturity": end.isoformat(), "fixed_rate": K, "payer": True, "fixed_tenor": "1Y",
            "fixed_day_count": "ACT/365F", "float_tenor": "1Y", "float_day_count": "ACT/365F", "netting_set": "NS"}
    grid = ",".join(d.isoformat() for d in dates[1:-1])
    ds = _run(tmp_path, [swap], {"NS": {"counterparty": "CP_A"}},
              [f"simulation.grid='{grid}'", "market.curves.USD.quotes=[0.03]", "xva.bilateral=true"], paths=5000)
    t = ds["time"].values
    epe = np.array([0.0] + [_ql_swaption(dates[k:], K, True) for k in range(1, len(dates) - 1)])
    ene = np.array([0.0] + [_ql_swaption(dates[k:], K, False) for k in range(1, len(dates) - 1)])
    joint = -np.diff(np.exp(-(H_C + H_B) * t))
    cva_ref = LGD * np.sum(H_C / (H_C + H_B) * joint * epe[1:])
    dva_ref = LGD * np.sum(H_B / (H_C + H_B) * joint * ene[1:])
    for name, ref in (("CVA", cva_ref), ("DVA", dva_ref)):
        got, se = float(ds[name].values[0]), float(ds[f"{name}_stderr"].values[0])
        assert abs(got - ref) < 4 * se, (name, got, ref, se)
        assert 0 < se < 0.05 * ref
    assert ds.attrs["xva_cva_type"].startswith("bilateral")


def test_regression_dim_and_mva_of_an_fx_forward(tmp_path):
    """Zero rates, FX lognormal sigma 10%, MPoR d = 2W: V = X - K, dV = X (e^{sigma W_d - sigma^2 d/2} - 1), so
    E[dV | V] = 0 and sd(dV | V) = (V + K) sqrt(e^{sigma^2 d} - 1), exactly what a quadratic variance regression
    captures; IM = Phi^-1(0.99) X sqrt(e^{sigma^2 d} - 1) and ExpectedIM(t) = Phi^-1(0.99) sqrt(e^{sigma^2 d} - 1)
    E[X_t] = the same times X_0 = 1 (a martingale). MVA = sum_k s_k dcf^B_k ExpectedIM(t_k), within 4 SE."""
    trades = [_fx("ATM", "NS", "EUR", 1.0, "USD", 1.0)]
    ds = _run(tmp_path, trades, {"NS": {"counterparty": "CP_A"}},
              ZERO_RATES + FUNDING + ["simulation.grid='3M,6M,9M,1Y,15M,18M,21M'", "simulation.mpor=2W",
                                      "xva.mva=true"], paths=4000)
    t = ds["time"].values
    im = norm.ppf(0.99) * np.sqrt(np.expm1(0.01 * 14 / 365))
    live = (t > 0) & (t < 2.0 - 14 / 365)
    got = ds["ExpectedIM"].values[0]
    assert np.all(np.abs(got[live] / im - 1.0) < 0.03), got[live] / im  # regression + sampling error only
    surv = np.exp(-(H_C + H_B) * t[:-1])
    mva_ref = np.sum((surv * np.expm1(0.01 * np.diff(t)))[live[1:]]) * im
    mva, se = float(ds["MVA"].values[0]), float(ds["MVA_stderr"].values[0])
    assert abs(mva - mva_ref) < 4 * se, (mva, mva_ref, se)
    assert "regression DIM" in ds.attrs["xva_mva"]


def test_wrong_way_cva_on_the_simulated_cube(fx_run):
    """Exposure-driven intensity on the engine's paths: b = 0 gives the independent CVA (float32 cube), b = 1 more
    than 4 SE above it, b = -1 below it."""
    from exposure.market.credit import CreditCurve
    from exposure.xva.wwr import add_wrong_way_cva

    credit = {"CP_A": CreditCurve.flat(H_C, 0.4)}
    j = _ns(fx_run, "NS_ATM")
    out = {b: add_wrong_way_cva(fx_run.copy(), credit, b) for b in (-1.0, 0.0, 1.0)}
    cva = float(fx_run["CVA"].values[j])
    assert float(out[0.0]["CVA_WWR"].values[j]) == pytest.approx(cva, rel=1e-5)
    hi, se = float(out[1.0]["CVA_WWR"].values[j]), float(out[1.0]["CVA_WWR_stderr"].values[j])
    assert hi > cva + 4 * se and float(out[-1.0]["CVA_WWR"].values[j]) < cva


def test_midpoint_discretisation_on_a_stored_run(fx_run, tmp_path):
    """The stage re-run on a saved results file (no per-path sums: no standard errors, said in attrs) with
    xva.discretisation=midpoint: CVA = 0.6 sum_j q_j (EE(t_{j-1}) + EE(t_j)) / 2 against Black, within 4 SE of
    the streamed run (the same paths); closer to the continuous-time integral than the ORE rule."""
    from scipy import integrate

    from exposure.market.credit import CreditCurve
    from exposure.results import read_results, write_results
    from exposure.xva import XvaSettings, add_xva

    path = write_results(fx_run.drop_vars([v for v in fx_run.data_vars if "cube" in v]), str(tmp_path / "r.h5"))
    ds = read_results(path)
    credit = {"CP_A": CreditCurve.flat(H_C, 0.4), "BANK": CreditCurve.flat(H_B, 0.4)}
    out = add_xva(ds, credit, "BANK", XvaSettings(discretisation="midpoint"))
    j = _ns(out, "NS_ATM")
    t = out["time"].values
    ee = np.where(t > 0, black_call(1.0, 1.0, 0.01 * np.maximum(t, 1e-12)), 0.0)
    q = -np.diff(np.exp(-H_C * t))
    ref = LGD * np.sum(q * 0.5 * (ee[:-1] + ee[1:]))
    se = float(fx_run["CVA_stderr"].values[j])
    assert abs(float(out["CVA"].values[j]) - ref) < 4 * se
    assert "not available" in out.attrs["xva_stderr"]
    # discretisation error of the two rules against LGD int_0^T h e^{-h t} EE(t) dt (closed forms only)
    exact = LGD * integrate.quad(lambda u: H_C * np.exp(-H_C * u) * black_call(1.0, 1.0, 0.01 * u), 0, t[-1])[0]
    ore_rule = LGD * np.sum(q * ee[1:])
    assert abs(ref - exact) < abs(ore_rule - exact)


def test_incremental_cva_from_two_runs_on_the_same_paths(fx_run, tmp_path):
    """Scenarios depend on the seed, grid and path index only: MIX1 and MIX2 run in separate netting sets of another
    portfolio give, path by path, the value of fx_run's NS_MIX (MIX1 + MIX2); the incremental CVA of adding MIX2 to
    MIX1 equals CVA(NS_MIX) - CVA(MIX1 alone) up to the float32 cube, with a standard error far below either CVA's."""
    from exposure.market.credit import CreditCurve
    from exposure.xva import XvaSettings, incremental_cva_from_runs

    trades = [_fx("MIX1", "A", "EUR", 1.0, "USD", 1.05), _fx("MIX2", "B", "USD", 0.6, "EUR", 0.5, "1Y")]
    ds = _run(tmp_path, trades, {"A": {"counterparty": "CP_A"}, "B": {"counterparty": "CP_A"}},
              ZERO_RATES + ["simulation.grid='3M,6M,9M,1Y,15M,18M,21M'", "output.store_cube=true",
                            "simulation.chunk_size=1500"], paths=4000)
    credit = {"CP_A": CreditCurve.flat(H_C, 0.4), "BANK": CreditCurve.flat(H_B, 0.4)}
    d, se = incremental_cva_from_runs(ds, ds, "A", "B", credit, "BANK", XvaSettings())
    want = float(fx_run["CVA"].values[_ns(fx_run, "NS_MIX")]) - float(ds["CVA"].values[0])
    assert d == pytest.approx(want, rel=1e-5, abs=1e-9)
    assert se < 0.5 * float(ds["CVA_stderr"].values[0])
