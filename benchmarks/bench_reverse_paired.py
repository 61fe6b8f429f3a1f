"""The AD reverse step (``reverse_ns.block_gradients``) with this checkout's code and with another tree's version of
some functions, compiled in one process and timed alternately (base, new, new, base, ...): a comparison that a
loaded machine's drift between two processes cannot bias.

    python -m benchmarks.bench_reverse_paired --base DIR --swap exposure.risk.ns_swaption:_shared_group
                                              [--portfolio bench-1k] [--paths 256] [--dates 100] [--reps 8]

Workload: ``bench_reverse_step``'s (bench-1k set-up, risk.measures=[CVA], seed 7, blocks of 64 paths, persistent
compilation cache off). ``--swap MODULE:NAME[,NAME]`` (repeatable): the "base" program is traced with those
attributes of MODULE replaced by DIR's version of the module's (loaded from DIR/<module path>.py; its own imports
resolve to this checkout). Prints each program's XLA temp buffer, whether one whole pass over the paths gives the
same G and values bit for bit (else the largest difference relative to a leaf's largest magnitude), and the
process CPU and wall seconds of block 0 per call, with medians.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import tempfile
import time

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="a tree (e.g. `git archive BASE | tar -x -C DIR`)")
    ap.add_argument("--swap", action="append", required=True, help="MODULE:NAME[,NAME] taken from --base")
    ap.add_argument("--portfolio", default="bench-1k")
    ap.add_argument("--paths", type=int, default=256)
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--reps", type=int, default=8)
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

    swaps = []  # (module, name, this checkout's, base's)
    for spec in a.swap:
        mod_name, names = spec.split(":")
        mod = importlib.import_module(mod_name)
        path = os.path.join(a.base, *mod_name.split(".")) + ".py"
        sp = importlib.util.spec_from_file_location(mod_name + "_base", path)
        base_mod = importlib.util.module_from_spec(sp)
        sp.loader.exec_module(base_mod)
        swaps += [(mod, n, getattr(mod, n), getattr(base_mod, n)) for n in names.split(",")]

    P, M, seed, block = a.paths, ("CVA",), 7, 64
    cfg = compose(resolve_portfolio(a.portfolio), P, a.dates, P, "float64", tempfile.mkdtemp(), csv=False)
    S0, static = path_state(cfg, setup(cfg), M)
    plan = reverse_ns.Plan(S0, static)
    S, ix, n_out = device_tree(S0), device_tree(plan.args()), static.n_ns

    def zeros():
        G = jax.tree_util.tree_map(lambda x: device_zeros((n_out,) + x.shape, x.dtype),
                                   {k: v for k, v in S.items() if k != "pres"})
        G["pres"] = plan.zeros(len(M))
        return G, device_zeros((len(M), static.n_ns))

    def build():  # reverse_pass_shared's step, traced afresh (a new function: no trace cache hit)
        def step(G, acc, S, ix, start, n_total, seed_):
            g, y = reverse_ns.block_gradients(S, static, plan, start, block, n_total, seed_, False, M, 0.0, ix)
            return jax.tree_util.tree_map(jnp.add, G, g), acc + y
        return jax.jit(step, donate_argnums=(0, 1), compiler_options=reverse_ns.STEP_OPTIONS).lower(
            *zeros(), S, ix, int_arg(0), int_arg(P), int_arg(seed)).compile()

    with differentiable_loops():
        progs = {"new": build()}
        for mod, n, _, old in swaps:
            setattr(mod, n, old)
        try:
            progs["base"] = build()
        finally:
            for mod, n, new, _ in swaps:
                setattr(mod, n, new)
        print("XLA temp GiB:", {k: round(p.memory_analysis().temp_size_in_bytes / 2 ** 30, 3) for k, p in progs.items()})
        out, t = {}, {k: [] for k in progs}
        for k, p in progs.items():
            G, acc = zeros()
            for st in range(0, P, block):
                G, acc = p(G, acc, S, ix, int_arg(st), int_arg(P), int_arg(seed))
            out[k] = jax.tree_util.tree_leaves(jax.tree_util.tree_map(np.asarray, (G, acc)))
        for r in range(a.reps):
            for k in (("new", "base") if r % 2 else ("base", "new")):
                G, acc = zeros()
                c0, w0 = time.process_time(), time.perf_counter()
                jax.block_until_ready(progs[k](G, acc, S, ix, int_arg(0), int_arg(P), int_arg(seed)))
                t[k].append((time.process_time() - c0, time.perf_counter() - w0))
    neq, worst = 0, 0.0
    for x, y in zip(out["new"], out["base"]):
        if x.size and not np.array_equal(x, y):
            neq += 1
            worst = max(worst, float(np.max(np.abs(x - y)) / max(float(np.max(np.abs(y))), 1e-300)))
    print(f"{len(out['new'])} leaves, {neq} not bit-equal, largest difference {worst:.3g} of scale")
    for k, v in t.items():
        v = np.asarray(v)
        print(f"{k}: block 0 CPU s", " ".join(f"{x:.3f}" for x in v[:, 0]),
              f"| median CPU {np.median(v[:, 0]):.3f} s, wall {np.median(v[:, 1]):.3f} s")


if __name__ == "__main__":
    main()
