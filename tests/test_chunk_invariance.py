"""Same seed, same numbers: the whole chain gives bit-identical results whatever the chunk size.

Every path is simulated from its own key, every pricer works elementwise over paths in a fixed order (no
BLAS products or XLA reductions across a path-sized axis, a series order fixed per date before any path is
drawn), and the streaming sums add fixed blocks of paths in path order. A chunk-dependent step anywhere
(e.g. a series order chosen from a chunk's largest state, or a matrix product whose blocking follows the
number of paths) shows up here as a difference in the last bits.
"""

from __future__ import annotations

import numpy as np
import pytest

import exposure


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for chunk in (600, 250, 97):
        d = tmp_path_factory.mktemp(f"chunk{chunk}")
        cfg = exposure.compose([f"simulation.chunk_size={chunk}", "simulation.paths=600", f"output.dir={d}",
                                "output.csv=false", "output.trade_level=true"])
        out[chunk] = exposure.run(cfg).dataset
    return out


@pytest.mark.parametrize("chunk", [250, 97])
def test_results_are_bitwise_independent_of_chunk_size(runs, chunk):
    ref, ds = runs[600], runs[chunk]
    names = [v for v in ref.data_vars if np.issubdtype(ref[v].dtype, np.floating)]
    assert {"EPE", "ENE", "PFE", "EE_stderr", "BaselEEPE"} <= set(names)
    assert any(v.startswith("trade_") or "trade" in ref[v].dims for v in names)  # trade level is compared too
    for v in names:
        a, b = ref[v].values, ds[v].values
        assert np.array_equal(a, b, equal_nan=True), f"{v}: max diff {np.nanmax(np.abs(a - b))}"


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory):
    """The same run with the compiled per-chunk reduction (simulation.reduction=jax; on a CPU, auto picks numpy
    for a run this small)."""
    out = {}
    for chunk in (600, 97):
        d = tmp_path_factory.mktemp(f"jax{chunk}")
        cfg = exposure.compose([f"simulation.chunk_size={chunk}", "simulation.paths=600", f"output.dir={d}",
                                "output.csv=false", "output.trade_level=true", "simulation.reduction=jax"])
        out[chunk] = exposure.run(cfg).dataset
    return out


def test_compiled_reduction_is_chunk_invariant_and_equals_numpy(runs, jax_runs):
    import jax

    from exposure.post_simulation import reduction_backend

    assert reduction_backend(exposure.compose([])) == ("numpy" if jax.default_backend() == "cpu" else "jax")
    ref, ds, np_ds = jax_runs[600], jax_runs[97], runs[600]
    assert ref.attrs["reduction"] == "jax" and np_ds.attrs["reduction"] == reduction_backend(exposure.compose([]))
    names = [v for v in ref.data_vars if np.issubdtype(ref[v].dtype, np.floating)]
    for v in names:
        a, b, c = ref[v].values, ds[v].values, np_ds[v].values
        assert np.array_equal(a, b, equal_nan=True), f"{v}: chunking changed the compiled reduction's bits"
        scale = max(np.nanmax(np.abs(c)), 1.0) if c.size else 1.0
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-12 * scale, err_msg=v)
