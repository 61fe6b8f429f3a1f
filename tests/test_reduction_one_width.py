"""One compiled reduction per run: with the jax reduction the chunk is a whole number of 256-path blocks.

A chunk edge inside a block sends that block's paths back to the host, which runs the reduction a second
time at width 256 (a second compiled program: 5.1 s of bench-1k's 9.7 s of compilation with chunks of 5,000).
``memory.block_chunk`` rounds simulation.chunk_size to the nearest whole number of blocks instead; the
results stay bit for bit those of any other chunking (tests/test_chunk_invariance.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import exposure
from exposure.memory import REDUCTION_BLOCK, block_chunk, memory_plan

KW = dict(n_paths=10_000, k_all=101, k=101, n_ns=50, n_trades=1000, d=8, n_ccy=3)


def test_the_chunk_is_rounded_to_whole_blocks_with_the_compiled_reduction_only():
    assert memory_plan(None, 5000, reduction="jax", **KW).chunk_size == 5120  # bench-1k: 2 chunks, no edge block
    assert memory_plan(None, 5000, reduction="numpy", **KW).chunk_size == 5000  # NumPy has no blocks to keep
    assert block_chunk(4900, 10_000, "jax") == 4864  # the nearest multiple, not always up
    assert block_chunk(97, 10_000, "jax") == 97  # below one block: as asked (edge blocks on the host)
    assert block_chunk(5000, 5000, "jax") == 5000  # one chunk holds every path: no edge
    assert block_chunk(5000, 4000, "jax") == 5000
    small = memory_plan(8.0, 20_000, reduction="jax", **KW)  # the budget's cap stays a multiple of the block
    assert small.chunk_size < 20_000 and small.chunk_size % REDUCTION_BLOCK == 0


@pytest.fixture(scope="module")
def one_width_runs(tmp_path_factory):
    from exposure.aggregation import reduction

    out = {}
    for chunk in (600, 300):
        reduction._PROGRAMS.clear()
        d = tmp_path_factory.mktemp(f"w{chunk}")
        cfg = exposure.compose([f"simulation.chunk_size={chunk}", "simulation.paths=600", f"output.dir={d}",
                                "output.csv=false", "simulation.reduction=jax", "report.plots=false",
                                "report.html=false"])
        ds = exposure.run(cfg).dataset
        out[chunk] = ds, sorted(k[-1] for k in reduction._PROGRAMS)
    return out


def test_a_run_compiles_the_reduction_at_one_width_and_keeps_its_bits(one_width_runs):
    ref, _ = one_width_runs[600]
    ds, widths = one_width_runs[300]  # asked 300: chunks of 256 (256, 256, 88), all at width 256
    assert widths == [REDUCTION_BLOCK], widths
    names = [v for v in ref.data_vars if np.issubdtype(ref[v].dtype, np.floating)]
    assert {"EPE", "ENE", "PFE", "EE_stderr"} <= set(names)
    for v in names:
        assert np.array_equal(ref[v].values, ds[v].values, equal_nan=True), v
