"""The ORE side by side's book run again and again in one process (a notebook, a service, a what-if): warm times.

    python -m benchmarks.ore.warm [--book csa|plain] [--paths 10000] [--repeats 5] [--modes memory files report]
                                  [--profile MODE]

Book, market, model and grid are ``benchmarks.ore.fresh``'s (``benchmarks.ore.book``: by default issue 9's CSA
book, 4 swaps + 1 EUR/USD FX forward + 1 European swaption, zero-threshold CSA with a 2W margin period of risk,
CVA/DVA, 40 quarterly dates; ``--book plain``: 5 swaps + 1 FX forward, no CSA); each run is ``exposure.run(cfg)``
in this process after a first run of each mode that compiled everything. Modes (each says what the timed run
produced):

- ``memory``: ``output.write=false``: the results Dataset (exposure, capital, XVA, limits) returned in memory;
  no file written;
- ``files``: results.h5, the ORE-style exposure CSVs (``output.csv=true``: what ORE's run writes), config.yaml,
  npv.csv, capital.csv (and run.log), as one staged run folder; no desk report;
- ``report``: ``files`` plus the desk report (``report.*``: PNG plots, HTML, summary), what ``exposure run`` does.

The modes run interleaved (memory, files, report, memory, ...), so each repeat compares them at the same load.
ORE has no warm mode (every ``OREApp.run()`` builds its market, model and cube again), so the comparison is
against ORE's fresh-process time (``benchmarks.ore.fresh``). Prints one JSON record: per mode the median wall
and process CPU seconds (XLA's threads included) and the files the run wrote.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.ore import book as bk

MODES = {"memory": ["output.write=false"], "files": ["output.csv=true", "report.enabled=false"],
         "report": ["output.csv=true"]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    bk.add_arguments(ap)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--modes", nargs="*", default=list(MODES), choices=list(MODES))
    ap.add_argument("--profile", choices=list(MODES), help="cProfile one more warm run of this mode, print the top 40")
    ap.add_argument("--set", nargs="*", default=[], help="more Hydra overrides for every mode")
    a = ap.parse_args(argv)
    import exposure

    book = bk.from_arguments(a)
    rec = {"book": book.name, "paths": a.paths, "load_avg_before": os.getloadavg()[0], "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        case = bk.prepare(book, Path(tmp), a.paths, a.dates)
        base = case.overrides
        cfgs = {m: exposure.compose(base + MODES[m] + list(a.set)) for m in a.modes}
        times = {m: ([], []) for m in a.modes}
        files = {}
        for m, cfg in cfgs.items():
            t = time.perf_counter()
            res = exposure.run(cfg)
            rec["modes"][m] = {"first_run_s": time.perf_counter() - t}
            files[m] = sorted(os.path.basename(f) for f in res.files)
        for _ in range(a.repeats):
            for m, cfg in cfgs.items():
                t, c = time.perf_counter(), time.process_time()
                exposure.run(cfg)
                times[m][0].append(time.perf_counter() - t)
                times[m][1].append(time.process_time() - c)
        if a.profile:
            pr = cProfile.Profile()
            pr.runcall(exposure.run, cfgs[a.profile])
            pstats.Stats(pr).sort_stats("cumulative").print_stats(40)
    for m in a.modes:
        w, c = times[m]
        rec["modes"][m].update(warm_s=statistics.median(w), warm_cpu_s=statistics.median(c),
                               warm_all_s=[round(x, 4) for x in w], files_written=files[m])
    rec.update(workload=case.workload(a.paths), trades=len(case.trades), dates=len(case.spec.grid_dates()),
               valuation_dates=case.valuation_dates, load_avg_after=os.getloadavg()[0])
    print(json.dumps(rec, indent=1))
    return rec


if __name__ == "__main__":
    main()
