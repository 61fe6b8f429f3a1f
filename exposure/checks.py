"""Checks of a run's outputs and size, before any compute (``exposure validate`` and ``exposure run``).

    check_outputs(cfg)        output.dir creatable/writable and a folder, results.h5 not a folder,
                              output.quantiles non-empty and each in (0, 1)
    check_run_size(cfg, s)    ids at most MAX_ID_LENGTH characters; path data of the run
                              bytes = 8 x paths x dates x (netting sets [+ trades when trade_level]) [x 2 with
                              output.store_cube] against simulation.memory_budget_gb (default: the machine's RAM)
                              and the free disk of the output folder (the quantile store spills there)

Below the API layer: reads attributes of config nodes, imports no Hydra.
"""

from __future__ import annotations

import math
import os
import shutil

from exposure.errors import ConfigError

MAX_ID_LENGTH = 256
GB = 1024**3


def check_outputs(cfg) -> None:
    from exposure.run_folder import check_output_dir

    check_output_dir(str(cfg.output.dir))
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


def machine_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 * GB


def run_bytes(cfg, n_netting_sets: int, n_trades: int, n_dates: int) -> int:
    """8 x paths x dates x (netting sets [+ trades]) [x 2 with the stored cube]: the exact-quantile store."""
    rows = n_netting_sets + (n_trades if bool(cfg.output.trade_level) else 0)
    b = 8 * int(cfg.simulation.paths) * int(n_dates) * rows
    return 2 * b if bool(cfg.output.store_cube) else b


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
        n_trades = sum(len(b.ids) for b in s.portfolio.batches)
        need = run_bytes(cfg, len(s.portfolio.netting_sets), n_trades, len(s.grid.dates) + 1)
    budget_gb = getattr(cfg.simulation, "memory_budget_gb", None)
    if budget_gb is None:
        budget, key = machine_memory_bytes(), "simulation.memory_budget_gb (default: the machine's RAM)"
    else:
        if not (math.isfinite(float(budget_gb)) and float(budget_gb) > 0):
            raise ConfigError("simulation.memory_budget_gb", f"must be a positive number of GB (got {budget_gb})")
        budget, key = int(float(budget_gb) * GB), "simulation.memory_budget_gb"
    if need > budget:
        raise ConfigError("simulation.paths", f"{int(cfg.simulation.paths)} paths need about {need / GB:.3g} GB of "
                          f"path data (8 bytes x paths x dates x netting sets), above {key} = {budget / GB:.3g} GB: "
                          "use fewer paths or dates, or raise the budget")
    out = os.path.abspath(str(cfg.output.dir))
    probe = out
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    free = shutil.disk_usage(probe).free
    if need > free:
        raise ConfigError("simulation.paths", f"{int(cfg.simulation.paths)} paths need about {need / GB:.3g} GB of "
                          f"path data, above the {free / GB:.3g} GB free on the disk of output.dir '{out}'")
