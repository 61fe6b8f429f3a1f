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


def reaggregate(cfg, run_dir: str, config_yaml: str, progress=None):
    """RunResults of the stored run ``run_dir`` re-aggregated under ``cfg`` (written to cfg.output.dir)."""
    from exposure.market.snapshot import build_market
    from exposure.pipeline import RunResults
    from exposure.portfolio import load_portfolio
    from exposure.report import RunProgress, report_settings, write_report
    from exposure.results import write_ore_csv, write_results
    from exposure.simulation.grid import TimeGrid
    from exposure.simulation.scenario_io import atomic_text

    path = os.path.join(str(run_dir), FILE_NAME)
    if not os.path.exists(path):
        raise ConfigError("RUN_DIR", f"no {FILE_NAME} in {run_dir}: run it with output.store_cube=true")
    report = report_settings(cfg)
    out = str(cfg.output.dir)
    progress = progress or RunProgress.for_run(out, show_bar=False)
    progress.stage("setup")
    market = build_market(cfg.market)
    grid = TimeGrid.build(market.asof, cfg.simulation.grid, cfg.simulation.mpor)
    pf = load_portfolio(cfg.portfolio, market, grid)
    V, N, fx, ids, attrs = NettingValuesCube.read(path)
    if ids != [n.id for n in pf.netting_sets]:
        raise ConfigError("portfolio.netting_sets", f"netting sets {[n.id for n in pf.netting_sets]} differ from the "
                                                    f"stored run's {ids}: only their terms (CSA) may change")
    ds = aggregate_values(cfg, market, grid, pf, V, N, fx, attrs, config_yaml, run_dir, progress)
    if bool(cfg.output.trade_level):  # trade values are not in the cube: say so instead of dropping them silently
        ds.attrs["trade_level"] = "not re-aggregated (trade values are not stored); see the original run"
        progress.log("trade-level results are not re-aggregated (trade values are not stored)")
    progress.stage("write")
    os.makedirs(out, exist_ok=True)
    files = [write_results(ds, os.path.join(out, "results.h5"))]
    if bool(cfg.output.csv):
        files += list(write_ore_csv(ds, out))
    files.append(atomic_text(os.path.join(out, "config.yaml"), config_yaml))
    files += write_report(ds, out, report, progress)
    npv = {}
    npv_csv = os.path.join(str(run_dir), "npv.csv")
    if os.path.exists(npv_csv):
        import pandas as pd

        npv = dict(zip(*pd.read_csv(npv_csv).to_dict("list").values()))
    return RunResults(ds, out, tuple(str(f) for f in files), npv)


def aggregate_values(cfg, market, grid, pf, V, N, fx, attrs: dict, config_yaml: str, run_dir: str, progress,
                     npv=None):
    """The results Dataset from netting-set values V (K_all, n_ns, P), numeraire N (K_all, P) and fx
    (n_ccy, K_all, P) on the run's simulation dates, as exposure.pipeline.run_pipeline builds it after its path
    loop (aggregation, NPV, credit, limits). npv: (n_ns,) t0 values (default: the stored attrs["NPV"])."""
    from exposure.aggregation.measures import ExposureAggregator
    from exposure.pipeline import _with_credit
    from exposure.report import apply_limits, report_settings
    from exposure.results import build_results

    ids = [n.id for n in pf.netting_sets]
    # the same dates and indices as exposure.pipeline.run_pipeline
    times = np.concatenate([[0.0], grid.times])
    dates = (market.asof,) + tuple(grid.dates)
    if V.shape[0] != times.size:
        raise ConfigError("simulation.grid", f"{times.size} dates, the stored cube has {V.shape[0]}")
    valuation_index = np.concatenate([[0], 1 + grid.valuation_index])
    closeout_index = None if grid.closeout_index is None else np.concatenate([[0], 1 + grid.closeout_index])
    val_times = times[valuation_index]
    n_paths = V.shape[-1]
    agg = ExposureAggregator(
        pf.netting_sets, n_paths, val_times, valuation_index=valuation_index, closeout_index=closeout_index,
        t0_index=0, currencies=tuple(str(c) for c in attrs["currencies"]), base_currency=market.base_currency,
        quantiles=list(cfg.output.quantiles), store_cube=bool(cfg.output.store_cube), spill_dir=str(run_dir))
    progress.stage("paths", total=n_paths)
    step = max(1, int(cfg.simulation.chunk_size))
    with agg:
        for start in range(0, n_paths, step):
            stop = min(start + step, n_paths)
            agg.add_chunk(start, stop, V[..., start:stop], N[..., start:stop], fx[..., start:stop])
            progress.advance(stop - start)
        progress.stage("measures")
        dfs = np.asarray(market.curves[market.base_currency].discount(val_times))
        measures = agg.finalize(discount_factors=dfs)
    ds = build_results(
        measures, ids, [n.counterparty for n in pf.netting_sets], [dates[i] for i in valuation_index],
        seed=int(cfg.simulation.seed), config=config_yaml, base_currency=market.base_currency, asof=market.asof,
        extra_attrs={"skipped_trades": str(attrs.get("skipped_trades", "none")),
                     "n_trades": int(attrs.get("n_trades", 0)), "aggregated_from": os.path.abspath(str(run_dir))})
    ds["NPV"] = ("netting_set", np.asarray(attrs["NPV"] if npv is None else npv, dtype=np.float64))
    ds = _with_credit(ds, market, pf, val_times)
    # XVA / capital stages: the same calls as in run_pipeline go here
    return apply_limits(ds, report_settings(cfg))


__all__ = ["aggregate_values", "reaggregate"]
