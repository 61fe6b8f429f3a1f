"""bench-1k end to end: the whole `exposure run` chain on 1,000 trades, cold and warm, and the 1M-path memory mode.

Workload (defaults): ``examples/portfolio/bench_1k.yaml`` (600 swaps, 200 FX forwards, 100 FX options, 100
European swaptions; 50 netting sets, 40% with CSAs) on ``market=example``, ``model=example`` (3 Hull-White
currencies, 2 FX, 2 equities: 7 factors, 8 states), grid ``100x1M`` (100 monthly dates; t0 is valued too),
10,000 paths in chunks of 5,000, float64, results written (results.h5 and the ORE-style CSVs) to a temporary
directory. One run = ``exposure.api.setup`` (market, model *with* the USD coterminal swaption calibration,
grid, portfolio parsing) + ``exposure.pipeline.run_pipeline`` (prepare, t0 prices, simulation, pricing,
netting, collateral, measures, files): exactly what ``exposure run`` does.

cold_s : the first run in a fresh process, every JIT compilation included (run it with XPOSURE_JAX_CACHE=0, as
         ``benchmarks.run`` does, so that JAX's persistent compilation cache cannot make it warm).
warm_s : median of ``--repeats`` further runs in the same process (compiled functions cached); the number of
         XLA compilations and their seconds during the warm runs are recorded (``warm_compiles``), so a
         warm time that still compiles shows up as such.
Throughput: path-dates/s = paths x dates / warm_s; valuations/s = trades x paths x dates / warm_s (dates = the
100 grid dates; the t0 column, also valued on every path, is not counted).

Memory mode (``--paths 1000000``): a run at the requested size is made when the estimate from a warm probe
run (``--probe-paths``) says it fits in ``--max-minutes``; otherwise the run is made at ``--measure-paths``
(default 100,000, where the quantile store already spills to disk) and the figures at the requested size are
EXTRAPOLATED, and labelled so: time linearly in paths; peak memory linearly from the peak measured at
``--measure-paths`` with a per-path slope that is the larger of the one measured between the probe and the
measured size and the per-path buffer known to grow once the store spills (one netting set's (dates + 1)
values per path, read back for its exact quantiles). Peak memory per phase is the process's peak resident set
(VmHWM, reset between phases through /proc/self/clear_refs where the kernel allows it). A real 1M-path run
needs about 40 GB of free disk under $TMPDIR for the spilled store (50 x 101 x 1e6 float64 values).

    python -m benchmarks.bench_e2e                       # 10k paths, cold + 3 warm
    python -m benchmarks.bench_e2e --paths 1000000       # 1M-path memory target (measure 100k, extrapolate)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")  # cold numbers include compilation (before exposure is imported)

import jax  # noqa: E402

from benchmarks.measure import (CompileMonitor, device_peak_gib, disable_persistent_cache,  # noqa: E402
                                phase_peak_rss_gib, process_peak_rss_gib, reset_peak_rss)

REPO = Path(__file__).resolve().parents[1]
BENCH_1K = "examples/portfolio/bench_1k.yaml"


# ---------------------------------------------------------------------------------------------- helpers
def load_generator():
    """examples/portfolio/generate.py as a module (the repository root need not be importable)."""
    spec = importlib.util.spec_from_file_location("xposure_generate_portfolio", REPO / "examples/portfolio/generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_portfolio(path: str, n_swaps: int, n_fx_forwards: int = 0, n_fx_options: int = 0, n_swaptions: int = 0,
                    n_netting_sets: int = 10, seed: int = 1, with_csa_fraction: float = 0.4) -> str:
    """A generated portfolio file (same generator as bench-1k) for the smaller or swaps-only workloads."""
    gen = load_generator()
    data = gen.generate_portfolio(n_swaps, n_fx_forwards, n_fx_options, n_swaptions, n_netting_sets=n_netting_sets,
                                  seed=seed, with_csa_fraction=with_csa_fraction)
    gen.write_yaml(data, path, f"generated for the benchmarks: {n_swaps} swaps, {n_fx_forwards} FX forwards, "
                               f"{n_fx_options} FX options, {n_swaptions} swaptions, seed {seed}")
    return path


_TMP: list = []


def resolve_portfolio(spec: str) -> str:
    """'bench-1k' (or the default path) -> bench_1k.yaml; 'mini' -> a generated 20-trade portfolio of every
    bench-1k product type (12 swaps, 4 FX forwards, 2 FX options, 2 swaptions; 4 netting sets); 'swaps:N' ->
    N generated swaps in 10 netting sets; anything else is a portfolio file path."""
    if spec in ("bench-1k", "bench_1k", BENCH_1K):
        return BENCH_1K
    if spec != "mini" and not spec.startswith("swaps:"):
        return spec
    if not _TMP:
        import atexit
        import shutil

        _TMP.append(tempfile.mkdtemp(prefix="xposure-bench-portfolios-"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    if spec == "mini":
        return write_portfolio(os.path.join(_TMP[0], "mini.yaml"), 12, 4, 2, 2, n_netting_sets=4)
    n = int(spec.split(":", 1)[1])
    return write_portfolio(os.path.join(_TMP[0], f"swaps_{n}.yaml"), n, n_netting_sets=10)


def overrides(trades: str, paths: int, dates: int, chunk: int, precision: str, out_dir: str, csv: bool = True) -> list:
    return [
        f"portfolio.trades={trades}", "portfolio.fixings=null", "market=example", "model=example",
        f"simulation.grid='{dates}x1M'", f"simulation.paths={paths}", f"simulation.chunk_size={min(chunk, paths)}",
        f"simulation.precision={precision}", f"output.dir={out_dir}", f"output.csv={str(bool(csv)).lower()}",
    ]


def compose(trades: str, paths: int, dates: int, chunk: int, precision: str, out_dir: str, csv: bool = True):
    import exposure

    return exposure.compose(overrides(trades, paths, dates, chunk, precision, out_dir, csv))


def timed_run(cfg, s=None) -> dict:
    """One end-to-end run (setup unless ``s`` is given, then run_pipeline); seconds and compilations."""
    from exposure.api import setup
    from exposure.pipeline import run_pipeline

    mon = CompileMonitor.get()
    c0, cs0, tr0 = mon.snapshot()
    t0 = time.perf_counter()
    if s is None:
        s = setup(cfg)
    t1 = time.perf_counter()
    res = run_pipeline(cfg, s)
    t2 = time.perf_counter()
    c1, cs1, tr1 = mon.snapshot()
    return {"total_s": t2 - t0, "setup_s": t1 - t0, "pipeline_s": t2 - t1, "compiles": c1 - c0,
            "compile_s": cs1 - cs0, "trace_s": tr1 - tr0, "setup": s, "result": res}


def sizes_of(s, paths: int, dates: int) -> dict:
    m = s.built.model
    return {"trades": len(s.portfolio.trades), "paths": int(paths), "dates": int(dates),
            "factors": len(m.factor_names), "states": len(m.state_names), "netting_sets": len(s.portfolio.netting_sets),
            "batches": len(s.portfolio.batches)}


def tuple_text(sz: dict) -> str:
    return (f"{sz['trades']} trades x {sz['paths']} paths x {sz['dates']} dates (+t0) x {sz['factors']} factors")


def device_name(precision: str) -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{d.device_kind}"


def warm_runs(run, repeats: int, budget_s: float) -> tuple[list, str]:
    """Up to ``repeats`` warm runs; stops early (at least one) once their total passes ``budget_s``."""
    out = []
    for _ in range(max(1, repeats)):
        out.append(run())
        if len(out) < repeats and sum(r["total_s"] for r in out) > budget_s:
            break
    note = "" if len(out) >= repeats else (f"{len(out)} warm run(s) instead of {repeats}: their total passed the "
                                           f"{budget_s:.0f} s budget")
    return out, note


# ------------------------------------------------------------------------------------------------ modes
def end_to_end(trades: str, paths: int, dates: int, chunk: int, precision: str, repeats: int, budget_s: float,
               csv: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="xposure-bench-") as out_dir:
        cfg = compose(trades, paths, dates, chunk, precision, out_dir, csv)
        reset_peak_rss()
        cold = timed_run(cfg)
        cold_peak = phase_peak_rss_gib()
        top = CompileMonitor.get().top()
        sz = sizes_of(cold["setup"], paths, dates)
        reset_peak_rss()
        warm, note = warm_runs(lambda: timed_run(cfg), repeats, budget_s)
        warm_peak = phase_peak_rss_gib()
    warm_s = statistics.median(r["total_s"] for r in warm)
    pd_ = paths * dates
    return {
        "tuple": tuple_text(sz), "sizes": sz, "precision": precision, "device": device_name(precision),
        "chunk": min(chunk, paths), "calibration": "included (USD coterminal swaption strip, in setup, every run)",
        "cold_s": cold["total_s"], "cold_setup_s": cold["setup_s"], "cold_pipeline_s": cold["pipeline_s"],
        "cold_compiles": cold["compiles"], "cold_compile_s": cold["compile_s"],
        "cold_top_compiles": top, "warm_s": warm_s, "warm_all_s": [r["total_s"] for r in warm],
        "warm_repeats": len(warm), "warm_note": note,
        "warm_setup_s": statistics.median(r["setup_s"] for r in warm),
        "warm_pipeline_s": statistics.median(r["pipeline_s"] for r in warm),
        "warm_compiles": sum(r["compiles"] for r in warm), "warm_compile_s": sum(r["compile_s"] for r in warm),
        "warm_trace_s": sum(r["trace_s"] for r in warm),
        "path_dates_per_s": pd_ / warm_s, "trade_path_date_valuations_per_s": sz["trades"] * pd_ / warm_s,
        "pipeline_valuations_per_s": sz["trades"] * pd_ / statistics.median(r["pipeline_s"] for r in warm),
        "peak_rss_cold_gib": cold_peak, "peak_rss_warm_gib": warm_peak, "peak_rss_gib": process_peak_rss_gib(),
        "device_peak_gib": device_peak_gib(),
    }


def memory_mode(trades: str, paths: int, dates: int, chunk: int, precision: str, max_minutes: float,
                measure_paths: int, probe_paths: int) -> dict:
    """The large-path run: measured at ``paths`` if the estimate fits in max_minutes, else measured at
    ``measure_paths`` and extrapolated (linear in paths) to ``paths``."""
    from exposure.api import setup

    with tempfile.TemporaryDirectory(prefix="xposure-bench-mem-") as out_dir:
        probe_paths = min(probe_paths, paths)
        cfg_p = compose(trades, probe_paths, dates, chunk, precision, out_dir, csv=False)
        s = setup(cfg_p)
        sz = sizes_of(s, paths, dates)
        cold = timed_run(cfg_p, s)  # compiles everything at this chunk shape
        reset_peak_rss()
        probe = timed_run(cfg_p, s)  # warm, for the estimate
        probe_peak = phase_peak_rss_gib()
        estimate_s = probe["pipeline_s"] * paths / probe_paths
        target = paths if estimate_s <= 60.0 * max_minutes else min(measure_paths, paths)
        cfg = compose(trades, target, dates, chunk, precision, out_dir, csv=False)
        s_t = setup(cfg)
        reset_peak_rss()
        meas = timed_run(cfg, s_t)
        meas_peak = phase_peak_rss_gib()
        itemsize = 4 if precision == "float32" else 8
    extrapolated = target < paths
    # Once the quantile store spills (beyond the aggregator's 2 GiB budget), the only buffer that grows with
    # the number of paths is the read-back of one netting set's (dates + 1) x paths values for its quantiles.
    readback = (dates + 1) * itemsize  # bytes per path
    if extrapolated:
        measured_slope = (meas_peak - probe_peak) * 2**30 / max(1, target - probe_paths)
        slope = max(measured_slope, float(readback))
        peak = meas_peak + slope * (paths - target) / 2**30
        time_s = meas["pipeline_s"] * paths / target
    else:
        measured_slope = slope = None
        peak, time_s = meas_peak, meas["pipeline_s"]
    store = sz["netting_sets"] * (dates + 1) * itemsize
    pd_ = paths * dates
    return {
        "tuple": tuple_text(sz), "sizes": sz, "precision": precision, "device": device_name(precision),
        "chunk": min(chunk, target), "calibration": "included (in setup; setup excluded from the times here)",
        "cold_s": cold["pipeline_s"], "cold_paths": probe_paths,
        "warm_s": time_s, "warm_repeats": 1,
        "warm_note": (f"EXTRAPOLATED: measured {target} paths in {meas['pipeline_s']:.1f} s (pipeline only, one run; "
                      f"its chunk shape was compiled by the probe), scaled linearly to {paths} paths; estimate "
                      f"from the probe was {estimate_s:.0f} s > --max-minutes {max_minutes:g}") if extrapolated
        else f"measured at {paths} paths (one run; pipeline only, compiled by a {probe_paths}-path probe)",
        "extrapolated": extrapolated, "measured_paths": target, "measured_s": meas["pipeline_s"],
        "measured_compiles": meas["compiles"], "probe_paths": probe_paths, "probe_s": probe["pipeline_s"],
        "estimate_from_probe_s": estimate_s,
        "path_dates_per_s": pd_ / time_s, "trade_path_date_valuations_per_s": sz["trades"] * pd_ / time_s,
        "peak_rss_probe_gib": probe_peak, "peak_rss_measured_gib": meas_peak,
        "peak_rss_gib": peak,
        "peak_rss_note": (f"EXTRAPOLATED linearly in paths from the peak at {target} paths ({meas_peak:.2f} GiB) with "
                          f"{slope:.0f} bytes/path: the larger of the slope measured between {probe_paths} and "
                          f"{target} paths ({measured_slope:.0f}) and the spilled quantile store's per-netting-set "
                          f"read-back "
                          f"((dates + 1) x {itemsize} = {readback} bytes/path)") if extrapolated else "measured",
        "memory_slope_bytes_per_path": slope, "process_peak_rss_gib": process_peak_rss_gib(),
        "measured_compile_s": meas["compile_s"],
        "quantile_store_bytes": store * paths, "quantile_store_bytes_measured": store * target,
        "quantile_store_note": "every netting-set path value, kept for exact quantiles: in memory up to the "
        "aggregator's 2 GiB budget, else spilled to an HDF5 file in output.dir (disk, not RSS)",
        "device_peak_gib": device_peak_gib(),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolio", default="bench-1k", help="bench-1k (default), mini, swaps:N or a portfolio file")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--dates", type=int, default=100, help="monthly grid dates (grid '<n>x1M')")
    ap.add_argument("--chunk", type=int, default=5_000)
    ap.add_argument("--precision", default="float64", choices=("float64", "float32"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warm-budget", type=float, default=600.0, help="seconds of warm runs before stopping early")
    ap.add_argument("--no-csv", action="store_true", help="skip the ORE-style CSV files (results.h5 only)")
    ap.add_argument("--memory", action="store_true", help="memory mode (implied by --paths >= 200000)")
    ap.add_argument("--max-minutes", type=float, default=10.0, help="memory mode: longest run made at full size")
    ap.add_argument("--measure-paths", type=int, default=100_000, help="memory mode: size measured when extrapolating")
    ap.add_argument("--probe-paths", type=int, default=10_000, help="memory mode: size of the estimating probe")
    ap.add_argument("--require-gpu", action="store_true", help="skip (a record saying so) when JAX sees no GPU")
    args = ap.parse_args(argv)
    if args.require_gpu and jax.devices()[0].platform != "gpu":
        from benchmarks.common import hardware

        return {"workload": "bench1k_e2e", "skipped": f"needs a GPU; JAX sees {jax.devices()[0].platform} only "
                                                      "(no GPU run was made)", "hardware": hardware()}
    portfolio = resolve_portfolio(args.portfolio)
    disable_persistent_cache()
    CompileMonitor.get()
    if args.memory or args.paths >= 200_000:
        rec = memory_mode(portfolio, args.paths, args.dates, args.chunk, args.precision, args.max_minutes,
                          args.measure_paths, args.probe_paths)
        rec["workload"] = "bench1k_memory"
    else:
        rec = end_to_end(portfolio, args.paths, args.dates, args.chunk, args.precision, args.repeats,
                         args.warm_budget, csv=not args.no_csv)
        rec["workload"] = "bench1k_e2e"
    rec["portfolio"] = args.portfolio
    from benchmarks.common import hardware

    rec["hardware"] = hardware()
    print({k: v for k, v in rec.items() if k != "hardware"})
    return rec


if __name__ == "__main__":
    main()
