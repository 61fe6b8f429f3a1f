"""The aggregation stage alone at bench-1k's shape: ExposureAggregator.add_chunk for 2 chunks of 5,000 paths of
(101 dates, 50 netting sets, 20 with CSAs) values, with the CVA/DVA/FCA/FBA/FVA path functionals and PFE
quantiles, reduction="numpy" (the host NumPy aggregator) against reduction="jax" (the compiled per-chunk
reduction, called here on host arrays as on a checkpoint replay). Wall and process CPU seconds of the warm pass
(the first pass compiles), so that a loaded machine can still compare the two.

    python -m benchmarks.bench_reduction [--paths 10000] [--chunk 5000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from exposure.aggregation.measures import ExposureAggregator
from exposure.portfolio.netting import Csa, NettingSet


def workload(paths: int, n_ns: int = 50, k_all: int = 101, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 100 / 12, k_all)
    V = np.cumsum(rng.standard_normal((k_all, n_ns, paths)), axis=0) * 1e5
    N = np.exp(0.02 * t)[:, None] * np.exp(0.01 * np.cumsum(rng.standard_normal((k_all, paths)), axis=0))
    sets = [NettingSet(f"NS{j}", f"CP{j % 20}", Csa(threshold_cpty=1e5, mta_cpty=1e4, mta_bank=1e4, rounding=1e3)
                       if j % 5 < 2 else None) for j in range(n_ns)]
    w = np.full((n_ns, k_all), 1e-3)
    funcs = {"CVA": ("EPE", w), "DVA": ("ENE", w), "FCA": ("FundingEPE", w), "FBA": ("FundingENE", w),
             "FVA": [("FundingEPE", w), ("FundingENE", -w)]}
    kw = dict(t0_index=0, path_functionals=funcs, functional_groups=np.arange(n_ns) % 20)
    return sets, t, V, N, kw


def timed(reduction: str, paths: int, chunk: int, data) -> dict:
    sets, t, V, N, kw = data
    out = {}
    for label in ("first", "warm"):
        w0, c0 = time.perf_counter(), time.process_time()
        with ExposureAggregator(sets, paths, t, reduction=reduction, **kw) as agg:
            for a in range(0, paths, chunk):
                b = min(paths, a + chunk)
                agg.add_chunk(a, b, V[..., a:b], N[:, a:b])
            w1, c1 = time.perf_counter(), time.process_time()
            res = agg.finalize()
        out[label] = {"add_chunk_wall_s": w1 - w0, "add_chunk_cpu_s": c1 - c0,
                      "with_finalize_wall_s": time.perf_counter() - w0}
    out["EPE_sum"] = float(res.netting["EPE"].sum())
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=5_000)
    args = ap.parse_args(argv)
    data = workload(args.paths)
    rec = {r: timed(r, args.paths, args.chunk, data) for r in ("numpy", "jax")}
    print(json.dumps(rec, indent=1))
    return rec


if __name__ == "__main__":
    main()
