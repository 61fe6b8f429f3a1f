"""The scriptable entry points the CLI wraps: compose -> validate -> simulate / run.

    cfg = exposure.compose(["market=flat", "simulation.paths=2000"])
    exposure.validate(cfg)            # raises ConfigError naming the key; no compute
    results = exposure.run(cfg)       # the whole chain, written to cfg.output.dir

Only this module, ``cli`` and the config package (``config.hydra_compose``: ``compose``) touch Hydra; everything
below takes plain config nodes.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

from omegaconf import DictConfig, OmegaConf

from exposure.config.freeze import freeze
from exposure.confignode import config_yaml, to_plain
from exposure.cluster.settings import check_cluster
from exposure.errors import ConfigError
from exposure.config.hydra_compose import compose
from exposure.setup import Setup, path_generator, setup  # noqa: F401  (re-exported)


def validate(cfg: DictConfig) -> Setup:
    """Run every check (market, model, grid, portfolio, report limits) without calibrating or simulating."""
    from exposure.report.settings import report_settings

    from exposure.checks import check_outputs, check_run_size

    cfg = freeze(cfg)  # below the API the config is typed and frozen
    report_settings(cfg)
    check_outputs(cfg)  # output folder, quantiles
    check_cluster(cfg)  # cluster.* (a Dask scheduler's address answers)
    s = setup(cfg, calibrate=False)
    check_run_size(cfg, s)  # id lengths, path data against the memory and disk budget
    return s


def simulate(cfg: DictConfig, s: Setup | None = None):
    """Simulated states as an xarray Dataset (path, date, factor), t0 included."""
    import numpy as np

    from exposure import __version__
    from exposure.simulation.scenario_io import scenarios_dataset

    from exposure.checks import check_outputs, check_run_size

    cfg = freeze(cfg)
    check_outputs(cfg)
    s = s or setup(cfg)
    check_run_size(cfg, s, scenarios=True)  # all states are held in memory
    gen = path_generator(cfg, s)
    states = gen.all_states()
    attrs = {
        "seed": int(cfg.simulation.seed),
        "base_currency": s.market.base_currency,
        "asof": s.market.asof.isoformat(),
        "package_version": __version__,
        "numeraire": "base-currency bank account (BA state)",
        "config": config_yaml(cfg),
    }
    dates = [s.market.asof] + list(s.grid.dates)
    times = np.concatenate([[0.0], s.grid.times])
    return scenarios_dataset(states, dates, times, s.built.model.state_names, attrs)


def write_scenarios(cfg: DictConfig) -> str:
    """``exposure simulate``: the scenarios of ``simulate`` written to cfg.output.dir/scenarios.h5 (with the
    resolved config.yaml) as one run folder: staged, locked and swapped into place like a run
    (exposure.run_folder), so a kill or an error leaves the previous folder as it was. Returns the file's path."""
    from exposure.run_folder import staged_run_folder
    from exposure.simulation.scenario_io import atomic_text, write_netcdf_atomic

    from exposure.checks import check_outputs

    cfg = freeze(cfg)
    check_outputs(cfg)
    out = os.path.abspath(str(cfg.output.dir))
    with staged_run_folder(out) as stage:
        write_netcdf_atomic(simulate(cfg), os.path.join(stage, "scenarios.h5"))
        atomic_text(os.path.join(stage, "config.yaml"), config_yaml(cfg))
    return os.path.join(out, "scenarios.h5")


