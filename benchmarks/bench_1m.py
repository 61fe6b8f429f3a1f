"""bench-1k at N paths (1,000,000 by default): one process against a Dask LocalCluster of 1 and 2 workers.

Opt-in (not in the test suite, not in ``benchmarks.run``): a real run at the requested size, never extrapolated.

    python -m benchmarks.bench_1m                                  # 1M paths: single, local:1, local:2
    python -m benchmarks.bench_1m --paths 20000 --configs single local:2 --transfer memory spill

Disk: a 1M-path run spills the exact-quantile store to its run folder, 50 x 101 x 1e6 x 8 B = 40.4 GB, removed
when the run ends (configurations run one after another, so about 41 GB free are needed at a time).

Workload: ``examples/portfolio/bench_1k.yaml`` (1,000 trades, 50 netting sets) on ``market=example``,
``model=example``, grid ``100x1M`` (t0 valued too), chunks of ``--chunk`` paths, float64, results.h5 written
(ORE-style CSVs and the desk report off: they do not grow with paths). Every configuration is one
``exposure.run`` in a fresh child process, with JAX's persistent compilation cache in a fresh folder filled by a
warm-up run of one chunk beforehand (so that compilation, a fixed cost paid once per worker process, is not
mixed into the path scaling).

Measured per configuration:
  wall_s         the child process, start to exit (imports, set-up with calibration, paths, measures, write);
                 with a LocalCluster its start (worker processes) and close included
  peak_rss_gib   peak over time of the SUM of the resident sets of the child and all its descendants (the Dask
                 nanny and worker processes), sampled every 0.2 s: an upper bound (shared library pages count once
                 per process); client_hwm_gib is the client process's own peak (VmHWM)
  spill_gib      peak disk used under the run's folder (the quantile store's HDF5 spill, the staged results and,
                 with transfer=spill, the chunk files), sampled every second (allocated blocks)
  wait_s         time the pipeline waited for the next chunk's outputs (single process: simulating and pricing)
  consume_s      time the pipeline spent on a chunk after receiving it (checks, collateral, sums, quantile store)
  identical      every float variable of results.h5 equal bit for bit to the single-process run of the same N

Projection to W workers (one worker = this machine's speed on one chunk; cluster start and comms not counted):
  T(W) ~ T_fixed + max(consume_s, wait_s(single) / W),  T_fixed = wall_s - wait_s - consume_s (single)
since the client consumes chunks one after another while the workers produce them in parallel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_1K = "examples/portfolio/bench_1k.yaml"


EXTRA: list = []  # --set key=value overrides added to every configuration (e.g. simulation.checkpoint=false)


def overrides(paths: int, chunk: int, dates: int, out_dir: str, cluster: str, transfer: str, spill_dir: str) -> list:
    ov = [f"portfolio.trades={BENCH_1K}", "portfolio.fixings=null", "market=example", "model=example",
          f"simulation.grid='{dates}x1M'", f"simulation.paths={paths}", f"simulation.chunk_size={min(chunk, paths)}",
          f"output.dir={out_dir}", "output.csv=false", "report.enabled=false", *EXTRA]
    if cluster != "single":
        kind, _, workers = cluster.partition(":")
        ov += [f"cluster={kind}", f"cluster.workers={int(workers or 2)}", f"cluster.transfer={transfer}"]
        if transfer == "spill":
            ov.append(f"cluster.spill_dir={spill_dir}")
    return ov


# ------------------------------------------------------------------------------------------- the child
def child(spec: dict) -> None:
    """One run of ``spec['overrides']``; the pipeline's waits on chunk outputs and its work on them timed."""
    sys.path.insert(0, str(REPO))
    import exposure
    import exposure.pipeline as pipeline

    clock = {"wait_s": 0.0, "consume_s": 0.0, "chunks": 0}
    source = pipeline.chunk_outputs

    def timed(job, settings, first=0):
        it = source(job, settings, first)
        t = time.perf_counter()
        for out in it:
            t1 = time.perf_counter()
            clock["wait_s"] += t1 - t
            clock["chunks"] += 1
            yield out
            t = time.perf_counter()
            clock["consume_s"] += t - t1

    pipeline.chunk_outputs = timed
    t0 = time.perf_counter()
    exposure.run(exposure.compose(spec["overrides"]))
    clock["run_s"] = time.perf_counter() - t0
    with open("/proc/self/status") as fh:
        hwm = [int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:")]
    clock["client_hwm_gib"] = hwm[0] / 2**20 if hwm else None
    Path(spec["record"]).write_text(json.dumps(clock))


# ------------------------------------------------------------------------------------------ the parent
def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _disk_bytes(root: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


def measure(label: str, spec_overrides: list, work: str, env: dict) -> dict:
    """Run one configuration in a child process, sampling its process tree's memory and its folder's disk."""
    import psutil

    record = os.path.join(work, f"{label}.json")
    spec = {"overrides": spec_overrides, "record": record}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_1m", "--child", json.dumps(spec)], cwd=REPO,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = {"rss": 0, "disk": 0}
    done = threading.Event()

    def sample():
        ps, tick = psutil.Process(p.pid), 0
        while not done.is_set():
            peak["rss"] = max(peak["rss"], _tree_rss(ps))
            if tick % 5 == 0:
                peak["disk"] = max(peak["disk"], _disk_bytes(os.path.join(work, label)))
            tick += 1
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    log, _ = p.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    if p.returncode:
        raise SystemExit(f"{label} failed ({p.returncode}):\n{log[-3000:]}")
    rec = json.loads(Path(record).read_text())
    return {"config": label, "wall_s": round(wall, 2), "peak_rss_gib": round(peak["rss"] / 2**30, 3),
            "client_hwm_gib": round(rec["client_hwm_gib"], 3), "spill_gib": round(peak["disk"] / 2**30, 3),
            "wait_s": round(rec["wait_s"], 2), "consume_s": round(rec["consume_s"], 2), "chunks": rec["chunks"],
            "run_s": round(rec["run_s"], 2)}


def identical(a: str, b: str) -> bool:
    import numpy as np

    from exposure.results import read_results

    x, y = read_results(a), read_results(b)
    names = [v for v in x.data_vars if np.issubdtype(x[v].dtype, np.floating)]
    return set(names) == {v for v in y.data_vars if np.issubdtype(y[v].dtype, np.floating)} and all(
        np.array_equal(x[v].values, y[v].values, equal_nan=True) for v in names)


def projection(single: dict, workers=(1, 2, 4, 8, 16, 32, 64)) -> dict:
    fixed = single["wall_s"] - single["wait_s"] - single["consume_s"]
    return {w: round(fixed + max(single["consume_s"], single["wait_s"] / w), 1) for w in workers}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--configs", nargs="+", default=["single", "local:1", "local:2"],
                    help="single | local:W (a LocalCluster of W worker processes)")
    ap.add_argument("--transfer", nargs="+", default=["spill"], choices=["memory", "spill"],
                    help="how cluster outputs reach the client (each LocalCluster config runs once per choice)")
    ap.add_argument("--work", default=None, help="folder for the runs (default: a temporary folder, removed)")
    ap.add_argument("--out", default=None, help="JSON file for the records")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra config overrides for every configuration (e.g. simulation.checkpoint=false: at 1M "
                         "paths the checkpoint journal would need another 40 GB of disk)")
    a = ap.parse_args(argv)
    EXTRA[:] = a.set
    if a.child:
        child(json.loads(a.child))
        return {}
    sys.path.insert(0, str(REPO))
    from benchmarks.common import hardware, write_json

    work = a.work or tempfile.mkdtemp(prefix="xposure-bench-1m-")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), XPOSURE_JAX_CACHE=os.path.join(work, "jax-cache"))
    # Warm-up: one chunk fills the fresh compilation cache every configuration then reads (once per --work).
    if not os.path.isdir(os.path.join(work, "jax-cache")):
        measure("warmup", overrides(a.chunk, a.chunk, a.dates, os.path.join(work, "warmup", "out"), "single",
                                    "memory", ""), work, env)
    rows = []
    try:
        for cfg in a.configs:
            for transfer in (["memory"] if cfg == "single" else a.transfer):
                label = cfg.replace(":", "") + ("" if cfg == "single" else f"-{transfer}")
                out = os.path.join(work, label, "out")
                rows.append(measure(label, overrides(a.paths, a.chunk, a.dates, out, cfg, transfer,
                                                     os.path.join(work, label, "chunks")), work, env))
                ref = os.path.join(work, "single", "out", "results.h5")
                if cfg != "single" and os.path.exists(ref):
                    rows[-1]["identical"] = identical(ref, os.path.join(out, "results.h5"))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    single = next((r for r in rows if r["config"] == "single"), None)
    res = {"workload": "bench1k_distributed", "tuple": f"1000 trades x {a.paths} paths x {a.dates} dates (+t0) x 7 "
                                                       f"factors, chunks of {a.chunk}",
           "hardware": hardware(), "rows": rows, "command": "python -m benchmarks.bench_1m " + " ".join(argv or sys.argv[1:]),
           "projection_s": projection(single) if single else None}
    if a.out:
        write_json(res, a.out)
    print(json.dumps({k: v for k, v in res.items() if k != "rows"}, indent=1))
    return res


if __name__ == "__main__":
    main()
