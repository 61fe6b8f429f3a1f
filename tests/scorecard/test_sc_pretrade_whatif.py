"""The scorecard's pre-trade limit check on the engine's what-if, end to end on a tiny stored engine run.

Reference: a second, full engine run with the proposed trade in the book (same seed): its counterparty peak PFE
minus the stored run's is the increment the check must use; the limit decision then follows
proposed = pfe_peak + increment <= pfe_limit x multiplier. Every case the check cannot decide is refused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import exposure
from exposure.results import read_results
from scorecard.routing import pretrade_select
from scorecard.whatif_limits import whatif_limit_checks

pytestmark = pytest.mark.slow

BOOK = """
netting_sets:
  NS_A: {counterparty: CP_A, csa: {margining: two_way, threshold_cpty: 1.0e+6, threshold_bank: 1.0e+6,
                                   mta_cpty: 1.0e+5, mta_bank: 1.0e+5}}
  NS_A2: {counterparty: CP_A}
  NS_E: {counterparty: CP_E}
trades:
  - {id: SWP_A, type: Swap, netting_set: NS_A, currency: USD, notional: 5.0e+7, maturity: 5Y, fixed_rate: 0.036,
     payer: true, float_index: USD-LIBOR-3M}
  - {id: SWP_A2, type: Swap, netting_set: NS_A2, currency: EUR, notional: 2.0e+7, maturity: 3Y, fixed_rate: 0.022,
     payer: false, float_index: EUR-EURIBOR-6M}
  - {id: FXF_E, type: FxForward, netting_set: NS_E, buy_currency: USD, buy_amount: 1.1e+7, sell_currency: EUR,
     sell_amount: 1.0e+7, maturity: 2Y}
"""
NEW = {"id": "NEW_SWP", "type": "Swap", "currency": "USD", "notional": 3.0e+7, "maturity": "4Y",
       "fixed_rate": 0.035, "payer": True, "float_index": "USD-LIBOR-3M"}
FULL_EXTRA = """  - {id: NEW_SWP, type: Swap, netting_set: NS_E, currency: USD, notional: 3.0e+7, maturity: 4Y, fixed_rate: 0.035,
     payer: true, float_index: USD-LIBOR-3M}
