"""Property-based fuzzing (hypothesis, bounded example counts) of every scorecard parser and API request model.

Parsers: read_table (arbitrary bytes as CSV), validate_table (every table schema, mixed-type cells), the exposure
results reader (arbitrary bytes), the snapshot reader (arbitrary JSON), alias tables, feedback override values,
durations in the config. Contract: either a result or ScorecardInputError; never another exception.
API: arbitrary and near-valid JSON bodies (Infinity/NaN literals, huge numbers, wrong types, extra keys) to every
POST endpoint: the answer is 2xx/401/404/422 with strict JSON (no bare Infinity/NaN), never 500.
"""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scorecard import ScorecardInputError
from scorecard.aliases import build_alias_table, normalise
from scorecard.config import UnmatchedPolicy
from scorecard.credit import load_exposure_results
from scorecard.feedback import FeedbackStore
from scorecard.inputs import SCHEMAS, read_table, validate_table
from scorecard.pipeline import _duration
from scorecard.server import app_from_config
from scorecard.snapshot import load_snapshot
from scorecard_testlib import TOKEN, compose

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
AUTH = {"Authorization": f"Bearer {TOKEN}"}

cell = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                 st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                 st.sampled_from(["buy", "sell", "filled", "bid", "ask", "true", "0", "1e999", "-0", " 3 ", "CP_A"]))


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["executions", "quotes", "rfq", "counterparties"]))
def test_read_and_validate_arbitrary_bytes(tmp_path_factory, raw, table):
    p = tmp_path_factory.mktemp("fz") / f"{table}.csv"
    p.write_bytes(raw)
    try:
        validate_table(table, read_table(p), str(p))
    except ScorecardInputError as exc:
        assert str(p) in str(exc)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list('abc,;"\n\r\t 01.-eE') + ["\u00e9", "\ufeff"]), max_size=200))
def test_read_csv_text_shapes(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("fz") / "t.csv"
    p.write_text(text, encoding="utf-8")
    try:
        read_table(p)
    except ScorecardInputError as exc:
        assert "t.csv" in str(exc)


@FUZZ
@given(st.sampled_from(sorted(SCHEMAS)), st.data())
def test_validate_table_mixed_cells(table, data):
    cols = list(SCHEMAS[table]) + (["response_ms", "quote_price"] if table == "rfq" else [])
    n = data.draw(st.integers(0, 4))
    df = pd.DataFrame({c: data.draw(st.lists(cell, min_size=n, max_size=n)) for c in cols}, dtype=object)
    if data.draw(st.booleans()) and cols:
        df = df.drop(columns=data.draw(st.sampled_from(cols)))
    try:
        out = validate_table(table, df, "f.csv")
    except ScorecardInputError as exc:
        assert str(exc).startswith("f.csv: ")
        return
    for c, (kind, _) in SCHEMAS[table].items():  # what passes is clean: finite numbers of the right kind
        if kind in ("int", "float"):
            assert np.isfinite(out[c].to_numpy(float)).all()


@FUZZ
@given(st.binary(max_size=200))
def test_exposure_reader_arbitrary_bytes(tmp_path_factory, raw):
    p = tmp_path_factory.mktemp("fz") / "r.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + raw if raw[:1] == b"\x00" else raw)
    with pytest.raises(ScorecardInputError, match="r.h5"):
        load_exposure_results(p)


json_value = st.recursive(st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats() | st.text(max_size=6),
                          lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                          max_leaves=12)


@FUZZ
@given(st.one_of(json_value, st.fixed_dictionaries({"scorecard": st.lists(st.dictionaries(
    st.sampled_from(["counterparty", "score", "class", "rank"]), json_value), max_size=3)}, optional={
    "metrics": json_value, "manifest": json_value, "float_columns": json_value, "aliases": json_value,
    "alerts": json_value})))
def test_snapshot_reader_arbitrary_json(tmp_path_factory, obj):
    p = tmp_path_factory.mktemp("fz") / "snapshot.json"
    p.write_text(json.dumps(obj))
    try:
        snap = load_snapshot(p)
    except ScorecardInputError as exc:
        assert "snapshot.json" in str(exc)
        return
    for body in snap.encoded.values():
        json.loads(body, parse_constant=lambda c: pytest.fail(f"bare {c}"))


@FUZZ
@given(st.lists(st.tuples(st.text(max_size=6), st.sampled_from(["A", "B", "Q"])), max_size=5),
       st.lists(st.text(max_size=6), max_size=6), st.sampled_from(list(UnmatchedPolicy)))
def test_alias_table_and_normalise(pairs, names, policy):
    cps = pd.DataFrame({"counterparty": ["A", "B"], "name": ["Alpha", "Beta"]})
    try:
        table = build_alias_table(cps, pd.DataFrame(pairs, columns=["alias", "counterparty"]), "aliases.csv")
        out, _ = normalise(pd.DataFrame({"counterparty": names}), table, "ems.csv", policy)
    except ScorecardInputError:
        return
    if policy is UnmatchedPolicy.exclude:
        assert set(out["counterparty"]) <= {"A", "B"}


@FUZZ
@given(st.sampled_from(["class", "score_adjustment", "colour", ""]), cell)
def test_override_values(field, value):
    try:
        v = FeedbackStore.check_override(field, value, ["Partner", "Monitor"])
    except ScorecardInputError:
        return
    assert v in ("Partner", "Monitor") or -10 <= float(v) <= 10


@FUZZ
@given(st.text(max_size=12))
def test_durations(text):
    try:
        _duration(text, "markouts.headline")
    except ScorecardInputError as exc:
        assert "markouts.headline" in str(exc)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(["markouts.headline", "ci.z", "profile", "data.unmatched", "limits.mode",
                                           "credit.weights.cva", "no_such", "+x", "ci.min_n", "markouts.sign"]),
                          st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)), max_size=2))
