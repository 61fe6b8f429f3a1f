"""bench-1k's linear batch alone on one chunk: process CPU seconds of its netting values with the current coupons
summed one by one (``cu_width=()``: a select chain and a segment-sum scatter per live coupon and path, the base) and
per (netting set, distinct exponent) weight sums (``linear_eval._coupon_slots``), in one process, alternated, and
the largest difference of the two relative to each netting set's largest |value|.

    python -m benchmarks.bench_linear_coupons [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")

import jax  # noqa: E402
import numpy as np  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    import exposure
    from benchmarks.bench_e2e import BENCH_1K, overrides
    from exposure import api
    from exposure.pricing.linear import LinearBatch
    from exposure.pricing.view import PathView, PricingContext
    from exposure.setup import path_generator

    cfg = exposure.compose(overrides(BENCH_1K, 10_000, 100, 5_000, "float64", tempfile.mkdtemp(prefix="bench_lc_")))
    s = api.setup(cfg)
    market, model, grid, pf = s.market, s.built.model, s.grid, s.portfolio
    times = np.concatenate([[0.0], grid.times])
    ctx = PricingContext(market, model, times, pf.fixings, (market.asof,) + tuple(grid.dates), grid.reporting_mask(),
                         option_tables=True)
    gen = path_generator(cfg, s)
    view = PathView.from_states(model, jax.numpy.asarray(gen.chunk(gen.ranges()[0][0])), times,
                                ctx.numeraire_log_det())
    n_ns = len(pf.netting_sets)
    rec = {"paths": int(view.x.shape[-1])}
    for i, b in enumerate(x for x in pf.batches if isinstance(x, LinearBatch)):
        pre = b.prepare(ctx)
        pres = {"per_coupon": dataclasses.replace(pre, cu_width=()), "slots": pre}
        f = jax.jit(lambda p, v, b=b: b.add_netting_values(p, v, n_ns))
        out = {k: np.asarray(jax.block_until_ready(f(p, view))) for k, p in pres.items()}
        best = dict.fromkeys(pres, 1e9)
        for _ in range(args.repeats):
            for k, p in pres.items():
                c = time.process_time()
                jax.block_until_ready(f(p, view))
                best[k] = min(best[k], time.process_time() - c)
        a, n = out["per_coupon"], out["slots"]
        scale = np.abs(a).max(axis=(0, 2), keepdims=True)
        rel = float(np.max(np.abs(a - n) / np.where(scale > 0, scale, 1.0), initial=0.0))
        rec[f"{b!r}#{i}"] = {"cpu_s": {k: round(v, 3) for k, v in best.items()}, "cu_width": pre.cu_width,
                             "max_diff_rel_netting_set": rel}
    print(json.dumps(rec, indent=1))
    return rec


if __name__ == "__main__":
    main()
