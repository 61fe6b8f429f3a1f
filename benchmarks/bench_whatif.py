"""Pre-deal what-if latency on a 1,000-trade netting set.

    python -m benchmarks.bench_whatif [--paths 2000] [--dir /tmp/xposure-whatif]

Generates bench-1k's trades (examples/portfolio/generate.py, seed 1) into ONE netting set, runs it once with
output.store_cube=true (not timed), then times `exposure.api.whatif` adding one 10Y swap to that netting set:
the first call in the process (JAX compiles the new trade's pricer), the median of 5 warm calls, and the
median of 3 fresh processes of `python -m exposure whatif` as a user types it (import, config, market, pricing,
aggregation of the counterparty's netting sets, table). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRADE = """- {id: WHATIF_SWP, type: Swap, currency: USD, notional: 2.5e+7, maturity: 10Y, fixed_rate: 0.037, payer: true,
   float_index: USD-LIBOR-3M}
"""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=2000)
    ap.add_argument("--dir", default="/tmp/xposure-whatif")
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    spec = importlib.util.spec_from_file_location("gen", REPO / "examples/portfolio/generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    book = os.path.join(a.dir, "one_netting_set_1k.yaml")
    gen.write_yaml(gen.generate_portfolio(600, 200, 100, 100, n_netting_sets=1, seed=1, with_csa_fraction=1.0), book)
    trade = os.path.join(a.dir, "trade.yaml")
    Path(trade).write_text(TRADE)
    run_dir = os.path.join(a.dir, "run")
    import exposure
    from exposure import api

    if not os.path.exists(os.path.join(run_dir, "netting_values.h5")):
        t = time.perf_counter()
        exposure.run(exposure.compose([f"portfolio.trades={book}", "portfolio.fixings=null",
                                       f"simulation.paths={a.paths}", "output.store_cube=true",
                                       f"output.dir={run_dir}", "report.plots=false", "report.html=false"]))
        run_s = time.perf_counter() - t
    else:
        run_s = None
    t = time.perf_counter()
    res = api.whatif(run_dir, "NS_001", trade)
    first = time.perf_counter() - t
    warm = []
    for _ in range(5):
        t = time.perf_counter()
        api.whatif(run_dir, "NS_001", trade)
        warm.append(time.perf_counter() - t)
    fresh = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "exposure", "whatif", run_dir, "--netting-set", "NS_001", "--trade", trade],
                       check=True, capture_output=True, cwd=REPO)
        fresh.append(time.perf_counter() - t)
    print(json.dumps({"trades_in_netting_set": 1000, "paths": a.paths, "run_s": run_s, "whatif_first_s": round(first, 3),
                      "whatif_warm_median_s": round(statistics.median(warm), 3),
                      "whatif_fresh_process_median_s": round(statistics.median(fresh), 3),
                      "peak_pfe_change": float(res.table.set_index("Figure").iloc[2]["Change"])}))


if __name__ == "__main__":
    main()
