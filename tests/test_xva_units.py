"""XVA building blocks against independent references: quadrature for first-to-default probabilities, direct
NumPy over all paths for the streamed path functionals, the binomial law for the PFE interval, hand numbers
for the KVA proxy and the funding discount factors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import integrate
from scipy.stats import binom

from exposure.aggregation import exposure_measures
from exposure.aggregation.quantiles import order_statistic_interval
from exposure.errors import ConfigError
from exposure.market.credit import CreditCurve
from exposure.xva import (FundingSpreads, XvaSettings, add_xva, credit_weights, default_increments, forward_eepe,
                          funding_dcf, funding_spreads, incremental_cva, kva)


def _piecewise(times, hazards):
    t = np.asarray(times, float)
    h = np.asarray(hazards, float)

    def haz(u):
        return h[min(np.searchsorted(t, u, side="left"), len(t) - 1)]

    def surv(u):
        return np.exp(-integrate.quad(haz, 0.0, u, points=list(t[t < u]), limit=200)[0]) if u > 0 else 1.0

    return haz, surv


def test_first_to_default_increments_match_quadrature():
    """q_j = int_{t_{j-1}}^{t_j} h_c S_c S_b du for independent piecewise-flat hazards, pillars inside intervals."""
    c = CreditCurve.from_hazards([0.7, 2.0, 5.0], [0.02, 0.05, 0.03], 0.4)
    b = CreditCurve.from_hazards([1.3, 4.0], [0.01, 0.025], 0.4)
    times = np.array([0.0, 0.5, 1.0, 2.5, 3.0, 6.0])
    hc, sc = _piecewise([0.7, 2.0, 5.0], [0.02, 0.05, 0.03])
    hb, sb = _piecewise([1.3, 4.0], [0.01, 0.025])
    pts = [0.7, 1.3, 2.0, 4.0, 5.0]
    ref = [0.0] + [integrate.quad(lambda u: hc(u) * sc(u) * sb(u), a, e, points=[p for p in pts if a < p < e],
                                  epsabs=1e-14, epsrel=1e-12)[0] for a, e in zip(times[:-1], times[1:])]
    got = default_increments(c, times, b)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-15)
    # unilateral: S(t_{j-1}) - S(t_j) with S by quadrature
    uni = default_increments(c, times)
    np.testing.assert_allclose(uni[1:], [sc(a) - sc(e) for a, e in zip(times[:-1], times[1:])], rtol=1e-10)
    assert np.all(got[1:] < uni[1:])  # the bank's survival lowers every increment


def test_midpoint_weights_split_each_interval():
    c = CreditCurve.flat(0.03, 0.25)
    t = np.array([0.0, 1.0, 2.0])
    q = np.exp(-0.03 * t[:-1]) - np.exp(-0.03 * t[1:])
    np.testing.assert_allclose(credit_weights(0.75, c, t, None, "ore"), [0.0, 0.75 * q[0], 0.75 * q[1]], rtol=1e-13)
    np.testing.assert_allclose(credit_weights(0.75, c, t, None, "midpoint"),
                               [0.375 * q[0], 0.375 * (q[0] + q[1]), 0.375 * q[1]], rtol=1e-13)


def test_path_functionals_match_numpy_and_are_chunk_invariant():
    rng = np.random.default_rng(3)
    K, n, P = 6, 3, 1000
    v = rng.normal(0.2, 1.0, (K, n, P)) * np.arange(1, K + 1)[:, None, None]
    num = np.exp(rng.normal(0.0, 0.05, (K, P)).cumsum(axis=0))
    w1, w2 = rng.uniform(0, 0.01, (n, K)), rng.uniform(0, 0.02, (n, K))
    spec = {"A": ("EPE", w1), "B": [("EPE", w1), ("ENE", -w2)]}
    groups = np.array([0, 1, 0])
    runs = [exposure_measures(v, num, path_functionals=spec, functional_groups=groups, chunk_size=c,
                              quantiles=()) for c in (P, 257, 64)]
    y_pos, y_neg = np.maximum(v, 0) / num[:, None], np.maximum(-v, 0) / num[:, None]
    per_path = {"A": np.einsum("nk,knp->np", w1, y_pos),
                "B": np.einsum("nk,knp->np", w1, y_pos) - np.einsum("nk,knp->np", w2, y_neg)}
    for name, f in per_path.items():
        res = runs[0].functionals[name]
        np.testing.assert_allclose(res["entity"][0], f.mean(axis=1), rtol=1e-12)
        np.testing.assert_allclose(res["entity"][1], f.std(axis=1, ddof=1) / np.sqrt(P), rtol=1e-9)
        g = np.stack([f[0] + f[2], f[1]])
        np.testing.assert_allclose(res["group"][0], g.mean(axis=1), rtol=1e-12)
        np.testing.assert_allclose(res["group"][1], g.std(axis=1, ddof=1) / np.sqrt(P), rtol=1e-9)
        np.testing.assert_allclose(res["total"][1], f.sum(axis=0).std(ddof=1) / np.sqrt(P), rtol=1e-9)
        for other in runs[1:]:
            for part in ("entity", "group"):
                for a, b in zip(res[part], other.functionals[name][part]):
                    assert np.array_equal(a, b)
            assert res["total"] == other.functionals[name]["total"]
    # mean of A = its weights on the EPE profile (the figure the XVA stage reports)
    np.testing.assert_allclose(runs[0].functionals["A"]["entity"][0], np.sum(w1 * runs[0].netting["EPE"], axis=1),
                               rtol=1e-12)
    # ENE standard error, new next to EE_stderr
    np.testing.assert_allclose(runs[0].netting["ENE_stderr"], (y_neg.std(axis=2, ddof=1) / np.sqrt(P)).T, rtol=1e-9)


def test_pfe_interval_ranks_are_the_binomial_quantiles_and_cover():
    n, level = 1000, 0.95
    qs = np.array([0.9, 0.95, 0.99])
    lo, hi = order_statistic_interval(qs, n, level)
    for q, l, u in zip(qs, lo, hi):
        assert binom.cdf(l, n, q) <= 0.025 < binom.cdf(l + 1, n, q)  # P(x_(l) > Q) <= 2.5%, tight
        assert binom.sf(u, n, q) <= 0.025 < binom.sf(u - 1, n, q)  # P(x_(u) < Q) <= 2.5%, tight
    # coverage of the true normal quantile over repeated samples (>= 95% in theory)
    rng = np.random.default_rng(0)
    x = np.sort(rng.standard_normal((400, n)), axis=1)
    true = 1.6448536269514722  # Phi^-1(0.95)
    cover = np.mean((x[:, lo[1]] <= true) & (true <= x[:, hi[1]]))
    assert cover > 0.92, cover
    # the aggregator brackets its PFE
    m = exposure_measures(rng.normal(0, 1, (3, 1, 500)), quantiles=qs)
    assert np.all(m.netting["PFE_lower"] <= m.netting["PFE"]) and np.all(m.netting["PFE"] <= m.netting["PFE_upper"])


def test_forward_eepe_on_the_basel_toy():
    """closed_forms.md: EE 100, 120, 90, 130 on four equal quarters: EEPE = 117.5 (seen from t = 0)."""
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    ee = np.array([[0.0, 100.0, 120.0, 90.0, 130.0]])
    f = forward_eepe(ee, t)
    assert f[0, 0] == pytest.approx(117.5, abs=1e-12)
    assert f[0, 2] == pytest.approx((90 + 130) / 2)  # restarted at 0.5: effective EE 90, 130
    assert f[0, 4] == 0.0


def test_kva_and_funding_dcf_by_hand():
    t = np.array([0.0, 1.0, 2.0])
    p = np.exp(-0.03 * t)
    cap = np.array([[10.0, 20.0, 0.0]])
    s = np.array([[0.0, 1.0, 0.9]])
    # 0.1 (10 x 1 x 1 x e^-0.03 + 20 x 0.9 x 1 x e^-0.06)
    assert kva(cap, t, p, s, 0.1)[0] == pytest.approx(0.1 * (10 * np.exp(-0.03) + 18 * np.exp(-0.06)), rel=1e-14)
    fs = FundingSpreads(np.array([1.0, 2.0]), np.array([0.01, 0.02]), np.array([0.005, 0.005]))
    # P_B(t) = P(t) exp(-s(t) t), s(1) = 1%, s(2) = 2%: dcf_j = P(t_{j-1})/P(t_j) (e^{s_j t_j - s_{j-1} t_{j-1}} - 1)
    dcf = funding_dcf(fs, "borrowing", t, p)
    np.testing.assert_allclose(dcf, [0.0, np.exp(0.03) * np.expm1(0.01), np.exp(0.03) * np.expm1(0.03)], rtol=1e-13)


def _toy_dataset(epe, ene, cps=("CP",)):
    t = np.array([0.0, 1.0, 2.0])
    n = len(cps)
    return xr.Dataset(
        {"EPE": (("netting_set", "date"), np.asarray(epe, float)), "ENE": (("netting_set", "date"), np.asarray(ene, float)),
         "BaselEE": (("netting_set", "date"), np.asarray(epe, float)), "DiscountFactor": ("date", np.ones(3))},
        coords={"netting_set": [f"NS{i}" for i in range(n)], "counterparty": ("netting_set", list(cps)),
                "date": np.array(["2026-01-01", "2027-01-01", "2028-01-01"], dtype="datetime64[ns]"), "time": ("date", t)})


def test_fva_signs_by_hand():
    """A set always owed 100 (discounted) costs funding, one always owing 100 earns it; zero rates, flat
    spreads 100bp / 40bp, hazards 2% (cpty) and 1% (bank):
    FCA = 100 sum_j S_c(t_{j-1}) S_b(t_{j-1}) (e^{0.01} - 1), FBA likewise with 40bp."""
    credit = {"CP": CreditCurve.flat(0.02, 0.4), "BANK": CreditCurve.flat(0.01, 0.4)}
    fs = FundingSpreads(np.array([1.0]), np.array([0.01]), np.array([0.004]))
    st = XvaSettings(funding=fs)
    ds = add_xva(_toy_dataset([[100.0] * 3, [0.0] * 3], [[0.0] * 3, [100.0] * 3], cps=("CP", "CP")),
                 credit, "BANK", st)
    surv = 1.0 + np.exp(-0.03)  # S_c S_b at t = 0 and t = 1
    fca = 100 * surv * (np.exp(0.01) - 1)
    fba = 100 * surv * (np.exp(0.004) - 1)
    np.testing.assert_allclose(ds["FCA"].values, [fca, 0.0], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ds["FBA"].values, [0.0, fba], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ds["FVA"].values, [fca, -fba], rtol=1e-13)
    assert ds["FVA"].values[0] > 0 > ds["FVA"].values[1]  # cost when owed, benefit when owing
    np.testing.assert_allclose(ds["FCA_exAllSP"].values[0], 200 * (np.exp(0.01) - 1), rtol=1e-13)
    np.testing.assert_allclose(ds["FCA_exOwnSP"].values[0], 100 * (1 + np.exp(-0.02)) * (np.exp(0.01) - 1), rtol=1e-13)
    # CVA (unilateral, ORE): 0.6 x 100 x (1 - e^-0.04); DVA of the owing set: 0.6 x 100 x (1 - e^-0.02)
    np.testing.assert_allclose(ds["CVA"].values, [60 * (1 - np.exp(-0.04)), 0.0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ds["DVA"].values, [0.0, 60 * (1 - np.exp(-0.02))], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ds["CVA_cpty"].values, [ds["CVA"].values.sum()], rtol=1e-15)
    assert "CVA_stderr" not in ds and "not available" in ds.attrs["xva_stderr"]
    assert "proxy" in ds.attrs["KVA_capital_source"]


def test_missing_credit_is_zero_and_listed_or_an_error():
    ds = _toy_dataset([[100.0] * 3], [[0.0] * 3], cps=("NOBODY",))
    credit = {"BANK": CreditCurve.flat(0.01, 0.4)}
    out = add_xva(ds, credit, "BANK", XvaSettings())
    assert out["CVA"].values[0] == 0.0 and "NOBODY" in out.attrs["xva_missing_credit"]
    with pytest.raises(ConfigError, match="market.credit.NOBODY"):
        add_xva(ds, credit, "BANK", XvaSettings(missing_credit="fail"))


def test_funding_config_errors_name_the_key():
    import datetime as dt

    class Node:
        tenors = ["1Y", "2Y"]
        borrowing_bp = [50.0]
        lending_bp = [10.0, 20.0]

    with pytest.raises(ConfigError, match="market.funding.borrowing_bp"):
        funding_spreads(Node(), dt.date(2026, 11, 20))


def test_incremental_cva_is_the_per_path_difference():
    rng = np.random.default_rng(1)
    K, P = 5, 4000
    V = rng.normal(0.0, 1.0, (K, P))
    v = rng.normal(0.1, 0.5, (K, P))
    N = np.ones((K, P))
    w = np.array([0.0, 0.01, 0.01, 0.01, 0.01])
    d, se = incremental_cva(V, v, N, w)
    full = np.sum(w[:, None] * np.maximum(V + v, 0), axis=0).mean() - np.sum(w[:, None] * np.maximum(V, 0), axis=0).mean()
    assert d == pytest.approx(full, rel=1e-12)
    indep = np.sqrt(np.var(np.sum(w[:, None] * np.maximum(V + v, 0), axis=0), ddof=1) / P)
    assert 0 < se < indep  # the same paths: the difference is known far better than either CVA


def test_wrong_way_cva_calibrates_to_the_curve_and_is_monotone_in_b():
    from exposure.xva.wwr import path_survival, wrong_way_cva

    rng = np.random.default_rng(7)
    K, P = 9, 20000
    t = np.linspace(0.0, 4.0, K)
    x = np.concatenate([np.zeros((1, P)), np.cumsum(rng.standard_normal((K - 1, P)) * 0.5, axis=0)]) + 0.2
    N = np.exp(0.02 * t)[:, None] * np.ones((1, P))
    c = CreditCurve.from_hazards([1.0, 3.0, 10.0], [0.02, 0.05, 0.03], 0.4)
    s = np.asarray(c.survival(t))
    z = (x - x.mean(1, keepdims=True)) / np.where(x.std(1, keepdims=True) > 0, x.std(1, keepdims=True), 1.0)
    for b in (-1.0, 0.0, 1.0):
        np.testing.assert_allclose(path_survival(z, t, s, b).mean(axis=1), s, rtol=1e-12)  # market curve kept
    # b = 0: the independent CVA of the ore discretisation, exactly
    epe = (np.maximum(x, 0) / N).mean(axis=1)
    indep = float(credit_weights(0.6, c, t, None, "ore") @ epe)
    cva0, se0 = wrong_way_cva(x, N, t, s, 0.6, 0.0)
    assert cva0 == pytest.approx(indep, rel=1e-12)
    values = [wrong_way_cva(x, N, t, s, 0.6, b) for b in (-1.0, -0.3, 0.0, 0.3, 1.0)]
    cvas = [v for v, _ in values]
    assert all(a < b for a, b in zip(cvas, cvas[1:])), cvas  # wrong way raises, right way lowers CVA
    assert cvas[-1] > indep + 4 * values[-1][1]


def test_funding_exposure_is_the_value_net_of_margin_at_the_call_date():
    """F(t) = V(t) - VM(t): with a zero-threshold CSA the margin called at t funds V(t) exactly (FundingEPE = 0)
    while the close-out exposure over the MPoR stays (EPE > 0); with threshold H, F = clip(V, -H, H); IA is not in F."""
    from exposure.portfolio.netting import Csa, NettingSet

    rng = np.random.default_rng(5)
    P, H = 3000, 0.3
    v = np.cumsum(rng.standard_normal((6, 3, P)) * 0.2, axis=0)  # dates 0..5: valuation 0, 2, 4; close-out 1, 3, 5
    sets = [NettingSet("FULL", "C", Csa(independent_amount_held=0.5)), NettingSet("H", "C", Csa(threshold_cpty=H,
            threshold_bank=H)), NettingSet("NONE", "C")]
    m = exposure_measures(v, times=np.array([0.0, 0.5, 1.0]), netting_sets=sets, valuation_index=np.array([0, 2, 4]),
                          closeout_index=np.array([1, 3, 5]), t0_index=0, quantiles=())
    vv = v[[0, 2, 4]]
    assert np.all(m.netting["FundingEPE"][0] == 0.0) and np.all(m.netting["FundingENE"][0] == 0.0)
    assert np.all(m.netting["EPE"][0, 1:] > 0.0)
    np.testing.assert_allclose(m.netting["FundingEPE"][1], np.minimum(np.maximum(vv[:, 1], 0), H).mean(axis=1),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(m.netting["FundingENE"][1], np.minimum(np.maximum(-vv[:, 1], 0), H).mean(axis=1),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(m.netting["FundingEPE"][2], np.maximum(vv[:, 2], 0).mean(axis=1), rtol=1e-13)


@pytest.mark.parametrize("override, key", [("market.funding.tenors=[1Y,2Y]", "market.funding.borrowing_bp"),
                                           ("xva.dim_quantile=0.3", "xva.dim_quantile")])
def test_validate_names_the_bad_xva_key(override, key):
    import exposure

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        exposure.validate(exposure.compose([override]))
