"""What a user feels: wall time of `python -m exposure run` as a fresh process, cache off and cache warm.

    python -m benchmarks.bench_fresh [--repeats 3] [overrides ...]

Runs the CLI in child processes: once with JAX's persistent compilation cache off (XPOSURE_JAX_CACHE=0, every
program compiled), then with a fresh cache directory (the first run fills it, the next ``repeats`` read it).
Prints one JSON record per mode with the median wall time and the number of XLA programs compiled per run
(counted from JAX's compile log, JAX_LOG_COMPILES=1, in a further run of each mode).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _run(overrides: list[str], env: dict, log_compiles: bool = False) -> tuple[float, int]:
    """(wall seconds, XLA programs compiled or -1 when not logged) of one CLI run in a child process."""
    # PYTHONDONTWRITEBYTECODE (set in some sandboxes) would make every child compile the package's 150 modules
    # from source (about 0.2 s of CPU) where an installed package runs from its bytecode: the children write it.
    env = dict(os.environ, **env, PYTHONDONTWRITEBYTECODE="", **({"JAX_LOG_COMPILES": "1"} if log_compiles else {}))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "exposure", "run", *overrides], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"exposure run failed ({p.returncode}):\n{p.stderr[-2000:]}")
    compiled = sum("Finished XLA compilation of" in line for line in p.stderr.splitlines())
    return wall, compiled if log_compiles else -1


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ov = [f"output.dir={tmp}/run", *a.overrides]
        off = {"XPOSURE_JAX_CACHE": "0"}
        warm = {"XPOSURE_JAX_CACHE": os.path.join(tmp, "cache")}
        rec = {"overrides": a.overrides}
        rec["cache_off_s"] = statistics.median(_run(ov, off)[0] for _ in range(a.repeats))
        rec["cache_fill_s"] = _run(ov, warm)[0]
        rec["cache_warm_s"] = statistics.median(_run(ov, warm)[0] for _ in range(a.repeats))
        rec["compiled_programs_cache_off"] = _run(ov, off, log_compiles=True)[1]
        with open("/proc/loadavg") as f:
            rec["loadavg_1min"] = float(f.read().split()[0])
    print(json.dumps(rec))
    return rec


if __name__ == "__main__":
    main()
