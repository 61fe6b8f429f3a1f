"""The memory budget of a run: chunk size, quantile-store spill and working slices chosen from
``simulation.memory_budget_gb`` so that the process's peak resident memory stays below it.

    B      budget in bytes (simulation.memory_budget_gb; default: the machine's RAM)
    R      RESERVE: the interpreter, JAX/XLA with the compiled chunk program, market, model and portfolio
           (0.3-0.7 GB measured on the bundled examples; a constant, so that the plan, and with it the chunk
           layout a checkpoint is resumed on, is the same in every process)
    A      = B - R - H, H the stored cube held in memory for `exposure aggregate` (output.store_cube:
           8 (n_ns + 1 + n_ccy + d) K_all P + 4 n_ns K P [x 2 with a CSA] + 4 K P bytes) and, with dynamic
           initial margin, its numeraire 8 K P
    S      = 8 n_ns K P the netting-set quantile store: in memory when S <= A / 2, else spilled to the run
           folder (its read-back groups then hold at most A / 2)
    c(n)   = 8 K_all (d + n_ccy + 2 + TRADE_FACTOR n_trades + 3 n_trades [trade level]) n + r(n)
           bytes of one chunk of n paths in flight: states, the pricing program's per-trade intermediates
           (TRADE_FACTOR values per trade and date, an estimate), the chunk's outputs, and r(n) the reduction's:
      numpy  r(n) = 8 NUMPY_REDUCTION K n_ns n: the aggregator's collateral and streaming-sum working copies
             (their slices never exceed a chunk)
      jax    r(n) = 8 (JAX_REDUCTION + JAX_X [X and collateral come back: store_cube, trade level]) K n_ns W(n):
             the compiled reduction's buffers (XLA's own count for the compiled program: its arguments, the
             temporaries (collateral state, per-path amounts, blocked copies, pairwise-tree levels, the date
             scan of the path functionals) and its outputs (block sums, the PFE input)), at the width W(n) it is
             compiled for: n paths of device arrays, ``reduction.host_width(n)`` (< n + max(256, n / 4)) for
             host arrays (a checkpoint replay, `exposure aggregate`)
    chunk  = min(simulation.chunk_size [with jax: rounded to the nearest multiple of 256 when >= 256 and < P],
             the largest n with c(n) <= A - S_mem) paths, S_mem = S in memory else 0,
           rounded down to PATH_LANES (a chunk is simulated in lanes of 64 paths), and with the jax reduction to
           a multiple of its block (256 paths) when at least one block fits, so that no block straddles a chunk
           edge; ConfigError when not even one lane fits

The reduction is the one ``simulation.reduction`` resolves to for the run's size
(``aggregation.reduction_choice``); MemoryPlan.reduction names it and the aggregator is built with it.

K_all: simulated dates (t0, exposure and close-out dates), K: exposure dates, n_ns netting sets, d the model's
state dimension. The plan depends only on the config and the inputs. Below the API layer: no Hydra.
"""

from __future__ import annotations

import dataclasses
import math
import os

from exposure.aggregation.reduction_choice import run_reduction
from exposure.errors import ConfigError

GB = 1024**3
RESERVE = 768 * 1024**2
TRADE_FACTOR = 4
PATH_LANES = 64
REDUCTION_BLOCK = 256  # accumulators.DEFAULT_BLOCK: the reduction's summation block
NUMPY_REDUCTION = 24  # float64 (K, n_ns) arrays per path: the NumPy aggregator's working copies
# float64 (K, n_ns) arrays per path of the compiled reduction's width, from XLA's memory analysis of the compiled
# program (arguments + temporaries + outputs; tests/test_memory_reduction.py). Since the reduction is one scan over
# the dates (its temporaries are (n_ns, W) slabs, not (K, n_ns, W) arrays): 5.3 with CVA/DVA/FCA/FBA/FVA (the values
# in, the PFE input out), 7.7 with non-base collateral, close-out dates (twice the simulated dates in) and
# stochastic survival too; returning X and the collateral held adds 2 (9.7 in all); a replay from host arrays also
# holds their padded copy (1-2 more: values and numeraire). Before the date scan: 14.5-15.5, 21 in all.
JAX_REDUCTION = 8
JAX_X = 2


@dataclasses.dataclass(frozen=True)
class MemoryPlan:
    budget: int  # bytes (B)
    chunk_size: int  # paths per chunk
    store_bytes: int  # the quantile store's in-memory threshold (it spills above it), also its read-back size
    spilled: bool  # whether the netting-set quantile store goes to disk
    held: int  # bytes held in memory for all paths (H)
    reduction: str = "numpy"  # the reduction the chunk is sized for ("numpy" or "jax")


def machine_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 * GB


def budget_bytes(budget_gb) -> tuple[int, str]:
    """(bytes, the key to name in messages) of simulation.memory_budget_gb (None: the machine's RAM)."""
    if budget_gb is None:
        return machine_memory_bytes(), "simulation.memory_budget_gb (default: the machine's RAM)"
    try:
        ok = math.isfinite(float(budget_gb)) and float(budget_gb) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError("simulation.memory_budget_gb", f"must be a positive number of GB (got {budget_gb})")
    return int(float(budget_gb) * GB), "simulation.memory_budget_gb"


