"""Compilation of the option batches' netting values by kind, one tree at a time (issue 9: programs must not grow
with the number of currencies / underlyings):

    python -m benchmarks.bench_option_batches [--kinds EquityOptionBatch,FxOptionBatch] [--paths 256] [overrides]

On the desk book (``portfolio=desk``: equity options on SPX and SX5E, FX options on several pairs, swaptions in EUR
and USD) at ``--paths`` x its grid: the batches of the given kinds, their prepared data at the run's dates and one
chunk of simulated states, then ``sum over batches of netting_values`` as one jitted function. Prints JSON: the
batch count, the StableHLO text size (characters), trace + lower and XLA compile process CPU seconds (persistent
cache off), and the warm call's best CPU seconds. Run it in the base tree and the new one back to back."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ["XPOSURE_JAX_CACHE"] = "0"

import jax  # noqa: E402
import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default="EquityOptionBatch")
    ap.add_argument("--paths", type=int, default=256)
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    import exposure
    from exposure import api
    from exposure.pricing.view import PathView, PricingContext
    from exposure.setup import path_generator

    cfg = exposure.compose(["portfolio=desk", f"simulation.paths={a.paths}", f"simulation.chunk_size={a.paths}",
                            f"output.dir={tempfile.mkdtemp(prefix='bob')}", *a.overrides])
    s = api.setup(cfg)
    market, grid, pf, model = s.market, s.grid, s.portfolio, s.built.model
    times = np.concatenate([[0.0], grid.times])
    ctx = PricingContext(market, model, times, pf.fixings, (market.asof,) + tuple(grid.dates), grid.reporting_mask())
    kinds = set(a.kinds.split(","))
    batches = [b for b in pf.batches if type(b).__name__ in kinds]
    pres = [b.prepare(ctx) for b in batches]
    gen = path_generator(cfg, s)
    states = jax.numpy.asarray(gen.chunk(gen.ranges()[0][0]))
    n_ns = len(pf.netting_sets)

    def netting(pres, states):
        view = PathView.from_states(model, states, times, np.zeros(times.size))
        return sum(b.netting_values(p, view, n_ns) for b, p in zip(batches, pres))

    fn = jax.jit(netting)
    c = time.process_time()
    lowered = fn.lower(pres, states)
    hlo = lowered.as_text()
    c1 = time.process_time()
    compiled = lowered.compile()
    c2 = time.process_time()
    jax.block_until_ready(compiled(pres, states))
    best = 1e9
    for _ in range(5):
        t = time.process_time()
        jax.block_until_ready(compiled(pres, states))
        best = min(best, time.process_time() - t)
    print(json.dumps({"kinds": sorted(kinds), "batches": len(batches), "trades": sum(len(b.specs) for b in batches),
                      "paths": a.paths, "dates": int(times.size), "stablehlo_chars": len(hlo),
                      "trace_lower_cpu_s": round(c1 - c, 3), "compile_cpu_s": round(c2 - c1, 3),
                      "warm_cpu_s": round(best, 4)}))


if __name__ == "__main__":
    main()
