"""The benchmark suite's workloads (``benchmarks.run``): each a benchmark module with its full-size and smoke
arguments, the common keys of their records and the issue's targets assessed on the full-size records."""

from __future__ import annotations


# name: (module, description, full-size arguments, smoke arguments)
WORKLOADS = {
    "simulation": (
        "benchmarks.bench_simulation",
        "simulation only: 3 Hull-White currencies + 2 FX (5 factors) on market/model=flat, 120 monthly dates",
        ["--paths", "100000", "--dates", "120", "--chunk", "25000", "--repeats", "3"],
        ["--paths", "2000", "--dates", "12", "--chunk", "1000", "--repeats", "3"],
    ),
    "bench1k_e2e": (
        "benchmarks.bench_e2e",
        "bench-1k end to end (setup with calibration + run_pipeline + files), 100 monthly dates",
        ["--paths", "10000", "--dates", "100", "--chunk", "5000", "--repeats", "3"],
        ["--portfolio", "mini", "--paths", "500", "--dates", "12", "--chunk", "500", "--repeats", "3"],
    ),
    "bench1k_memory_1m": (
        "benchmarks.bench_e2e",
        "bench-1k at 1,000,000 paths: time and peak memory (measured at 100k, extrapolated if too long)",
        ["--memory", "--paths", "1000000", "--dates", "100", "--chunk", "5000", "--max-minutes", "10",
         "--measure-paths", "100000", "--probe-paths", "5000"],
        ["--memory", "--portfolio", "swaps:10", "--paths", "20000", "--dates", "12", "--chunk", "500",
         "--max-minutes", "0", "--measure-paths", "1000", "--probe-paths", "500"],
    ),
    "bench1k_e2e_gpu_100k": (
        "benchmarks.bench_e2e",
        "bench-1k end to end at 100,000 paths on a GPU (skipped where JAX sees no GPU)",
        ["--require-gpu", "--paths", "100000", "--dates", "100", "--chunk", "100000", "--repeats", "3"],
        ["--require-gpu", "--portfolio", "mini", "--paths", "1000", "--dates", "12", "--chunk", "1000",
         "--repeats", "1"],
    ),
    "scaling_paths": (
        "benchmarks.bench_scaling",
        "warm time against paths (bench-1k, 48 dates; log-log slope)",
        ["--series", "paths"],
        ["--series", "paths", "--portfolio", "swaps:10", "--sizes", "250", "500", "--dates", "6", "--chunk", "250"],
    ),
    "scaling_dates": (
        "benchmarks.bench_scaling",
        "warm time against dates (bench-1k, 2,000 paths; log-log slope)",
        ["--series", "dates"],
        ["--series", "dates", "--portfolio", "swaps:10", "--sizes", "3", "6", "--paths", "250"],
    ),
    "scaling_trades": (
        "benchmarks.bench_scaling",
        "warm time against the number of linear trades (swaps only, 2,000 paths, 48 dates; log-log slope)",
        ["--series", "trades"],
        ["--series", "trades", "--sizes", "4", "8", "--paths", "250", "--dates", "6", "--netting-sets", "3"],
    ),
    "ore_side_by_side": (
        "benchmarks.ore.compare",
        "ORE (Python bindings, offline) and this engine on the same 50 swaps + 10 FX forwards, flat market, fixed "
        "HW/FX model, 20 x 6M grid: wall times at equal paths, EPE/PFE agreement (z) at 10,000 paths",
        ["--rho", "--grid-step", "6", "--dates", "20", "--timing-paths", "1000", "--accuracy-paths", "10000",
         "--workdir", "benchmarks/out/ore_side_by_side"],
        ["--swaps", "4", "--fx", "1", "--grid-step", "6", "--dates", "4", "--timing-paths", "200",
         "--accuracy-paths", "0", "--workdir", "benchmarks/out/ore_side_by_side_smoke"],
    ),
    "floor": (
        "benchmarks.floor",
        "physical floor of bench1k_e2e: counted flops and bytes against measured GEMM rate and bandwidth",
        ["--paths", "10000", "--dates", "100", "--gemm-n", "2048", "--bw-mib", "512", "--trials", "5"],
        ["--portfolio", "mini", "--paths", "500", "--dates", "12", "--gemm-n", "512", "--bw-mib", "64",
         "--trials", "2"],
    ),
}

