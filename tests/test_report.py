"""Desk report: counterparty PFE, PFE limits (constructed breaches, undecidable checks), summary, plots, HTML,
progress reporting. Fast cases on hand-built results Datasets; the CLI end to end is in test_report_e2e.py."""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from types import SimpleNamespace

from exposure.errors import ConfigError
from exposure.report import (LimitSpec, ReportSettings, RunProgress, apply_limits, bar_wanted, limits_frame,
                             parse_bucket, read_limits_csv, report_settings, summary_frame, summary_text, write_report)
from exposure.report.limits import breaches_frame, counterparty_pfe

ASOF = "2026-01-15"
DATES = pd.to_datetime([ASOF, "2026-04-15", "2026-07-15", "2027-01-15", "2028-01-15", "2031-01-15", "2036-01-15"])
QUANTILES = np.array([0.95, 0.99])


def make_results(pfe_profiles, cpty=("CP_A", "CP_B", "CP_B"), cube=None, extra=None) -> xr.Dataset:
    """A results Dataset with the given PFE (n, K) at both quantiles (0.95 = 0.8 x 0.99) and made-up EPE/ENE."""
    pfe99 = np.asarray(pfe_profiles, dtype=float)
    n, K = pfe99.shape
    t = np.array([(d - DATES[0]).days / 365.0 for d in DATES])
    epe = 0.3 * np.nan_to_num(pfe99)
    pfe = np.stack([0.8 * pfe99, pfe99], axis=-1)
    peak = np.nanmax(np.where(np.isfinite(pfe), pfe, -np.inf), axis=1)
    peak_date = DATES.values[np.nanargmax(np.where(np.isfinite(pfe), pfe, -np.inf), axis=1)]
    ns = [f"NS_{i}" for i in range(n)]
    data = {
        "EPE": (("netting_set", "date"), epe), "ENE": (("netting_set", "date"), 0.2 * epe),
        "EE_stderr": (("netting_set", "date"), 0.01 * epe + 1.0),
        "ExpectedCollateral": (("netting_set", "date"), np.zeros((n, K))),
        "BaselEE": (("netting_set", "date"), epe), "BaselEEE": (("netting_set", "date"), epe),
        "PFE": (("netting_set", "date", "quantile"), pfe), "BaselEPE": ("netting_set", epe.mean(axis=1)),
        "BaselEEPE": ("netting_set", epe.mean(axis=1)), "EEPE": ("netting_set", epe.mean(axis=1)),
        "PeakPFE": (("netting_set", "quantile"), peak), "PeakPFEDate": (("netting_set", "quantile"), peak_date),
        "NPV": ("netting_set", np.arange(n) * 1.0e5),
    }
    coords = {"netting_set": np.array(ns, dtype=object), "counterparty": ("netting_set", np.array(cpty, dtype=object)),
              "date": DATES.values, "time": ("date", t), "quantile": QUANTILES}
    if cube is not None:
        coords["path"] = np.arange(cube.shape[-1])
        data["cube_exposure"] = (("netting_set", "date", "path"), cube)
        data["cube_numeraire"] = (("date", "path"), np.ones(cube.shape[1:]))
    data.update(extra or {})
    attrs = {"seed": 7, "config": "simulation: {paths: 100}\n", "package_version": "test", "base_currency": "USD",
             "asof": ASOF, "n_paths": 100, "quantile_method": "ore", "pfe_basis": "undiscounted"}
    return xr.Dataset(data, coords=coords, attrs=attrs)


PROFILES = [[0, 1.0e6, 2.0e6, 3.0e6, 2.5e6, 1.0e6, 0],          # CP_A
            [0, 0.5e6, 1.0e6, 1.5e6, 1.0e6, 0.5e6, 0],          # CP_B, netting set 1
            [0, 0.5e6, 0.5e6, 1.0e6, 2.0e6, 1.0e6, 0]]          # CP_B, netting set 2


def spec(cp, bucket, limit):
    return LimitSpec(cp, parse_bucket(bucket, "test"), limit)


