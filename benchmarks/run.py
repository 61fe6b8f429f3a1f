"""The benchmark suite: one command, a table on the terminal and one JSON file.

    python -m benchmarks.run                          # the full suite (tens of minutes on a 2-core CPU)
    python -m benchmarks.run --smoke                  # every workload at tiny sizes, 2 side by side (CI)
    python -m benchmarks.run --only bench1k_e2e floor --out /tmp/results.json

Every workload runs in a fresh Python subprocess (``python -m benchmarks.run --child MODULE -- ARGS``) with
JAX's persistent compilation cache switched off (XPOSURE_JAX_CACHE=0), so that its cold time includes every
compilation and its peak memory (the child's own ru_maxrss) is its own. The child writes its record as JSON;
the parent adds the command line, the subprocess wall time and the status, prints the table and writes
``--out`` (default benchmarks/out/results.json; benchmarks/out/logs/<name>.log keeps each child's output).
See benchmarks/README.md for the workloads and the JSON schema.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workloads import WORKLOADS, normalise, targets

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "xposure-benchmarks/1"


# ------------------------------------------------------------------------------------------------- child
def child(module: str, out: str, argv: list) -> int:
    """Run ``module.main(argv)`` in this (fresh) process and write its record, with this process's peak RSS."""
    import importlib
    import resource

    t0 = time.perf_counter()
    mod = importlib.import_module(module)
    rec = getattr(mod, "suite_main", mod.main)(argv)
    rec = dict(rec or {})
    rec["child_wall_s"] = time.perf_counter() - t0
    rec["child_peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(rec, fh, indent=2, default=_jsonable)
    os.replace(tmp, out)
    return 0


def _jsonable(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


# ------------------------------------------------------------------------------------------------ parent
def _git() -> dict:
    def q(*cmd):
        try:
            return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = q("rev-parse", "HEAD")
    dirty = q("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or None, "dirty": bool(dirty) if commit else None}


def run_workload(name: str, args: list, log_dir: Path, timeout: float | None) -> dict:
    module, desc, _, _ = WORKLOADS[name]
    env = dict(os.environ, XPOSURE_JAX_CACHE="0", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    with tempfile.TemporaryDirectory(prefix="xposure-bench-child-") as tmp:
        out = os.path.join(tmp, "record.json")
        cmd = [sys.executable, "-m", "benchmarks.run", "--child", module, "--child-out", out, "--", *args]
        log = log_dir / f"{name}.log"
        t0 = time.perf_counter()
        status, error = "ok", None
        with open(log, "w") as fh:
            fh.write("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
            fh.flush()
            try:
                rc = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                    timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc, status, error = -1, "failed", f"timed out after {timeout:.0f} s"
        wall = time.perf_counter() - t0
        rec = {}
        if rc == 0 and os.path.exists(out):
            with open(out) as fh:
                rec = json.load(fh)
        elif status == "ok":
            status = "failed"
            error = f"exit status {rc}; last lines of {log}:\n" + "".join(log.read_text().splitlines(True)[-25:])
    rec = normalise(name, rec)
    if rec.get("skipped"):
        status = "skipped"
    rec.update({"name": name, "description": desc, "module": module, "args": args, "status": status,
                "error": error, "subprocess_wall_s": wall, "log": str(log.relative_to(REPO)) if log.is_relative_to(REPO)
                else str(log),
                "command": f"python -m {module} " + " ".join(shlex.quote(a) for a in args)})
    return rec


# ------------------------------------------------------------------------------------------------- table
def _fmt(v, spec=".3g"):
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def print_table(result: dict) -> None:
    rows = []
    for r in result["workloads"]:
        if r["name"] == "floor":
            continue
        warm = _fmt(r.get("warm_s"))
        if r.get("warm_repeats") is not None:
            warm += f" (n={r['warm_repeats']})"
        if r.get("extrapolated"):
            warm += " extrap."
        what = _fmt(r.get("tuple")) if r["status"] != "skipped" else "skipped: " + str(r.get("skipped"))
        rows.append([r["name"], what,
                     _fmt(r.get("precision")), _fmt(r.get("device")), _fmt(r.get("cold_s")), warm,
                     _fmt(r.get("path_dates_per_s")), _fmt(r.get("trade_path_date_valuations_per_s")),
                     _fmt(r.get("peak_rss_gib")) + (" extrap." if r.get("extrapolated") else ""),
                     r["status"]])
    head = ["workload", "tuple (trades x paths x dates x factors)", "precision", "device", "cold s", "warm s",
            "path-dates/s", "valuations/s", "peak RSS GiB", "status"]
    extra = []
    for r in result["workloads"]:
        if r["name"].startswith("scaling_") and r["status"] == "ok":
            ws = [round(v, 3) for v in r.get("warm_s_series", [])]
            extra.append(f"{r['name']}: x = {r.get('x')}, warm s = {ws}, "
                         f"log-log slope {_fmt(r.get('slope'))} (last segment {_fmt(r.get('slope_last_segment'))})")
        if r["name"] == "floor" and r["status"] == "ok":
            m = r["machine"]
            extra.append(f"floor: GEMM {m['gemm_gflops']:.1f} GFLOP/s, bandwidth {m['bandwidth_gbs']:.1f} GB/s; "
                         f"{r['flop_equivalents']:.3g} flop-equivalents, {r['bytes']:.3g} bytes -> floor "
                         f"{r['floor_s']:.3g} s ({r['bound']} bound); measured / floor = "
                         f"{_fmt(r.get('measured_over_floor'))} (pipeline only: {_fmt(r.get('pipeline_over_floor'))})")
        if r["status"] == "failed":
            extra.append(f"{r['name']} FAILED: {r.get('error')}")
    for t in result["targets"]:
        met = {True: "met", False: "NOT met", None: "not assessed"}[t["met"]]
        extra.append(f"target: {t['target']}: {_fmt(t['value'])} (limit {_fmt(t['limit'])}) {met}"
                     + (f" [{t['note']}]" if t.get("note") else ""))
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"xposure benchmarks{' (smoke)' if result['smoke'] else ''} - {result['date']}")
        for h in head:
            table.add_column(h, overflow="fold")
        for row in rows:
            table.add_row(*row)
        con = Console(width=max(160, Console().width))
        con.print(table)
        for line in extra:
            con.print(line, markup=False, highlight=False)
    except ImportError:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        print("\n".join(extra))


# -------------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--child" in argv:
        sep = argv.index("--") if "--" in argv else len(argv)
        ap = argparse.ArgumentParser()
        ap.add_argument("--child", required=True)
        ap.add_argument("--child-out", required=True)
        a = ap.parse_args(argv[:sep])
        return child(a.child, a.child_out, argv[sep + 1:])

    ap = argparse.ArgumentParser(description="Run the benchmark suite (benchmarks/README.md).")
    ap.add_argument("--smoke", action="store_true", help="every workload at tiny sizes (CI)")
    ap.add_argument("--only", nargs="+", choices=list(WORKLOADS), metavar="NAME",
                    help=f"run only these workloads ({', '.join(WORKLOADS)})")
    ap.add_argument("--skip", nargs="+", choices=list(WORKLOADS), metavar="NAME", default=[])
    ap.add_argument("--out", default="benchmarks/out/results.json", help="JSON output path")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per workload (default: none; smoke 600)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="workloads run side by side (smoke only; default 2 with --smoke, else 1)")
    ap.add_argument("--list", action="store_true", help="list the workloads and their arguments")
    args = ap.parse_args(argv)
    if args.jobs is None:
        args.jobs = 2 if args.smoke else 1
    names = [n for n in (args.only or list(WORKLOADS)) if n not in args.skip]
    if args.list:
        for n in names:
            module, desc, full, smoke = WORKLOADS[n]
            print(f"{n}: {desc}\n    python -m {module} {' '.join(smoke if args.smoke else full)}")
        return 0
    out = Path(args.out) if os.path.isabs(args.out) else REPO / args.out
    log_dir = out.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    timeout = args.timeout if args.timeout is not None else (600.0 if args.smoke else None)
    if args.jobs > 1 and not args.smoke:
        ap.error("--jobs > 1 runs workloads side by side and distorts their timings: only with --smoke")
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    records: dict = {}

    import threading

    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def one(name: str) -> None:
        module, desc, full, smoke = WORKLOADS[name]
        wl_args = list(smoke if args.smoke else full)
        e2e = records.get("bench1k_e2e")
        if name == "floor" and e2e and e2e["status"] == "ok":
            # the floor of the very workload that was timed: same portfolio and sizes, its measured times
            sz = e2e["sizes"]
            wl_args = _replace(wl_args, {"--paths": str(sz["paths"]), "--dates": str(sz["dates"]),
                                         "--portfolio": e2e.get("portfolio") or "bench-1k"})
            wl_args += ["--measured-s", repr(e2e["warm_s"]), "--measured-pipeline-s", repr(e2e["warm_pipeline_s"])]
        say(f"[{time.perf_counter() - t0:7.1f} s] {name}: python -m {module} {' '.join(wl_args)}")
        rec = run_workload(name, wl_args, log_dir, timeout)
        records[name] = rec
        say(f"[{time.perf_counter() - t0:7.1f} s] {name}: {rec['status']} in {rec['subprocess_wall_s']:.1f} s"
            + (f" - {rec['error'].splitlines()[0]}" if rec.get("error") else ""))

    # the floor uses the end-to-end record, so it runs after everything else
    first = [n for n in names if n != "floor"]
    if args.jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(one, first))
    else:
        for name in first:
            one(name)
    if "floor" in names:
        one("floor")
    records = {n: records[n] for n in names}
    hw = next((r.get("hardware") for r in records.values() if r.get("hardware")), None)
    gpu_seen = bool(hw and str(hw.get("device", "")).startswith("gpu"))
    result = {
        "schema": SCHEMA,
        "command": "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in argv),
        "smoke": bool(args.smoke),
        "jobs": args.jobs,
        "date": started.date().isoformat(),
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - t0,
        "git": _git(),
        "python": sys.version.split()[0],
        "hardware": hw,
        "gpu_run": ("made on " + str(hw.get("gpu"))) if gpu_seen
        else "no GPU run was made: JAX sees no GPU on this machine",
        "workloads": list(records.values()),
    }
    result["targets"] = targets(records, args.smoke)
    tmp = str(out) + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh, indent=2, default=_jsonable)
    os.replace(tmp, out)
    print_table(result)
    print(f"wrote {out} ({result['wall_s']:.0f} s)")
    return 0 if all(r["status"] in ("ok", "skipped") for r in records.values()) else 1


def _replace(argv: list, values: dict) -> list:
    out = list(argv)
    for key, val in values.items():
        if key in out:
            out[out.index(key) + 1] = val
        else:
            out += [key, val]
    return out


if __name__ == "__main__":
    sys.exit(main())
