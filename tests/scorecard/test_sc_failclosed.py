"""Fail closed and say why: non-finite numbers refused by every request model (4xx JSON), counterparties without
exposure data not selectable, feedback overrides idempotent per counterparty under concurrency, withdrawable."""

import json
import math
import shutil
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from scorecard.composite import apply_overrides
from scorecard.feedback import FeedbackStore
from scorecard.limits import limit_check
from scorecard.server import app_from_config
from scorecard_testlib import TOKEN, LiveServer, compose

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def app_dir(run_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("failclosed")
    snap = json.loads(open(f"{run_result.paths['dir']}/snapshot.json").read())
    # CP_C loses its exposure data (as when the engine run did not cover it)
    for r in snap["scorecard"]:
        if r["counterparty"] == "CP_C":
            r["pfe_peak"] = None
        if r["counterparty"] == "CP_D":  # and CP_D its score
            r["score"] = None
    (out / "snapshot.json").write_text(json.dumps(snap))
    return out


@pytest.fixture(scope="module")
def client(app_dir):
    cfg = compose(f"output.dir={app_dir}", f"server.token={TOKEN}")
    with TestClient(app_from_config(cfg)) as c:
        yield c


NONFINITE = [b"1e999", b"-1e999", b"Infinity", b"-Infinity", b"NaN"]


def _post(client, path, template: str, literal: bytes, headers=None):
    body = template.replace("@", literal.decode()).encode()
    return client.post(path, content=body, headers={"content-type": "application/json", **(headers or {})})


@pytest.mark.parametrize("literal", NONFINITE)
@pytest.mark.parametrize("path,template", [
    ("/v1/pretrade", '{"k": 3, "additional_pfe": @}'),
    ("/v1/limits/check", '{"counterparty": "CP_A", "additional_pfe": @}'),
    ("/v1/routing", '{"side": "buy", "mid": @, "quotes": [{"counterparty": "CP_A", "price": 100}]}'),
    ("/v1/routing", '{"side": "buy", "mid": 100, "quotes": [{"counterparty": "CP_A", "price": @}]}'),
    ("/v1/pricing/addon", '{"counterparty": "CP_A", "notional": @, "maturity_years": 1}'),
    ("/v1/pricing/addon", '{"counterparty": "CP_A", "notional": 1e6, "maturity_years": @}'),
    ("/v1/pricing/addon", '{"counterparty": "CP_A", "notional": 1e6, "maturity_years": 1, "capital": @}'),
    ("/v1/pretrade", '{"k": @}'),
    ("/v1/feedback", '{"counterparty": "CP_A", "author": "x", "kind": "override", "field": "score_adjustment",'
                     ' "value": @}'),
    ("/v1/feedback", '{"counterparty": "CP_A", "author": "x", "kind": "override", "field": "class",'
                     ' "value": "Monitor", "expires_in_days": @}'),
])
def test_non_finite_numbers_are_422_json(client, path, template, literal):
    r = _post(client, path, template, literal, AUTH)
    assert r.status_code == 422, (path, literal, r.text)
    assert "invalid request" in r.json()["error"]


def test_huge_additional_pfe_never_selects(client):
    """The reported hole: additional_pfe = 1e999 selected counterparties a limit of 1e9 excludes."""
    r = _post(client, "/v1/pretrade", '{"k": 5, "additional_pfe": @}', b"1e999")
    assert r.status_code == 422
    r = client.post("/v1/pretrade", json={"k": 5, "additional_pfe": 1e15})  # the largest accepted: breaches all
    assert r.status_code == 200 and r.json()["selected"] == []
    assert all(any(w in x["reason"] for w in ("exceeds effective limit", "excluded", "missing", "no finite"))
               for x in r.json()["not_selectable"])


def test_counterparty_without_exposure_data_is_not_selectable(client):
    r = client.post("/v1/pretrade", json={"k": 5, "candidates": ["CP_A", "CP_C"]}).json()
    assert [s["counterparty"] for s in r["selected"]] == ["CP_A"]
    why = {x["counterparty"]: x["reason"] for x in r["not_selectable"]}
    assert "missing PFE peak (exposure results)" in why["CP_C"]
    lim = client.post("/v1/limits/check", json={"counterparty": "CP_C"}).json()
    assert lim["ok"] is False and "missing PFE peak" in lim["reason"] and lim["headroom"] is None


def test_counterparty_without_score_is_never_routed_or_selected(client):
    r = client.post("/v1/pretrade", json={"k": 5, "candidates": ["CP_D", "CP_A"]}).json()
    assert [s["counterparty"] for s in r["selected"]] == ["CP_A"]
    assert r["not_selectable"] == [{"counterparty": "CP_D", "reason": "no finite toxicity score"}]
    q = client.post("/v1/routing", json={"side": "buy", "mid": 100, "quotes": [
        {"counterparty": "CP_D", "price": 99.0}, {"counterparty": "CP_A", "price": 100.01}]}).json()
    assert q["best"] == "CP_A" and q["ranked"][-1]["eligible"] is False


def test_limit_check_fails_closed_without_inputs():
    mult = compose().limits.multipliers
    row = pd.Series({"class": "Partner", "pfe_limit": 100.0, "pfe_peak": float("nan")}, name="X")
    assert limit_check(row, mult)["ok"] is False
    row = pd.Series({"class": "Unknown band", "pfe_limit": 100.0, "pfe_peak": 1.0}, name="X")
    d = limit_check(row, mult)
    assert d["ok"] is False and "limit multiplier for class 'Unknown band'" in d["reason"]
    row = pd.Series({"class": "Partner", "pfe_limit": 100.0, "pfe_peak": 1.0}, name="X")
    assert limit_check(row, mult)["ok"] is True
    for bad in (math.inf, math.nan, -1.0, "x"):
        with pytest.raises(Exception, match="additional_pfe"):
            limit_check(row, mult, bad)


def test_unknown_fields_are_rejected(client):
    r = client.post("/v1/pretrade", json={"k": 3, "additonal_pfe": 1e9})  # a typo must not be ignored
    assert r.status_code == 422 and "additonal_pfe" in r.json()["error"]


def test_concurrent_overrides_leave_one_per_counterparty(run_result, tmp_path):
    """200 concurrent POSTs (20 threads, real HTTP on loopback) for 5 counterparties: at most one active override
    per counterparty, and applying the store's overrides applies exactly one to each."""
    shutil.copy(f"{run_result.paths['dir']}/snapshot.json", tmp_path / "snapshot.json")
    cfg = compose(f"output.dir={tmp_path}", f"server.token={TOKEN}")
    cps = ["CP_A", "CP_B", "CP_C", "CP_D", "CP_E"]
    with LiveServer(app_from_config(cfg)) as srv, httpx.Client(
            base_url=srv.url, timeout=60, limits=httpx.Limits(max_connections=20)) as client:
        def post(i):
            body = {"counterparty": cps[i % 5], "author": f"t{i}", "kind": "override",
                    "field": "score_adjustment" if i % 2 else "class",
                    "value": (i % 7) - 3.0 if i % 2 else ["Partner", "Monitor", "Toxic"][i % 3]}
            return client.post("/v1/feedback", json=body, headers=AUTH).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(post, range(200)))
        assert codes == [201] * 200
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            listed = c.get("/v1/feedback/overrides", headers=AUTH).json()["overrides"]
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    act = store.active_overrides()
    assert sorted(act["counterparty"]) == cps  # exactly one each
    assert len(listed) == 5
    assert (store.audit_trail()["action"] == "override").sum() == 200
    out = apply_overrides(run_result.scorecard[["score", "class", "rank"]], act, compose().composite.bands)
    assert (out.loc[cps, "override"].str.count(" by ") == 1).all()  # exactly one override applied per counterparty


