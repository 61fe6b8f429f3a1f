"""The benchmark suite runs (at smoke sizes) and writes a complete JSON: it must never rot."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

COMMON_KEYS = ("name", "description", "status", "tuple", "precision", "device", "cold_s", "warm_s", "warm_repeats",
               "path_dates_per_s", "trade_path_date_valuations_per_s", "peak_rss_gib", "hardware", "command")


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.mark.slow
def test_benchmark_suite_smoke(tmp_path):
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.run import SCHEMA
        from benchmarks.workloads import WORKLOADS
    finally:
        sys.path.remove(str(REPO))
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke", "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "wrote" in proc.stdout
    res = json.loads(out.read_text())
    assert res["schema"] == SCHEMA and res["smoke"] is True
    assert res["hardware"]["cores"] and res["date"] and res["command"].startswith("python -m benchmarks.run")
    assert res["gpu_run"]
    recs = {r["name"]: r for r in res["workloads"]}
    assert set(recs) == set(WORKLOADS)
    for name, r in recs.items():
        for key in COMMON_KEYS:
            assert key in r, (name, key)
        if r["status"] == "skipped":  # the GPU-only workload on a machine without a GPU
            assert name == "bench1k_e2e_gpu_100k" and "GPU" in r["skipped"]
            continue
        assert r["status"] == "ok", (name, r.get("error"))
        if name == "floor":
            assert _positive(r["floor_s"]) and _positive(r["measured_s"]) and _positive(r["measured_over_floor"])
            assert _positive(r["machine"]["gemm_gflops"]) and _positive(r["machine"]["bandwidth_gbs"])
            assert _positive(r["flop_equivalents"]) and _positive(r["bytes"])
            continue
        assert _positive(r["cold_s"]) and _positive(r["warm_s"]), name
        assert _positive(r["path_dates_per_s"]) and _positive(r["peak_rss_gib"]), name
        assert r["warm_repeats"] >= 1, name
        if name != "simulation":
            assert _positive(r["trade_path_date_valuations_per_s"]), name
        if name.startswith("scaling_"):
            assert len(r["points"]) >= 2 and math.isfinite(r["slope"]), name
    assert recs["bench1k_e2e"]["warm_compiles"] == 0  # warm really is warm: nothing recompiles
    assert recs["bench1k_memory_1m"]["extrapolated"] is True  # the smoke forces the extrapolation branch


def test_bench_fresh_program_seconds():
    """bench_fresh's per-program listing from JAX's compile log: phases matched to their program, a program
    compiled again (another shape) listed again."""
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.bench_fresh import program_seconds
    finally:
        sys.path.pop(0)
    log = "\n".join([
        "Finished tracing price for jit in 1.5 sec",
        "Compiling jit(price) with global shapes and types (ShapedArray(float64[2])). Argument mapping: (x).",
        "Finished jaxpr to MLIR module conversion jit(price) in 0.25 sec",
        "Finished XLA compilation of jit(price) in 4.0 sec",
        "Finished tracing _vm_scan for jit in 0.1 sec",
        "Finished jaxpr to MLIR module conversion jit(_vm_scan) in 2e-2 sec",
        "Finished XLA compilation of jit(_vm_scan) in 0.5 sec",
        "Finished tracing price for jit in 0.75 sec",
        "Finished jaxpr to MLIR module conversion jit(price) in 0.125 sec",
        "Finished XLA compilation of jit(price) in 3.0 sec",
    ])
    assert program_seconds(log) == [["price", 1.5, 0.25, 4.0], ["_vm_scan", 0.1, 0.02, 0.5],
                                    ["price", 0.75, 0.125, 3.0]]


def test_bench_reduction_compile_loads_each_tree(tmp_path, monkeypatch):
    """bench_reduction_compile compares source trees side by side: a tree's build_program and program_params
    are that tree's (program_params reading its own reduction_program), not the imported package's."""
    monkeypatch.setenv("XPOSURE_JAX_CACHE", os.environ.get("XPOSURE_JAX_CACHE", "0"))  # the module sets a default
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.bench_reduction_compile import load_variant
    finally:
        sys.path.pop(0)
    agg = tmp_path / "exposure" / "aggregation"
    agg.mkdir(parents=True)
    src = REPO / "exposure" / "aggregation"
    (agg / "reduction_program.py").write_text((src / "reduction_program.py").read_text() + "\n_VARIANT = 7\n")
    (agg / "reduction.py").write_text((src / "reduction.py").read_text())
    build, params = load_variant(str(tmp_path), 7)
    assert sys.modules[build.__module__]._VARIANT == 7
    assert params.__module__ == "_rc_reduction_7" and sys.modules["_rc_reduction_7"].build_program is build
    from exposure.aggregation import reduction_program
    assert not hasattr(reduction_program, "_VARIANT")  # the package's own module untouched