def test_config_overrides(pairs):
    """Hydra composition of arbitrary key=value overrides: a config, or one ScorecardInputError."""
    import scorecard

    try:
        scorecard.compose([f"{k}={v}" for k, v in pairs])
    except ScorecardInputError:
        pass


# ---------------------------------------------------------------- API request models
@pytest.fixture(scope="module")
def api(run_result, tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzzapi")
    shutil.copy(f"{run_result.paths['dir']}/snapshot.json", d / "snapshot.json")
    with TestClient(app_from_config(compose(f"output.dir={d}", f"server.token={TOKEN}")),
                    raise_server_exceptions=False) as c:
        yield c


number = st.one_of(st.floats(), st.integers(-10**30, 10**30), st.sampled_from([0, -1, 1e-300, 1e15, 1e16]))
anything = st.one_of(number, st.text(max_size=5), st.none(), st.booleans(), st.lists(number, max_size=2))
cp = st.one_of(st.sampled_from(["CP_A", "CP_C", "Broker B plc", "nobody"]), st.text(max_size=5))
quote = st.fixed_dictionaries({"counterparty": cp, "price": number})
BODIES = {
    "/v1/routing": st.fixed_dictionaries({"side": st.sampled_from(["buy", "sell", "hold", 1]), "mid": number,
                                          "quotes": st.lists(quote, max_size=3)}),
    "/v1/pretrade": st.fixed_dictionaries({"k": st.one_of(st.integers(-3, 200), number)},
                                          optional={"additional_pfe": number,
                                                    "candidates": st.lists(cp, max_size=3)}),
    "/v1/limits/check": st.fixed_dictionaries({"counterparty": cp}, optional={"additional_pfe": number}),
    "/v1/pricing/addon": st.fixed_dictionaries({"counterparty": cp, "notional": number,
                                                "maturity_years": number}, optional={"capital": number, "ead": number}),
    "/v1/feedback": st.fixed_dictionaries({"counterparty": cp, "author": st.text(max_size=4),
                                           "kind": st.sampled_from(["override", "comment", "x"])},
                                          optional={"field": st.sampled_from(["class", "score_adjustment", "z"]),
                                                    "value": anything, "comment": st.text(max_size=4),
                                                    "expires_in_days": number}),
}


def _check(r):
    assert r.status_code in (200, 201, 400, 401, 404, 422), (r.status_code, r.text[:300])
    body = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"bare {c} in answer"))
    if r.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"]


@pytest.mark.parametrize("path", sorted(BODIES))
def test_api_near_valid_bodies(api, path):
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(BODIES[path], st.dictionaries(st.text(max_size=4), anything, max_size=1))
    def run(body, extra):
        _check(api.post(path, content=json.dumps({**body, **extra}), headers={**AUTH,
                                                                               "content-type": "application/json"}))

    run()


@pytest.mark.parametrize("path", sorted(BODIES))
def test_api_arbitrary_bodies(api, path):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(json_value.map(json.dumps), st.binary(max_size=40)))
    def run(body):
        _check(api.post(path, content=body, headers={**AUTH, "content-type": "application/json"}))

    run()
