"""bench-1k warm, stage by stage: where the seconds of one warm ``bench_e2e`` run go.

Runs the bench_e2e workload (setup + run_pipeline) once to compile, then ``--repeats`` warm runs with every
stage's entry point wrapped: the wrapper waits for the stage's JAX outputs (``block_until_ready``), so the
asynchronous dispatch does not move one stage's seconds into the next (the total is then a little above an
unwrapped run's: the stages no longer overlap). Stages:

    setup       exposure.api.setup (market, model with calibration, grid, portfolio parsing)
    prepare     the batches' prepare() for the simulation dates and for t0
    simulation  simulate_chunk, per chunk            bridge     bridge_states, per chunk
    pricing     the compiled chunk pricer (netting values, numeraire, fx), per chunk
    t0          the t0 prices on the host (``pricing.today``; before issue 9 they were in the chunk pricer)
    reduction   ChunkReducer (collateral, block sums, functionals, PFE input), per chunk, with host copies
    aggregate   ExposureAggregator.add_chunk (quantile store, block totals) per chunk
    finalize    measures from the running sums (quantiles, profiles, XVA)
    results     the results Dataset            write      results.h5, CSVs, config (pipeline._write)
    other       the rest of the run (total minus the stages)

Printed per warm run: [wall s, process CPU s] per stage (CPU: all threads; on a loaded machine the CPU
seconds compare better than the wall seconds).

    python -m benchmarks.bench_stages [--portfolio bench-1k] [--paths 10000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time

from benchmarks.bench_e2e import compose, resolve_portfolio
from benchmarks.measure import disable_persistent_cache

SECONDS: dict = collections.defaultdict(float)  # wall seconds per stage
CPU: dict = collections.defaultdict(float)  # process CPU seconds per stage (all threads)


def _block(out):
    import jax

    for leaf in jax.tree_util.tree_leaves(out):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return out


def _wrap(owner, name: str, stage, sync: bool = True):
    fn = getattr(owner, name)

    def timed(*args, **kw):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kw)
        if sync:
            _block(out)
        label = stage(args) if callable(stage) else stage
        SECONDS[label] += time.perf_counter() - t
        CPU[label] += time.process_time() - c
        return out

    setattr(owner, name, timed)


def instrument() -> None:
    import exposure.api as api
    import exposure.chunks as chunks
    import exposure.pipeline as pipeline
    import exposure.simulation.paths as paths
    from exposure.aggregation.measures import ExposureAggregator
    from exposure.aggregation.reduction import ChunkReducer
    from exposure.post_simulation import PostSimulation

    _wrap(api, "setup", "setup")
    _wrap(pipeline, "setup", "setup")
    _wrap(paths, "compiled", lambda a: {"simulate_chunk": "simulation", "bridge_states": "bridge"}.get(a[1], a[1]))
    pf = chunks.pricing_function

    def pricing_function(*a, **k):
        price = pf(*a, **k)

        def timed(*args):
            t, c = time.perf_counter(), time.process_time()
            out = _block(price(*args))
            SECONDS["pricing"] += time.perf_counter() - t
            CPU["pricing"] += time.process_time() - c
            return out
        return timed

    chunks.pricing_function = pricing_function
    _wrap(ChunkReducer, "__call__", "reduction")
    _wrap(ExposureAggregator, "add_chunk", "aggregate", sync=False)
    _wrap(PostSimulation, "finalize", "finalize", sync=False)
    _wrap(PostSimulation, "results", "results", sync=False)
    _wrap(pipeline, "_write", "write", sync=False)
    if hasattr(pipeline, "today_values"):
        _wrap(pipeline, "today_values", "t0", sync=False)
    for b in _batch_classes():
        _wrap(b, "prepare", "prepare")


def _batch_classes():
    from exposure.pricing.linear import LinearBatch
    from exposure.pricing.opt_capfloor import CapFloorBatch
    from exposure.pricing.opt_equity import EquityOptionBatch
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.pricing.opt_swaption import SwaptionBatch

    return LinearBatch, CapFloorBatch, EquityOptionBatch, FxOptionBatch, SwaptionBatch


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolio", default="bench-1k")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--chunk", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=None, help="keep the last run's results here (default: a temporary folder)")
    args = ap.parse_args(argv)
    disable_persistent_cache()
    import exposure.api as api
    from exposure.pipeline import run_pipeline

    instrument()
    runs = []
    with tempfile.TemporaryDirectory(prefix="xposure-stages-") as tmp:
        out_dir = args.out or tmp
        cfg = compose(resolve_portfolio(args.portfolio), args.paths, args.dates, args.chunk, "float64", out_dir)
        for i in range(1 + args.repeats):
            SECONDS.clear()
            CPU.clear()
            t, c = time.perf_counter(), time.process_time()
            run_pipeline(cfg, api.setup(cfg))
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            rec = {k: [round(v, 3), round(CPU[k], 3)] for k, v in SECONDS.items()}
            rec["other"] = [round(wall - sum(SECONDS.values()), 3), round(cpu - sum(CPU.values()), 3)]
            rec["total"] = [round(wall, 3), round(cpu, 3)]
            if i:
                runs.append(rec)
    print(json.dumps({"[wall s, cpu s] per warm run": runs}))
    return runs


if __name__ == "__main__":
    main()
