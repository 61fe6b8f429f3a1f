"""The one place that wires the stages: setup -> paths -> pricing -> netting/collateral -> measures -> files.

Per chunk of paths (bounded memory), every batch values its trades on every simulation date including t0;
netting-set values stream into the ExposureAggregator (collateral, EPE/ENE sums, exact quantiles), and the
labelled results are written atomically to ``output.dir``: results.h5, ORE-style CSVs, the resolved config,
the calibration report and the list of skipped trades.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os

import numpy as np

from exposure.aggregation.values_cube import values_cube
from exposure.setup import Setup, path_generator, setup
from exposure.checkpoint import NoCheckpoint
from exposure.chunks import ChunkJob, first_nonfinite
from exposure.confignode import config_yaml, merged, program_hint
from exposure.cluster import chunk_outputs, cluster_settings
from exposure.errors import ConfigError, NonFiniteError
from exposure.gc_pause import gc_paused
from exposure.memory import run_memory_plan
from exposure.post_simulation import make_aggregator
from exposure.pricing.today import today_values
from exposure.pricing.view import PricingContext


@dataclasses.dataclass(frozen=True)
class RunResults:
    dataset: object  # xarray.Dataset (the results contract)
    out_dir: str
    files: tuple
    npv: dict  # trade id -> t0 value in base currency

    def summary(self) -> str:
        from exposure.report.summary import summary_text  # the desk summary (exposure/report)

        q = float(self.dataset.attrs.get("report_pfe_quantile", 0.99))
        text = summary_text(self.dataset, q)
        if "EAD_SACCR" in self.dataset:  # capital detail: both EADs, RWA and the CVA capital totals
            from exposure.capital import capital_summary

            text += "\n" + capital_summary(self.dataset)
        return text + (f"\nresults: {self.out_dir}" if self.out_dir else "\nresults: in memory (not written)")


def run_pipeline(cfg, s: Setup | None = None, progress=None, out_dir: str | None = None,
                 checkpoint=None, on_results=None, write: bool = True) -> RunResults:
    """``_run_pipeline``; a run with risk.method=ad loads the stored executables its last such run used (the
    reverse pass's and the set-up's kept programs, ``exposure.risk.kept``) on a background thread while the plain
    run computes (``exposure.simulation.programs.load_ahead``: None with the cache off or when a caller, the CLI's
    ``exposure run``, already loads ahead)."""
    from exposure.simulation.programs import finish_ahead, load_ahead

    method = getattr(cfg.get("risk"), "method", "none")
    ahead = load_ahead(program_hint(cfg)) if str(getattr(method, "value", method)) == "ad" else None
    try:
        return _run_pipeline(cfg, s, progress, out_dir, checkpoint, on_results, write)
    finally:
        finish_ahead(ahead)


def _run_pipeline(cfg, s: Setup | None = None, progress=None, out_dir: str | None = None,
                  checkpoint=None, on_results=None, write: bool = True) -> RunResults:
    """The whole chain; files written under ``out_dir`` (default cfg.output.dir; ``exposure.api.run`` passes
    the staging folder that becomes cfg.output.dir when the run succeeds, see exposure.run_folder).
    checkpoint: an ``exposure.checkpoint.Checkpoint`` journaling every chunk (and replaying those of a killed
    run), or None. on_results: called with the results Dataset (the returned ``.dataset``) before its files are
    written (exposure.api hands it to the report process there). write=False: nothing is written (out_dir
    only receives a spilled quantile store); the result's out_dir is None and files empty."""
    from exposure.report import RunProgress, report_settings

    report_settings(cfg)  # desk report: limits read and checked before any compute
    cluster = cluster_settings(cfg)  # where the chunks run (exposure.cluster): this process or Dask workers
    out_dir = str(cfg.output.dir) if out_dir is None else str(out_dir)
    progress = progress or RunProgress.for_run(out_dir, show_bar=False)  # run.log at least
    progress.stage("setup")
    s = s or setup(cfg)
    if s.portfolio is None:
        raise ConfigError("portfolio", "no portfolio configured (use `exposure simulate` for scenarios only)")
    market, model, grid, pf = s.market, s.built.model, s.grid, s.portfolio
    times = np.concatenate([[0.0], grid.times])
    dates = (market.asof,) + tuple(grid.dates)
    ctx = PricingContext(market, model, times, pf.fixings, dates, grid.reporting_mask(), option_tables=True,
                         paths=int(cfg.simulation.paths))
    batches = list(pf.batches)
    t0_ctx = PricingContext(market, model, np.zeros(1), pf.fixings, (market.asof,))
    with gc_paused():  # host set-up that allocates and keeps (exposure.gc_pause)
        pres = [b.prepare(ctx) for b in batches]
        pres0 = [b.prepare(t0_ctx) for b in batches]
    trade_ids = [tid for b in batches for tid in b.ids]
    trade_ns = np.concatenate([np.asarray(b.netting_set, dtype=int) for b in batches])
    n_ns = len(pf.netting_sets)
    trade_level = bool(cfg.output.trade_level)

    log_num = ctx.numeraire_log_det()
    # t0 prices: closed forms on the host from the t0 prepared data (no compiled program, pricing.today)
    npv0 = today_values(batches, pres0, model)  # at the model's initial state
    _check_finite(npv0, trade_ids)
    gen = path_generator(cfg, s)
    job = ChunkJob(gen, model, tuple(batches), tuple(pres), times, log_num, n_ns, trade_level)
    plan = run_memory_plan(cfg, s)  # the chunk size (in gen) and the quantile spill from the memory budget
    agg, post = make_aggregator(cfg, market, pf, grid, gen.n_paths, model.currencies, out_dir,
                                trade_ns if trade_level else None, model=model, memory_budget_bytes=plan.store_bytes,
                                reduction=plan.reduction)  # the reduction the plan sized the chunks for
    job = dataclasses.replace(job, reducer=agg.reducer)  # collateral and sums reduced with each chunk
    progress.log(f"memory plan: chunks of {gen.ranges()[0][1]} paths, quantile store "
                 f"{'spilled to disk' if plan.spilled else 'in memory'} (budget {plan.budget / 2**30:.3g} GB)")
    keep_states = bool(cfg.output.store_cube) or agg.needs_states  # stochastic survival reads the model states
    if keep_states and not cluster.keep_states:
        cluster = dataclasses.replace(cluster, keep_states=True)
    progress.stage("paths", total=gen.n_paths)
    cube = values_cube(bool(cfg.output.store_cube), gen.n_paths)  # netting-set values for `exposure aggregate`
    ckpt = checkpoint if checkpoint is not None else NoCheckpoint()

    def take(out):  # one chunk, computed or replayed from the checkpoint: checked, aggregated, kept
        # Named errors for rate states beyond a series expansion's range (inside the trace they are NaN).
        for b, p in zip(batches, pres):
            if hasattr(b, "check_range") and out.x_abs_max is not None:
                b.check_range(p, out.x_abs_max)
        ns = out.values
        bad = out.nonfinite if ns is None else first_nonfinite(ns)  # None: the values stayed on a worker
        if bad is not None:
            raise NonFiniteError(
                f"non-finite netting-set value in '{pf.netting_sets[bad[1]].id}' at date index {bad[0]}, path {out.start + bad[2]}")
        agg.add_chunk(out.start, out.stop, ns, out.numeraire, out.fx, out.trades, states=out.states, sums=out.sums)
        cube.add(out.start, out.stop, ns, out.numeraire, out.fx, out.states)
        progress.advance(out.stop - out.start)

    # path-independent host work (the SA-CCR profile's add-ons) on a thread while the chunks are priced: JAX
    # and NumPy's large operations release the GIL, so it takes the core the chunk loop leaves free
    ahead = _in_background(post.capital_ahead)
    with agg:
        first = ckpt.begin(job.ranges(), take, states=keep_states, agg=agg)  # restores or replays a killed run
        if cluster.distributed and not agg.needs_values and not ckpt.needs_outputs:  # only the sums travel
            cluster = dataclasses.replace(cluster, lean=True, keep_states=False)
        if first:
            how = "restored" if ckpt.state.get("mode") == "state" else "replayed"  # running sums, or chunk outputs
            progress.log(f"resumed from the checkpoint: {first} of {len(job.ranges())} chunks {how}")
            if how == "restored":  # replayed chunks advance the progress in take()
                progress.advance(job.ranges()[first - 1][1])
        # closing(): a consumer error shuts a LocalCluster's workers down at once, not when the traceback goes
        with contextlib.closing(chunk_outputs(job, cluster, first=first)) as outputs:
            for out in outputs:
                take(out)
                ckpt.commit(out)
                del out  # before the next chunk is collected (ChunkJob.outputs runs the one after it meanwhile)
        ckpt.close()
        progress.log(ckpt.summary())
        progress.stage("measures")
        measures = post.finalize(agg)

    ns_npv = np.zeros(n_ns)
    np.add.at(ns_npv, trade_ns, npv0)
    trade_npv = dict(zip(trade_ids, npv0.tolist()))
    sens = _sensitivities(cfg, s, job, post.dates, progress)  # exposure.risk; None unless risk.method is set
    ds = post.results(measures, ns_npv, trade_npv, config_yaml(cfg), trade_ids=trade_ids if trade_level else None,
                      extra_attrs={"skipped_trades": "; ".join(f"{t}: {r}" for t, r in pf.skipped) or "none",
                                   "n_trades": len(trade_ids),
                                   "reduction": agg.reduction}, sensitivities=sens,
                      capital_addons=ahead.result())
    progress.stage("write")
    if not write:  # in memory (exposure.run(cfg, write=False)): the Dataset a written run would hold
        from exposure.finite import finite_results
        return RunResults(finite_results(ds), None, (), trade_npv)
    res = _write(cfg, s, ds, trade_npv, out_dir, on_results)
    files = cube.save(res.out_dir, ds["netting_set"].values,
                      {"NPV": ns_npv, "currencies": list(model.currencies), "event_dates": [d.isoformat() for d in grid.event_dates()],
                       "netting_set_maturity": post.maturities,
                       **ds.attrs}, model=model, portfolio=pf, market=market)
    return dataclasses.replace(res, files=res.files + tuple(files))


