"""bench-1k (600 swaps, 200 FX forwards, 100 FX options, 100 swaptions in 50 netting sets) runs through the
whole chain on the CI machine with bounded memory: paths are processed in chunks."""

from __future__ import annotations

import resource

import numpy as np
import pytest

import exposure


@pytest.mark.slow
def test_thousand_mixed_trades_run_in_bounded_memory(tmp_path):
    cfg = exposure.compose([
        "portfolio.trades=examples/portfolio/bench_1k.yaml", "portfolio.fixings=null",
        "simulation.paths=600", "simulation.chunk_size=200", "simulation.grid='40x3M'",
        f"output.dir={tmp_path}", "output.trade_level=true",
    ])
    res = exposure.run(cfg)
    ds = res.dataset
    assert ds.sizes["netting_set"] == 50 and ds.attrs["n_trades"] == 1000
    assert ds.attrs["skipped_trades"] == "none"
    for name in ("EPE", "ENE", "PFE", "BaselEEE"):
        assert np.all(np.isfinite(ds[name].values)), name
    # Euler allocation: trade allocations add up to their netting set's EPE.
    alloc = ds["AllocatedEPE"].groupby(ds["trade_netting_set"]).sum()
    np.testing.assert_allclose(alloc.values, ds["EPE"].values, rtol=1e-9, atol=1e-6)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    assert peak_gib < 8.0, f"peak resident memory {peak_gib:.1f} GiB"
    assert (tmp_path / "results.h5").exists()
