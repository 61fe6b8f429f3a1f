"""Scaling series: warm time of the Monte Carlo chain against paths, dates and the number of linear trades.

Each point: compose + ``setup`` (not timed: market, model, calibration, parsing do not depend on paths), one
cold ``run_pipeline`` (compiles the point's shapes; recorded, not used), then the median of ``--repeats``
warm ``run_pipeline`` runs (prepare, t0 prices, simulation, pricing, netting, collateral, measures, files).
Slope: least-squares fit of log(warm_s) on log(size) over the series (np.polyfit, degree 1), and the slope
of the last segment (the large-size behaviour, where fixed costs matter least).

  paths   bench-1k, 48 monthly dates, paths 1k, 2k, 4k, 8k, 16k in chunks of 1,000 (one compiled shape:
          the series measures how the same compiled chain scales with the number of chunks)
  dates   bench-1k, 2,000 paths, grids 12x1M, 24x1M, 48x1M, 96x1M
  trades  swaps only (generate_portfolio, seed 1, 10 netting sets, 40% with CSAs), 10, 30, 100, 300,
          1000 swaps, 2,000 paths, 48 monthly dates

Targets (issue): time at most linear in paths and in dates (slope <= 1), clearly sub-linear in the number
of linear trades (the moment expansion prices a netting set's flows with one GEMM whatever their number;
the current coupons still cost one exp per floating leg).

    python -m benchmarks.bench_scaling --series paths
    python -m benchmarks.bench_scaling --series trades --sizes 10 100 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")

import numpy as np  # noqa: E402

from benchmarks.bench_e2e import (  # noqa: E402
    CompileMonitor,
    compose,
    device_name,
    disable_persistent_cache,
    process_peak_rss_gib,
    resolve_portfolio,
    sizes_of,
    timed_run,
    warm_runs,
    write_portfolio,
)

DEFAULTS = {
    "paths": {"sizes": [1000, 2000, 4000, 8000, 16000], "paths": None, "dates": 48, "chunk": 1000},
    "dates": {"sizes": [12, 24, 48, 96], "paths": 2000, "dates": None, "chunk": 2000},
    "trades": {"sizes": [10, 30, 100, 300, 1000], "paths": 2000, "dates": 48, "chunk": 2000},
}


def loglog_slope(x, y) -> float | None:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        return None
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def run_series(series: str, sizes, paths, dates, chunk, portfolio, precision, repeats, budget_s, netting_sets) -> dict:
    points = []
    with tempfile.TemporaryDirectory(prefix="xposure-scaling-") as tmp:
        for n in sizes:
            trades, p, k = portfolio, paths, dates
            if series == "paths":
                p = n
            elif series == "dates":
                k = n
            else:
                trades = write_portfolio(os.path.join(tmp, f"swaps_{n}.yaml"), n, n_netting_sets=netting_sets)
            from exposure.api import setup

            cfg = compose(trades, p, k, chunk, precision, os.path.join(tmp, "out"), csv=True)
            s = setup(cfg)
            cold = timed_run(cfg, s)
            warm, note = warm_runs(lambda: timed_run(cfg, s), repeats, budget_s)
            sz = sizes_of(s, p, k)
            warm_s = statistics.median(r["pipeline_s"] for r in warm)
            points.append({
                "size": n, **sz, "chunk": min(chunk, p), "cold_s": cold["pipeline_s"],
                "cold_compiles": cold["compiles"],
                "warm_s": warm_s, "warm_all_s": [r["pipeline_s"] for r in warm], "warm_repeats": len(warm),
                "warm_note": note, "warm_compiles": sum(r["compiles"] for r in warm),
                "path_dates_per_s": p * k / warm_s, "trade_path_date_valuations_per_s": sz["trades"] * p * k / warm_s,
            })
            print(f"{series} {n}: warm {warm_s:.3f} s ({len(warm)} runs), cold {cold['pipeline_s']:.2f} s", flush=True)
    xs = [pt["trades"] if series == "trades" else pt["size"] for pt in points]
    ys = [pt["warm_s"] for pt in points]
    last = points[-1]
    return {
        "series": series, "points": points, "slope": loglog_slope(xs, ys),
        "slope_last_segment": loglog_slope(xs[-2:], ys[-2:]) if len(xs) >= 2 else None,
        "x": xs, "warm_s_series": ys,
        "tuple": _series_tuple(series, points),
        "cold_s": points[0]["cold_s"], "warm_s": last["warm_s"],
        "warm_repeats": min(pt["warm_repeats"] for pt in points),
        "warm_note": "; ".join(f"{pt['size']}: {pt['warm_note']}" for pt in points if pt["warm_note"]),
        "path_dates_per_s": last["path_dates_per_s"],
        "trade_path_date_valuations_per_s": last["trade_path_date_valuations_per_s"],
    }


def _series_tuple(series: str, pts: list) -> str:
    def rng(key):
        v = [pt[key] for pt in pts]
        return f"{{{', '.join(map(str, v))}}}" if len(set(v)) > 1 else str(v[0])

    return f"{rng('trades')} trades x {rng('paths')} paths x {rng('dates')} dates (+t0) x {pts[0]['factors']} factors"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", required=True, choices=sorted(DEFAULTS))
    ap.add_argument("--sizes", type=int, nargs="+", help="the series' sizes (paths, dates or swaps)")
    ap.add_argument("--paths", type=int, help="fixed paths (dates and trades series)")
    ap.add_argument("--dates", type=int, help="fixed dates (paths and trades series)")
    ap.add_argument("--chunk", type=int, help="chunk size (paths per compiled chunk)")
    ap.add_argument("--portfolio", default="bench-1k", help="portfolio of the paths and dates series")
    ap.add_argument("--netting-sets", type=int, default=10, help="netting sets of the generated swap portfolios")
    ap.add_argument("--precision", default="float64", choices=("float64", "float32"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warm-budget", type=float, default=120.0, help="seconds of warm runs per point before stopping")
    args = ap.parse_args(argv)
    d = DEFAULTS[args.series]
    disable_persistent_cache()
    CompileMonitor.get()
    rec = run_series(args.series, args.sizes or d["sizes"], args.paths or d["paths"], args.dates or d["dates"],
                     args.chunk or d["chunk"], resolve_portfolio(args.portfolio), args.precision, args.repeats,
                     args.warm_budget, args.netting_sets)
    rec.update({"workload": f"scaling_{args.series}", "precision": args.precision,
                "device": device_name(args.precision),
                "portfolio": args.portfolio if args.series != "trades" else "generated swaps only",
                "timed": "run_pipeline only (setup with calibration excluded)", "peak_rss_gib": process_peak_rss_gib()})
    from benchmarks.common import hardware

    rec["hardware"] = hardware()
    print(f"scaling {args.series}: slope {rec['slope']:.3f} (last segment {rec['slope_last_segment']:.3f})")
    return rec


if __name__ == "__main__":
    main()
