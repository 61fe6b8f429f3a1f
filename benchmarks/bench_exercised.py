"""bench-1k's physically settled swaptions' direct netting values alone (``swaption_exercised.netting_values``: the
exercised swap after expiry, its running coupons and the near-expiry Jamshidian terms), each physical batch jitted
alone on the first chunk's states, added into a (K, n_ns, P) total of zeros (as ``SwaptionBatch.add_netting_values``
adds them into the run's total; the zero fill of the total is in every figure): process CPU seconds, best of
``--repeats``. Made for back-to-back comparisons on
a loaded machine (run it from two trees one after the other); ``--save DIR`` writes each batch's values (.npy) and
``--against DIR`` reports the largest difference to them relative to each netting set's largest |value|.

    python -m benchmarks.bench_exercised [--repeats 5] [--save DIR] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from benchmarks.chunk_harness import best_cpu as _best, first_chunk

import jax  # noqa: E402  (after chunk_harness: the JAX cache off)
import numpy as np  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=5_000)
    ap.add_argument("--save")
    ap.add_argument("--against")
    args = ap.parse_args(argv)

    from exposure.pricing.opt_swaption import SwaptionBatch
    from exposure.pricing import swaption_exercised as se

    fc = first_chunk(args.paths, args.chunk, "bench_exercised_", option_tables=True)
    pf, ctx, states = fc.s.portfolio, fc.ctx, fc.states
    batches = [b for b in pf.batches if isinstance(b, SwaptionBatch) and b.physical]
    view = fc.view()
    rec = {"paths": int(states.shape[-1]), "batches": {}}
    for b in batches:
        c = time.process_time()
        pre = b.prepare(ctx)
        prep = time.process_time() - c
        ci = view.ccy_index(b.currency)
        x, fx, ns, n_ns = view.x[ci], view.fx[ci], np.unique(b.netting_set), len(pf.netting_sets)

        def f(pre, x, fx, ns=ns):
            acc = jax.numpy.zeros((x.shape[0], n_ns, x.shape[1]), x.dtype)
            if hasattr(se, "add_netting_values"):
                return se.add_netting_values(acc, pre, x, fx, ns)
            return acc.at[:, jax.numpy.asarray(ns.astype(np.int32))].add(se.netting_values(pre, x, fx, ns.size))

        f = jax.jit(f)
        c = time.process_time()
        v = np.asarray(jax.block_until_ready(f(pre, x, fx)))
        first = time.process_time() - c
        name = f"{b.currency}:{len(b.ids)}"
        rec["batches"][name] = {"cpu_s": _best(lambda: f(pre, x, fx), args.repeats), "first_call_cpu_s": round(first, 3),
                                "prepare_cpu_s": round(prep, 3)}
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            np.save(os.path.join(args.save, f"{b.currency}_{len(b.ids)}.npy"), v)
        if args.against:
            ref = np.load(os.path.join(args.against, f"{b.currency}_{len(b.ids)}.npy"))
            scale = np.maximum(np.max(np.abs(ref), axis=(0, 2)), 1e-300)[None, :, None]
            rec["batches"][name]["max_rel_diff"] = float(np.max(np.abs(v - ref) / scale))
            rec["batches"][name]["bitwise_equal"] = bool(np.array_equal(v, ref))
    print(json.dumps(rec, indent=1))
    return rec


if __name__ == "__main__":
    main()
