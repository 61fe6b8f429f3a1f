"""Shared set-up of the one-chunk harnesses (``bench_chunk``, ``bench_exercised``, ``bench_fx_options``): bench-1k
composed at ``paths`` x 100 dates, its set-up, a pricing context on the run's dates and the first chunk's simulated
states (``first_chunk``), and the best process CPU seconds of a compiled call (``best_cpu``). Importing it switches
the persistent JAX cache off (a harness times compiles and runs of this process, not a cache's)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")

import jax  # noqa: E402
import numpy as np  # noqa: E402


def best_cpu(fn, repeats: int, digits: int = 4) -> float:
    """min over ``repeats`` calls of the process CPU seconds of fn() (its result ready), after one warm-up call."""
    jax.block_until_ready(fn())
    best = 1e9
    for _ in range(repeats):
        c = time.process_time()
        jax.block_until_ready(fn())
        best = min(best, time.process_time() - c)
    return round(best, digits)


@dataclasses.dataclass(frozen=True)
class FirstChunk:
    cfg: object
    s: object  # api.setup's result
    times: np.ndarray  # (K,) years, t0 first
    ctx: object  # PricingContext on the run's dates
    gen: object  # the run's path generator
    start: int
    stop: int
    states: np.ndarray  # (factors, K, P) of paths [start, stop)

    def view(self):
        from exposure.pricing.view import PathView
        return PathView.from_states(self.s.built.model, jax.numpy.asarray(self.states), self.times,
                                    self.ctx.numeraire_log_det())


def first_chunk(paths: int, chunk: int, prefix: str, option_tables: bool = False) -> FirstChunk:
    """bench-1k (``bench_e2e.BENCH_1K``) at paths x 100 dates in chunks of ``chunk``, output in a fresh temporary
    folder: its set-up and the first chunk's states; option_tables: the context tabulates the swaptions (as a plain
    run's prepare does; left out where the tree's PricingContext has no such field)."""
    import exposure
    from benchmarks.bench_e2e import BENCH_1K, overrides
    from exposure import api
    from exposure.pricing.view import PricingContext
    from exposure.setup import path_generator

    cfg = exposure.compose(overrides(BENCH_1K, paths, 100, chunk, "float64", tempfile.mkdtemp(prefix=prefix)))
    s = api.setup(cfg)
    market, grid, pf = s.market, s.grid, s.portfolio
    times = np.concatenate([[0.0], grid.times])
    extra = {"option_tables": True} if option_tables and "option_tables" in PricingContext.__dataclass_fields__ else {}
    ctx = PricingContext(market, s.built.model, times, pf.fixings, (market.asof,) + tuple(grid.dates),
                         grid.reporting_mask(), **extra)
    gen = path_generator(cfg, s)
    start, stop = gen.ranges()[0]
    return FirstChunk(cfg, s, times, ctx, gen, start, stop, gen.chunk(start))
