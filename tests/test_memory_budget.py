"""simulation.memory_budget_gb (exposure.memory): the chunk size and the quantile spill are chosen from it, and a
run's peak resident memory, measured in a child process (getrusage RUSAGE_CHILDREN ru_maxrss of a fresh parent
whose only child is the run), stays below it; the same run without the budget goes above it (so the budget,
not the run's size, is what holds the peak down) and gives the same results bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exposure.errors import ConfigError
from exposure.memory import GB, PATH_LANES, RESERVE, memory_plan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = """
netting_sets:
  NS_A: {counterparty: CP_A}
  NS_C: {counterparty: CP_E}
trades:
  - {id: T1, type: FxForward, netting_set: NS_A, buy_currency: USD, buy_amount: 1.1e+7, sell_currency: EUR,
     sell_amount: 1.0e+7, maturity: 5Y}
  - {id: T3, type: FxForward, netting_set: NS_C, buy_currency: USD, buy_amount: 2.2e+7, sell_currency: EUR,
     sell_amount: 2.0e+7, maturity: 5Y}
"""
BUDGET_GB = 0.85
GRID = ",".join(f"{m}M" for m in range(1, 61))


def test_plan_spills_and_caps_the_chunk_from_the_budget():
    kw = dict(chunk_size=20000, n_paths=100_000, k_all=61, k=61, n_ns=2, n_trades=2, d=10, n_ccy=3)
    big = memory_plan(64, **kw)
    assert big.chunk_size == 20000 and not big.spilled
    small = memory_plan(BUDGET_GB, **kw)
    A = int(BUDGET_GB * GB) - RESERVE
    b = 8 * (61 * (10 + 3 + 2 + 4 * 2) + 24 * 61 * 2)  # bytes per path of a chunk in flight
    assert small.spilled and 8 * 2 * 61 * 100_000 > A // 2  # the store (97.6 MB) above half the room: spilled
    assert small.chunk_size % PATH_LANES == 0 and small.chunk_size * b <= A < (small.chunk_size + PATH_LANES) * b
    assert memory_plan(BUDGET_GB, **kw) == small  # a function of the inputs only: a resume gets the same layout
    with_cube = memory_plan(2, **kw, store_cube=True)  # the cube stays in memory: less room for chunks
    assert with_cube.held == 8 * (2 + 1 + 3 + 10) * 61 * 100_000 + 4 * 2 * 61 * 100_000 + 4 * 61 * 100_000
    assert with_cube.chunk_size < memory_plan(2, **kw).chunk_size
    with pytest.raises(ConfigError, match="GB for output.store_cube's cube"):
        memory_plan(4, **dict(kw, n_paths=10_000_000), store_cube=True)
    with pytest.raises(ConfigError, match="simulation.memory_budget_gb.*too small"):
        memory_plan(RESERVE / GB, **kw)
    with pytest.raises(ConfigError, match="simulation.memory_budget_gb"):
        memory_plan(-1, **kw)


def _peak_mb(book, out, *extra):
    """Peak RSS (MB) of `python -m exposure run` in a child of a fresh process (RUSAGE_CHILDREN then holds
    this one run only)."""
    args = [sys.executable, "-m", "exposure", "run", f"portfolio.trades={book}", f"output.dir={out}",
            "portfolio.fixings=null", "simulation.paths=60000", "simulation.chunk_size=30000",
            f"simulation.grid='{GRID}'", "report.plots=false", "report.html=false", "report.limits_file=null", *extra]
    return peak_rss_mb(args, timeout=600)


def peak_rss_mb(args, timeout: float) -> float:
    """Peak RSS (MB) of the command ``args``, run as the only child of a fresh process (RUSAGE_CHILDREN then holds
    this one command only); asserts it exits 0."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.stderr.write(r.stderr[-3000:])")
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    rc, kb = r.stdout.split()
    assert rc == "0", r.stderr
    return int(kb) / 1024  # Linux: kilobytes


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    p = tmp_path_factory.mktemp("mem") / "book.yaml"
    p.write_text(BOOK)
    return p


def test_peak_memory_stays_within_the_budget(book, tmp_path):
    out = tmp_path / "budget"
    peak = _peak_mb(book, out, f"simulation.memory_budget_gb={BUDGET_GB}")
    assert peak <= BUDGET_GB * 1024, f"peak RSS {peak:.0f} MB above the {BUDGET_GB} GB budget"
    log = (out / "run.log").read_text()
    chunk = int(log.split("memory plan: chunks of ")[1].split(" paths")[0])
    assert chunk < 30000  # capped by the budget (simulation.chunk_size=30000)
    assert "quantile store spilled to disk" in log  # 8 x 2 x 61 x 60000 = 58.6 MB > half the room (51 MB)


@pytest.mark.slow
def test_without_the_budget_the_same_run_goes_above_it_with_the_same_results(book, tmp_path):
    import numpy as np
    import xarray as xr

    a, b = tmp_path / "budget", tmp_path / "free"
    peak_a = _peak_mb(book, a, f"simulation.memory_budget_gb={BUDGET_GB}", f"output.dir={tmp_path / 'run'}")
    os.rename(tmp_path / "run", a)
    peak_b = _peak_mb(book, b, f"output.dir={tmp_path / 'run'}")
    os.rename(tmp_path / "run", b)
    assert peak_a <= BUDGET_GB * 1024 < peak_b, (peak_a, peak_b)
    assert "chunks of 30000 paths, quantile store in memory" in (b / "run.log").read_text()
    for f in sorted(os.listdir(a)):
        if f.endswith(".csv"):
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    with xr.open_dataset(a / "results.h5", engine="h5netcdf") as x, \
            xr.open_dataset(b / "results.h5", engine="h5netcdf") as y:
        for v in x.data_vars:
            assert np.array_equal(x[v].values, y[v].values), v