def run(cfg: DictConfig, progress=None, show_bar: bool | None = False, report_worker=None,
        write: bool | None = None):
    """The whole chain on the configured market and portfolio; results and the desk report (report.*) written
    under cfg.output.dir as one run: staged in a temporary sibling folder and moved into place at the end, a
    lock refusing a second run into the same folder (exposure.run_folder). progress: an
    exposure.report.RunProgress whose run.log is moved into the staging folder; default: one with run.log
    there (show_bar: progress bar; None: on a terminal outside CI). report_worker: an
    exposure.report_process.ReportWorker (the CLI's) that writes the desk report while the results are
    written; the report is complete when this returns either way.

    write (default cfg.output.write, true): False computes the same results Dataset (limits included) and
    returns it in memory: no run folder, lock, checkpoint, results.h5, CSVs or desk report; ``.out_dir`` is
    None, ``.files`` empty (a notebook, a service, a what-if loop; ``exposure.results.write_results(ds, path)``
    saves the Dataset)."""
    from exposure.report.progress import RunProgress
    from exposure.run_folder import relocate, staged_run_folder

    from exposure.checkpoint_resume import checkpoint_settings, keep_stage, open_checkpoint
    from exposure.checks import check_outputs, check_run_size
    from exposure.manifest import run_manifest
    from exposure.report.settings import report_settings

    cfg = freeze(cfg)  # below the API the config is typed and frozen
    report_settings(cfg)
    check_outputs(cfg)
    check_cluster(cfg)  # cluster.* checked (a Dask scheduler's address answers) before any compute
    s = setup(cfg)
    check_run_size(cfg, s)
    if not (bool(getattr(cfg.output, "write", True)) if write is None else bool(write)):
        if report_worker is not None:
            report_worker.close()
        return _run_in_memory(cfg, s, progress, show_bar)
    out = os.path.abspath(str(cfg.output.dir))
    ck_settings = checkpoint_settings(cfg)
    manifest = dict(run_manifest(to_plain(cfg, enum_values=True)),
                    layout=[[a, b] for a, b in path_generator(cfg, s).ranges()])
    with staged_run_folder(out, keep=keep_stage, fresh=False) as stage:  # a killed run's stage: resumed
        ckpt = open_checkpoint(stage, manifest, ck_settings)
        log = os.path.join(stage, "run.log")
        if progress is None:
            with RunProgress(log, show_bar=show_bar, append=ckpt.resuming) as p:
                if ckpt.discarded:
                    p.log(f"warning: simulation.resume: {ckpt.discarded}")
                res = _run_and_report(cfg, s, p, stage, out, ckpt, report_worker)
        else:
            if progress.log_path and os.path.exists(progress.log_path):
                shutil.move(progress.log_path, log)
            progress.log_path = log
            try:
                res = _run_and_report(cfg, s, progress, stage, out, ckpt, report_worker)
            except BaseException:
                progress.log_path = None  # the stage (and its log) goes; the old run folder is not touched
                raise
        ckpt.discard()  # complete: the journal never reaches the run folder
    if progress is not None:
        progress.log_path = os.path.join(out, "run.log")  # the caller's context manager logs the end there
    return dataclasses.replace(res, out_dir=str(cfg.output.dir),
                               files=tuple(relocate(f, stage, out) for f in res.files))


def _run_in_memory(cfg, s: Setup, progress, show_bar):
    """run() with write=False: the pipeline with no files; a quantile store that the memory plan spills goes to
    a temporary folder removed on return."""
    import tempfile

    from exposure.pipeline import run_pipeline
    from exposure.report.progress import RunProgress

    progress = progress if progress is not None else RunProgress(None, show_bar=show_bar)
    with tempfile.TemporaryDirectory(prefix="xposure-spill-") as spill:
        return run_pipeline(cfg, s, progress=progress, out_dir=spill, write=False)


def _run_and_report(cfg: DictConfig, s: Setup, progress, stage: str, out: str, checkpoint=None, worker=None):
    from exposure.pipeline import run_pipeline
    from exposure.report import report_settings, write_report
    from exposure.report_process import written_by

    settings = report_settings(cfg)
    jobs = []

    def hand_over(ds):  # the report drawn by the worker process while this one writes results.h5 and the CSVs
        if worker is not None and settings.enabled:
            jobs.append(worker.submit(ds, stage, settings, folder_label=out))

    try:
        res = run_pipeline(cfg, s, progress=progress, out_dir=stage, checkpoint=checkpoint, on_results=hand_over)
        files = written_by(jobs[0] if jobs else None, progress)
    finally:
        if worker is not None:
            worker.close()  # nothing writes into the stage after this
    if files is None:
        files = write_report(res.dataset, stage, settings, progress, folder_label=out)
    return dataclasses.replace(res, files=res.files + tuple(files))


def report(run_dir: str, overrides: list[str] | None = None):
    """Re-write the desk report of a stored run (run_dir/results.h5) with the ``report.*`` overrides (limits,
    quantile, plots); results.h5 is not changed. Returns (dataset with limits, files written)."""
    from types import SimpleNamespace

    from exposure.report import apply_limits, report_settings, write_report
    from exposure.results import read_results

    path = os.path.join(str(run_dir), "results.h5")
    if not os.path.exists(path):
        raise ConfigError("RUN_DIR", f"no results.h5 in {run_dir} (run `exposure run output.dir={run_dir}` first)")
    ds = read_results(path)
    cfg = compose(list(overrides or []))
    settings = report_settings(SimpleNamespace(report=cfg.report, output=SimpleNamespace(quantiles=[float(q) for q in ds["quantile"].values])))
    ds = apply_limits(ds, settings)
    return ds, write_report(ds, str(run_dir), settings)


# Sections of a stored run's config that ``exposure aggregate`` may change: everything else made the scenarios.
AGGREGATE_FIXED = ("simulation", "model", "market", "portfolio.trades", "portfolio.fixings")


