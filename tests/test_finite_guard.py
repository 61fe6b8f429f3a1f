"""No NaN or infinity reaches a run folder (exposure.finite), and inputs outside a sane range warn or fail
(exposure.market.sanity)."""

from __future__ import annotations

import contextlib
import glob
import io
import logging
import os

import numpy as np
import pytest
import xarray as xr

from exposure.cli import main
from exposure.errors import ConfigError, NonFiniteError
from exposure.finite import finite_results
from exposure.results import read_results
from test_run_folder import BOOK3, TINY


def _ds(n_paths=100):
    z = np.ones((2, 3))
    return xr.Dataset({"EPE": (("netting_set", "date"), z.copy()), "EE_stderr": (("netting_set", "date"), z.copy())},
                      coords={"netting_set": ["NS_A", "NS_B"],
                              "date": np.array(["2026-01-01", "2026-07-01", "2027-01-01"], dtype="datetime64[ns]")},
                      attrs={"n_paths": n_paths})


def test_guard_names_variable_netting_set_and_date():
    ds = _ds()
    ds["EPE"].values[1, 2] = np.inf
    with pytest.raises(NonFiniteError, match=r"EPE is inf at netting_set 'NS_B', date '2027-01-01'"):
        finite_results(ds)


def test_stderr_with_one_path_is_omitted_with_a_note_but_not_with_many():
    ds = _ds(n_paths=1)
    ds["EE_stderr"].values[:] = np.nan
    out = finite_results(ds)
    assert "EE_stderr" not in out and "EE_stderr: undefined with n_paths = 1" in out.attrs["omitted"]
    ds = _ds(n_paths=50)
    ds["EE_stderr"].values[0, 0] = np.nan  # with many paths a NaN standard error is a defect, not undefined
    with pytest.raises(NonFiniteError, match="EE_stderr"):
        finite_results(ds)


def _run(tmp_path, book_text, *extra, cmd="run"):
    book = tmp_path / "book.yaml"
    book.write_text(book_text)
    err, so = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(so):
        rc = main([cmd, f"portfolio.trades={book}", f"output.dir={tmp_path / 'run'}", *TINY, *extra])
    return rc, err.getvalue()


def test_one_path_run_writes_no_nan(tmp_path):
    rc, err = _run(tmp_path, BOOK3, "simulation.paths=1", "output.trade_level=true")
    assert rc == 0, err
    ds = read_results(str(tmp_path / "run" / "results.h5"))
    for v in ds.data_vars:
        if ds[v].dtype.kind == "f":
            assert np.all(np.isfinite(ds[v].values)), v
    assert "EE_stderr" in ds.attrs["omitted"] and "EE_stderr" not in ds
    for f in glob.glob(str(tmp_path / "run" / "*.csv")):
        text = open(f).read().lower()
        assert "nan" not in text.replace("n/a", "") and "inf" not in text, f


def test_absurd_notional_is_refused_without_writing(tmp_path):
    rc, err = _run(tmp_path, BOOK3.replace("buy_amount: 2.2e+7", "buy_amount: 1.0e+300"))
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    assert "NS_C" in err or "T3" in err
    assert not os.path.exists(tmp_path / "run")


def test_sanity_warns_by_default_and_fails_when_asked(tmp_path, caplog):
    vol = ["market.fx_vols.EUR.vols=[5.0]", "market.fx_vols.EUR.tenors=[]"]
    with caplog.at_level(logging.WARNING, logger="exposure"):
        rc, err = _run(tmp_path, BOOK3, *vol, cmd="validate")
    assert rc == 0 and "market.fx_vols.EUR" in caplog.text and "500%" in caplog.text
    rc, err = _run(tmp_path, BOOK3, *vol, "market.sanity=fail", cmd="validate")
    assert rc == 2 and "market.fx_vols.EUR" in err and "500%" in err
    rc, err = _run(tmp_path, BOOK3, "market.credit.CP_A.flat_hazard=2.0", "market.sanity=fail", cmd="validate")
    assert rc == 2 and "market.credit.CP_A" in err


def test_sane_example_market_has_no_findings():
    from exposure import api
    from exposure.market.sanity import findings
    from exposure.market.snapshot import build_market

    for m in ("example", "flat"):
        assert findings(build_market(api.compose([f"market={m}"]).market)) == []
