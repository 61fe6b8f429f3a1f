"""Cost of event dates: warm pipeline seconds with ``simulation.events`` options vs none.

    python -m benchmarks.bench_events [--portfolio desk] [--paths 2000] [--repeats 3]

Set-up (market, calibration, portfolio) is built once per setting and excluded; each setting runs the pipeline
once to compile, then ``repeats`` times; the best wall and process CPU seconds are reported (CPU seconds are
the steadier figure on a shared machine), with the simulation alone (path generator, bridge included) and the
simulated and event date counts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def measure(portfolio: str, paths: int, events: str, repeats: int) -> dict:
    from exposure import api
    from exposure.pipeline import run_pipeline
    from exposure.setup import path_generator

    with tempfile.TemporaryDirectory() as out:
        cfg = api.compose([f"portfolio={portfolio}", f"simulation.paths={paths}", f"simulation.events={events}",
                           f"output.dir={out}", "output.csv=false"])
        s = api.setup(cfg)
        run_pipeline(cfg, s, out_dir=os.path.join(out, "cold"))
        best, cpu = float("inf"), float("inf")
        for i in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            run_pipeline(cfg, s, out_dir=os.path.join(out, f"warm{i}"))
            best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
        gen = path_generator(cfg, s)
        np.asarray(gen.chunk(0))
        sim = float("inf")
        for _ in range(repeats):
            c = time.process_time()
            gen = path_generator(cfg, s)  # the discretisation and bridge set-up included
            for _, _, states in gen.chunks():
                np.asarray(states)
            sim = min(sim, time.process_time() - c)
    return {"events": events, "dates": len(s.grid.dates), "event_dates": s.grid.n_event_dates, "warm_s": best,
            "warm_cpu_s": cpu, "simulation_cpu_s": sim}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolio", default="desk")
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--events", nargs="+", default=["options", "none"])
    a = ap.parse_args(argv)
    for ev in a.events:
        r = measure(a.portfolio, a.paths, ev, a.repeats)
        print(f"{a.portfolio} paths={a.paths} events={r['events']}: {r['dates']} simulated dates "
              f"({r['event_dates']} event dates), warm pipeline {r['warm_s']:.2f} s wall, {r['warm_cpu_s']:.2f} s CPU; "
              f"simulation alone {r['simulation_cpu_s']:.2f} s CPU (best of {a.repeats}); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