def test_constructed_breach_is_reported_with_dates_and_size():
    ds = apply_limits(make_results(PROFILES), ReportSettings(limits=(spec("CP_A", "all", 2.2e6),)))
    lim = limits_frame(ds).iloc[0]
    # PFE_A > 2.2e6 on 2027-01-15 (3.0e6) and 2028-01-15 (2.5e6): first breach, max excess 0.8e6 on 2027-01-15
    assert lim["Status"] == "breach" and lim["BreachDates"] == 2
    assert lim["FirstBreach"] == "2027-01-15" and lim["MaxExcessDate"] == "2027-01-15"
    assert lim["MaxExcess"] == pytest.approx(0.8e6) and lim["Utilisation"] == pytest.approx(3.0 / 2.2)
    br = breaches_frame(ds)
    assert list(br["Date"]) == ["2027-01-15", "2028-01-15"] and list(br["Excess"]) == pytest.approx([0.8e6, 0.3e6])
    assert str(ds["PFE_limit_status"].values[0]) == "breach"  # in the results Dataset too
    text = summary_text(ds, 0.99)
    assert "LIMIT BREACH CP_A" in text and "max excess 800,000 on 2027-01-15" in text


def test_limit_exactly_met_is_ok_and_one_unit_below_breaches():
    ok = apply_limits(make_results(PROFILES), ReportSettings(limits=(spec("CP_A", "all", 3.0e6),)))
    assert limits_frame(ok).iloc[0]["Status"] == "ok"
    bad = apply_limits(make_results(PROFILES), ReportSettings(limits=(spec("CP_A", "all", 3.0e6 - 1.0),)))
    assert limits_frame(bad).iloc[0]["Status"] == "breach"


def test_tenor_buckets_select_their_dates():
    # 0-1Y holds 2026-01-15 .. 2027-01-15 (max 3.0e6); 1Y-5Y: 2028-01-15, 2031-01-15 (max 2.5e6); 5Y+: 2036 (0)
    s = ReportSettings(limits=(spec("CP_A", "0-1Y", 3.5e6), spec("CP_A", "1Y-5Y", 2.0e6), spec("CP_A", "5Y+", 1.0)))
    f = limits_frame(apply_limits(make_results(PROFILES), s))
    assert list(f["Status"]) == ["ok", "breach", "ok"]
    assert list(f["PeakPFE"]) == pytest.approx([3.0e6, 2.5e6, 0.0])
    assert f.iloc[1]["FirstBreach"] == "2028-01-15" and f.iloc[1]["BreachDates"] == 1


def test_undecidable_checks_are_never_ok():
    prof = [list(p) for p in PROFILES]
    prof[0][4] = np.nan  # a missing exposure inside the bucket
    s = ReportSettings(limits=(spec("CP_A", "all", 1.0e7), spec("CP_A", "40Y+", 1.0e7), spec("CP_Z", "all", 1.0e6)))
    f = limits_frame(apply_limits(make_results(prof), s))
    assert list(f["Status"]) == ["cannot decide", "cannot decide", "no trades"]
    assert "not finite" in f.iloc[0]["Reason"] and "no exposure date" in f.iloc[1]["Reason"]
    assert "no netting set" in f.iloc[2]["Reason"]
    # undefined peaks are stored as 0 beside a mask, so the guard before writing accepts the results
    s2 = ReportSettings(limits=(spec("CP_A", "40Y+", 1.0e7), spec("CP_Z", "all", 1.0e6)))
    res = apply_limits(make_results(PROFILES), s2)
    assert not res["PFE_limit_defined"].values.any()
    assert np.all(np.isfinite(res["PFE_limit_peak"].values)) and np.all(np.isfinite(res["PFE_limit_utilisation"].values))
    from exposure.finite import first_non_finite
    assert first_non_finite(res.drop_vars([v for v in res.data_vars if not str(v).startswith("PFE_limit")])) is None
    assert limits_frame(res)["PeakPFE"].isna().all()  # the CSV still says n/a
    # a breach on the finite dates still reports the breach
    f2 = limits_frame(apply_limits(make_results(prof), ReportSettings(limits=(spec("CP_A", "all", 1.5e6),))))
    assert f2.iloc[0]["Status"] == "breach" and "not finite" in f2.iloc[0]["Reason"]


def test_counterparty_pfe_from_the_cube_is_the_quantile_of_summed_positive_exposures():
    rng = np.random.default_rng(3)
    P = 1000
    cube = rng.normal(0.0, 1.0e6, size=(3, len(DATES), P))
    ds = make_results(PROFILES, cube=cube)
    pfe, method = counterparty_pfe(ds, 0.99)
    assert "cube" in method
    # reference: sort and take ORE's order statistic floor(q (n - 1) + 1/2)
    k = int(np.floor(0.99 * (P - 1) + 0.5))
    ref = np.sort(np.maximum(cube[[1, 2]], 0.0).sum(axis=0), axis=-1)[:, k]
    np.testing.assert_allclose(pfe[1], ref, rtol=0, atol=0)
    np.testing.assert_allclose(pfe[0], PROFILES[0], rtol=0, atol=0)  # one netting set: its own (float64) PFE
    # without the cube, one netting set -> its PFE; several -> the sum of their PFEs (labelled)
    pfe2, method2 = counterparty_pfe(make_results(PROFILES), 0.99)
    np.testing.assert_allclose(pfe2[0], PROFILES[0])
    np.testing.assert_allclose(pfe2[1], np.add(PROFILES[1], PROFILES[2]))
    assert "sum of netting-set PFEs" in method2


