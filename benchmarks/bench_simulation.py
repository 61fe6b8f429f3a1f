"""Simulation-only workload: 3 currencies + 2 FX rates (5 factors) x paths x 120 monthly dates.

Times the generation of every path-date state (chunked, streamed, each chunk reduced so the work cannot
be skipped), cold (compilation included) and warm (median of repeats). Throughput = paths x dates / s.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

import exposure
from exposure.api import path_generator, setup

from benchmarks.common import hardware, peak_rss_gib, time_cold_warm


def workload(paths: int, dates: int, chunk: int, precision: str = "float64"):
    cfg = exposure.compose([
        "~portfolio", "market=flat", "model=flat", "~market.equities.SPX",
        f"simulation.grid='{dates}x1M'", f"simulation.paths={paths}", f"simulation.chunk_size={chunk}",
        f"simulation.precision={precision}",
    ])
    s = setup(cfg)
    gen = path_generator(cfg, s)

    def run():
        total = jnp.zeros(())
        for _, _, states in gen.chunks():
            total = total + jnp.sum(states[-1])
        jax.block_until_ready(total)

    return s, run


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--dates", type=int, default=120)
    ap.add_argument("--chunk", type=int, default=25_000)
    ap.add_argument("--precision", default="float64")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    s, run = workload(args.paths, args.dates, args.chunk, args.precision)
    t = time_cold_warm(run, args.repeats)
    n_factors = len(s.built.model.factor_names)
    pd_ = args.paths * args.dates
    out = {
        "workload": "simulation",
        "tuple": f"0 trades x {args.paths} paths x {args.dates} dates x {n_factors} factors",
        "precision": args.precision,
        "chunk": args.chunk,
        **t,
        "path_dates_per_s_warm": pd_ / t["warm_s"],
        "path_dates_per_s_cold": pd_ / t["cold_s"],
        "peak_rss_gib": peak_rss_gib(),
        "hardware": hardware(),
    }
    print(out)
    return out


if __name__ == "__main__":
    main()
