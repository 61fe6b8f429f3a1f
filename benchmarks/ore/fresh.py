"""ORE against this engine as users run them: one fresh process per run, side by side, same book and paths.

    python -m benchmarks.ore.fresh [--book csa|plain] [--paths 1000 10000] [--repeats 2] [--swaps N --fx N ...]

The book (``benchmarks.ore.book``): by default ``csa``, issue 9's workload: 4 swaps, 1 EUR/USD FX forward and 1
European swaption in one netting set with a zero-threshold CSA and a 2W margin period of risk (ORE: its close-out
grid; this engine: ``simulation.mpor``), CVA and DVA on both sides, 40 quarterly dates (+ 40 close-out dates);
``--book plain`` is the book of the earlier figures (5 swaps + 1 FX forward, no CSA, ORE exposure only). Flat
curves, fixed Hull-White and FX parameters (``benchmarks.ore.ore_inputs``). For each path count: ORE's run
(``benchmarks.ore.run_ore`` in a child Python process: import of the ORE bindings, the simulation, the exposure
and XVA reports; the run fails if ORE reports an error, e.g. a trade it could not build), and ``python -m exposure
run`` in a child process with JAX's persistent caches off (``XPOSURE_JAX_CACHE=0``: everything compiled) and
warm (a run beforehand filled a fresh cache directory). Wall times are the whole child process, start to exit;
each figure is the best of ``repeats``, and the child processes' CPU seconds of that run are given too. Prints
one JSON record per path count.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import child_env, compile_package
from benchmarks.ore import book as bk

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list, env: dict | None = None) -> tuple:
    """(wall s, CPU s of the child) of one child process."""
    t, c = time.perf_counter(), os.times()
    p = subprocess.run(cmd, cwd=ROOT, env=child_env(**(env or {})), capture_output=True, text=True)
    wall, c2 = time.perf_counter() - t, os.times()
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return wall, (c2.children_user - c.children_user) + (c2.children_system - c.children_system)


def _best(cmd: list, repeats: int, env: dict | None = None) -> tuple:
    return min((_run(cmd, env) for _ in range(repeats)), key=lambda r: r[0])


def compare(book: bk.Book, dates: int, paths: int, repeats: int, work: Path) -> dict:
    case = bk.prepare(book, work, paths, dates)
    pkl = work / "ore.pkl"
    ore_cmd = [sys.executable, "-m", "benchmarks.ore.run_ore", case.ore_xml, str(pkl), "NS_ORE", "npv"]
    eng_cmd = [sys.executable, "-m", "exposure", "run", *case.overrides]
    load = os.getloadavg()[0]
    ore = _best(ore_cmd, repeats, {"PYTHONPATH": str(ROOT)})
    with open(pkl, "rb") as fh:
        errors = pickle.load(fh).errors
    if errors:
        raise SystemExit(f"ORE reported errors (a trade left out?): {errors[:3]}")
    off = _best(eng_cmd, repeats, {"XPOSURE_JAX_CACHE": "0"})
    cache = {"XPOSURE_JAX_CACHE": str(work / "jax_cache")}
    _run(eng_cmd, cache)  # fills the cache
    warm = _best(eng_cmd, repeats, cache)
    return {"book": book.name, "workload": case.workload(paths), "trades": len(case.trades), "paths": paths,
            "dates": len(case.spec.grid_dates()), "valuation_dates": case.valuation_dates,
            "load_avg_before": load, "ore_fresh_s": ore[0], "ore_fresh_cpu_s": ore[1],
            "engine_fresh_cache_off_s": off[0], "engine_fresh_cache_off_cpu_s": off[1],
            "engine_fresh_cache_warm_s": warm[0], "engine_fresh_cache_warm_cpu_s": warm[1],
            "ratio_cache_off": ore[0] / off[0], "ratio_cache_warm": ore[0] / warm[0],
            "cpu_ratio_cache_off": ore[1] / off[1], "cpu_ratio_cache_warm": ore[1] / warm[1]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    bk.add_arguments(ap)
    ap.add_argument("--paths", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    book = bk.from_arguments(a)
    compile_package()  # children run from bytecode, as an installed package does (child_env)
    with tempfile.TemporaryDirectory() as tmp:
        recs = [compare(book, a.dates, p, a.repeats, Path(tmp)) for p in a.paths]
    print(json.dumps(recs, indent=1))
    return {"records": recs}


if __name__ == "__main__":
    main()
