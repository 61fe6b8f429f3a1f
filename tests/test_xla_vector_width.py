"""512-bit vectors for XLA's CPU code (exposure._prefer_wide_vectors) change speed only, never a bit.

Two `exposure run`s of the bundled example (every product type of the example book, a CSA, quantiles) in fresh
processes, one with XLA's default vector width (XPOSURE_XLA_VECTOR_WIDTH=0) and one with the package default
(512 bits where the CPU has them): every float variable of results.h5 must be identical. The preference is set
before JAX starts its CPU client, is not forced over an explicit XLA_FLAGS, and can be switched off.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

RUN = ["-m", "exposure", "run", "simulation.paths=512", "simulation.chunk_size=256", "output.csv=false",
       "report.enabled=false"]


def _flags(env: dict) -> str:
    code = "import os, exposure; print(os.environ.get('XLA_FLAGS', ''))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_preference_is_set_before_jax_and_yields_to_the_user():
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "XPOSURE_XLA_VECTOR_WIDTH")}
    assert _flags(base) == "--xla_cpu_prefer_vector_width=512"
    assert _flags(dict(base, XPOSURE_XLA_VECTOR_WIDTH="0")) == ""
    mine = "--xla_cpu_prefer_vector_width=256 --xla_cpu_enable_fast_min_max=false"
    assert _flags(dict(base, XLA_FLAGS=mine)) == mine


@pytest.mark.slow
def test_wide_vectors_give_the_same_bits(tmp_path):
    out = {}
    for w in ("0", "512"):
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        env.update(XPOSURE_XLA_VECTOR_WIDTH=w, XPOSURE_JAX_CACHE="0")
        d = tmp_path / f"w{w}"
        subprocess.run([sys.executable, *RUN, f"output.dir={d}"], env=env, check=True, capture_output=True)
        out[w] = xr.load_dataset(d / "results.h5")
    ref, ds = out["0"], out["512"]
    names = [v for v in ref.data_vars if np.issubdtype(ref[v].dtype, np.floating)]
    assert {"EPE", "ENE", "PFE", "CVA"} <= set(names)
    for v in names:
        assert np.array_equal(ref[v].values, ds[v].values, equal_nan=True), v
