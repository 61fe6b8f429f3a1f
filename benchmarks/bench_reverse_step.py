"""The AD reverse pass's one program ("reverse pass step", ``reverse_ns.block_gradients``): compile and per-block
cost, and its gradients for a comparison between checkouts.

    python -m benchmarks.bench_reverse_step [--portfolio bench-1k] [--paths 256] [--dates 100] [--block 64]
                                            [--reps 2] [--save G.npz] [--compare OTHER.npz]

Workload: the bench-1k set-up of ``bench_sensitivities`` (risk.measures=[CVA]), seed 7. Persistent compilation
cache off: the step is traced, lowered and compiled in this process. Prints process CPU seconds (XLA's threads
included) of trace / lower / compile, the step's MLIR size, lines and while loops, XLA's temp buffer, the CPU seconds
of each block of one pass over the paths, then ``--reps`` more calls of block 0. ``--save`` writes G / P and
the values; ``--compare`` prints, for every leaf, whether it equals OTHER's bit for bit and else the largest
difference relative to the leaf's largest magnitude per output (per measure for G["pres"]).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")


def compare(a_path: str, b_path: str) -> None:
    import numpy as np

    a, b = np.load(a_path), np.load(b_path)
    worst, neq = 0.0, 0
    for k in a.files:
        x, y = a[k], b[k]
        if x.shape != y.shape:
            raise SystemExit(f"{k}: shapes {x.shape} != {y.shape}")
        if not x.size or np.array_equal(x, y):
            continue
        neq += 1
        sc = np.max(np.abs(x), axis=tuple(range(1, x.ndim)), keepdims=True) if x.ndim > 1 else np.max(np.abs(x))
        worst = max(worst, float(np.max(np.abs(x - y) / np.where(sc > 0, sc, 1.0))))
    print(f"{len(a.files)} arrays, {neq} not bit-equal, largest difference {worst:.3g} of scale")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolio", default="bench-1k")
    ap.add_argument("--paths", type=int, default=256)
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--save")
    ap.add_argument("--compare")
    a = ap.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_compilation_cache", False)
    from benchmarks.bench_e2e import compose, resolve_portfolio
    from exposure.api import setup
    from exposure.pricing.linear import differentiable_loops
    from exposure.risk import reverse_ns
    from exposure.risk.programs import device_tree, device_zeros, int_arg
    from exposure.risk.state import path_state

    P, M, seed, cpu = a.paths, ("CVA",), 7, time.process_time
    cfg = compose(resolve_portfolio(a.portfolio), P, a.dates, P, "float64", tempfile.mkdtemp(), csv=False)
    S0, static = path_state(cfg, setup(cfg), M)
    plan = reverse_ns.Plan(S0, static)
    S = device_tree(S0)
    n_out = len(M) * static.n_ns

    ix = device_tree(plan.args())  # the index arrays: arguments, as in reverse_pass_shared

    def step(G, acc, S, ix, start, n_total, seed_):  # reverse_pass_shared's step
        g, y = reverse_ns.block_gradients(S, static, plan, start, a.block, n_total, seed_, False, M, 0.0, ix)
        return jax.tree_util.tree_map(jnp.add, G, g), acc + y

    def zeros():
        G = jax.tree_util.tree_map(lambda x: device_zeros((n_out,) + x.shape, x.dtype),
                                   {k: v for k, v in S.items() if k != "pres"})
        G["pres"] = plan.zeros(len(M))
        return G, device_zeros((len(M), static.n_ns))

    def jitted(f):
        return jax.jit(f, donate_argnums=(0, 1), compiler_options=reverse_ns.STEP_OPTIONS)

    G, acc = zeros()
    with differentiable_loops():
        t0 = cpu()
        traced = jitted(step).trace(G, acc, S, ix, int_arg(0), int_arg(P), int_arg(seed))
        t1 = cpu()
        lowered = traced.lower()
        t2 = cpu()
        text = lowered.as_text()
        compiled = lowered.compile()
        t3 = cpu()
        temp = compiled.memory_analysis().temp_size_in_bytes / 2 ** 30
        print(f"trace {t1 - t0:.1f} / lower {t2 - t1:.1f} / compile {t3 - t2:.1f} CPU s; MLIR {len(text) / 1e6:.2f} MB,"
              f" lines {text.count(chr(10))}, while loops {text.count('stablehlo.while')}; XLA temp {temp:.2f} GiB")
        blocks = []
        for start in range(0, P, a.block):
            t = cpu()
            G, acc = compiled(G, acc, S, ix, int_arg(start), int_arg(P), int_arg(seed))
            jax.block_until_ready(acc)
            blocks.append(cpu() - t)
        G = jax.tree_util.tree_map(lambda x: np.asarray(x) / P, G)
        acc = np.asarray(acc) / P
        reps = []
        for _ in range(a.reps):
            G2, acc2 = zeros()
            t = cpu()
            jax.block_until_ready(compiled(G2, acc2, S, ix, int_arg(0), int_arg(P), int_arg(seed)))
            reps.append(cpu() - t)
    print("per block CPU s:", " ".join(f"{b:.2f}" for b in blocks), "| block 0 again:",
          " ".join(f"{b:.2f}" for b in reps))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.2f} GiB")
    if a.save:
        leaves = jax.tree_util.tree_leaves_with_path(G)
        np.savez(a.save, values=acc, **{jax.tree_util.keystr(p): x for p, x in leaves})
        if a.compare:
            compare(a.compare, a.save)


if __name__ == "__main__":
    main()
