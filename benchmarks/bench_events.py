"""Cost of event dates: warm pipeline seconds with ``simulation.events`` options vs none.

    python -m benchmarks.bench_events [--portfolio desk] [--paths 2000] [--repeats 3]

Set-up (market, calibration, portfolio) is built once per setting and excluded; each setting runs the pipeline
once to compile, then ``repeats`` times; the best is reported with the simulated and reporting date counts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def measure(portfolio: str, paths: int, events: str, repeats: int) -> dict:
    from exposure import api
    from exposure.pipeline import run_pipeline

    with tempfile.TemporaryDirectory() as out:
        cfg = api.compose([f"portfolio={portfolio}", f"simulation.paths={paths}", f"simulation.events={events}",
                           f"output.dir={out}", "output.csv=false"])
        s = api.setup(cfg)
        run_pipeline(cfg, s, out_dir=os.path.join(out, "cold"))
        best = float("inf")
        for i in range(repeats):
            t = time.perf_counter()
            run_pipeline(cfg, s, out_dir=os.path.join(out, f"warm{i}"))
            best = min(best, time.perf_counter() - t)
    return {"events": events, "dates": len(s.grid.dates), "event_dates": s.grid.n_event_dates, "warm_s": best}


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
              f"({r['event_dates']} event dates), warm pipeline {r['warm_s']:.2f} s (best of {a.repeats}); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
