"""Honest uncertainty: cluster-robust intervals cover at their nominal level on clustered fills (iid intervals do
not), metrics below their minimum sample are reported as insufficient and not scored, and every score carries an
interval and the probability of each class."""

import math

import numpy as np
import pandas as pd
import pytest

from scorecard.clustered import cluster_mean_estimate
from scorecard.composite import score_distribution
from scorecard.assemble import build_scorecard, sample_status
from scorecard.stats import mean_estimate
from scorecard_testlib import compose

REPS = 400
NOMINAL = 0.95
TOL = 4 * math.sqrt(NOMINAL * (1 - NOMINAL) / REPS)  # 4 binomial SE of the coverage estimate


def clustered_fills(rng, n_orders=40, fills=10, time_shocks=False, mu=0.5):
    """Same-side bursts: fills of one parent order share a shock u_g (ICC 0.5); with time_shocks, orders in the
    same time bucket (4 orders per bucket) also share a market shock v_b."""
    order = np.repeat(np.arange(n_orders), fills)
    x = mu + rng.normal(0, 1, n_orders)[order] + rng.normal(0, 1, order.size)
    bucket = order // 4
    if time_shocks:
        x = x + rng.normal(0, 1, bucket.max() + 1)[bucket]
    # interleave buckets so that time buckets cut across orders (orders of a bucket overlap in time)
    tb = (bucket * 1000 + rng.integers(0, 2, order.size))
    return x, order, tb


def coverage(estimator, time_shocks=False, seed=1):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(REPS):
        x, order, tb = clustered_fills(rng, time_shocks=time_shocks)
        e = estimator(x, order, tb)
        hits += e.lo <= 0.5 <= e.hi
    return hits / REPS


def covers_nominal(cov) -> bool:
    return abs(cov - NOMINAL) <= TOL


def test_order_clustered_intervals_cover():
    cov = coverage(lambda x, o, t: cluster_mean_estimate(x, o, None))
    assert covers_nominal(cov), cov


def test_two_way_clustered_intervals_cover_with_time_shocks():
    cov = coverage(lambda x, o, t: cluster_mean_estimate(x, o, t // 1000), time_shocks=True)
    assert covers_nominal(cov), cov


def test_iid_intervals_fail_the_same_check():
    """The check above is not vacuous: iid intervals on the same clustered data cover ~60%, far below 95%."""
    cov = coverage(lambda x, o, t: mean_estimate(x))
    assert not covers_nominal(cov) and cov < 0.75, cov
    one_way = coverage(lambda x, o, t: cluster_mean_estimate(x, o, None), time_shocks=True)
    assert not covers_nominal(one_way), one_way  # orders alone miss the shared time shocks


def test_cluster_estimate_reduces_to_iid_without_clusters():
    rng = np.random.default_rng(3)
    x = rng.normal(size=500)
    a, b = cluster_mean_estimate(x, np.arange(500), None), mean_estimate(x)
    assert a.se == pytest.approx(b.se, rel=1e-12)  # CR1 with singletons = s / sqrt(n)
    assert a.g == 500 and math.isinf(cluster_mean_estimate(x, np.zeros(500), None).se)


def test_insufficient_sample_is_reported_not_scored():
    """The issue's case: 14 stressed RFQs gave a perfect 100% stress fill rate and a Partner score."""
    cfg = compose()
    rows = []
    for cp, (asel, n_asel, stress, n_stress) in {"X": (0.1, 400, 100.0, 14), "Y": (0.1, 400, 90.0, 300)}.items():
        rows += [{"counterparty": cp, "metric": "adverse_selection_bps", "value": asel, "se": 0.05, "lo": 0, "hi": 0,
                  "n": n_asel, "unit": "bps", "n_clusters": n_asel},
                 {"counterparty": cp, "metric": "stress_fill_pct", "value": stress, "se": 1.0, "lo": 0, "hi": 0,
                  "n": n_stress, "unit": "%", "n_clusters": n_stress}]
    m = pd.DataFrame(rows)
    m["status"] = sample_status(m, cfg.ci)
    assert list(m["status"]) == ["ok", "insufficient", "ok", "ok"]
    ref = pd.DataFrame({"counterparty": ["X", "Y"], "pfe_limit": [1.0, 1.0]})
    sc = build_scorecard(m, None, ref, pd.Series({"X": 1e9, "Y": 1e9}), None, cfg)
    assert "stress_fill_pct" not in sc.loc["X", "metrics_used"]
    assert "stress_fill_pct (w=0.5)" in sc.loc["X", "metrics_missing"]
    assert np.isnan(sc.loc["X"].get("stress_fill_pct", np.nan))
    assert "stress_fill_pct" in sc.loc["Y", "metrics_used"]
    m.loc[1, "n_clusters"] = 5  # enough fills but too few independent clusters
    m.loc[1, "n"] = 1000
    assert sample_status(m, cfg.ci)[1] == "insufficient"


def test_score_interval_and_class_probabilities():
    cfg = compose()
    tf, w, bands = cfg.composite.transforms, {"adverse_selection_bps": 1.0}, cfg.composite.bands
    # transform lo=-1, hi=1.5: score = 4 (x + 1); Partner/Monitor boundary 3.5 at x = -0.125
    wide = pd.DataFrame({"adverse_selection_bps": [0.3, -0.125, 1.0]}, index=["sure", "edge", "noisy"])
    se = pd.DataFrame({"adverse_selection_bps": [0.0, 0.2, 0.25]}, index=wide.index)
    d = score_distribution(wide, se, tf, w, bands, z=1.96, n_draws=4000, seed=1)
    p = d[[c for c in d.columns if c.startswith("p_")]]
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert d.loc["sure", "p_Monitor"] == 1.0
    assert d.loc["sure", "score_lo"] == d.loc["sure", "score_hi"] == pytest.approx(5.2)
    assert d.loc["edge", "p_Partner"] == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / 4000))
    # noisy: score 8 +/- 4 * 0.25 * 1.96 -> about [6.04, 9.96]; the class straddles Toxic and Restrict
    assert d.loc["noisy", "score_lo"] == pytest.approx(8 - 1.96, abs=0.15)
    assert 0.3 < d.loc["noisy", "p_Restrict"] < 0.7


def test_run_reports_intervals_status_and_probabilities(run_result):
    sc, m = run_result.scorecard, run_result.metrics
    assert (sc["score_lo"] <= sc["model_score"] + 1e-9).all() and (sc["model_score"] <= sc["score_hi"] + 1e-9).all()
    probs = sc[[c for c in sc.columns if c.startswith("p_")]]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert set(m["status"]) <= {"ok", "insufficient"} and "n_clusters" in m


def test_time_clustered_fill_rates_cover_where_wilson_does_not():
    """Fill outcomes that move together within a stressed hour (p_b = 0.6 + N(0, 0.2) per bucket, 40 buckets of
    8 RFQs): Wilson on the effective sample covers; the plain Wilson interval does not."""
    from scorecard.clustered import clustered_proportion
    from scorecard.stats import wilson

    rng = np.random.default_rng(2)
    hits_c = hits_w = 0
    for _ in range(REPS):
        b = np.repeat(np.arange(40), 8)
        x = rng.random(b.size) < np.clip(0.6 + rng.normal(0, 0.2, 40), 0.0, 1.0)[b]
        c, w = clustered_proportion(x, b), wilson(int(x.sum()), x.size)
        hits_c += c.lo <= 0.6 <= c.hi
        hits_w += w.lo <= 0.6 <= w.hi
    assert covers_nominal(hits_c / REPS), hits_c / REPS
    assert not covers_nominal(hits_w / REPS), hits_w / REPS
