"""ORE against this engine as users run them: one fresh process per run, side by side, same book and paths.

    python -m benchmarks.ore.fresh [--swaps 5] [--fx 1] [--dates 40] [--paths 1000 10000] [--repeats 2]

The book and market are the ORE side by side's (``benchmarks.ore.ore_inputs``: flat curves, fixed Hull-White
and FX parameters, quarterly grid). For each path count: ORE's run (``benchmarks.ore.run_ore`` in a child
Python process: import of the ORE bindings, the simulation, the exposure reports), and ``python -m exposure
run`` in a child process with JAX's persistent caches off (``XPOSURE_JAX_CACHE=0``: everything compiled) and
warm (a run beforehand filled a fresh cache directory). Wall times are the whole child process, start to exit;
each figure is the best of ``repeats``. Prints one JSON record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ore import ore_inputs as oi

ROOT = Path(__file__).resolve().parents[2]


def _wall(cmd: list, env: dict | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, **(env or {})), capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return wall


def compare(swaps: int, fx: int, dates: int, paths: int, repeats: int, work: Path) -> dict:
    spec = oi.SideBySide(n_swaps=swaps, n_fx=fx, grid_points=dates, paths=paths)
    trades = oi.make_trades(spec)
    ore_xml = oi.write_ore_inputs(work / f"ore_{paths}", spec, trades, paths=paths)
    yaml_path = oi.to_engine_portfolio(trades, work / "engine_portfolio.yaml")
    ov = oi.engine_overrides(spec, yaml_path, str(work / f"engine_{paths}"), paths=paths, store_cube=False)
    ore_cmd = [sys.executable, "-m", "benchmarks.ore.run_ore", str(ore_xml), str(work / "ore.pkl"), "NS_ORE", "npv"]
    eng_cmd = [sys.executable, "-m", "exposure", "run", *ov]
    load = os.getloadavg()[0]
    ore = min(_wall(ore_cmd, {"PYTHONPATH": str(ROOT)}) for _ in range(repeats))
    off = min(_wall(eng_cmd, {"XPOSURE_JAX_CACHE": "0"}) for _ in range(repeats))
    cache = {"XPOSURE_JAX_CACHE": str(work / "jax_cache")}
    _wall(eng_cmd, cache)  # fills the cache
    warm = min(_wall(eng_cmd, cache) for _ in range(repeats))
    return {"trades": len(trades), "paths": paths, "dates": len(spec.grid_dates()), "load_avg_before": load,
            "ore_fresh_s": ore, "engine_fresh_cache_off_s": off, "engine_fresh_cache_warm_s": warm,
            "ratio_cache_off": ore / off, "ratio_cache_warm": ore / warm}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--swaps", type=int, default=5)
    ap.add_argument("--fx", type=int, default=1)
    ap.add_argument("--dates", type=int, default=40)
    ap.add_argument("--paths", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        recs = [compare(a.swaps, a.fx, a.dates, p, a.repeats, Path(tmp)) for p in a.paths]
    print(json.dumps(recs, indent=1))
    return {"records": recs}


if __name__ == "__main__":
    main()
