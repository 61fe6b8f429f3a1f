"""On seeded synthetic data every metric recovers its planted parameter within its (4-SE) confidence interval,
the intervals are tight enough to tell the counterparties apart, and the planted toxic ones are Toxic/Restrict."""

import pytest

from scorecard.synthetic import IMPACT_Y

# metric in the output -> column of the generator's truth table
RECOVERED = {
    "markout_1s_bps": "markout_1s_bps", "markout_5s_bps": "markout_5s_bps", "markout_30s_bps": "markout_30s_bps",
    "markout_60s_bps": "markout_60s_bps", "markout_300s_bps": "markout_300s_bps",
    "adverse_selection_bps": "markout_60s_bps",
    "excess_slippage_bps": "excess_slippage_bps", "excess_impact_bps": "excess_impact_bps",
    "fill_rate_normal": "fill_rate_normal", "fill_rate_stress": "fill_rate_stress",
    "response_rate": "response_rate", "response_ms": "response_ms", "halfspread_bps": "halfspread_bps",
    "skip_rate": "skip_prob", "skip_event_cost_bps": "skip_bps",
}
# the half-width of a 4-SE interval must be below this, else "within the CI" says nothing
MAX_HALF_WIDTH = {
    "markout_1s_bps": 0.05, "markout_60s_bps": 0.15, "markout_300s_bps": 0.35, "adverse_selection_bps": 0.15,
    "excess_slippage_bps": 0.5, "excess_impact_bps": 0.5, "fill_rate_normal": 0.08, "fill_rate_stress": 0.25,
    "response_rate": 0.06, "response_ms": 150.0, "halfspread_bps": 0.1, "skip_rate": 0.06,
    "skip_event_cost_bps": 0.6,
}


def _metric(run_result, cp, name):
    m = run_result.metrics
    row = m[(m["counterparty"] == cp) & (m["metric"] == name)]
    assert len(row) == 1, f"{cp}: metric {name} missing"
    return row.iloc[0]


@pytest.mark.parametrize("metric", sorted(RECOVERED))
def test_metric_recovers_planted_value(run_result, synthetic, metric):
    for cp, truth in synthetic.truth.iterrows():
        r = _metric(run_result, cp, metric)
        expected = float(truth[RECOVERED[metric]])
        assert r["lo"] <= expected <= r["hi"], f"{cp} {metric}: {r['value']:.4f} [{r['lo']:.4f}, {r['hi']:.4f}] vs {expected:.4f}"
        if metric in MAX_HALF_WIDTH:
            assert (r["hi"] - r["lo"]) / 2 < MAX_HALF_WIDTH[metric], f"{cp} {metric}: interval too wide"
        assert r["n"] >= 20


def test_intervals_reject_a_wrong_value(run_result, synthetic):
    """Negative control: shifting the truth by a material amount falls outside the interval."""
    for cp, truth in synthetic.truth.iterrows():
        r = _metric(run_result, cp, "adverse_selection_bps")
        assert not (r["lo"] <= truth["markout_60s_bps"] + 0.3 <= r["hi"])
        r = _metric(run_result, cp, "fill_rate_normal")
        assert not (r["lo"] <= truth["fill_rate_normal"] - 0.15 <= r["hi"])


def test_reversion_and_degradation(run_result, synthetic):
    for cp, truth in synthetic.truth.iterrows():
        p = truth["planted"]
        rev = _metric(run_result, cp, "reversion_bps")
        assert rev["lo"] <= truth["markout_5s_bps"] - truth["markout_300s_bps"] <= rev["hi"]
        deg = _metric(run_result, cp, "fill_degradation_pp")
        assert deg["lo"] <= 100 * (p["fill_normal"] - p["fill_stress"]) <= deg["hi"]
        stress = _metric(run_result, cp, "stress_fill_pct")
        assert stress["lo"] <= 100 * p["fill_stress"] <= stress["hi"]
        sk = _metric(run_result, cp, "skipping_cost_bps")  # per opportunity = rate x event cost
        assert sk["lo"] <= p["skip_prob"] * p["skip_bps"] <= sk["hi"]


def test_impact_coefficient_and_exponent_recovered(run_result, synthetic):
    """Y and the fitted exponent (planted: square-root law, 1/2) inside their 4-SE intervals, which are tight."""
    y, beta = run_result.impact["y"], run_result.impact["beta"]
    assert y["lo"] <= IMPACT_Y <= y["hi"] and y["hi"] - y["lo"] < 0.3, y
    assert beta["lo"] <= 0.5 <= beta["hi"] and beta["hi"] - beta["lo"] < 0.15, beta
    assert not beta["lo"] <= 0.6 <= beta["hi"]  # the exponent is identified: 0.6 is rejected
    terms = run_result.impact["terms_bps"]
    assert set(terms) == set(run_result.scorecard.index)
    from scorecard.synthetic import EXEC_HALF_SPREAD

    for cp, truth in synthetic.truth.iterrows():  # per-counterparty term = half spread + planted excess
        a = terms[cp]
        assert a["lo"] <= EXEC_HALF_SPREAD + truth["planted"]["excess_slippage_bps"] <= a["hi"], (cp, a)


def test_protocol_score_orders_by_planted_engagement(run_result):
    sc = run_result.scorecard
    assert sc.loc["CP_E", "protocol_score"] < 2.5  # slow, rarely responding, wide quotes
    assert sc.loc["CP_A", "protocol_score"] > 4.0 and sc.loc["CP_D", "protocol_score"] > 4.0
    assert (sc["protocol_score"].between(1, 5)).all()


def test_planted_toxic_counterparties_are_classified(run_result):
    cls = run_result.scorecard["class"]
    assert cls["CP_B"] in ("Toxic", "Restrict")  # informed flow + stress fill collapse
    assert cls["CP_E"] == "Restrict"  # unreliable, slow, weak credit
    assert cls["CP_A"] == "Partner" and cls["CP_D"] == "Partner"
    assert cls["CP_C"] in ("Monitor", "Partner")
    sc = run_result.scorecard
    assert sc.loc["CP_E", "score"] > sc.loc["CP_B", "score"] > sc.loc["CP_C", "score"] > sc.loc["CP_A", "score"]


def test_credit_from_saved_exposure_results(run_result, synthetic):
    sc = run_result.scorecard
    for cp, truth in synthetic.truth.iterrows():
        p = truth["planted"]
        assert sc.loc[cp, "utilisation"] == pytest.approx(p["pfe_utilisation"], rel=1e-9)
        assert sc.loc[cp, "pd"] == pytest.approx(p["pd_1y"], rel=1e-9)
    assert sc["credit_score"].between(1, 10).all()
    assert sc.loc["CP_B", "credit_score"] > sc.loc["CP_E", "credit_score"]
    assert set(sc["credit_inputs"]) == {"utilisation,pd,rating_pd,cva,fva,ead,capital"}
    assert set(sc["credit_missing"]) == {""}


def test_unmatched_names_are_reported_not_merged(run_result):
    u = run_result.unmatched
    assert list(u["name"]) == ["Broker Z Unknown"] and int(u["rows"].iloc[0]) == 6
    assert "Broker Z Unknown" not in run_result.scorecard.index
    assert any("Broker Z Unknown" in n for n in run_result.notes)


def test_no_nan_in_scores(run_result):
    sc = run_result.scorecard
    assert sc[["score", "credit_score", "adverse_selection_bps", "stress_fill_pct"]].notna().all().all()
    assert (run_result.metrics[["value", "se", "lo", "hi"]].notna()).all().all()
