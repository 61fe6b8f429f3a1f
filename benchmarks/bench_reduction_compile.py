"""The per-chunk reduction program's cold cost, paired: trace, lowering and XLA compile process-CPU seconds of
``reduction_program.build_program`` from one or more source trees, compiled alternately in ONE process (the JAX
cache off), then their warm run CPU seconds (interleaved) and a SHA-1 of their outputs, on bench-1k's reducer
(50 netting sets, 20 with CSAs, its path functionals; first chunk, 5,120 paths x 101 dates) with synthetic
values. One process and alternating order make two variants comparable on a loaded machine, where separate
fresh processes differ by +-30%.

    python -m benchmarks.bench_reduction_compile [--rounds 4] [TREE ...]

TREE: a source tree (``git archive <rev> | tar -x -C DIR``) whose ``exposure/aggregation/reduction_program.py``
and ``reduction.py`` (``program_params``) are loaded side by side; default: this checkout only. The reducer
itself (netting sets, functionals, switches) comes from the imported package.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import types

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import tree_sha as _sha  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_1k_reducer(paths: int = 10_000, chunk: int = 5_000):
    """(ChunkReducer, program arguments without params, width W) of bench-1k's first chunk, synthetic values."""
    import exposure
    from benchmarks.bench_e2e import BENCH_1K, overrides
    from exposure import api
    from exposure.memory import run_memory_plan
    from exposure.post_simulation import make_aggregator
    from exposure.setup import path_generator

    cfg = exposure.compose(overrides(BENCH_1K, paths, 100, chunk, "float64", tempfile.mkdtemp(prefix="bench_rc_")))
    s = api.setup(cfg)
    gen = path_generator(cfg, s)
    model = s.built.model
    plan = run_memory_plan(cfg, s)
    agg, _ = make_aggregator(cfg, s.market, s.portfolio, s.grid, gen.n_paths, model.currencies, cfg.output.dir,
                             None, model=model, memory_budget_bytes=plan.store_bytes, reduction="jax")
    red = agg.reducer
    start, stop = gen.ranges()[0]
    n = stop - start
    W = -(-n // red.B) * red.B
    k_all = int(s.grid.times.size) + 1
    rng = np.random.default_rng(0)
    vals = np.cumsum(rng.standard_normal((k_all, red.n_ns, W)), axis=0) * 1e5
    num = np.exp(0.01 * np.cumsum(rng.standard_normal((k_all, W)), axis=0))
    fx = np.exp(0.01 * np.cumsum(rng.standard_normal((len(model.currencies), k_all, W)), axis=1))
    states = 0.01 * rng.standard_normal((np.asarray(model.initial_state()).shape[0], k_all, W))
    M = red.weights(states, n)
    fx_in = fx if any(f is not None for f in red.fx_idx) else np.zeros((0, k_all, W))
    M_in = None if M is None else np.pad(M, ((0, 0), (0, 0), (0, W - n)))
    return red, (vals, num, fx_in, M_in, np.int32(0), np.int32(n)), W


def load_variant(tree: str, i: int):
    """(build_program, program_params) of a source tree's reduction modules, loaded under private names."""
    spec = importlib.util.spec_from_file_location(f"_rc_program_{i}", f"{tree}/exposure/aggregation/reduction_program.py")
    rp = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = rp
    spec.loader.exec_module(rp)
    src = open(f"{tree}/exposure/aggregation/reduction.py").read().replace(
        "from exposure.aggregation.reduction_program import", f"from {spec.name} import")
    md = types.ModuleType(f"_rc_reduction_{i}")
    sys.modules[md.__name__] = md
    exec(compile(src, f"{tree}/exposure/aggregation/reduction.py", "exec"), md.__dict__)
    return rp.build_program, md.program_params


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trees", nargs="*", default=[REPO])
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args(argv)
    red, base_args, W = bench_1k_reducer()
    variants = []
    for i, t in enumerate(args.trees):
        build, params = load_variant(t, i)
        variants.append((f"{i}:{os.path.basename(os.path.abspath(t))}", build, base_args + (params(red),)))
    rec = {name: {"trace": [], "lower": [], "compile": [], "run": []} for name, _, _ in variants}
    compiled = {}
    for rnd in range(args.rounds):  # alternate the order so that neither variant always goes first
        for name, build, a in (variants if rnd % 2 == 0 else variants[::-1]):
            f = jax.jit(build(red, W))  # a new function: traced, lowered and compiled again
            c0 = time.process_time()
            lowered_in = f.trace(*a)
            c1 = time.process_time()
            lowered = lowered_in.lower()
            c2 = time.process_time()
            compiled[name] = (lowered.compile(), a)
            c3 = time.process_time()
            r = rec[name]
            r["trace"].append(round(c1 - c0, 3))
            r["lower"].append(round(c2 - c1, 3))
            r["compile"].append(round(c3 - c2, 3))
            r["stablehlo_lines"] = lowered.as_text().count("\n")
    for _ in range(3 * args.rounds):
        for name, (co, a) in compiled.items():
            jax.block_until_ready(co(*a))
            c = time.process_time()
            jax.block_until_ready(co(*a))
            rec[name]["run"].append(round(time.process_time() - c, 4))
    for name, (co, a) in compiled.items():
        r = rec[name]
        r["sha"] = _sha(co(*a))
        r["median"] = {k: round(statistics.median(r[k]), 4) for k in ("trace", "lower", "compile", "run")}
        print(f"{name:24s} StableHLO lines {r['stablehlo_lines']:5d}  median CPU s: trace {r['median']['trace']:.3f} "
              f"lower {r['median']['lower']:.3f} compile {r['median']['compile']:.3f} warm run {r['median']['run']:.4f}"
              f"  sha {r['sha']}")
    print("load average", " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?")
    return rec


if __name__ == "__main__":
    main()
