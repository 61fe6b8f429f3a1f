"""bench-1k's two per-chunk programs alone: process CPU seconds of the compiled pricing program (states -> netting
values; the t0 prices are computed on the host, ``t0_host_cpu_s``) and of the compiled reduction (collateral, sums,
PFE input) on the first chunk, plus, with
``--batches``, each pricing batch jitted alone. Made for back-to-back comparisons on a loaded machine (run it
from two trees one after the other); ``--save`` writes a SHA-1 of every output so that two trees' bits compare.

    python -m benchmarks.bench_chunk [--repeats 3] [--batches] [--compile] [--save out.json]
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.chunk_harness import best_cpu, first_chunk
from benchmarks.common import tree_sha as _sha

import jax  # noqa: E402  (after chunk_harness: the JAX cache off)
import numpy as np  # noqa: E402


def _best(fn, repeats):
    return best_cpu(fn, repeats, digits=3)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=5_000)
    ap.add_argument("--batches", action="store_true")
    ap.add_argument("--compile", action="store_true", help="CPU s of the first call of each program (compile + run)")
    ap.add_argument("--save")
    args = ap.parse_args(argv)

    from exposure.chunks import pricing_function
    from exposure.memory import run_memory_plan
    from exposure.post_simulation import make_aggregator
    from exposure.pricing.today import today_values
    from exposure.pricing.view import PathView, PricingContext

    fc = first_chunk(args.paths, args.chunk, "bench_chunk_", option_tables=True)
    cfg, s, times, ctx, gen, start, stop, states = fc.cfg, fc.s, fc.times, fc.ctx, fc.gen, fc.start, fc.stop, fc.states
    market, model, grid, pf = s.market, s.built.model, s.grid, s.portfolio
    out_dir = cfg.output.dir
    t0c = PricingContext(market, model, np.zeros(1), pf.fixings, (market.asof,))
    batches = list(pf.batches)
    c = time.process_time()
    pres = [b.prepare(ctx) for b in batches]
    pres0 = [b.prepare(t0c) for b in batches]
    rec = {"prepare_cpu_s": round(time.process_time() - c, 3)}
    n_ns = len(pf.netting_sets)
    args_ = (states, pres, times, ctx.numeraire_log_det())
    c = time.process_time()
    price = pricing_function(batches, n_ns, model, False, args_)
    out = jax.block_until_ready(price(*args_))
    rec["pricing_first_call_cpu_s"] = round(time.process_time() - c, 3)
    rec["paths"] = int(states.shape[-1])
    rec["pricing_cpu_s"] = _best(lambda: price(*args_), args.repeats)
    rec["sha_netting"] = _sha(out[0])
    c = time.process_time()
    rec["sha_npv0"] = _sha(today_values(batches, pres0, model))
    rec["t0_host_cpu_s"] = round(time.process_time() - c, 4)

    plan = run_memory_plan(cfg, s)
    agg, _ = make_aggregator(cfg, market, pf, grid, gen.n_paths, model.currencies, out_dir, None, model=model,
                             memory_budget_bytes=plan.store_bytes, reduction="jax")
    red = agg.reducer
    ns, num, fx = out[0], out[2], out[3]
    c = time.process_time()
    sums = red(start, stop, ns, num, fx, states)
    rec["reduction_first_call_cpu_s"] = round(time.process_time() - c, 3)
    rec["reduction_cpu_s"] = _best(lambda: red(start, stop, ns, num, fx, states).pfe, args.repeats)
    rec["sha_reduction"] = _sha((sums.blocks, sums.pfe))

    if args.batches:
        view = PathView.from_states(model, jax.numpy.asarray(states), times, ctx.numeraire_log_det())
        per = {}
        for b, pre in zip(batches, pres):
            name = f"{type(b).__name__}:{getattr(b, 'currency', '')}:{'phys' if getattr(b, 'physical', False) else ''}:{len(b.ids)}"
            f = jax.jit(lambda pre, view, b=b: b.add_netting_values(pre, view, n_ns) if hasattr(b, "add_netting_values")
                        else b.netting_values(pre, view, n_ns))
            per[name] = _best(lambda f=f, pre=pre: f(pre, view), args.repeats)
        rec["batches_cpu_s"] = per
    print(json.dumps(rec, indent=1))
    if args.save:
        with open(args.save, "w") as fh:
            json.dump(rec, fh, indent=1)
    return rec


if __name__ == "__main__":
    main()