"""
COMMON = ["portfolio.fixings=null", "simulation.paths=128", "simulation.chunk_size=128",
          "simulation.grid='3M,6M,1Y,2Y,3Y,4Y,5Y'", "output.store_cube=true", "report.limits_file=null",
          "report.plots=false", "report.html=false", "output.csv=false"]
MULT = {"Partner": 1.0, "Monitor": 0.75, "Toxic": 0.5}


def _peak(ds, cp, q=0.99):
    mine = np.flatnonzero([str(c) == cp for c in ds["counterparty"].values])
    qi = int(np.argmin(abs(ds["quantile"].values - q)))
    return float(ds["PFE"].values[mine, :, qi].sum(axis=0).max())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pretrade")
    (tmp / "book.yaml").write_text(BOOK)
    (tmp / "full.yaml").write_text(BOOK + FULL_EXTRA)
    exposure.run(exposure.compose([f"portfolio.trades={tmp / 'book.yaml'}", f"output.dir={tmp / 'run'}", *COMMON]))
    exposure.run(exposure.compose([f"portfolio.trades={tmp / 'full.yaml'}", f"output.dir={tmp / 'full'}", *COMMON]))
    stored, full = read_results(str(tmp / "run" / "results.h5")), read_results(str(tmp / "full" / "results.h5"))
    return tmp / "run", stored, full


def _scorecard(stored, limit_e):
    return pd.DataFrame({"class": ["Partner", "Monitor", "Partner"], "score": [2.0, 5.0, 1.0],
                         "pfe_limit": [1e9, limit_e, 1e9],
                         "pfe_peak": [_peak(stored, "CP_A"), _peak(stored, "CP_E"), 1.0]},
                        index=pd.Index(["CP_A", "CP_E", "CP_Z"], name="counterparty"))


def test_incremental_pfe_equals_a_full_run_and_decides_the_limit(runs):
    run, stored, full = runs
    inc_ref = _peak(full, "CP_E") - _peak(stored, "CP_E")
    assert inc_ref > 0  # a payer swap on top of the FX forward adds exposure: the case tests something
    # limit x 0.75 between the stored peak and the peak with the trade: only the what-if can refuse it
    limit = (_peak(stored, "CP_E") + 0.5 * inc_ref) / 0.75
    sc = _scorecard(stored, limit)
    checks = whatif_limit_checks(sc, MULT, str(run), [NEW], candidates=["CP_E"])
    d = checks["CP_E"]
    assert d["netting_set"] == "NS_E" and d["trade_ids"] == ["NEW_SWP"]
    assert d["incremental_pfe"] == pytest.approx(inc_ref, rel=1e-9)
    cva_ref = float(full["CVA"].sel(netting_set="NS_E") - stored["CVA"].sel(netting_set="NS_E"))
    assert d["incremental_cva"] == pytest.approx(cva_ref, rel=1e-9, abs=1e-6)
    assert d["proposed_pfe"] == pytest.approx(_peak(stored, "CP_E") + inc_ref, rel=1e-9)
    assert d["ok"] is False and "exceeds effective limit" in d["reason"]
    # the same trade under a limit that fits it passes
    ok = whatif_limit_checks(_scorecard(stored, 2 * limit), MULT, str(run), [NEW], candidates=["CP_E"])["CP_E"]
    assert ok["ok"] is True and ok["headroom"] == pytest.approx(0.75 * 2 * limit - d["proposed_pfe"], rel=1e-9)
    # into the scorecard's selection: refused with the what-if's reason
    allowed = pd.Series({cp: c["ok"] for cp, c in checks.items()}, dtype=bool)
    sel, why = pretrade_select(sc, 3, ("Restrict",), ["CP_E"], allowed, {cp: c["reason"] for cp, c in checks.items()})
    assert sel.empty and "exceeds effective limit" in why["CP_E"]


def test_fails_closed_with_the_reason(runs, tmp_path):
    run, stored, _ = runs
    sc = _scorecard(stored, 1e9)
    checks = whatif_limit_checks(sc, MULT, str(run), [NEW])
    assert checks["CP_A"]["ok"] is False and "name one" in checks["CP_A"]["reason"]  # two netting sets
    assert checks["CP_Z"]["ok"] is False and "no netting set" in checks["CP_Z"]["reason"]
    assert checks["CP_E"]["ok"] is True
    named = whatif_limit_checks(sc, MULT, str(run), [NEW], ["CP_A"], netting_sets={"CP_A": "NS_A2"})["CP_A"]
    assert named["ok"] is True and named["netting_set"] == "NS_A2"
    wrong = whatif_limit_checks(sc, MULT, str(run), [NEW], ["CP_A"], netting_sets={"CP_A": "NS_E"})["CP_A"]
    assert wrong["ok"] is False and "not one of CP_A's" in wrong["reason"]
    clash = whatif_limit_checks(sc, MULT, str(run), [dict(NEW, id="SWP_A")], ["CP_E"])["CP_E"]
    assert clash["ok"] is False and "what-if failed" in clash["reason"] and "SWP_A" in clash["reason"]
    bad = whatif_limit_checks(sc, MULT, str(run), [dict(NEW, maturity="soon")], ["CP_E"])["CP_E"]
    assert bad["ok"] is False and "what-if failed" in bad["reason"]
    gone = whatif_limit_checks(sc, MULT, str(tmp_path / "nowhere"), [NEW], ["CP_E"])["CP_E"]
    assert gone["ok"] is False and "cannot be read" in gone["reason"]
    no_q = whatif_limit_checks(sc, MULT, str(run), [NEW], ["CP_E"], pfe_quantile=0.999)["CP_E"]
    assert no_q["ok"] is False and "quantile" in no_q["reason"]


def test_http_pretrade_uses_the_whatif_and_refuses_what_it_cannot_decide(runs, run_result, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from scorecard.server import app_from_config
    from scorecard_testlib import compose

    run, stored, full = runs
    shutil.copy(f"{run_result.paths['dir']}/snapshot.json", tmp_path / "snapshot.json")
    cfg = compose(f"output.dir={tmp_path}", f"routing.engine_runs_dir={run.parent}", "exposure.pfe_quantile=0.99")
    sc = run_result.scorecard
    body = {"k": 3, "candidates": ["CP_E", "CP_B"], "whatif": {"run": run.name, "trades": [NEW]}}
    with TestClient(app_from_config(cfg)) as client:
        r = client.post("/v1/pretrade", json=body)
        assert r.status_code == 200, r.text
        ans = r.json()
        w = {d["counterparty"]: d for d in ans["whatif"]}
        inc_ref = _peak(full, "CP_E") - _peak(stored, "CP_E")
        assert w["CP_E"]["incremental_pfe"] == pytest.approx(inc_ref, rel=1e-9)
        assert w["CP_E"]["proposed_pfe"] == pytest.approx(float(sc.loc["CP_E", "pfe_peak"]) + inc_ref, rel=1e-9)
        assert w["CP_E"]["ok"] is (w["CP_E"]["proposed_pfe"] <= w["CP_E"]["effective_limit"])
        selected = [d["counterparty"] for d in ans["selected"]]
        assert ("CP_E" in selected) is (w["CP_E"]["ok"] and sc.loc["CP_E", "class"] != "Restrict")
        why = {d["counterparty"]: d["reason"] for d in ans["not_selectable"]}
        assert "CP_B" not in selected and "no netting set" in why["CP_B"]  # fail closed, with the reason
        for outside in ("../elsewhere", "/etc", "."):  # only folders under routing.engine_runs_dir
            r = client.post("/v1/pretrade", json=dict(body, whatif={"run": outside, "trades": [NEW]}))
            assert r.status_code == 422 and "engine_runs_dir" in r.json()["error"], outside
        both = dict(body, additional_pfe=1.0)
        assert client.post("/v1/pretrade", json=both).status_code == 422
    off = compose(f"output.dir={tmp_path}")
    with TestClient(app_from_config(off)) as client:
        r = client.post("/v1/pretrade", json=body)
        assert r.status_code == 422 and "disabled" in r.json()["error"]


def test_bad_requests_are_refused_before_any_pricing(runs):
    from scorecard.errors import ScorecardInputError

    run, stored, _ = runs
    sc = _scorecard(stored, 1e9)
    calls = []
    with pytest.raises(ScorecardInputError, match="CP_NOPE"):
        whatif_limit_checks(sc, MULT, str(run), [NEW], ["CP_E", "CP_NOPE"], whatif=lambda *a: calls.append(a))
    with pytest.raises(ScorecardInputError, match="trades"):
        whatif_limit_checks(sc, MULT, str(run), [], ["CP_E"], whatif=lambda *a: calls.append(a))
    assert calls == []