def _sensitivities(cfg, s: Setup, job, dates, progress):
    """The risk stage's Dataset (``exposure.risk.run_sensitivities``) or None with risk.method=none; the bump
    method revalues each bumped config with a full run of its own (risk off, no files kept)."""
    import tempfile

    from exposure.risk import risk_settings

    settings = risk_settings(cfg)
    if settings is None:
        return None
    from exposure.risk.stage import run_sensitivities  # here: a run without sensitivities does not import it
    from exposure.risk.state import Prepared

    progress.stage("sensitivities")

    def revalue(c):
        c = merged(c, {"risk": {"method": "none"}, "output": {"csv": False, "store_cube": False}})
        with tempfile.TemporaryDirectory() as tmp:
            return run_pipeline(c, setup(c), out_dir=tmp, write=False).dataset  # no files per bump

    prepared = Prepared(job.batches, job.pres, job.gen.disc, job.log_num)  # the AD set-up reuses what it shares
    return run_sensitivities(cfg, s, settings, job.gen.n_paths, job.gen.seed, job.gen.antithetic, revalue, dates,
                             prepared)


def _in_background(fn):
    """fn() on a daemon thread: a Future whose result() waits for it (fn returns None rather than raise)."""
    import concurrent.futures
    import threading

    fut = concurrent.futures.Future()

    def work():
        try:
            fut.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's result()
            fut.set_exception(exc)

    threading.Thread(target=work, name="xposure-capital-ahead", daemon=True).start()
    return fut


