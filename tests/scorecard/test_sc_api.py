"""The HTTP service over real HTTP on loopback (uvicorn in a background thread, httpx client)."""

import json
import shutil
import threading

import httpx
import pytest

from scorecard.server import app_from_config
from scorecard_testlib import TOKEN, LiveServer, compose


@pytest.fixture(scope="module")
def served(run_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("served")
    for f in ("snapshot.json",):
        shutil.copy(f"{run_result.paths['dir']}/{f}", out / f)
    cfg = compose(f"output.dir={out}", f"server.token={TOKEN}")
    with LiveServer(app_from_config(cfg)) as srv:
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            yield client, out, run_result


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_health_and_scorecard(served):
    client, _, res = served
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["counterparties"] == len(res.scorecard)
    body = client.get("/v1/scorecard").json()
    got = [(c["counterparty"], c["class"]) for c in body["counterparties"]]
    assert got == list(zip(res.scorecard.index, res.scorecard["class"]))
    assert body["counterparties"][0]["score"] == pytest.approx(float(res.scorecard["score"].iloc[0]))


def test_counterparty_by_id_and_alias(served):
    client, _, res = served
    a = client.get("/v1/counterparties/CP_B").json()
    b = client.get("/v1/counterparties/broker b PLC").json()  # alias, case/whitespace-insensitive
    assert a["counterparty"] == b["counterparty"] == "CP_B"
    assert a["score"] == pytest.approx(float(res.scorecard.loc["CP_B", "score"]))
    assert sum(a["contributions"].values()) == pytest.approx(a["score"])
    names = {m["metric"] for m in a["metrics"]}
    assert {"adverse_selection_bps", "stress_fill_pct", "credit_score"} <= names
    m = next(m for m in a["metrics"] if m["metric"] == "adverse_selection_bps")
    assert m["lo"] <= m["value"] <= m["hi"] and m["n"] > 0


def test_unknown_counterparty_is_404_with_message(served):
    client, _, _ = served
    r = client.get("/v1/counterparties/Nobody")
    assert r.status_code == 404
    assert "unknown counterparty 'Nobody'" in r.json()["error"] and "CP_A" in r.json()["error"]
    r = client.post("/v1/limits/check", json={"counterparty": "Nobody"})
    assert r.status_code == 404


def test_routing_prefers_all_in_cost(served):
    client, _, res = served
    # E quotes the best price by 0.2 bps but is Restrict; B is Toxic (about 1.5 bps of toxicity cost)
    req = {"side": "buy", "mid": 100.0, "quotes": [
        {"counterparty": "CP_E", "price": 100.008}, {"counterparty": "CP_B", "price": 100.009},
        {"counterparty": "CP_A", "price": 100.010}]}
    r = client.post("/v1/routing", json=req)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["best"] == "CP_A"
    ranked = body["ranked"]
    assert [q["counterparty"] for q in ranked] == ["CP_A", "CP_B", "CP_E"]
    assert ranked[-1]["eligible"] is False
    assert ranked[0]["all_in_cost_bps"] == pytest.approx(ranked[0]["price_cost_bps"] + ranked[0]["toxicity_cost_bps"])


def test_pretrade_limits_and_pricing(served):
    client, _, res = served
    sel = client.post("/v1/pretrade", json={"k": 2}).json()["selected"]
    assert [s["counterparty"] for s in sel] == list(res.scorecard.index[:2])
    lim = client.post("/v1/limits/check", json={"counterparty": "CP_B", "additional_pfe": 1e6}).json()
    # limits.mode=continuous: the multiplier moves with the score (1 at 3, 0 at 9), computed by the run
    assert lim["multiplier"] == pytest.approx(res.scorecard.loc["CP_B", "limit_multiplier"])
    assert lim["multiplier"] == pytest.approx(1 - (res.scorecard.loc["CP_B", "score"] - 3) / 6)
    assert lim["effective_limit"] == pytest.approx(100e6 * lim["multiplier"])
    assert lim["ok"] is (lim["proposed_pfe"] <= lim["effective_limit"])
    big = client.post("/v1/limits/check", json={"counterparty": "CP_A", "additional_pfe": 1e9}).json()
    assert big["ok"] is False and big["headroom"] < 0
    pr = client.post("/v1/pricing/addon", json={"counterparty": "CP_B", "notional": 1e7, "maturity_years": 2}).json()
    # without capital or EAD: capital_ratio x notional, loaded by toxicity
    sc = res.scorecard.loc["CP_B"]
    loading = 1 + 0.5 * sc["score"] / 10
    assert pr["capital_source"] == "pricing.capital_ratio" and pr["capital_loading"] == pytest.approx(loading)
    assert pr["capital_bps"] == pytest.approx(0.10 * 0.005 * loading * 2 * 1e4)
    # with the trade's EAD: the engine's Capital / EAD of CP_B (0.08 in the fixture) times that EAD
    pe = client.post("/v1/pricing/addon", json={"counterparty": "CP_B", "notional": 1e7, "maturity_years": 2,
                                                 "ead": 4e5}).json()
    assert pe["capital_source"].startswith("trade EAD")
    assert pe["capital"] == pytest.approx(4e5 * sc["capital"] / sc["ead"])
    assert pe["capital_bps"] == pytest.approx(0.10 * pe["capital"] * loading * 2 / 1e7 * 1e4)
    assert pr["addon_bps"] > pr["capital_bps"]


def test_invalid_bodies_are_422_with_clear_message(served):
    client, _, _ = served
    r = client.post("/v1/routing", json={"side": "hold", "mid": -1, "quotes": []})
    assert r.status_code == 422
    msg = r.json()["error"]
    assert "side" in msg and "mid" in msg and "quotes" in msg
    r = client.post("/v1/pricing/addon", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "invalid request" in r.json()["error"]
    r = client.post("/v1/pretrade", json={"k": 0})
    assert r.status_code == 422 and "k" in r.json()["error"]


def test_writes_need_token(served):
    client, _, _ = served
    body = {"counterparty": "CP_C", "author": "alice", "kind": "comment", "comment": "slow on Fridays"}
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == 401 and "token" in r.json()["error"]
    r = client.post("/v1/feedback", json=body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid token"
    assert client.post("/v1/reload").status_code == 401
    r = client.post("/v1/feedback", json=body, headers=AUTH)
    assert r.status_code == 201 and r.json()["counterparty"] == "CP_C"


def test_override_feedback_is_audited(served):
    client, _, _ = served
    o = {"counterparty": "Broker D AG", "author": "risk-bob", "kind": "override", "field": "class",
         "value": "Monitor", "comment": "pending review"}
    assert client.post("/v1/feedback", json=o, headers=AUTH).status_code == 201
    bad = dict(o, value="Excellent")
    r = client.post("/v1/feedback", json=bad, headers=AUTH)
    assert r.status_code == 422 and "class must be one of" in r.json()["error"]
    # the audit trail holds names and comments: reading it needs the token too
    r = client.get("/v1/feedback/audit", params={"counterparty": "CP_D"})
    assert r.status_code == 401 and "token" in r.json()["error"]
    assert client.get("/v1/feedback/overrides").status_code == 401
    audit = client.get("/v1/feedback/audit", params={"counterparty": "CP_D"}, headers=AUTH).json()["audit"]
    assert audit[-1]["who"] == "risk-bob" and audit[-1]["new_value"] == "Monitor" and audit[-1]["field"] == "class"


def test_reload_swaps_snapshot_atomically(served):
    client, out, res = served
    snap_path = out / "snapshot.json"
    original = json.loads(snap_path.read_text())
    v0 = client.get("/health").json()["snapshot_version"]
    errors, seen = [], set()
    stop = threading.Event()

    def reader():
        with httpx.Client(base_url=str(client.base_url), timeout=10) as c:
            while not stop.is_set():
                body = c.get("/v1/scorecard").json()
                scores = {x["counterparty"]: x["score"] for x in body["counterparties"]}
                # each snapshot is internally consistent: all scores shifted by the same version offset
                offsets = {round(scores[k] - base[k], 9) for k in base}
                if len(offsets) != 1:
                    errors.append(offsets)
                seen.add(offsets.pop())

    base = {r["counterparty"]: r["score"] for r in original["scorecard"]}
    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for k in range(1, 6):
            snap = json.loads(json.dumps(original))
            for r in snap["scorecard"]:
                r["score"] += k
            from scorecard.outputs import atomic_write_text

            atomic_write_text(json.dumps(snap), snap_path)
            r = client.post("/v1/reload", headers=AUTH)
            assert r.status_code == 200 and r.json()["version"] == v0 + k
    finally:
        stop.set()
        for t in threads:
            t.join()
        from scorecard.outputs import atomic_write_text

        atomic_write_text(json.dumps(original), snap_path)
        client.post("/v1/reload", headers=AUTH)
    assert not errors
    assert len(seen) >= 2


def test_failed_reload_keeps_previous_snapshot(served):
    client, out, _ = served
    snap_path = out / "snapshot.json"
    good = snap_path.read_text()
    before = client.get("/v1/scorecard").json()["counterparties"]
    snap_path.write_text("{broken")
    try:
        r = client.post("/v1/reload", headers=AUTH)
        assert r.status_code == 422 and "not a scorecard snapshot" in r.json()["error"]
        assert client.get("/v1/scorecard").json()["counterparties"] == before
    finally:
        snap_path.write_text(good)


@pytest.mark.slow
def test_latency_benchmark_smoke():
    """The benchmark script runs end to end (own server process, loopback) and reports p50/p99 without errors."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, str(repo / "benchmarks/bench_scorecard_api.py"), "--smoke"], cwd=repo,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| 50 | 8 | 50 | 0 |" in r.stdout and "p99 ms" in r.stdout
