"""bench-1k's FX option batches alone on one chunk: process CPU seconds of ``add_netting_values`` of every FX option
batch chained into one zero (K, n_netting_sets, P) accumulator in one jitted program (as in the chunk program), on
the first chunk's simulated states, less the seconds of a program that only makes that accumulator (its 200 MB
of fresh pages cost as much as the options on bench-1k): ``fx_options_cpu_s``. Made for back-to-back
comparisons of two trees on a loaded machine (run this file with PYTHONPATH set to either tree); ``--save``
writes the netting values to an .npz so that two trees' numbers compare (``--compare`` prints the largest
difference against a saved file, relative to the largest |value| of each batch).

    PYTHONPATH=<tree> python benchmarks/bench_fx_options.py [--repeats 5] [--save a.npz] [--compare b.npz]
"""

from __future__ import annotations

import argparse
import json

from benchmarks.chunk_harness import best_cpu as _best, first_chunk

import jax  # noqa: E402  (after chunk_harness: the JAX cache off)
import numpy as np  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=5_000)
    ap.add_argument("--save")
    ap.add_argument("--compare")
    args = ap.parse_args(argv)

    from exposure.pricing.opt_fx import FxOptionBatch

    fc = first_chunk(args.paths, args.chunk, "bench_fx_options_")
    pf, ctx = fc.s.portfolio, fc.ctx
    batches = [b for b in pf.batches if isinstance(b, FxOptionBatch)]
    pres = [b.prepare(ctx) for b in batches]
    view = fc.view()
    n_ns = len(pf.netting_sets)
    K, P = view.x.shape[1], view.x.shape[2]
    zeros = jax.jit(lambda view: jax.numpy.zeros((K, n_ns, P), view.x.dtype) + view.x[0, 0, 0])

    def chained(pres, view):  # as in the chunk program: every FX batch adds into one running total
        acc = jax.numpy.zeros((K, n_ns, P), view.x.dtype)
        for b, pre in zip(batches, pres):
            acc = b.add_netting_values(pre, view, n_ns, acc)
        return acc

    chain = jax.jit(chained)
    rec = {"paths": P, "batches": [f"{','.join(f + d for f, d in b.pairs)}:{len(b.ids)}" for b in batches]}
    outs = {"netting": np.asarray(chain(pres, view))}
    rec["chain_cpu_s"] = _best(lambda: chain(pres, view), args.repeats)
    rec["zeros_cpu_s"] = _best(lambda: zeros(view), args.repeats)
    rec["fx_options_cpu_s"] = round(rec["chain_cpu_s"] - rec["zeros_cpu_s"], 4)
    if args.save:
        np.savez(args.save, **outs)
    if args.compare:
        ref = np.load(args.compare)
        rec["max_rel_diff"] = {k: float(np.max(np.abs(outs[k] - ref[k])) / max(np.max(np.abs(ref[k])), 1e-300))
                               for k in outs}
        rec["bit_equal"] = all(np.array_equal(outs[k], ref[k]) for k in outs)
    print(json.dumps(rec, indent=1))
    return rec


if __name__ == "__main__":
    main()
