"""Checks of a run's outputs and size, before any compute (``exposure validate`` and ``exposure run``).

    check_outputs(cfg)        output.dir creatable/writable and a folder, results.h5 not a folder,
                              output.quantiles non-empty and each in (0, 1), simulation.resume known
    check_run_size(cfg, s)    ids at most MAX_ID_LENGTH characters; the run's memory plan (exposure.memory: chunk
                              size and quantile spill from simulation.memory_budget_gb, default the machine's RAM;
                              refused when not even one chunk fits) and the disk it needs in the output folder's
                              file system (the spilled quantile store and the checkpoint journal, ``disk_bytes``);
                              scenarios (``exposure simulate``): 8 x paths x dates x state dimension in memory

Below the API layer: reads attributes of config nodes, imports no Hydra.
"""

from __future__ import annotations

import os
import shutil

from exposure.errors import ConfigError
from exposure.memory import GB, budget_bytes

MAX_ID_LENGTH = 256


def check_outputs(cfg) -> None:
    from exposure.checkpoint_resume import checkpoint_settings
    from exposure.run_folder import check_output_dir

    check_output_dir(str(cfg.output.dir))
    checkpoint_settings(cfg)  # simulation.resume is one of auto, strict, require, never
    qs = list(cfg.output.quantiles or [])
    if not qs:
        raise ConfigError("output.quantiles", "is empty: give at least one PFE quantile in (0, 1), e.g. [0.95]")
    for i, q in enumerate(qs):
        try:
            qf = float(q)
        except (TypeError, ValueError):
            raise ConfigError(f"output.quantiles[{i}]", f"not a number ({q!r})") from None
        if not (0.0 < qf < 1.0):  # also refuses NaN
            raise ConfigError(f"output.quantiles[{i}]", f"must be in (0, 1) (got {q})")
    if len(set(float(q) for q in qs)) != len(qs):
        raise ConfigError("output.quantiles", f"repeats a quantile ({qs})")


def disk_bytes(cfg, s, plan) -> int:
    """What a run writes under its staging folder besides its results: the spilled quantile store
    (8 x paths x exposure dates x netting sets) and the checkpoint journal: running sums of a size independent
    of the paths when the store is spilled (``exposure.checkpoint`` state mode; no cube, no dynamic IM), else
    the chunk outputs, 8 x paths x simulated dates x (netting sets + 1 + currencies [+ trades with
    trade_level] [+ states with store_cube])."""
    P, K_all = int(cfg.simulation.paths), len(s.grid.dates) + 1
    n_ns = len(s.portfolio.netting_sets)
    n_trades = sum(len(b.ids) for b in s.portfolio.batches)
    model = s.built.model
    need = 8 * P * K_all * n_ns if plan.spilled else 0
    # With the store spilled (and no cube or dynamic IM in memory) the journal holds running sums, not paths.
    dim = getattr(s.grid, "closeout_index", None) is not None and bool(getattr(getattr(cfg, "xva", None), "mva", False))
    compact = plan.spilled and not bool(cfg.output.store_cube) and not dim
    if bool(getattr(cfg.simulation, "checkpoint", True)) and not compact:
        rows = n_ns + 1 + len(model.currencies) + (n_trades if bool(cfg.output.trade_level) else 0) \
            + (int(model.dim) if bool(cfg.output.store_cube) else 0)
        need += 8 * P * K_all * rows
    return need


def check_ids(s) -> None:
    pf = s.portfolio
    if pf is None:
        return
    for ns in pf.netting_sets:
        for what, value in (("netting set id", ns.id), ("counterparty", ns.counterparty)):
            if len(str(value)) > MAX_ID_LENGTH:
                raise ConfigError("portfolio.netting_sets", f"{what} '{str(value)[:40]}...' has {len(str(value))} "
                                  f"characters (at most {MAX_ID_LENGTH})")
    for b in pf.batches:
        for tid in b.ids:
            if len(str(tid)) > MAX_ID_LENGTH:
                raise ConfigError("portfolio.trades", f"trade id '{str(tid)[:40]}...' has {len(str(tid))} characters "
                                  f"(at most {MAX_ID_LENGTH})")


def check_run_size(cfg, s, scenarios: bool = False) -> None:
    """Ids and the run's path data against the budget; scenarios: the states of ``exposure simulate`` instead
    (8 x paths x dates x state dimension, all held in memory)."""
    check_ids(s)
    if scenarios:
        need = 8 * int(cfg.simulation.paths) * (len(s.grid.dates) + 1) * int(s.built.model.dim)
    elif s.portfolio is None:
        return
    else:
        from exposure.memory import run_memory_plan

        plan = run_memory_plan(cfg, s)  # ConfigError when the budget cannot hold the process and one chunk
        need = disk_bytes(cfg, s, plan)
        what = ("the spilled quantile store (above simulation.memory_budget_gb) and the checkpoint journal"
                if plan.spilled else "the checkpoint journal")
        return _check_disk(cfg, need, what)
    budget, key = budget_bytes(getattr(cfg.simulation, "memory_budget_gb", None))
    if need > budget:
        raise ConfigError("simulation.paths", f"{int(cfg.simulation.paths)} paths need about {need / GB:.3g} GB of "
                          f"path data (8 bytes x paths x dates x state dimension), above {key} = {budget / GB:.3g} "
                          "GB: use fewer paths or dates, or raise the budget")
    _check_disk(cfg, need, "the scenarios")


def _check_disk(cfg, need: int, what: str) -> None:
    out = os.path.abspath(str(cfg.output.dir))
    probe = out
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    free = shutil.disk_usage(probe).free
    if need > free:
        raise ConfigError("simulation.paths", f"{int(cfg.simulation.paths)} paths need about {need / GB:.3g} GB of "
                          f"disk for {what}, above the {free / GB:.3g} GB free on the disk of output.dir '{out}'")
