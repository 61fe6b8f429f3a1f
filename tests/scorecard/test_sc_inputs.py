"""Bad input gets a clear ScorecardInputError naming file, field/row or counterparty and the problem, before compute."""

import pandas as pd
import pytest

import scorecard
from scorecard import ScorecardInputError
from scorecard.aliases import build_alias_table, normalise
from scorecard.config import UnmatchedPolicy
from scorecard.inputs import validate_table
from scorecard_testlib import compose


def _ex(synthetic):
    return synthetic.tables["executions"].head(20).copy()


def test_missing_column_names_file_and_column(synthetic):
    ex = _ex(synthetic).drop(columns=["arrival_mid"])
    with pytest.raises(ScorecardInputError, match=r"ems\.csv: columns \['arrival_mid'\]: missing"):
        validate_table("executions", ex, "ems.csv")


@pytest.mark.parametrize("col,value,pattern", [
    ("price", -1.0, r"column 'price': must be > 0 at row 4 \(fill_id="),
    ("price", "abc", r"column 'price': not a number at row 4"),
    ("side", "hold", r"column 'side': side must be buy/sell at row 4"),
    ("ts_ns", None, r"column 'ts_ns': empty value at row 4"),
])
def test_bad_value_names_row(synthetic, col, value, pattern):
    ex = _ex(synthetic).astype({col: object})
    ex.loc[3, col] = value
    with pytest.raises(ScorecardInputError, match=pattern):
        validate_table("executions", ex, "ems.csv")


def test_duplicate_fill_and_crossed_quotes(synthetic):
    ex = _ex(synthetic)
    ex.loc[5, "fill_id"] = ex.loc[2, "fill_id"]
    with pytest.raises(ScorecardInputError, match="duplicate id at row 6"):
        validate_table("executions", ex, "ems.csv")
    q = synthetic.tables["quotes"].head(10).copy()
    q.loc[7, "bid"] = q.loc[7, "ask"] + 1
    with pytest.raises(ScorecardInputError, match="bid > ask at row 8"):
        validate_table("quotes", q, "tob.parquet")


def test_sides_normalised(synthetic):
    out = validate_table("executions", _ex(synthetic), "ems.csv")
    assert set(out["side"]) <= {1, -1}


def test_alias_table_errors_and_unmatched_policies(synthetic):
    cps = synthetic.tables["counterparties"]
    bad = pd.DataFrame({"alias": ["Foo"], "counterparty": ["CP_Q"]})
    with pytest.raises(ScorecardInputError, match="'CP_Q' is not in the counterparty reference data"):
        build_alias_table(cps, bad, "aliases.csv")
    amb = pd.DataFrame({"alias": ["Shared", "shared "], "counterparty": ["CP_A", "CP_B"]})
    with pytest.raises(ScorecardInputError, match="maps to both 'CP_A' and 'CP_B'"):
        build_alias_table(cps, amb, "aliases.csv")
    table = build_alias_table(cps, synthetic.tables["aliases"])
    df = pd.DataFrame({"counterparty": ["broker a ltd", "BRKB", "Broker A.", "CP_C"]})
    with pytest.raises(ScorecardInputError, match=r"names not in the alias table: 'Broker A\.' \(1 rows\)"):
        normalise(df, table, "ems.csv", UnmatchedPolicy.error)
    out, rep = normalise(df, table, "ems.csv", UnmatchedPolicy.exclude)
    assert list(out["counterparty"]) == ["CP_A", "CP_B", "CP_C"]  # punctuation differs: never merged silently
    assert rep.to_dict("records") == [{"table": "ems.csv", "name": "Broker A.", "rows": 1}]
    kept, _ = normalise(df, table, "ems.csv", UnmatchedPolicy.keep)
    assert list(kept["unmatched"]) == [False, False, True, False]


def test_run_rejects_bad_file_before_compute(data_dir, tmp_path):
    ex = pd.read_csv(data_dir / "executions.csv")
    ex.loc[10, "size"] = 0
    ex.to_csv(tmp_path / "bad.csv", index=False)
    cfg = compose(f"data.dir={data_dir}", f"data.executions={tmp_path / 'bad.csv'}", f"output.dir={tmp_path / 'o'}")
    with pytest.raises(ScorecardInputError, match=r"bad\.csv: column 'size': must be > 0 at row 11 \(fill_id=F"):
        scorecard.run(cfg)
    assert not (tmp_path / "o" / "scorecard.csv").exists()


def test_missing_files_and_config_errors(data_dir, tmp_path):
    cfg = compose(f"data.dir={data_dir}", f"data.rfq={tmp_path / 'nope.csv'}", f"output.dir={tmp_path}")
    with pytest.raises(ScorecardInputError, match=r"nope\.csv: file: does not exist"):
        scorecard.run(cfg)
    cfg = compose(f"data.dir={data_dir}", "markouts.headline=soon", f"output.dir={tmp_path}")
    with pytest.raises(ScorecardInputError, match="markouts.headline: 'soon' is not a duration"):
        scorecard.run(cfg)
    with pytest.raises(ScorecardInputError, match="stress.source"):
        compose("stress.source=moon")


def test_cross_table_checks(data_dir, tmp_path):
    ins = pd.read_csv(data_dir / "instruments.csv")
    ins[ins["instrument"] != "INS03"].to_csv(tmp_path / "ins.csv", index=False)
    cfg = compose(f"data.dir={data_dir}", f"data.instruments={tmp_path / 'ins.csv'}", f"output.dir={tmp_path}")
    with pytest.raises(ScorecardInputError, match=r"ins\.csv: instruments \['INS03'\]: traded in the executions"):
        scorecard.run(cfg)