def test_summary_rows_figures_and_n_a(tmp_path):
    extra = {"CVA": ("netting_set", np.array([1.0e4, 2.0e3, 3.0e3]))}
    ds = apply_limits(make_results(PROFILES, extra=extra), ReportSettings(limits=(spec("CP_B", "all", 5.0e6),)))
    f = summary_frame(ds, 0.99)
    cpb = f[(f["Level"] == "counterparty") & (f["Counterparty"] == "CP_B")].iloc[0]
    assert cpb["CVA"] == pytest.approx(5.0e3) and cpb["NettingSets"] == 2
    assert cpb["PeakPFE_99"] == pytest.approx(3.0e6)  # max of the summed profile (no cube): 1.5 + 1.0 + ... -> 2027: 2.5, 2028: 3.0
    assert cpb["PeakEPE"] == pytest.approx(0.3 * 3.0e6) and cpb["Utilisation"] == pytest.approx(0.6)
    assert np.isnan(cpb["DVA"]) and np.isnan(f.iloc[0]["Limit"])  # CP_A: no limit
    text = summary_text(ds, 0.99)
    assert "n/a: not in these results: DVA, FVA, EAD, Capital" in text and "peak PFE 99%" in text
    files = write_report(ds, str(tmp_path), ReportSettings(limits=(spec("CP_B", "all", 5.0e6),), plots=False, html=False))
    csv = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False)
    assert "PeakPFE_99" in csv.columns and set(csv["DVA"]) == {"n/a"} and set(csv["Level"]) == {"counterparty", "netting_set"}
    assert {os.path.basename(p) for p in files} == {"summary.csv", "limits.csv", "limit_breaches.csv"}


def test_cpty_values_preferred_when_the_results_hold_them():
    ds = make_results(PROFILES, extra={"CVA": ("netting_set", np.array([1.0, 2.0, 3.0]))})
    ds = ds.assign_coords(cpty=("cpty", np.array(["CP_B", "CP_A"], dtype=object)))
    ds["CVA_cpty"] = ("cpty", np.array([50.0, 10.0]))
    f = summary_frame(apply_limits(ds, ReportSettings()), 0.99)
    got = f[f["Level"] == "counterparty"].set_index("Counterparty")["CVA"]
    assert got["CP_A"] == 10.0 and got["CP_B"] == 50.0


def test_settings_from_config_and_csv(tmp_path):
    p = tmp_path / "limits.csv"
    p.write_text("Counterparty,Bucket,Limit\nCP_A,,1e6\nCP_B,0-1Y,2e6\nCP_B,5Y+,3e6\n")
    node = SimpleNamespace(report=SimpleNamespace(pfe_quantile=0.95, limits_file=str(p), limits={"CP_B": {"5Y+": 4e6}},
                                                  plots=True, html=False, enabled=True),
                           output=SimpleNamespace(quantiles=[0.95, 0.99]))
    s = report_settings(node)
    assert s.pfe_quantile == 0.95 and not s.html
    got = {(x.counterparty, x.bucket.label): x.limit for x in s.limits}
    assert got == {("CP_A", "all"): 1e6, ("CP_B", "0-1Y"): 2e6, ("CP_B", "5Y+"): 4e6}


@pytest.mark.parametrize("text, key", [("Counterparty,Limit\nCP_A,-5\n", "line 2"), ("Counterparty,Limit\nCP_A,abc\n", "line 2"),
                                       ("Name,Limit\nCP_A,5\n", "Counterparty"), ("Counterparty,Bucket,Limit\nCP_A,5Y-1Y,5\n", "start must be before"),
                                       ("Counterparty,Bucket,Limit\nCP_A,0-1Y,5\nCP_B,0-1Y,5\nCP_A,0-1Y,6\n",
                                        "line 4: second limit for CP_A 0-1Y .the first is on line 2")])
