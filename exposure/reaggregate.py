"""Re-aggregation of a stored run: collateral, measures, credit, limits and the report from the netting-set
value cube (``netting_values.h5``, written with ``output.store_cube=true``) without re-simulating or re-pricing.

The cube holds the uncollateralised netting-set values V, the numeraire and the FX rates on every simulation
date, exactly what the pipeline streams into ``ExposureAggregator``; replaying them with other CSA terms
(``portfolio.netting_sets``), quantiles (``output.quantiles``), credit curves (``market.credit``) or limits
(``report.*``) gives the numbers of a full run with those inputs (the aggregator does not depend on chunking).
What changes the scenarios or the trades (simulation, model, market other than credit, portfolio.trades) needs
a new ``exposure run``; ``exposure.api.aggregate`` refuses those overrides.
"""

from __future__ import annotations

import os

import numpy as np

from exposure.aggregation.values_cube import FILE_NAME, NettingValuesCube
from exposure.errors import ConfigError


def reaggregate(cfg, run_dir: str, config_yaml: str, progress=None, out_dir: str | None = None,
                folder_label: str | None = None):
    """RunResults of the stored run ``run_dir`` re-aggregated under ``cfg`` (written to out_dir, default
    cfg.output.dir; ``exposure.api.aggregate`` passes a staging folder, see exposure.run_folder)."""
    from exposure.market.snapshot import build_market
    from exposure.pipeline import RunResults
    from exposure.portfolio import load_portfolio
    from exposure.report import RunProgress, report_settings, write_report
    from exposure.results import write_results
    from exposure.results_csv import write_ore_csv
    from exposure.simulation.scenario_io import atomic_text

    path = os.path.join(str(run_dir), FILE_NAME)
    if not os.path.exists(path):
        raise ConfigError("RUN_DIR", f"no {FILE_NAME} in {run_dir}: run it with output.store_cube=true")
    report = report_settings(cfg)
    out = str(cfg.output.dir) if out_dir is None else str(out_dir)
    progress = progress or RunProgress.for_run(out, show_bar=False)
    progress.stage("setup")
    market = build_market(cfg.market)
    V, N, fx, ids, attrs = NettingValuesCube.read(path)
    grid = stored_grid(cfg, market, attrs)
    pf = load_portfolio(cfg.portfolio, market, grid)
    grid = grid.with_netting_calendars(ns.calendar for ns in pf.netting_sets)  # as the run's (exposure.setup)
    if ids != [n.id for n in pf.netting_sets]:
        raise ConfigError("portfolio.netting_sets", f"netting sets {[n.id for n in pf.netting_sets]} differ from the "
                                                    f"stored run's {ids}: only their terms (CSA) may change")
    npv = {}
    npv_csv = os.path.join(str(run_dir), "npv.csv")
    if os.path.exists(npv_csv):
        import pandas as pd

        npv = dict(zip(*pd.read_csv(npv_csv).to_dict("list").values()))
    ds = aggregate_values(cfg, market, grid, pf, V, N, fx, attrs, config_yaml, run_dir, progress,
                          trade_npv=npv if set(npv) == set(pf.trade_ids) else None)
    if bool(cfg.output.trade_level):  # trade values are not in the cube: say so instead of dropping them silently
        ds.attrs["trade_level"] = "not re-aggregated (trade values are not stored); see the original run"
        progress.log("trade-level results are not re-aggregated (trade values are not stored)")
    progress.stage("write")
    from exposure.finite import finite_results

    ds = finite_results(ds)  # no NaN/inf written (exposure.finite)
    os.makedirs(out, exist_ok=True)
    files = [write_results(ds, os.path.join(out, "results.h5"))]
    if bool(cfg.output.csv):
        files += list(write_ore_csv(ds, out))
    files.append(atomic_text(os.path.join(out, "config.yaml"), config_yaml))
    files += write_report(ds, out, report, progress, folder_label=folder_label)
    return RunResults(ds, out, tuple(str(f) for f in files), npv)


def stored_grid(cfg, market, attrs: dict):
    """The stored run's simulation grid: the configured reporting grid plus the event dates it simulated."""
    import datetime as dt

    from exposure.simulation.grid import TimeGrid

    events = [dt.date.fromisoformat(str(d)) for d in np.atleast_1d(attrs.get("event_dates", [])) if str(d)]
    return TimeGrid.build(market.asof, cfg.simulation.grid, cfg.simulation.mpor).with_events(events)


def aggregate_values(cfg, market, grid, pf, V, N, fx, attrs: dict, config_yaml: str, run_dir: str, progress,
                     npv=None, trade_npv: dict | None = None):
    """The results Dataset from netting-set values V (K_all, n_ns, P), numeraire N (K_all, P) and fx
    (n_ccy, K_all, P) on the run's simulation dates, through the same stages as exposure.pipeline.run_pipeline
    after its path loop (``PostSimulation``: measures, NPV, credit, capital, XVA, limits). npv: (n_ns,) t0
    values (default: the stored attrs["NPV"]); trade_npv: t0 value per trade id for the capital stage (None:
    no capital figures, e.g. on a stored book without trade specs)."""
    from exposure.post_simulation import make_aggregator

    times = np.concatenate([[0.0], grid.times])
    if V.shape[0] != times.size:
        raise ConfigError("simulation.grid", f"{times.size} dates, the stored cube has {V.shape[0]}")
    n_paths = V.shape[-1]
    model, states = _credit_scenarios(cfg, run_dir)
    stored = attrs.get("netting_set_maturity")  # a stored book without trade specs keeps the run's maturities
    agg, post = make_aggregator(cfg, market, pf, grid, n_paths, tuple(str(c) for c in attrs["currencies"]),
                                str(run_dir), maturities=stored if not hasattr(pf, "trades") else None, model=model)
    progress.stage("paths", total=n_paths)
    step = max(1, int(cfg.simulation.chunk_size))
    with agg:
        for start in range(0, n_paths, step):
            stop = min(start + step, n_paths)
            agg.add_chunk(start, stop, V[..., start:stop], N[..., start:stop], fx[..., start:stop],
                          states=None if states is None else states[..., start:stop])
            progress.advance(stop - start)
        progress.stage("measures")
        measures = post.finalize(agg)
    return post.results(
        measures, attrs["NPV"] if npv is None else npv, trade_npv, config_yaml,
        extra_attrs={"skipped_trades": str(attrs.get("skipped_trades", "none")),
                     "n_trades": int(attrs.get("n_trades", 0)), "aggregated_from": os.path.abspath(str(run_dir))})


__all__ = ["aggregate_values", "reaggregate"]


def _credit_scenarios(cfg, run_dir: str):
    """(model, states (K_all, d, P)) of the stored run when xva.wwr.model=stochastic_intensity needs its
    simulated credit states (the path survival is refitted to the configured market.credit), else (None, None)."""
    w = getattr(getattr(cfg, "xva", None), "wwr", None)
    choice = getattr(w, "model", None)
    if str(getattr(choice, "value", choice)) != "stochastic_intensity":
        return None, None
    try:
        states, model = NettingValuesCube.read_scenarios(os.path.join(str(run_dir), FILE_NAME))
    except KeyError as exc:
        raise ConfigError("xva.wwr.model", f"stochastic_intensity: {run_dir} stores no model states") from exc
    return model, states