def _check_finite(npv0, trade_ids) -> None:
    bad = [trade_ids[i] for i in np.flatnonzero(~np.isfinite(npv0))]
    if bad:
        raise NonFiniteError(f"t0 price is not finite for trade(s): {', '.join(bad[:10])}")


def _write(cfg, s: Setup, ds, npv: dict, out: str, on_results=None) -> RunResults:
    from exposure.files import csv_text
    from exposure.results import write_results
    from exposure.results_csv import write_ore_csv
    from exposure.simulation.scenario_io import atomic_text
    from exposure.xva import write_xva_csv

    from exposure.finite import finite_results

    ds = finite_results(ds)  # no NaN/inf written; a standard error undefined with one path is omitted, noted
    if on_results is not None:
        on_results(ds)
    os.makedirs(out, exist_ok=True)
    files = [write_results(ds, os.path.join(out, "results.h5"))]
    if bool(cfg.output.csv):
        files += list(write_ore_csv(ds, out))
        files += write_xva_csv(ds, out)
    # The YAML the results already hold (build_results stored config_yaml(cfg)): dumping the config again cost
    # about as much as writing the CSVs' text.
    text = ds.attrs.get("config")
    files.append(atomic_text(os.path.join(out, "config.yaml"), text if isinstance(text, str) else config_yaml(cfg)))
    npv_csv = csv_text(("TradeId", "NPV"), ((k, f"{v:.10g}") for k, v in npv.items()))
    files.append(atomic_text(os.path.join(out, "npv.csv"), npv_csv))
    if "sensitivity" in ds and bool(getattr(cfg.get("risk"), "csv", True)):  # exposure.risk
        from exposure.risk import sensitivities_csv_text
        files.append(atomic_text(os.path.join(out, "sensitivities.csv"), sensitivities_csv_text(ds)))
    if "EAD" in ds and bool(getattr(cfg.get("capital"), "csv", True)):  # capital stage output
        from exposure.capital import capital_csv_text
        files.append(atomic_text(os.path.join(out, "capital.csv"), capital_csv_text(ds)))
    for ccy, rep in s.built.calibration.items():
        files.append(atomic_text(os.path.join(out, f"calibration_{ccy}.csv"), rep.to_frame().to_csv(index=False)))
    if s.portfolio.skipped:
        text = csv_text(("TradeId", "Reason"), s.portfolio.skipped)
        files.append(atomic_text(os.path.join(out, "skipped_trades.csv"), text))
    return RunResults(ds, out, tuple(str(f) for f in files), npv)