def aggregate(run_dir: str, overrides: list[str] | None = None, show_bar: bool | None = False):
    """Re-aggregate the stored run ``run_dir`` (run with output.store_cube=true) under its own config.yaml plus
    ``overrides`` (dotted ``key=value``: portfolio.netting_sets, output.quantiles, market.credit.*, report.*,
    output.dir; default output.dir: RUN_DIR/aggregate). Returns RunResults; raises ConfigError for an override
    that would need new scenarios. show_bar: progress bar (None: on a terminal outside CI); run.log always."""
    from exposure.reaggregate import reaggregate
    from exposure.report.progress import RunProgress

    from exposure.checks import check_outputs
    from exposure.run_folder import relocate, staged_run_folder

    cfg = freeze(_stored_config(run_dir, overrides))
    check_outputs(cfg)
    out = os.path.abspath(str(cfg.output.dir))
    with staged_run_folder(out) as stage:  # one aggregation per folder, as a run (exposure.run_folder)
        with RunProgress.for_run(stage, show_bar=show_bar) as p:
            res = reaggregate(cfg, run_dir, config_yaml(cfg), p, out_dir=stage, folder_label=out)
    return dataclasses.replace(res, out_dir=str(cfg.output.dir),
                               files=tuple(relocate(f, stage, out) for f in res.files))


def whatif(run_dir: str, netting_set: str, trade_file: str, overrides: list[str] | None = None):
    """Pre-deal what-if on a stored run (output.store_cube=true): the trades of ``trade_file`` (YAML/JSON list
    in the portfolio format) added to ``netting_set``; returns exposure.whatif.WhatIf (before/after results and
    the table of changes). trade_file may also be the list of trade dicts itself (the scorecard's pre-trade check
    passes them so). Overrides as for ``aggregate``; nothing is written."""
    from exposure.whatif import read_trades
    from exposure.whatif import whatif as _whatif

    cfg = _frozen_stored_config(run_dir, overrides)
    keys = [o.lstrip("+").split("=", 1)[0] for o in overrides or []]
    trades = read_trades(str(trade_file)) if isinstance(trade_file, (str, os.PathLike)) else list(trade_file)
    return _whatif(cfg, run_dir, str(netting_set), trades, config_yaml(cfg),
                   stored_book=not any(k.startswith("portfolio.") for k in keys),
                   stored_results=all(k in _NO_RESULT_EFFECT for k in keys),
                   stored_market=not any(k == "market" or k.startswith("market.") for k in keys))


# Overrides that change no figure of a results file (what-if writes nothing): its "before" is still results.h5.
_NO_RESULT_EFFECT = ("output.dir", "output.csv", "report.plots", "report.html")


def _frozen_stored_config(run_dir: str, overrides: list[str] | None):
    """freeze(_stored_config(run_dir, overrides)), kept across processes (exposure.config.cache): a fresh
    `exposure whatif` then skips OmegaConf's schema merge of config.yaml."""
    from exposure.config.cache import cached_config

    try:
        with open(os.path.join(str(run_dir), "config.yaml"), "rb") as fh:
            text = fh.read()
    except OSError:  # _stored_config names what is missing
        return freeze(_stored_config(run_dir, overrides))
    return cached_config(("stored", text, tuple(overrides or ()), os.path.abspath(str(run_dir))),
                         lambda: freeze(_stored_config(run_dir, overrides)), text)


def _stored_config(run_dir: str, overrides: list[str] | None) -> DictConfig:
    """The run's config.yaml with dotted overrides; refuses overrides of AGGREGATE_FIXED."""
    from exposure.config.schema import ExposureConfig  # no ConfigStore: nothing is composed here

    stored_path = os.path.join(str(run_dir), "config.yaml")
    if not os.path.exists(stored_path):
        raise ConfigError("RUN_DIR", f"no config.yaml in {run_dir}: not a run folder")
    try:
        base = OmegaConf.merge(OmegaConf.structured(ExposureConfig), OmegaConf.load(stored_path))
        ov = [o.lstrip("+") for o in (overrides or [])]
        cfg = OmegaConf.merge(base, OmegaConf.from_dotlist(ov)) if ov else base
    except Exception as exc:  # OmegaConf names the key of a typo or a wrong type
        key = getattr(exc, "full_key", None) or "overrides"
        raise ConfigError(str(key), str(exc).splitlines()[0], source=stored_path) from exc
    if not any(o.split("=", 1)[0] == "output.dir" for o in ov):
        cfg.output.dir = os.path.join(str(run_dir), "aggregate")
    for key in AGGREGATE_FIXED if ov else ():  # (without overrides nothing can have changed)
        old, new = OmegaConf.select(base, key), OmegaConf.select(cfg, key)
        if key == "market":
            old, new = (OmegaConf.masked_copy(x, [k for k in x.keys() if k not in ("credit", "own_name")])
                        for x in (old, new))
        as_plain = (lambda x: OmegaConf.to_container(x, resolve=True) if OmegaConf.is_config(x) else x)
        if as_plain(old) != as_plain(new):
            raise ConfigError(key, "changes the scenarios or the trades: use `exposure run` (aggregate may change "
                                   "CSA terms, quantiles, credit curves, limits and outputs)")
    return cfg
