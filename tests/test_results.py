"""The results contract: Dataset layout, HDF5 round trip, ORE-style CSV files, atomic writes."""

from __future__ import annotations

import csv
import datetime as dt
import os

import numpy as np
import pytest
import xarray as xr
import yaml

import exposure
from exposure.aggregation import ExposureAggregator, net_values
from exposure.portfolio.netting import Csa, NettingSet
from exposure.results import build_results, read_results, validate_results, write_results
from exposure.results_csv import ORE_NETTING_SET_COLUMNS, ORE_TRADE_COLUMNS, write_ore_csv

ASOF = dt.date(2024, 3, 28)
DATES = [dt.date(2024, 4, 30), dt.date(2024, 6, 28), dt.date(2024, 9, 30), dt.date(2025, 3, 28), dt.date(2026, 3, 30)]


def _measures(trades=True, cube=True, trade_pfe=True):
    rng = np.random.default_rng(42)
    K, P = len(DATES), 400
    times = np.array([(d - ASOF).days / 365.0 for d in DATES])
    idx = np.array([0, 0, 1, 2])
    tv = rng.normal(0, 1, size=(K + 1, 4, P)).cumsum(axis=0)
    tv[0] = tv[0].mean(axis=-1, keepdims=True)  # t0: one value for every path
    nss = [NettingSet("NS_A", "CP_A", Csa(threshold_cpty=0.5, mta_cpty=0.1)), NettingSet("NS/B", "CP_B"),
           NettingSet("T4", "CP_C")]
    agg = ExposureAggregator(nss, P, times, valuation_index=np.arange(1, K + 1), t0_index=0,
                             trade_netting_index=idx if trades else None, trade_pfe=trade_pfe, store_cube=cube)
    num = np.exp(0.03 * np.concatenate([[0.0], times]))[:, None] * np.ones((1, P))
    for s in range(0, P, 150):
        e = min(P, s + 150)
        agg.add_chunk(s, e, net_values(tv[..., s:e], idx, 3), num[:, s:e], trade_values=tv[..., s:e])
    return agg.finalize(discount_factors=np.exp(-0.03 * times), maturities=[5.0, 0.4, 5.0]), nss


@pytest.fixture(scope="module")
def dataset():
    m, nss = _measures()
    return build_results(m, [n.id for n in nss], [n.counterparty for n in nss], DATES,
                         trade_ids=["T1", "T2", "T3", "T4"], seed=1234,
                         config={"simulation": {"paths": 400, "seed": 1234}}, base_currency="USD", asof=ASOF)


def test_dataset_layout(dataset):
    ds = dataset
    assert ds["EPE"].dims == ("netting_set", "date")
    assert ds["PFE"].dims == ("netting_set", "date", "quantile")
    assert ds["PeakPFE"].dims == ds["PeakPFEDate"].dims == ("netting_set", "quantile")
    assert ds["BaselEEPE"].dims == ds["EEPE"].dims == ("netting_set",)
    assert ds["trade_EPE"].dims == ds["AllocatedEPE"].dims == ("trade", "date")
    assert ds["cube_exposure"].dims == ("netting_set", "date", "path")
    assert ds["date"].dtype == np.dtype("datetime64[ns]")
    assert list(ds["counterparty"].values) == ["CP_A", "CP_B", "CP_C"]
    assert list(ds["quantile"].values) == [0.95, 0.975, 0.99]
    assert list(ds["trade_netting_set"].values) == ["NS_A", "NS_A", "NS/B", "T4"]
    np.testing.assert_array_equal(ds["EEPE"].values, ds["BaselEEPE"].values)
    # NS/B matures after 0.4 years: its Basel average runs over (0, 0.4] (CRE53.16), the date straddling 0.4
    # weighing 0.4 - t_1 (t = 0.088, 0.252, ...)
    t = ds["time"].values
    eee = ds["BaselEEE"].sel(netting_set="NS/B").values
    assert t[1] < 0.4 < t[2]
    assert ds["BaselEEPE"].sel(netting_set="NS/B") == pytest.approx(
        (eee[0] * t[0] + eee[1] * (t[1] - t[0]) + eee[2] * (0.4 - t[1])) / 0.4)
    assert ds.attrs["seed"] == 1234 and ds.attrs["package_version"] == exposure.__version__
    assert ds.attrs["base_currency"] == "USD" and ds.attrs["asof"] == "2024-03-28"
    assert yaml.safe_load(ds.attrs["config"]) == {"simulation": {"paths": 400, "seed": 1234}}
    xr.testing.assert_equal(ds["PeakPFE"], ds["PFE"].max("date"))
    first = ds["PFE"].argmax("date")
    np.testing.assert_array_equal(ds["PeakPFEDate"].values, ds["date"].values[first.values])
    assert validate_results(ds) is ds


def test_hdf5_round_trip_is_identical(dataset, tmp_path):
    path = tmp_path / "results.h5"
    write_results(dataset, str(path))
    back = read_results(str(path))
    xr.testing.assert_identical(back, dataset)
    assert back["cube_exposure"].dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["results.h5"]


