"""The ORE side by side's book run again and again in one process (a notebook, a service, a what-if): warm times.

    python -m benchmarks.ore.warm [--paths 10000] [--repeats 5] [--profile]

Book, market, model and grid are ``benchmarks.ore.fresh``'s (5 swaps + 1 EUR/USD FX forward, 40 quarterly
dates, flat curves, fixed Hull-White/FX parameters); each run is ``exposure.run(cfg)`` (set-up, pricing,
aggregation, measures, files and report: what ``exposure run`` does) in this process after a first run that
compiled everything. ORE has no warm mode (every ``OREApp.run()`` builds its market, model and cube again), so
the comparison is against ORE's fresh-process time (``benchmarks.ore.fresh``). Prints one JSON record.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.ore import ore_inputs as oi


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--swaps", type=int, default=5)
    ap.add_argument("--fx", type=int, default=1)
    ap.add_argument("--dates", type=int, default=40)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile one more warm run, print the top 40")
    ap.add_argument("--set", nargs="*", default=[], help="more Hydra overrides (e.g. report.enabled=false)")
    a = ap.parse_args(argv)
    import exposure

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = oi.SideBySide(n_swaps=a.swaps, n_fx=a.fx, grid_points=a.dates, paths=a.paths)
        trades = oi.make_trades(spec)
        yaml_path = oi.to_engine_portfolio(trades, work / "engine_portfolio.yaml")
        cfg = exposure.compose(oi.engine_overrides(spec, yaml_path, str(work / "engine"), paths=a.paths,
                                                   store_cube=False) + list(a.set))
        t = time.perf_counter()
        exposure.run(cfg)
        first = time.perf_counter() - t
        walls, cpus = [], []
        for _ in range(a.repeats):
            t, c = time.perf_counter(), time.process_time()
            exposure.run(cfg)
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        if a.profile:
            pr = cProfile.Profile()
            pr.runcall(exposure.run, cfg)
            pstats.Stats(pr).sort_stats("cumulative").print_stats(40)
    import os

    rec = {"trades": len(trades), "paths": a.paths, "dates": len(spec.grid_dates()), "first_run_s": first,
           "warm_s": statistics.median(walls), "warm_all_s": walls, "warm_cpu_s": statistics.median(cpus),
           "load_avg_after": os.getloadavg()[0]}
    print(json.dumps(rec, indent=1))
    return rec


if __name__ == "__main__":
    main()
