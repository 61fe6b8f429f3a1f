"""A corpus of bad files and paths: each is one ScorecardInputError naming the file (and line/row/column where
known), exit code 2 from the CLI, never a raw pandas/pyarrow traceback, and nothing written."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from scorecard import ScorecardInputError
from scorecard.cli import main
from scorecard.inputs import read_table, validate_table
from scorecard.report import _strict, guard_non_finite
from scorecard.server import app_from_config
from scorecard_testlib import TOKEN, compose

HEADER = "order_id,fill_id,ts_ns,counterparty,venue,instrument,side,price,size,order_type,arrival_mid\n"
ROW = "O1,F1,1,CP_A,XLON,INS00,buy,100.0,10,limit,100.0\n"

CSV_CORPUS = [
    ("empty.csv", b"", r"empty\.csv: file: is empty"),
    ("blank.csv", b"\n\n  \n", r"blank\.csv: file: is empty"),
    ("utf16.csv", (HEADER + ROW).encode("utf-16"), r"utf16\.csv: encoding: is UTF-16"),
    ("binary.csv", b"PK\x03\x04\x00\x00\x08\x00junk", r"binary\.csv: byte 4: NUL byte"),
    ("latin1.csv", (HEADER + ROW.replace("CP_A", "Soci\xe9t\xe9")).encode("latin-1"),
     r"latin1\.csv: line 2 \(byte \d+\): not UTF-8"),
    ("ragged.csv", (HEADER + ROW + "O2,F2,2,CP_A,XLON,INS00,buy,100,10,limit,100,EXTRA\n").encode(),
     r"ragged\.csv: content: malformed CSV: .*line 3"),
    ("dupcol.csv", (HEADER.replace("venue", "price") + ROW).encode(), r"dupcol\.csv: columns \['price\.1'\]"),
    ("header_only.csv", HEADER.encode(), r"header_only\.csv: rows: table 'executions' is empty"),
    ("bigint.csv", (HEADER + ROW.replace(",1,CP_A", ",99999999999999999999999,CP_A")).encode(),
     r"bigint\.csv: column 'ts_ns': not a 64-bit integer at row 1"),
    ("fraction.csv", (HEADER + ROW.replace(",1,CP_A", ",1.5,CP_A")).encode(),
     r"fraction\.csv: column 'ts_ns': not a 64-bit integer at row 1"),
    ("inf.csv", (HEADER + ROW.replace("100.0,10", "inf,10")).encode(),
     r"inf\.csv: column 'price': not finite at row 1"),
    ("nanword.csv", (HEADER + ROW.replace("100.0,10", "NaN,10")).encode(), r"nanword\.csv: column 'price': empty value"),
    ("quote.csv", (HEADER + 'O1,F1,1,"CP_A,XLON,INS00,buy,100.0,10,limit,100.0\n').encode(),
     r"quote\.csv: (content: malformed CSV|columns)"),
]


@pytest.mark.parametrize("name,content,pattern", CSV_CORPUS, ids=[c[0] for c in CSV_CORPUS])
def test_bad_csv_is_one_clear_error(tmp_path, name, content, pattern):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ScorecardInputError, match=pattern):
        validate_table("executions", read_table(p), str(p))


@pytest.mark.parametrize("content", [b"", b"PAR1garbagePAR1", b"not parquet at all", b"PAR1"])
def test_corrupt_parquet(tmp_path, content):
    p = tmp_path / "x.parquet"
    p.write_bytes(content)
    with pytest.raises(ScorecardInputError, match=r"x\.parquet: file: not a readable Parquet file"):
        read_table(p)


def test_folder_as_table_and_unknown_suffix(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ScorecardInputError, match="is not a regular file"):
        read_table(tmp_path / "d.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(ScorecardInputError, match="unsupported format"):
        read_table(tmp_path / "t.xlsx")


def test_mistyped_data_dir_is_an_error_naming_the_path(tmp_path, data_dir, capsys):
    typo = tmp_path / "dta"
    out = tmp_path / "o"
    assert main(["run", f"data.dir={typo}", f"output.dir={out}"]) == 2
    err = capsys.readouterr().err
    assert str(typo) in err and "no such folder" in err and "Traceback" not in err
    assert not (out / "snapshot.json").exists() and not (out / "data").exists()
    (tmp_path / "emptydir").mkdir()
    assert main(["validate", f"data.dir={tmp_path / 'emptydir'}", f"output.dir={out}"]) == 2
    assert "holds none of" in capsys.readouterr().err
    assert main(["run", f"data.dir={data_dir}", f"exposure.results={tmp_path / 'nope.h5'}", f"output.dir={out}"]) == 2
    assert "nope.h5: exposure.results: no such file or folder" in capsys.readouterr().err
    assert main(["run", f"data.dir={data_dir}", "data.synthetic.enabled=true", f"output.dir={out}"]) == 2
    assert "choose one" in capsys.readouterr().err


def test_cli_names_a_binary_executions_file(tmp_path, data_dir, capsys):
    bad = tmp_path / "ems.csv"
    bad.write_bytes(b"\x00\x01\x02binary")
    assert main(["validate", f"data.dir={data_dir}", f"data.executions={bad}", f"output.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: byte 0: NUL byte" in err and "Traceback" not in err


@pytest.mark.parametrize("drop", ["response_ms", "quote_price"])
def test_rfq_without_response_columns_fails_validate(tmp_path, data_dir, capsys, drop):
    rfq = pd.read_csv(data_dir / "rfq.csv").drop(columns=drop)
    rfq.to_csv(tmp_path / "rfq.csv", index=False)
    assert main(["validate", f"data.dir={data_dir}", f"data.rfq={tmp_path / 'rfq.csv'}",
                 f"output.dir={tmp_path / 'o'}"]) == 2
    assert f"rfq.csv: columns ['{drop}']: missing" in capsys.readouterr().err


def test_rfq_responded_without_price(synthetic):
    rfq = synthetic.tables["rfq"].head(30).copy()
    i = int(np.flatnonzero(rfq["responded"].to_numpy())[2])
    rfq.loc[i, "quote_price"] = np.nan
    with pytest.raises(ScorecardInputError, match=rf"column 'quote_price': responded quote without a quote price > 0 "
                                                  rf"at row {i + 1}"):
        validate_table("rfq", rfq, "rfq.csv")


def test_corrupt_exposure_results(tmp_path):
    from scorecard.credit import load_exposure_results

    for content in (b"", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64):
        (tmp_path / "r.h5").write_bytes(content)
        with pytest.raises(ScorecardInputError, match=r"r\.h5: file: not a readable HDF5"):
            load_exposure_results(tmp_path / "r.h5")


def _reject_constants(c):
    raise ValueError(f"bare {c} in JSON")


def test_snapshot_is_strict_json_and_guard_names_counterparty(run_result):
    text = open(f"{run_result.paths['dir']}/snapshot.json").read()
    json.loads(text, parse_constant=_reject_constants)  # Infinity / NaN literals would raise
    sc = pd.DataFrame({"score": [1.0, np.inf]}, index=pd.Index(["A", "B"], name="counterparty"))
    m = pd.DataFrame([{"counterparty": "B", "metric": "response_ms", "value": 5.0, "se": np.inf, "lo": -np.inf,
                       "hi": np.inf, "n": 1, "unit": "ms"}])
    sc2, m2, notes = guard_non_finite(sc, m)
    assert np.isnan(sc2.loc["B", "score"]) and np.isnan(m2["se"].iloc[0]) and m2["value"].iloc[0] == 5.0
    assert "non-finite se of metric 'response_ms' for B (n=1): omitted" in notes
    assert "non-finite 'score' for B: omitted" in notes
    with pytest.raises(ValueError, match=r"snapshot.x\[1\]: infinite"):
        _strict({"x": [1.0, float("inf")]})


def test_overflowing_requests_are_4xx_not_500(run_result, tmp_path):
    shutil.copy(f"{run_result.paths['dir']}/snapshot.json", tmp_path / "snapshot.json")
    with TestClient(app_from_config(compose(f"output.dir={tmp_path}", f"server.token={TOKEN}")),
                    raise_server_exceptions=False) as c:
        r = c.post("/v1/routing", json={"side": "buy", "mid": 1e-300,
                                        "quotes": [{"counterparty": "CP_A", "price": 1e12}]})
        assert r.status_code == 422 and "not a finite number" in r.json()["error"]
        r = c.post("/v1/pricing/addon", json={"counterparty": "CP_A", "notional": 1e-300, "maturity_years": 100,
                                              "capital": 1e15})
        assert r.status_code == 422
        r = c.post("/v1/routing", json={"side": "buy", "mid": 1e13, "quotes": [{"counterparty": "CP_A", "price": 1}]})
        assert r.status_code == 422 and "mid" in r.json()["error"]


def test_unwritable_or_file_output_dir(tmp_path, data_dir, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["validate", f"data.dir={data_dir}", f"output.dir={tmp_path / 'afile'}"]) == 2
    assert f"{tmp_path / 'afile'}: output.dir: not a writable folder" in capsys.readouterr().err
    assert main(["run", f"data.dir={data_dir}", f"output.dir={tmp_path / 'afile' / 'sub'}"]) == 2
    assert "output.dir: not a writable folder" in capsys.readouterr().err


def test_concurrent_run_into_the_same_folder_is_refused(tmp_path, data_dir):
    import scorecard
    from scorecard.outputs import run_lock

    cfg = compose(f"data.dir={data_dir}", f"output.dir={tmp_path}")
    with run_lock(tmp_path):  # another run holds the folder
        with pytest.raises(ScorecardInputError, match="another scorecard run is writing this folder"):
            scorecard.run(cfg)
    assert not (tmp_path / "snapshot.json").exists()
