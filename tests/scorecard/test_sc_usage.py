"""Using the score: routing, pre-trade, dynamic limits, pricing add-on, alerts and the feedback store."""

import numpy as np
import pandas as pd
import pytest

import scorecard
from scorecard import ScorecardInputError
from scorecard.alerts import detect_alerts
from scorecard.composite import apply_overrides
from scorecard.feedback import FeedbackStore
from scorecard.limits import limit_check
from scorecard.pricing import price_addon
from scorecard.routing import best_k, rank_quotes
from scorecard_testlib import compose

SC = pd.DataFrame({"score": [2.0, 5.0, 7.0, 9.0], "class": ["Partner", "Monitor", "Toxic", "Restrict"],
                   "adverse_selection_bps": [0.1, 0.5, 1.2, 0.9], "excess_slippage_bps": [0.0, 0.2, 0.5, 1.0],
                   "pfe_limit": [100.0] * 4, "pfe_peak": [40.0] * 4},
                  index=pd.Index(["A", "B", "C", "D"], name="counterparty"))


def test_routing_all_in_cost_and_errors():
    cfg = compose().routing
    rows = SC.to_dict("index")
    r = pd.DataFrame(rank_quotes([{"counterparty": "C", "price": 99.99}, {"counterparty": "A", "price": 100.0}], -1,
                                 100.0, rows, cfg))
    # selling: C bids 1 bp lower (price cost +1 bp) but A is cheaper all-in anyway; check the arithmetic
    a = r.set_index("counterparty").loc["A"]
    assert a["price_cost_bps"] == pytest.approx(0.0) and a["toxicity_cost_bps"] == pytest.approx(0.1 + 0.0 + 0.2)
    assert list(r["counterparty"]) == ["A", "C"]
    with pytest.raises(ScorecardInputError, match=r"quotes\[0\]: unknown counterparty 'Z'"):
        rank_quotes([{"counterparty": "Z", "price": 1.0}], 1, 1.0, rows, cfg)
    with pytest.raises(ScorecardInputError, match="mid: must be > 0"):
        rank_quotes([{"counterparty": "A", "price": 1.0}], 1, 0.0, rows, cfg)


def test_best_k_skips_excluded_and_limit_breaches():
    assert list(best_k(SC, 3).index) == ["A", "B", "C"]
    assert list(best_k(SC, 2, limit_ok=pd.Series({"A": False, "B": True, "C": True})).index) == ["B", "C"]
    # fail closed: a counterparty absent from the limit checks is not selectable
    assert list(best_k(SC, 3, limit_ok=pd.Series({"C": True})).index) == ["C"]
    assert list(best_k(SC, 5, exclude_classes=("Restrict", "Toxic")).index) == ["A", "B"]
    with pytest.raises(ScorecardInputError, match=r"unknown counterparties \['Q'\]"):
        best_k(SC, 1, candidates=["A", "Q"])


def test_limits_tighten_as_class_worsens():
    mult = compose().limits.multipliers
    eff = [limit_check(SC.loc[c], mult)["effective_limit"] for c in SC.index]
    assert eff == sorted(eff, reverse=True) and eff[0] == 100.0 and eff[-1] == 0.0
    assert limit_check(SC.loc["B"], mult, 35.0)["ok"] is True  # 75 limit, 75 proposed
    assert limit_check(SC.loc["B"], mult, 35.1)["ok"] is False
    with pytest.raises(ScorecardInputError, match="additional_pfe"):
        limit_check(SC.loc["A"], mult, -1.0)


def test_pricing_addon_formula():
    cfg = compose().pricing
    p = price_addon(SC.loc["C"], notional=1e6, maturity_years=5, cfg=cfg, capital=2e4)
    assert p["toxicity_bps"] == pytest.approx(1.2 + 0.5 + 0.05 * 7.0)
    # economic capital = capital x (1 + 0.5 x score / 10): C's score 7 loads it by 1.35
    assert p["capital_loading"] == pytest.approx(1.35) and p["capital_source"] == "request"
    assert p["capital_bps"] == pytest.approx(0.10 * 2e4 * 1.35 * 5 / 1e6 * 1e4)
    assert p["addon_amount"] == pytest.approx(p["addon_bps"] / 1e4 * 1e6)
    with pytest.raises(ScorecardInputError, match="notional"):
        price_addon(SC.loc["C"], 0.0, 1.0, cfg)


def test_alerts_band_change_and_fast_move():
    hist = pd.DataFrame({"ts": ["2024-05-01T00:00:00+00:00", "2024-05-09T00:00:00+00:00"],
                         "counterparty": ["B", "B"], "score": [3.0, 3.2], "class": ["Partner", "Partner"]})
    al = detect_alerts(hist, SC, "2024-05-10T00:00:00+00:00", "7D", 1.5)
    kinds = set(zip(al["counterparty"], al["kind"]))
    assert kinds == {("B", "band_change"), ("B", "fast_move")}
    # the 3.0 score is outside the 7-day window and 5.0 - 3.2 = 1.8 >= 1.5
    assert "+1.80" in al.loc[al["kind"] == "fast_move", "message"].iloc[0]
    quiet = detect_alerts(hist.assign(score=4.9, **{"class": "Monitor"}), SC, "2024-05-10T00:00:00+00:00", "7D", 1.5)
    assert quiet.empty