def test_round_trip_without_optional_parts(tmp_path):
    m, nss = _measures(trades=False, cube=False)
    ds = build_results(m, [n.id for n in nss], [n.counterparty for n in nss], DATES, seed=None, config=None,
                       base_currency="EUR", asof=ASOF)
    assert "trade" not in ds.dims and "path" not in ds.dims
    write_results(ds, str(tmp_path / "r.h5"))
    xr.testing.assert_identical(read_results(str(tmp_path / "r.h5")), ds)


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_ore_csv_columns_and_values(dataset, tmp_path):
    files = write_ore_csv(dataset, str(tmp_path))
    names = sorted(os.path.basename(f) for f in files)
    from exposure.files import safe_file_stem

    # "NS/B" is not a safe file name: sanitised + a hash of the id, so that an "NS_B" could never share its file
    assert names == sorted(["exposure_nettingset_NS_A.csv", f"exposure_nettingset_{safe_file_stem('NS/B')}.csv",
                            "exposure_nettingset_T4.csv", "exposure_trade_T1.csv", "exposure_trade_T2.csv",
                            "exposure_trade_T3.csv", "exposure_trade_T4.csv"])
    header, rows = _read_csv(tmp_path / "exposure_nettingset_NS_A.csv")
    assert tuple(header[: len(ORE_NETTING_SET_COLUMNS)]) == (
        "NettingSet", "Date", "Time", "EPE", "ENE", "PFE", "ExpectedCollateral", "BaselEE", "BaselEEE",
        "TimeWeightedBaselEPE", "TimeWeightedBaselEEPE")
    assert header[len(ORE_NETTING_SET_COLUMNS):] == ["PFE_95", "PFE_97.5", "PFE_99", "EE_stderr"]
    assert len(rows) == len(DATES) and rows[0][1] == "2024-04-30"
    col = {h: i for i, h in enumerate(header)}
    ns = dataset.sel(netting_set="NS_A")
    for k, row in enumerate(rows):
        assert float(row[col["EPE"]]) == ns["EPE"].values[k]  # full precision
        assert float(row[col["PFE"]]) == ns["PFE"].values[k, 0]
        assert float(row[col["PFE_99"]]) == ns["PFE"].values[k, 2]
        assert float(row[col["BaselEEE"]]) == ns["BaselEEE"].values[k]
        assert float(row[col["Time"]]) == pytest.approx(ns["time"].values[k], abs=1e-6)
    header, rows = _read_csv(tmp_path / "exposure_trade_T2.csv")
    assert tuple(header[: len(ORE_TRADE_COLUMNS)]) == (
        "TradeId", "Date", "Time", "EPE", "ENE", "AllocatedEPE", "AllocatedENE", "PFE", "BaselEE", "BaselEEE",
        "TimeWeightedBaselEPE", "TimeWeightedBaselEEPE")
    assert rows[0][header.index("NettingSet")] == "NS_A"
    # the PFE column can be chosen among the computed quantiles
    write_ore_csv(dataset, str(tmp_path / "q99"), pfe_quantile=0.99)
    header, rows = _read_csv(tmp_path / "q99" / "exposure_nettingset_NS_A.csv")
    assert rows[-1][header.index("PFE")] == rows[-1][header.index("PFE_99")]
    with pytest.raises(ValueError, match="quantile 0.5"):
        write_ore_csv(dataset, str(tmp_path / "bad"), pfe_quantile=0.5)


def test_missing_trade_pfe_is_written_as_not_available(tmp_path):
    m, nss = _measures(cube=False, trade_pfe=False)
    ds = build_results(m, [n.id for n in nss], [n.counterparty for n in nss], DATES, trade_ids=["a", "b", "c", "d"])
    write_ore_csv(ds, str(tmp_path))
    header, rows = _read_csv(tmp_path / "exposure_trade_a.csv")
    assert all(r[header.index("PFE")] == "#N/A" for r in rows)


def test_no_half_written_file_on_exception(dataset, tmp_path, monkeypatch):
    target = tmp_path / "results.h5"
    write_results(dataset, str(target))
    good = target.read_bytes()

    def broken(ds, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    import exposure.results as results_mod
    import exposure.results_csv as results_csv_mod

    monkeypatch.setattr(results_mod, "write_netcdf", broken)  # the HDF5 writer write_results calls
    with pytest.raises(OSError, match="disk full"):
        write_results(dataset, str(target))
    with pytest.raises(OSError, match="disk full"):
        write_results(dataset, str(tmp_path / "new.h5"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.h5"]
    assert target.read_bytes() == good  # the previous complete file is untouched

    calls = {"n": 0}
    real = results_csv_mod._fmt

    def failing_fmt(x):
        calls["n"] += 1
        if calls["n"] > 70:  # one netting-set file takes 5 rows x 12 values; the second one fails half way
            raise RuntimeError("formatting failed")
        return real(x)

    monkeypatch.setattr(results_csv_mod, "_fmt", failing_fmt)
    out = tmp_path / "csv"
    with pytest.raises(RuntimeError, match="formatting failed"):
        write_ore_csv(dataset, str(out))
    assert sorted(p.name for p in out.iterdir()) == ["exposure_nettingset_NS_A.csv"]  # only complete files
    header, rows = _read_csv(out / "exposure_nettingset_NS_A.csv")
    assert len(rows) == len(DATES)


def test_validate_results_names_what_is_missing(dataset):
    with pytest.raises(ValueError, match="PFE"):
        validate_results(dataset.drop_vars("PFE"))
