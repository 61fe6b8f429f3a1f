"""Exposure measures against references nobody here wrote, and the streaming / quantile-store invariants.

References: the Basel effective-EPE toy case and the normal-exposure closed forms of
/work/shared/reference/closed_forms.md (Gregory, The xVA Challenge, appendix 8A); ORE's quantile index.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.stats import norm

import exposure  # noqa: F401
from exposure.aggregation import (
    BlockSums,
    QuantileStore,
    basel_measures,
    basel_weights,
    exposure_measures,
    exposure_quantiles,
    quantile_stderr,
)
from exposure.portfolio.netting import Csa, NettingSet


# ----------------------------------------------------------------------------------------- Basel EEPE


def test_basel_eepe_toy_case():
    ee = np.array([100.0, 120.0, 90.0, 130.0])
    out = basel_measures(ee, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(out["BaselEEE"], [100.0, 120.0, 120.0, 130.0])
    assert out["BaselEEPE"] == pytest.approx(117.5, abs=1e-12)
    assert 1.4 * out["BaselEEPE"] == pytest.approx(164.5, abs=1e-12)
    assert out["BaselEPE"] == pytest.approx(110.0, abs=1e-12)
    np.testing.assert_allclose(out["TimeWeightedBaselEEPE"], [100.0, 110.0, 340.0 / 3.0, 117.5], rtol=1e-14)


def test_basel_eepe_toy_case_through_the_aggregator():
    """Constant paths with EE 100, 120, 90, 130 and discount factors: BaselEE = EE, EEPE = 117.5."""
    P = 10
    ee = np.array([100.0, 120.0, 90.0, 130.0])
    df = np.array([0.99, 0.98, 0.97, 0.96])
    values = np.broadcast_to(ee[:, None, None], (4, 1, P))
    numeraire = np.broadcast_to(1.0 / df[:, None], (4, P))  # deterministic bank account
    m = exposure_measures(values, numeraire, [0.25, 0.5, 0.75, 1.0], discount_factors=df)
    np.testing.assert_allclose(m.netting["EPE"][0], ee * df, rtol=1e-14)  # discounted
    np.testing.assert_allclose(m.netting["BaselEE"][0], ee, rtol=1e-14)  # non-discounted
    np.testing.assert_allclose(m.netting["BaselEEE"][0], [100, 120, 120, 130], rtol=1e-14)
    assert m.netting["BaselEEPE"][0] == pytest.approx(117.5, rel=1e-14)
    assert m.netting["EE_stderr"][0].max() < 1e-12


def test_basel_horizon_keeps_the_one_year_date_and_caps_at_maturity():
    t = np.array([91, 182, 273, 366, 456]) / 365.0  # the 1Y date of a leap year is 366 days away
    w = basel_weights(t)
    assert w[3] > 0 and w[4] == 0 and w.sum() == pytest.approx(1.0)
    w = basel_weights(t, maturity=[0.6, 0.1])
    # CRE53: the average runs over (0, M]; the date straddling M weighs M - t_{k-1}
    np.testing.assert_allclose(w[0], np.array([91, 91, 0.6 * 365 - 182, 0, 0]) / (0.6 * 365), rtol=1e-12)
    np.testing.assert_allclose(w[1], [1, 0, 0, 0, 0])  # matures before the first date: EEE(t_1) over (0, M]
    w = basel_weights(np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(w, [0.0, 0.5, 0.5])  # a t0 row carries no weight


# --------------------------------------------------------------------------------- normal closed form


@pytest.fixture(scope="module")
def normal_values():
    rng = np.random.default_rng(20240611)
    return 2.0 + 4.0 * rng.standard_normal(1_000_000)


def test_normal_exposure_closed_form(normal_values):
    mu, sigma, n = 2.0, 4.0, normal_values.size
    m = exposure_measures(normal_values[None, None, :], quantiles=(0.95, 0.99))
    ee, se = m.netting["EPE"][0, 0], m.netting["EE_stderr"][0, 0]
    assert abs(ee - 2.791186) < 4 * se, (ee, se)
    # SE of EE: sd(max(V,0)) / sqrt(n), compared with its closed form
    e2 = (mu**2 + sigma**2) * norm.cdf(mu / sigma) + mu * sigma * norm.pdf(mu / sigma)
    assert se == pytest.approx(np.sqrt((e2 - 2.791186**2) / n), rel=0.01)
    for k, q in enumerate((0.95, 0.99)):
        x_q = mu + sigma * norm.ppf(q)
        pfe_se = quantile_stderr(q, n, norm.pdf(x_q, mu, sigma))
        assert abs(m.netting["PFE"][0, 0, k] - x_q) < 4 * pfe_se, (q, m.netting["PFE"][0, 0, k], x_q, pfe_se)
    assert abs(x_q - 11.305391) < 1e-6
    assert m.netting["PeakPFE"][0, 1] == m.netting["PFE"][0, 0, 1]


def test_quantile_definitions():
    x = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 0.0, 9.0, 7.0, 6.0, 8.0])  # 0..9 shuffled
    # ORE: sorted[floor(q (n - 1) + 0.5)]
    np.testing.assert_array_equal(exposure_quantiles(x, [0.95, 0.5, 0.05, 1.0, 0.0]), [9.0, 5.0, 0.0, 9.0, 0.0])
    np.testing.assert_array_equal(exposure_quantiles(x, [0.94]), [8.0])
    rng = np.random.default_rng(3)
    y = rng.standard_normal((4, 1001))
    qs = [0.95, 0.975, 0.99, 0.123]
    np.testing.assert_array_equal(exposure_quantiles(y, qs, method="linear"),
                                  np.moveaxis(np.quantile(y, qs, axis=-1), 0, -1))
    ranks = [1000, 0, 17, 949, 950, 951]  # order statistics read off the same selections, any order
    q, stats = exposure_quantiles(y, qs, ranks=ranks)
    np.testing.assert_array_equal(stats, np.sort(y, axis=-1)[:, ranks])
    with pytest.raises(ValueError):
        exposure_quantiles(y, [1.5])


# ------------------------------------------------------------------- streaming and the quantile store


@pytest.fixture(scope="module")
def cube():
    rng = np.random.default_rng(77)
    K, n, P = 6, 3, 5000
    values = rng.normal(0.5, 3.0, size=(K, n, P)).cumsum(axis=0)
    numeraire = np.exp(0.03 * np.arange(1, K + 1)[:, None] + 0.01 * rng.standard_normal((K, P)))
    return values, numeraire


def _run(values, numeraire, chunk, **kw):
    nss = [NettingSet("A", "CA", Csa(threshold_cpty=1.0, mta_cpty=0.5, mta_bank=0.5)), NettingSet("B", "CB"),
           NettingSet("C", "CC", Csa(margining="cpty_posts", rounding=0.25))]
    return exposure_measures(values, numeraire, np.arange(1, values.shape[0] + 1) / 2, netting_sets=nss,
                             chunk_size=chunk, **kw)


def test_sums_are_bitwise_independent_of_chunk_size(cube):
    values, numeraire = cube
    ref = _run(values, numeraire, None, block_size=256)
    for chunk in (1000, 777, 4999):
        m = _run(values, numeraire, chunk, block_size=256)
        for name in ("EPE", "ENE", "EE_stderr", "ExpectedCollateral", "BaselEEE", "PFE"):
            np.testing.assert_array_equal(m.netting[name], ref.netting[name], err_msg=f"{name}, chunk {chunk}")


def test_block_sums_match_plain_sums():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 1000))
    s = BlockSums((2, 3), block=64)
    for lo, hi in ((0, 10), (10, 500), (500, 1000)):
        s.add(a[..., lo:hi])
    np.testing.assert_allclose(s.result(), a.sum(axis=-1), rtol=1e-12)


def test_quantile_store_memory_and_spilled_agree(cube, tmp_path):
    values, _ = cube
    K, n, P = values.shape
    exp = np.maximum(values, 0.0)
    qs = (0.95, 0.975, 0.99)
    results = []
    for force_spill, chunk, budget in ((False, P, 10**9), (True, 1000, 10**9), (True, 613, 3 * P * 8), (False, 333, 10**9)):
        with QuantileStore(n, K, P, force_spill=force_spill, memory_budget_bytes=budget, spill_dir=tmp_path) as st:
            assert st.spilled == force_spill
            for s in range(0, P, chunk):
                st.add(s, min(P, s + chunk), exp[..., s : min(P, s + chunk)])
            results.append(st.quantiles(qs))
            np.testing.assert_array_equal(st.rows(1), exp[:, 1, :])  # the store keeps the path order
            path = st.path
        if force_spill:
            assert not os.path.exists(path)  # the spill file is removed on close
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    np.testing.assert_array_equal(results[0], np.moveaxis(exposure_quantiles(exp, qs), 1, 0))
    # a small budget spills on its own
    assert QuantileStore(n, K, P, memory_budget_bytes=1000, spill_dir=tmp_path).spilled


def test_spilled_aggregator_matches_in_memory(cube, tmp_path):
    values, numeraire = cube
    a = _run(values, numeraire, 1200)
    b = _run(values, numeraire, 999, force_spill=True, spill_dir=str(tmp_path), memory_budget_bytes=2 * 5000 * 8)
    c = _run(values, numeraire, 999, force_spill=True, spill_dir=str(tmp_path), store_dtype="float32")
    np.testing.assert_array_equal(a.netting["PFE"], b.netting["PFE"])
    np.testing.assert_allclose(a.netting["PFE"], c.netting["PFE"], rtol=1e-6)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ discounting conventions


def test_discounted_and_undiscounted_measures(cube):
    values, numeraire = cube
    v = values[:, :1, :]
    m = exposure_measures(v, numeraire)
    np.testing.assert_allclose(m.netting["EPE"][0], (np.maximum(v[:, 0], 0) / numeraire).mean(-1), rtol=1e-12)
    np.testing.assert_allclose(m.netting["ENE"][0], (np.maximum(-v[:, 0], 0) / numeraire).mean(-1), rtol=1e-12)
    df_mc = (1.0 / numeraire).mean(-1)
    np.testing.assert_allclose(m.discount_factors, df_mc, rtol=1e-12)  # no curve given: E[1/N]
    np.testing.assert_allclose(m.netting["BaselEE"][0], m.netting["EPE"][0] / df_mc, rtol=1e-12)
    # PFE: undiscounted by default, ORE's numeraire-deflated basis on request
    np.testing.assert_array_equal(m.netting["PFE"][0], exposure_quantiles(np.maximum(v[:, 0], 0), (0.95, 0.975, 0.99)))
    d = exposure_measures(v, numeraire, pfe_basis="discounted")
    np.testing.assert_array_equal(d.netting["PFE"][0],
                                  exposure_quantiles(np.maximum(v[:, 0], 0) * (1.0 / numeraire), (0.95, 0.975, 0.99)))
    peak = m.netting["PFE"][0].max(axis=0)
    np.testing.assert_array_equal(m.netting["PeakPFE"][0], peak)
    np.testing.assert_array_equal(m.netting["PeakPFEIndex"][0], m.netting["PFE"][0].argmax(axis=0))


# ----------------------------------------------------------------------------------------- allocation


def _trades(seed=11, K=4, n_t=5, P=3000):
    rng = np.random.default_rng(seed)
    tv = rng.normal(0.0, 1.0, size=(K, n_t, P)) * rng.uniform(0.5, 3, size=(1, n_t, 1))
    idx = np.array([0, 0, 0, 1, 1])
    return tv, idx


@pytest.mark.parametrize("csa", [None, Csa(threshold_cpty=0.7, mta_cpty=0.2, mta_bank=0.3)])
def test_euler_allocation_sums_to_netting_set_epe(csa):
    from exposure.aggregation import net_values

    tv, idx = _trades()
    K, _, P = tv.shape
    nss = [NettingSet("A", "CA", csa), NettingSet("B", "CB")]
    num = np.exp(0.02 * np.arange(1, K + 1))[:, None] * np.ones((1, P))
    m = exposure_measures(net_values(tv, idx, 2), num, netting_sets=nss, trade_values=tv,
                          trade_netting_index=idx, chunk_size=1100)
    for j in range(2):
        np.testing.assert_allclose(m.trade["AllocatedEPE"][idx == j].sum(axis=0), m.netting["EPE"][j], rtol=1e-12)
        np.testing.assert_allclose(m.trade["AllocatedENE"][idx == j].sum(axis=0), m.netting["ENE"][j], rtol=1e-12)
    # uncollateralised set: the Euler contribution E[v_i 1{V > 0} / N]
    V = tv[:, idx == 1].sum(axis=1)
    euler = (tv[:, idx == 1] * (V > 0)[:, None, :] / num[:, None, :]).mean(-1).T
    np.testing.assert_allclose(m.trade["AllocatedEPE"][idx == 1], euler, rtol=1e-12)
    # trade-level EPE is the stand-alone exposure and netting can only help
    np.testing.assert_allclose(m.trade["trade_EPE"], (np.maximum(tv, 0) / num[:, None]).mean(-1).T, rtol=1e-12)
    assert np.all(m.netting["EPE"][1] <= m.trade["trade_EPE"][idx == 1].sum(axis=0))
