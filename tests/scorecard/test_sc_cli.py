"""`scorecard run|validate|serve` entry points, Hydra composition, conf-dir discovery and the written files."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

import scorecard
from scorecard.cli import conf_dir, main

REPO = Path(__file__).resolve().parents[2]


def test_run_on_bundled_synthetic_data_only_when_asked(tmp_path, monkeypatch, capsys):
    """`scorecard run` from an empty cwd: conf found next to the package; with no data it is an error (never a
    silent switch to synthetic data); data.synthetic.enabled=true generates the synthetic data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XPOSURE_CONF_DIR", raising=False)
    assert conf_dir() == REPO / "conf"
    assert main(["run"]) == 2
    assert "no input data" in capsys.readouterr().err
    assert not (tmp_path / "outputs" / "scorecard" / "snapshot.json").exists()
    assert main(["run", "data.synthetic.enabled=true"]) == 0
    out = tmp_path / "outputs" / "scorecard"
    sc = pd.read_csv(out / "scorecard.csv").set_index("counterparty")
    assert sc.loc["CP_E", "class"] == "Restrict" and sc.loc["CP_A", "class"] == "Partner"
    for f in ("scorecard.parquet", "metrics.csv", "metrics.parquet", "scorecard.h5", "summary.html",
              "manifest.json", "snapshot.json", "unmatched_counterparties.csv", "data/exposure_results.h5"):
        assert (out / f).exists(), f
    assert not list(out.rglob("*.tmp-*"))  # atomic writes leave no temporaries
    ds = xr.open_dataset(out / "scorecard.h5", engine="h5netcdf")
    assert set(ds["counterparty"].values) == set(sc.index) and "metric_value" in ds
    ds.close()
    assert "Restrict" in (out / "summary.html").read_text()


def test_deterministic_synthetic_data(synthetic):
    from scorecard.synthetic import generate

    again = generate(seed=20240601)
    for name, df in synthetic.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name], obj=name)
    other = generate(seed=1)
    assert not other.tables["executions"]["price"].equals(synthetic.tables["executions"]["price"])


def test_overrides_and_profiles_pass_through(tmp_path, data_dir):
    out = tmp_path / "hft"
    assert main(["run", f"data.dir={data_dir}", "profile=hft", f"output.dir={out}"]) == 0
    sc = pd.read_parquet(out / "scorecard.parquet")
    assert set(sc["profile"]) == {"hft"}
    assert "contrib_reversion_bps" in sc.columns
    assert (sc["metrics_used"].str.contains("credit_score") == False).all()  # no exposure results given


def test_validate_and_bad_override_exit_codes(tmp_path, data_dir, capsys):
    assert main(["validate", f"data.dir={data_dir}", f"output.dir={tmp_path}"]) == 0
    assert "inputs OK" in capsys.readouterr().out
    assert main(["run", "no_such_key=1", f"output.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "input error" in err and "no_such_key" in err


def test_conf_dir_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("XPOSURE_CONF_DIR", str(tmp_path))
    assert conf_dir() == tmp_path.resolve()
    with pytest.raises(scorecard.ScorecardInputError, match="primary scorecard config not found"):
        scorecard.compose([])


def test_module_entry_point_subprocess(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "scorecard", "--help"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "run" in r.stdout and "serve" in r.stdout and "validate" in r.stdout


def test_exposure_results_folder_uses_newest_file(tmp_path, data_dir, synthetic):
    from dataclasses import asdict, replace

    from scorecard.synthetic_exposure import write_exposure_fixture

    folder = tmp_path / "exposure"
    old = [asdict(replace(p, pfe_utilisation=0.99)) for p in synthetic.planted]
    write_exposure_fixture(folder / "run_old.h5", old)
    os.utime(folder / "run_old.h5", (1e9, 1e9))
    write_exposure_fixture(folder / "run_new.h5", [asdict(p) for p in synthetic.planted])
    res = scorecard.run(scorecard.compose([f"data.dir={data_dir}", f"exposure.results={folder}",
                                           f"output.dir={tmp_path / 'o'}"]))
    assert res.scorecard.loc["CP_A", "utilisation"] == pytest.approx(0.35)
    assert any("run_new.h5" in n for n in res.notes)


def test_example_script(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("scorecard_example", REPO / "examples/scorecard/run_example.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(str(tmp_path / "ex"))
    for profile in ("default", "hft"):
        cls = res[profile].scorecard["class"]
        assert cls["CP_B"] in ("Toxic", "Restrict") and cls["CP_E"] == "Restrict"
    # the framework's story: ranking A < D < C < B < E with its classes, and Broker B's $ drag on $50bn a year
    sc = res["default"].scorecard.drop(index="CP_F")  # CP_F: the rest of the street (benchmark flow)
    assert list(sc.index) == ["CP_A", "CP_D", "CP_C", "CP_B", "CP_E"]
    assert list(sc["class"]) == ["Partner", "Partner", "Monitor", "Toxic", "Restrict"]
    m = res["default"].metrics.set_index(["counterparty", "metric"])
    b = sc.loc["CP_B"]
    assert b["annual_notional"] == 50e9
    for metric, planted, usd in (("adverse_selection_bps", 1.25, 6.25e6), ("excess_slippage_bps", 0.75, 3.75e6)):
        r = m.loc[("CP_B", metric)]
        assert r["lo"] <= planted <= r["hi"], (metric, r.to_dict())
        assert 50e9 * r["lo"] / 1e4 <= usd <= 50e9 * r["hi"] / 1e4
    assert b["adverse_selection_cost_usd"] == pytest.approx(50e9 * b["adverse_selection_bps"] / 1e4)