def test_feedback_store_audit_and_overrides(tmp_path):
    st = FeedbackStore(tmp_path / "fb.sqlite")
    i1 = st.add_override("B", "score_adjustment", 1.5, "alice", "late settlements")
    st.add_override("B", "score_adjustment", "2.5", "bob", "worse")
    st.add_comment("A", "carol", "good in stress")
    act = st.active_overrides()
    assert len(act) == 1 and act.iloc[0]["value"] == "2.5" and act.iloc[0]["author"] == "bob"
    audit = st.audit_trail("B")
    assert list(audit["who"]) == ["alice", "bob"]
    assert audit.iloc[1]["old_value"] == "score_adjustment=1.5" and audit.iloc[1]["new_value"] == "2.5"
    assert audit["ts"].is_monotonic_increasing
    with pytest.raises(ScorecardInputError, match="no such active override"):
        st.remove_override(i1, "alice")
    with pytest.raises(ScorecardInputError, match="score_adjustment must be within"):
        st.add_override("B", "score_adjustment", 11, "alice")
    with pytest.raises(ScorecardInputError, match="field 'colour'"):
        st.add_override("B", "colour", 1, "alice")
    out = apply_overrides(SC, st.active_overrides(), compose().composite.bands)
    assert out.loc["B", "score"] == pytest.approx(7.5) and out.loc["B", "class"] == "Toxic"
    assert out.loc["B", "model_class"] == "Monitor" and "bob" in out.loc["B", "override"]


def test_pipeline_reads_active_overrides(data_dir, tmp_path, run_result):
    out = tmp_path / "o"
    st = FeedbackStore(out / "feedback.sqlite")
    st.add_override("CP_A", "class", "Restrict", "risk-dan", "legal dispute")
    cfg = compose(f"data.dir={data_dir}", f"exposure.results={data_dir / 'exposure_results.h5'}", f"output.dir={out}")
    res = scorecard.run(cfg)
    assert res.scorecard.loc["CP_A", "class"] == "Restrict"
    assert res.scorecard.loc["CP_A", "model_class"] == "Partner"
    # the second run sees the first in score_history: CP_A changed band -> alert
    res2 = scorecard.run(cfg)
    assert res2.alerts.empty
    st.remove_override(int(st.active_overrides()["id"].iloc[0]), "risk-dan", "resolved")
    res3 = scorecard.run(cfg)
    assert res3.scorecard.loc["CP_A", "class"] == "Partner"
    assert ("CP_A", "band_change") in set(zip(res3.alerts["counterparty"], res3.alerts["kind"]))


def test_limits_move_continuously_with_hysteresis_and_adverse_selection_jump():
    from scorecard.limits import dynamic_multipliers, target_multiplier

    cfg = compose().limits
    grid = [target_multiplier(x, cfg) for x in (0, 3, 4.5, 6, 7.5, 9, 10)]
    assert grid == pytest.approx([1, 1, 0.75, 0.5, 0.25, 0, 0])  # continuous, monotone
    assert target_multiplier(float("nan"), cfg) == 0.0  # fail closed
    sc = pd.DataFrame({"score": [4.5, 4.5, 4.5, 4.5], "adverse_selection_bps": [0.2, 0.2, 1.2, 1.2],
                       "adverse_selection_bps_se": [0.05, 0.05, 0.05, 0.6]}, index=["up", "held", "jump", "noisy"])
    prev = pd.DataFrame({"limit_multiplier": [0.5, 0.7, 0.75, 0.75], "adverse_selection_bps": [0.2, 0.2, 0.2, 0.2],
                         "adverse_selection_bps_se": [0.05] * 4}, index=sc.index)
    d = dynamic_multipliers(sc, prev, cfg)
    assert d.loc["up", "limit_multiplier"] == pytest.approx(0.75)  # target 0.75 > 0.5 + 0.1: loosens
    assert d.loc["held", "limit_multiplier"] == pytest.approx(0.7) and "hysteresis" in d.loc["held", "limit_reason"]
    assert d.loc["jump", "limit_multiplier"] == pytest.approx(0.375)  # +1 bp, 14 SE: cut by half
    assert "jumped +1.00 bps" in d.loc["jump", "limit_reason"]
    assert d.loc["noisy", "limit_multiplier"] == pytest.approx(0.75)  # +1 bp but < 3 SE of the change: no cut
    tight = dynamic_multipliers(sc.assign(score=8.0), prev, cfg)
    assert (tight["limit_multiplier"] <= prev["limit_multiplier"]).all()  # tightening is immediate


def test_capital_allocation_uses_engine_capital_and_toxicity():
    from scorecard.pricing import capital_allocation

    sc = SC.assign(capital=[1e6, 1e6, np.nan, 1e6])
    a = capital_allocation(sc, compose().pricing)
    assert a.loc["A", "allocated_capital"] == pytest.approx(1e6 * (1 + 0.5 * 2 / 10))
    assert a.loc["D", "allocated_capital"] > a.loc["B", "allocated_capital"] > a.loc["A", "allocated_capital"]
    assert np.isnan(a.loc["C", "allocated_capital"])  # no engine capital: not invented
    assert a.loc["A", "capital_cost"] == pytest.approx(0.10 * a.loc["A", "allocated_capital"])


def test_alert_history_is_profile_aware(data_dir, tmp_path):
    """Re-scoring the same data under another profile is not a move: no alerts (the issue saw 4 false ones)."""
    base = [f"data.dir={data_dir}", f"exposure.results={data_dir / 'exposure_results.h5'}", f"output.dir={tmp_path}"]
    scorecard.run(compose(*base))
    res = scorecard.run(compose(*base, "profile=hft"))
    assert res.alerts.empty  # the hft scores are compared with earlier hft scores only (there are none)
