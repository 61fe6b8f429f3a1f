"""What a user feels: wall time of `python -m exposure run` as a fresh process, cache off and cache warm.

    python -m benchmarks.bench_fresh [--repeats 3] [overrides ...]

Runs the CLI in child processes: once with JAX's persistent compilation cache off (XPOSURE_JAX_CACHE=0, every
program compiled), then with a fresh cache directory (the first run fills it, the next ``repeats`` read it).
Prints one JSON record per mode with the median wall time and the number of XLA programs compiled per run
(counted from JAX's compile log, JAX_LOG_COMPILES=1, in a further run of each mode), and for the cache-off run
the programs with their tracing, lowering and XLA compilation wall seconds, largest compilation first
(``programs_cache_off``: [name, trace s, lower s, compile s]; wall seconds of the main process, so on a loaded
machine they grow with the load, and XLA compiles one program on several threads).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.common import child_env, compile_package

_LOG = re.compile(r"Finished (tracing|jaxpr to MLIR module conversion|XLA compilation of) (?:jit\()?(\S+?)\)?"
                  r"(?: for jit)? in ([0-9.eE+-]+) sec")
_PHASE = {"tracing": 0, "jaxpr to MLIR module conversion": 1, "XLA compilation of": 2}


def program_seconds(log: str) -> list:
    """[name, trace s, lower s, compile s] per program in JAX's compile log (JAX_LOG_COMPILES=1), in the order
    compiled; a program compiled twice (two shapes) is listed twice."""
    rows, open_ = [], {}
    for line in log.splitlines():
        m = _LOG.search(line)
        if m is None:
            continue
        phase, name, sec = _PHASE[m.group(1)], m.group(2), float(m.group(3))
        row = open_.get(name)
        if row is None or row[1 + phase] is not None:  # a new program of that name
            row = open_[name] = [name, None, None, None]
            rows.append(row)
        row[1 + phase] = round(sec, 3)
    return rows


def _run(overrides: list[str], env: dict, log_compiles: bool = False, programs: list | None = None
         ) -> tuple[float, int]:
    """(wall seconds, XLA programs compiled or -1 when not logged) of one CLI run in a child process; with
    ``programs`` (and log_compiles) its per-program seconds (``program_seconds``) are appended to it."""
    env = child_env(**env, **({"JAX_LOG_COMPILES": "1"} if log_compiles else {}))  # from bytecode, as installed
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "exposure", "run", *overrides], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"exposure run failed ({p.returncode}):\n{p.stderr[-2000:]}")
    compiled = sum("Finished XLA compilation of" in line for line in p.stderr.splitlines())
    if programs is not None and log_compiles:
        programs.extend(program_seconds(p.stderr))
    return wall, compiled if log_compiles else -1


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args(argv)
    compile_package()  # no timed child compiles the package from source
    with tempfile.TemporaryDirectory() as tmp:
        ov = [f"output.dir={tmp}/run", *a.overrides]
        off = {"XPOSURE_JAX_CACHE": "0"}
        warm = {"XPOSURE_JAX_CACHE": os.path.join(tmp, "cache")}
        rec = {"overrides": a.overrides}
        rec["cache_off_s"] = statistics.median(_run(ov, off)[0] for _ in range(a.repeats))
        rec["cache_fill_s"] = _run(ov, warm)[0]
        rec["cache_warm_s"] = statistics.median(_run(ov, warm)[0] for _ in range(a.repeats))
        progs: list = []
        rec["compiled_programs_cache_off"] = _run(ov, off, log_compiles=True, programs=progs)[1]
        rec["programs_cache_off"] = sorted(progs, key=lambda r: -(r[3] or 0.0))
        with open("/proc/loadavg") as f:
            rec["loadavg_1min"] = float(f.read().split()[0])
    print(json.dumps(rec))
    return rec


if __name__ == "__main__":
    main()