def reduction_bytes(reduction: str, n: int, k: int, n_ns: int, want_x: bool = False) -> int:
    """r(n) of the module docstring: bytes of the reduction's working set for a chunk of n paths."""
    if reduction == "jax":
        from exposure.aggregation.reduction import host_width

        width = max(int(n), host_width(int(n), REDUCTION_BLOCK))
        return 8 * (JAX_REDUCTION + (JAX_X if want_x else 0)) * k * n_ns * width
    if reduction != "numpy":
        raise ValueError(f"unknown reduction '{reduction}'")
    return 8 * NUMPY_REDUCTION * k * n_ns * int(n)


def memory_plan(budget_gb, chunk_size: int, n_paths: int, k_all: int, k: int, n_ns: int, n_trades: int,
                d: int, n_ccy: int, trade_level: bool = False, store_cube: bool = False, csa: bool = False,
                dim: bool = False, reduction: str = "numpy") -> MemoryPlan:
    """The plan of the module docstring; ConfigError naming simulation.memory_budget_gb when even one lane of
    paths does not fit."""
    B, key = budget_bytes(budget_gb)
    P = int(n_paths)
    held = 0
    if store_cube:
        held += 8 * (n_ns + 1 + n_ccy + d) * k_all * P + 4 * n_ns * k * P * (2 if csa else 1) + 4 * k * P
    if dim:
        held += 8 * k * P
    A = B - RESERVE - held
    per_path = 8 * k_all * (d + n_ccy + 2 + TRADE_FACTOR * n_trades + (3 * n_trades if trade_level else 0))
    want_x = bool(trade_level or store_cube)

    def cost(n: int) -> int:  # c(n)
        return per_path * n + reduction_bytes(reduction, n, k, n_ns, want_x)

    S = 8 * n_ns * k * P
    spilled = S > A // 2
    room = A - (0 if spilled else S)
    if room < cost(PATH_LANES):
        what = f" + {held / GB:.3g} GB for output.store_cube's cube" if held else ""
        raise ConfigError("simulation.memory_budget_gb", f"{key} = {B / GB:.3g} GB is too small for this run: it "
                          f"needs {RESERVE / GB:.3g} GB for the process{what} + {cost(PATH_LANES) / 2**20:.3g} MB "
                          f"for a chunk of {PATH_LANES} paths; raise the budget (or use fewer paths with store_cube)")
    slope = per_path + (reduction_bytes(reduction, 2**20, k, n_ns, want_x) >> 20)  # c(n) >= n slope
    fit = room // max(1, slope) // PATH_LANES * PATH_LANES  # an upper bound, then down to what fits
    step = REDUCTION_BLOCK if reduction == "jax" and fit >= REDUCTION_BLOCK else PATH_LANES
    fit = fit // step * step
    while fit > step and cost(fit) > room:  # the jax width's padding: a few steps at most
        fit -= step
    while fit > PATH_LANES and cost(fit) > room:
        fit -= PATH_LANES
    chunk = min(block_chunk(int(chunk_size), P, reduction), fit)
    return MemoryPlan(B, max(1, chunk), max(1, A // 2), spilled, held, reduction)


def block_chunk(chunk_size: int, n_paths: int, reduction: str) -> int:
    """simulation.chunk_size as the run uses it: with the jax reduction, a chunk of at least one block that
    does not hold every path is rounded to the nearest whole number of blocks (5,000 -> 5,120), so that no
    256-path block straddles a chunk edge and the run compiles the reduction at one width only (an edge block
    would need a second program, width 256, assembled on the host). Results do not depend on the chunking."""
    B = REDUCTION_BLOCK
    if reduction != "jax" or chunk_size < B or chunk_size >= n_paths:
        return chunk_size
    return max(B, (chunk_size + B // 2) // B * B)


def run_memory_plan(cfg, s) -> MemoryPlan:
    """The plan of a run from its config and Setup (portfolio, grid, model)."""
    pf, model = s.portfolio, s.built.model
    k_all = len(s.grid.dates) + 1
    co = getattr(s.grid, "closeout_index", None)
    k = k_all if co is None else 1 + len(s.grid.valuation_index)
    n_ns = len(pf.netting_sets) if pf is not None else 0
    n_trades = sum(len(b.ids) for b in pf.batches) if pf is not None else 0
    # The reduction as the aggregator resolves it (post_simulation.make_aggregator): exposure dates with t0.
    reduction = run_reduction(cfg, n_ns, 1 + len(s.grid.valuation_index), int(cfg.simulation.paths))
    return memory_plan(getattr(cfg.simulation, "memory_budget_gb", None), int(cfg.simulation.chunk_size),
                       int(cfg.simulation.paths), k_all, k, n_ns, n_trades, int(model.dim), len(model.currencies),
                       bool(cfg.output.trade_level), bool(cfg.output.store_cube),
                       pf is not None and any(ns.csa is not None for ns in pf.netting_sets),
                       co is not None, reduction)