def test_withdraw_override_over_api(run_result, tmp_path):
    shutil.copy(f"{run_result.paths['dir']}/snapshot.json", tmp_path / "snapshot.json")
    cfg = compose(f"output.dir={tmp_path}", f"server.token={TOKEN}")
    with TestClient(app_from_config(cfg)) as c:
        body = {"counterparty": "CP_B", "author": "risk", "kind": "override", "field": "class", "value": "Partner"}
        oid = c.post("/v1/feedback", json=body, headers=AUTH).json()["id"]
        assert c.delete(f"/v1/feedback/overrides/{oid}", params={"author": "risk"}).status_code == 401
        r = c.delete(f"/v1/feedback/overrides/{oid}", params={"author": "risk", "comment": "resolved"}, headers=AUTH)
        assert r.status_code == 200 and r.json()["withdrawn"] is True
        assert c.get("/v1/feedback/overrides", headers=AUTH).json()["overrides"] == []
        r = c.delete(f"/v1/feedback/overrides/{oid}", params={"author": "risk"}, headers=AUTH)
        assert r.status_code == 404 and "no active override" in r.json()["error"]
        audit = c.get("/v1/feedback/audit", params={"counterparty": "CP_B"}, headers=AUTH).json()["audit"]
        assert [a["action"] for a in audit][-2:] == ["override", "remove_override"]


def test_override_expires(tmp_path):
    from datetime import datetime, timedelta, timezone

    st = FeedbackStore(tmp_path / "fb.sqlite")
    past = datetime.now(timezone.utc) - timedelta(days=10)
    st.add_override("A", "class", "Toxic", "bob", expires_in_days=5, now=past)
    assert st.active_overrides().empty  # lapsed five days ago
    st.add_override("A", "class", "Monitor", "bob", expires_in_days=5)
    act = st.active_overrides()
    assert list(act["value"]) == ["Monitor"] and act["expires_at"].iloc[0] > datetime.now(timezone.utc).isoformat()
