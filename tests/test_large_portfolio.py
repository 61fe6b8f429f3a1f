"""bench-1k (600 swaps, 200 FX forwards, 100 FX options, 100 swaptions in 50 netting sets) runs through the
whole chain with memory bounded by the netting-set cube, not the trade cube: paths are processed in chunks.

The peak resident set (ru_maxrss) is measured in a child process, so that nothing else the test session
loaded counts. JAX/XLA compilation dominates the absolute peak, so the bound is on the growth of the peak
between two runs of the same workload in the same child (compiled code reused): a warm-up with P_A paths,
then P_B paths. With chunking the growth is O(P_B x dates x netting sets x 8 bytes); a defect that keeps the
(paths, dates, trades) value cube grows the peak by about (P_B - P_A) x dates x trades x 8 bytes, over twice
the allowance below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exposure.results import read_results

ROOT = Path(__file__).resolve().parent.parent
P_A, P_B, CHUNK, N_DATES, N_SETS, N_TRADES = 400, 2400, 200, 41, 50, 1000  # grid '40x3M' plus today
# Allocator and XLA noise between two runs: total growth measured 28 to 85 MiB for 600 to 1200 more paths on an
# EPYC, 130 to 190 MiB for 1,000 and 2,000 more paths on an Intel Xeon (the eleventh session's code too: 139 MiB).
# P_B = 2400 keeps a kept trade cube (625 MiB) over twice the allowance with this slack.
SLACK_MIB = 128.0

CHILD = """
import json, resource, sys
import exposure
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB -> MiB
out = {"import": rss()}
for label, paths in (("A", int(sys.argv[1])), ("B", int(sys.argv[2]))):
    cfg = exposure.compose([
        "portfolio.trades=examples/portfolio/bench_1k.yaml", "portfolio.fixings=null",
        f"simulation.paths={paths}", f"simulation.chunk_size={sys.argv[3]}", "simulation.grid='40x3M'",
        f"output.dir={sys.argv[4]}/{label}", "output.trade_level=true",
        # The desk report reads only the results Dataset (no path data): its plotting allocations are noise here.
        "report.enabled=false",
    ])
    exposure.run(cfg)
    out[label] = rss()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_thousand_mixed_trades_run_in_bounded_memory(tmp_path):
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD, str(P_A), str(P_B), str(CHUNK), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rss = json.loads(proc.stdout.strip().splitlines()[-1])

    ds = read_results(str(tmp_path / "B" / "results.h5"))
    assert ds.sizes["netting_set"] == N_SETS and ds.sizes["date"] == N_DATES and ds.attrs["n_trades"] == N_TRADES
    assert ds.attrs["skipped_trades"] == "none"
    for name in ("EPE", "ENE", "PFE", "BaselEEE"):
        assert np.all(np.isfinite(ds[name].values)), name
    # Euler allocation: trade allocations add up to their netting set's EPE.
    alloc = ds["AllocatedEPE"].groupby(ds["trade_netting_set"]).sum()
    np.testing.assert_allclose(alloc.values, ds["EPE"].values, rtol=1e-9, atol=1e-6)

    mib = 2.0**20
    allowance = 3 * P_B * N_DATES * N_SETS * 8 / mib + SLACK_MIB  # a few netting-set cubes (EE, PFE sort)
    trade_cube_growth = (P_B - P_A) * N_DATES * N_TRADES * 8 / mib
    assert allowance < 0.5 * trade_cube_growth  # the bound can tell the two apart
    growth = rss["B"] - rss["A"]
    assert growth < allowance, (
        f"peak RSS grew {growth:.0f} MiB from {P_A} to {P_B} paths (allowance {allowance:.0f} MiB; a kept trade "
        f"cube would add {trade_cube_growth:.0f} MiB); peaks {rss}")