# Targets of the issue; evaluated on full-size records only.
SLOPE_LINEAR_MAX = 1.05  # "at most linear" (5% allowance for timing noise)
SLOPE_SUBLINEAR_MAX = 0.8  # "clearly sub-linear"


def normalise(name: str, rec: dict) -> dict:
    """Every record gets the common keys (None where a workload has no such figure)."""
    rec = dict(rec)
    if "path_dates_per_s_warm" in rec:  # benchmarks.bench_simulation's keys
        rec.setdefault("path_dates_per_s", rec["path_dates_per_s_warm"])
        rec.setdefault("trade_path_date_valuations_per_s", None)
        rec.setdefault("warm_repeats", len(rec.get("warm_all_s", [])) or None)
    hw = rec.get("hardware") or {}
    rec.setdefault("device", hw.get("device"))
    if rec.get("peak_rss_gib") is None:
        rec["peak_rss_gib"] = rec.get("child_peak_rss_gib")
    for key in ("tuple", "precision", "cold_s", "warm_s", "warm_repeats", "warm_note", "path_dates_per_s",
                "trade_path_date_valuations_per_s", "peak_rss_gib", "device_peak_gib"):
        rec.setdefault(key, None)
    return rec


def targets(records: dict, smoke: bool) -> list:
    """The issue's targets against the records (None = not assessed)."""
    out = []

    def add(target, value, limit, ok, note=""):
        out.append({"target": target, "value": value, "limit": limit, "met": ok, "note": note})

    if smoke:
        return [{"target": "all", "value": None, "limit": None, "met": None, "note": "smoke sizes: not assessed"}]
    e2e = records.get("bench1k_e2e")
    if e2e and e2e["status"] == "ok":
        cpu = str(e2e.get("device", "")).startswith("cpu")
        sz = e2e.get("sizes") or {}
        std = sz.get("trades") == 1000 and sz.get("dates") == 100
        note = f"{sz.get('paths')} paths, {e2e.get('device')}, {e2e['hardware'].get('cores')} cores"
        add("bench-1k end to end warm <= 20 s (2-core CPU)", e2e["warm_s"], 20.0,
            (e2e["warm_s"] <= 20.0) if cpu and std else None, note)
        add("bench-1k end to end cold <= 60 s (2-core CPU)", e2e["cold_s"], 60.0,
            (e2e["cold_s"] <= 60.0) if cpu and std else None, note)
    mem = records.get("bench1k_memory_1m")
    if mem and mem["status"] == "ok":
        add("bench-1k at 1,000,000 paths within 16 GiB peak memory", mem["peak_rss_gib"], 16.0,
            mem["peak_rss_gib"] <= 16.0 if mem["sizes"]["paths"] >= 1_000_000 else None,
            mem.get("peak_rss_note", "")
            + ("" if not mem.get("extrapolated") else "; time " + mem.get("warm_note", "")))
    gpu = records.get("bench1k_e2e_gpu_100k")
    if gpu is not None:
        dev = str(gpu.get("device") or "")
        h100 = "H100" in str((gpu.get("hardware") or {}).get("gpu") or "")
        add("H100: bench-1k at 100,000 paths warm < 2 s", gpu.get("warm_s"), 2.0,
            (gpu["warm_s"] < 2.0) if gpu["status"] == "ok" and h100 else None,
            gpu.get("skipped") or ("" if h100 else f"device {dev} is not an H100"))
    for series, limit, text in (("paths", SLOPE_LINEAR_MAX, "at most linear in paths"),
                                ("dates", SLOPE_LINEAR_MAX, "at most linear in dates"),
                                ("trades", SLOPE_SUBLINEAR_MAX, "clearly sub-linear in linear trades")):
        r = records.get(f"scaling_{series}")
        if r and r["status"] == "ok" and r.get("slope") is not None:
            add(f"time {text} (log-log slope <= {limit})", r["slope"], limit, r["slope"] <= limit,
                f"last segment {r.get('slope_last_segment'):.3f}" if r.get("slope_last_segment") is not None else "")
    return out
