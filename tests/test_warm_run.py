"""A warm in-process run (a notebook, a service): exposure.run(cfg, write=False) returns the Dataset that a written
run's results.h5 holds, without touching the output folder."""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

import exposure
from exposure.results import read_results

# a CSA netting set, two counterparties sharing a name, trade level: exposure, capital, XVA and limits all run
BOOK = """
netting_sets:
  NS_A: {counterparty: CP_A, csa: {margining: two_way, threshold_cpty: 1.0e+5, threshold_bank: 1.0e+5, mta_cpty: 1.0e+4}}
  NS_B: {counterparty: CP_A}
  NS_C: {counterparty: CP_E}
trades:
  - {id: T1, type: FxForward, netting_set: NS_A, buy_currency: USD, buy_amount: 1.1e+7, sell_currency: EUR,
     sell_amount: 1.0e+7, maturity: 1Y}
  - {id: T2, type: FxForward, netting_set: NS_B, buy_currency: EUR, buy_amount: 1.0e+7, sell_currency: USD,
     sell_amount: 1.1e+7, maturity: 2Y}
  - {id: T3, type: FxForward, netting_set: NS_C, buy_currency: USD, buy_amount: 2.2e+7, sell_currency: EUR,
     sell_amount: 2.0e+7, maturity: 18M}
"""
SMALL = ["portfolio.fixings=null", "simulation.paths=64", "simulation.chunk_size=32", "simulation.grid='3M,6M,1Y,2Y'",
         "output.trade_level=true", "report.plots=false", "report.html=false"]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> list:
    """SMALL's overrides on BOOK (a module-level list left as it is: every test reads the same inputs)."""
    book = tmp_path_factory.mktemp("book") / "book.yaml"
    book.write_text(BOOK)
    return SMALL + [f"portfolio.trades={book}"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small):
    tmp = tmp_path_factory.mktemp("warm")
    written = exposure.run(exposure.compose(small + [f"output.dir={tmp / 'written'}"]))
    mem_dir = tmp / "memory"
    in_memory = exposure.run(exposure.compose(small + [f"output.dir={mem_dir}", "output.write=false"]))
    return written, in_memory, mem_dir


def test_in_memory_run_writes_nothing(runs):
    _, mem, mem_dir = runs
    assert mem.out_dir is None and mem.files == ()
    parent = os.path.dirname(mem_dir)
    assert not os.path.exists(mem_dir)
    assert not [f for f in os.listdir(parent) if f.startswith(".memory")], "no staging folder or lock left"
    assert "in memory" in mem.summary()


def test_in_memory_dataset_is_the_written_one(runs):
    written, mem, _ = runs
    stored = read_results(os.path.join(written.out_dir, "results.h5"))
    ds = mem.dataset
    assert set(ds.variables) == set(stored.variables)
    for name in stored.variables:
        a, b = ds[name], stored[name]
        assert a.dims == b.dims, name
        assert a.attrs == b.attrs, name
        if name in ("netting_set", "counterparty", "trade", "cpty", "credit_name") or a.dtype.kind in "OUS":
            assert [str(x) for x in a.values.ravel()] == [str(x) for x in b.values.ravel()], name
        else:
            np.testing.assert_array_equal(a.values, b.values, err_msg=name)
    skip = {"config"}  # the output.dir/output.write lines differ
    assert {k: v for k, v in ds.attrs.items() if k not in skip} == \
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in stored.attrs.items() if k not in skip}
    assert mem.npv == written.npv
    assert "CVA" in ds and "EAD" in ds and "trade_EPE" in ds


def test_write_argument_overrides_the_config(tmp_path, small):
    cfg = exposure.compose(small + [f"output.dir={tmp_path / 'x'}"])
    res = exposure.run(cfg, write=False)
    assert res.out_dir is None and not os.path.exists(tmp_path / "x")
    assert isinstance(res.dataset, xr.Dataset) and float(res.dataset["EPE"].sum()) > 0


def test_cli_run_without_writing_says_so(tmp_path, capsys):
    from exposure.cli import main

    out = tmp_path / "cli"
    # the bundled example (its seasoned swaps need the fixings file SMALL drops)
    assert main(["run", f"output.dir={out}", "output.write=false", *SMALL[1:6]]) == 0
    printed = capsys.readouterr().out
    assert "results: not written (output.write=false)" in printed and "results: None" not in printed
    assert not os.path.exists(out)
