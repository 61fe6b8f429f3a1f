"""All sensitivities of a portfolio's CVA: one plain run, reverse-mode AD (risk=ad) and bump-and-revalue
(risk=bump), each in a fresh child process (wall time and peak resident memory).

    python -m benchmarks.bench_sensitivities [--portfolio bench-1k|mini|FILE] [--paths 512] [--dates 100]
                                             [--factor-types DiscountCurve,CDSSpread] [--bump-factors 4]
                                             [--jax-cache DIR]

Workload: the bench-1k set-up (market=example, model=example with the USD co-terminal calibration, grid
'<dates>x1M'), risk.measures=[CVA], every factor of the example market (about 170; ``--factor-types`` narrows
them). Bump-and-revalue runs two full pipeline runs per factor; with ``--bump-factors n`` only the first n
factors are bumped and the time per factor is scaled to all of them (stated in the output). The AD time is split
(attrs risk_timings) into the reverse pass over the paths (compilation included) and the set-up tangents (two
NumPy set-up builds per factor). Prints one JSON line per mode and a summary line.

JAX's persistent compilation cache is OFF by default in the children (``bench_e2e`` sets XPOSURE_JAX_CACHE=0
before ``exposure`` is imported: cold times, every program compiled; JAX then still reports each compilation
through ``compiler._compile_and_write_cache`` although nothing is read or written). ``--jax-cache DIR`` runs the
children with that cache folder instead (run twice for warm figures). Each JSON line states ``jax_cache`` and the
run's program counts (``compile_requests``: programs lowered; ``compiles``: compiled, i.e. not read from the cache).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _child(a) -> None:
    import os

    if a.jax_cache:
        os.environ["XPOSURE_JAX_CACHE"] = a.jax_cache  # before bench_e2e's default (off) and exposure's import
    from benchmarks.bench_e2e import compose, resolve_portfolio
    from exposure.pipeline import run_pipeline

    out = tempfile.mkdtemp(prefix="xposure-sens-")
    cfg = compose(resolve_portfolio(a.portfolio), a.paths, a.dates, a.paths, "float64", out, csv=False)
    from omegaconf import OmegaConf

    risk = {"method": a.mode if a.mode != "plain" else "none", "measures": ["CVA"],
            "factor_types": [t for t in a.factor_types.split(",") if t]}
    cfg = OmegaConf.merge(cfg, {"risk": risk, "report": {"plots": False, "html": False}})
    if a.mode == "bump" and a.bump_factors:
        from exposure.risk import stage

        full = stage.factor_list
        n_all = []

        def first_n(cfg_, s_, settings):
            fs = full(cfg_, s_, settings)
            n_all.append(len(fs))
            return fs[: a.bump_factors]

        stage.factor_list = first_n
    import jax

    from exposure.risk.programs import compile_counter

    t = time.perf_counter()
    with compile_counter() as cc:
        res = run_pipeline(cfg)
    wall = time.perf_counter() - t
    ds = res.dataset
    rec = {"mode": a.mode, "wall_s": round(wall, 3), "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
           "paths": a.paths, "dates": a.dates, "portfolio": a.portfolio, "n_trades": int(ds.attrs.get("n_trades", 0)),
           "jax_cache": jax.config.jax_compilation_cache_dir or "off", "compile_requests": cc.requests,
           "compiles": cc.compiles, "compile_s": round(cc.seconds, 1)}
    if "sensitivity" in ds:
        rec["n_factors"] = int(ds.sizes["risk_factor"])
        rec["risk_s"] = round(float(ds.attrs["risk_seconds"]), 3)
        rec["risk_timings"] = ds.attrs.get("risk_timings", "")
        if a.save:  # the sensitivities with their factor labels (to compare two builds' numbers)
            import numpy as np

            np.savez(a.save, values=np.asarray(ds["sensitivity"].values),
                     factor_type=np.asarray(ds["factor_type"].values).astype(str),
                     factor_name=np.asarray(ds["factor_name"].values).astype(str))
        if a.mode == "bump" and a.bump_factors:
            rec["n_factors_all"] = n_all[0]
            rec["risk_s_scaled_to_all"] = round(rec["risk_s"] * n_all[0] / max(rec["n_factors"], 1), 1)
    print(json.dumps(rec), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolio", default="bench-1k")
    ap.add_argument("--paths", type=int, default=512)
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--factor-types", default="")
    ap.add_argument("--bump-factors", type=int, default=4)
    ap.add_argument("--jax-cache", default="", help="JAX persistent cache folder of the children (default: off)")
    ap.add_argument("--save", default="", help="with --mode: write the sensitivities (npz: values, factors) here")
    ap.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.mode:
        return _child(a)
    from benchmarks.common import hardware

    recs = {}
    for mode in ("plain", "ad", "bump"):
        cmd = [sys.executable, "-m", "benchmarks.bench_sensitivities", "--mode", mode, "--portfolio", a.portfolio,
               "--paths", str(a.paths), "--dates", str(a.dates), "--factor-types", a.factor_types,
               "--bump-factors", str(a.bump_factors), "--jax-cache", a.jax_cache]
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode or not lines:
            raise SystemExit(f"{mode} failed:\n{p.stderr[-3000:]}")
        recs[mode] = json.loads(lines[-1])
        print(lines[-1], flush=True)
    plain = recs["plain"]["wall_s"]
    bump_total = recs["bump"].get("risk_s_scaled_to_all", recs["bump"].get("risk_s"))
    print(json.dumps({"summary": True, "hardware": hardware(),
                      "ad_over_plain_time": round(recs["ad"]["wall_s"] / plain, 2),
                      "ad_over_plain_peak_rss": round(recs["ad"]["peak_rss_gib"] / recs["plain"]["peak_rss_gib"], 2),
                      "bump_all_factors_s": bump_total, "bump_over_plain_time": round((bump_total + plain) / plain, 1)}))


if __name__ == "__main__":
    main()