def test_bad_limits_file_names_the_problem(tmp_path, text, key):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ConfigError, match=key) as err:
        read_limits_csv(str(p))
    assert "report.limits_file" in str(err.value) and str(p) in str(err.value)


def test_validate_rejects_a_bad_limits_file_before_any_compute(tmp_path, capsys):
    from exposure.cli import main

    p = tmp_path / "limits.csv"
    p.write_text("Counterparty,Bucket,Limit\nCP_A,all,0\n")
    assert main(["validate", f"report.limits_file={p}"]) == 2
    err = capsys.readouterr().err
    assert "report.limits_file line 2" in err and "limit must be a finite amount > 0" in err and str(p) in err


def test_report_quantile_defaults_to_99_or_the_highest_computed():
    for quants, want in (([0.95, 0.99], 0.99), ([0.9, 0.95], 0.95), ([0.975], 0.975)):
        node = SimpleNamespace(report=SimpleNamespace(pfe_quantile=None), output=SimpleNamespace(quantiles=quants))
        assert report_settings(node).pfe_quantile == want


def test_report_quantile_must_be_computed():
    node = SimpleNamespace(report=SimpleNamespace(pfe_quantile=0.9), output=SimpleNamespace(quantiles=[0.95, 0.99]))
    with pytest.raises(ConfigError, match="report.pfe_quantile"):
        report_settings(node)
    with pytest.raises(ConfigError, match="report.limits.CP_A"):
        report_settings(SimpleNamespace(report=SimpleNamespace(limits={"CP_A": "lots"}), output=SimpleNamespace(quantiles=[0.99])))


def test_plots_and_self_contained_html(tmp_path):
    ds = apply_limits(make_results(PROFILES), ReportSettings(limits=(spec("CP_A", "0-1Y", 2.2e6),)))
    files = write_report(ds, str(tmp_path), ReportSettings(limits=(spec("CP_A", "0-1Y", 2.2e6),)))
    pngs = [f for f in files if f.endswith(".png")]
    assert len(pngs) == 4  # portfolio + 3 netting sets
    for f in pngs:
        assert open(f, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    for ref in ('src="http', "src='http", 'href="http', "url(", "<link"):
        assert ref not in html
    assert "breach" in html and "CVA is not in these results" in html and "seed" in html


def test_bar_is_silent_under_ci_and_when_not_a_tty(tmp_path, capsys, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert bar_wanted(Tty(), {"CI": "true"}) is False
    assert bar_wanted(io.StringIO(), {}) is False
    assert bar_wanted(Tty(), {}) is True and bar_wanted(Tty(), {"CI": "false"}) is True
    monkeypatch.setenv("CI", "true")
    with RunProgress(str(tmp_path / "run.log")) as p:
        p.stage("paths", total=10)
        p.advance(10)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    log = (tmp_path / "run.log").read_text()
    assert "stage paths started (10 units)" in log and "paths: 10/10" in log and "run finished" in log


def test_bar_draws_on_a_terminal(tmp_path):
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    with RunProgress(str(tmp_path / "run.log"), show_bar=True, console=console) as p:
        p.stage("paths", total=4)
        p.advance(4)
    assert "paths" in buf.getvalue() and "4/4" in buf.getvalue()


def test_failed_run_is_logged(tmp_path):
    with pytest.raises(RuntimeError):
        with RunProgress(str(tmp_path / "run.log"), show_bar=False) as p:
            p.stage("setup")
            raise RuntimeError("bad market")
    assert "run failed" in (tmp_path / "run.log").read_text() and "bad market" in (tmp_path / "run.log").read_text()


def test_summary_is_a_rich_table_on_a_terminal_and_plain_text_otherwise():
    from exposure.report import print_summary

    class Tty(io.StringIO):
        def isatty(self):
            return True

    ds = apply_limits(make_results(PROFILES), ReportSettings(limits=(spec("CP_A", "all", 2.2e6),)))
    tty, pipe = Tty(), io.StringIO()
    print_summary(ds, 0.99, file=tty)
    print_summary(ds, 0.99, file=pipe)
    assert "Exposure summary (USD)" in tty.getvalue() and "─" in tty.getvalue()
    assert "CVA" not in tty.getvalue().split("LIMIT")[0]  # all-n/a columns leave the terminal table ...
    assert "n/a: not in these results: CVA" in tty.getvalue()  # ... and are named
    assert pipe.getvalue().startswith("cpty / netting set") and "─" not in pipe.getvalue()
    assert "CVA" in pipe.getvalue().splitlines()[0]  # plain text keeps every column
