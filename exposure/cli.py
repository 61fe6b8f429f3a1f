"""``exposure`` command line: subcommands with Hydra overrides passed through.

    exposure run [key=value ...]        whole chain, writes output.dir
    exposure validate [key=value ...]   checks only; exit 0 if the config is valid, 2 otherwise
    exposure simulate [key=value ...]   scenarios only: output.dir (replaced, as a run) holds scenarios.h5
    exposure show [key=value ...]       print the composed config
    exposure report RUN_DIR [report.key=value ...]
                                        re-write summary.csv, limits.csv, plots and report.html of a stored
                                        run (e.g. other limits: report.limits_file=my_limits.csv)
    exposure aggregate RUN_DIR [key=value ...]
                                        collateral, measures, limits and report again from the stored
                                        netting-set values of a run made with output.store_cube=true, with
                                        other CSA terms (portfolio.netting_sets=...), output.quantiles,
                                        market.credit or report.*; results under RUN_DIR/aggregate
    exposure whatif RUN_DIR --netting-set ID --trade FILE [key=value ...]
                                        pre-deal: the trades of FILE priced on the run's stored scenarios
                                        (output.store_cube=true) and added to netting set ID: change of
                                        NPV, EPE, PFE, EEPE, counterparty PFE and limit headroom
"""

from __future__ import annotations

import os
import sys

USAGE = __doc__


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the process's own command line (console script, python -m exposure): it ends after this
        import gc

        # Objects frozen here (the imported modules, JAX's among them) stay until the process ends anyway; the
        # collector then skips them: full collections during the command cost 0.05 s instead of 0.1-0.3 s of
        # CPU, and the interpreter's shutdown, which collects the whole heap (0.4-0.5 s of CPU, a sixth of a
        # fresh `exposure whatif`), skips what is frozen at the end. atexit handlers, flushes and the freeing
        # of acyclic objects still run; only cyclic garbage alive at exit is left to the operating system.
        gc.freeze()
        try:
            return _main(sys.argv[1:])
        finally:
            gc.freeze()
    return _main(list(argv))


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, overrides = argv[0], argv[1:]
    worker = None
    if cmd == "run" and os.environ.get("XPOSURE_REPORT_PROCESS", "1") != "0":
        import exposure.report  # noqa: F401 - pandas, xarray and the report's modules: both processes need them
        from exposure.report_process import ReportWorker

        # Forked before this process starts any thread (JAX's runtime): it imports matplotlib meanwhile and
        # draws the report while the results are written (exposure.report_process); closed by api.run. The
        # modules imported above (0.3-0.4 s of CPU) the child inherits instead of importing them a second time.
        worker = ReportWorker.start()
    try:
        return _command(cmd, overrides, worker)
    finally:
        if worker is not None:
            worker.close()


def _command(cmd: str, overrides: list[str], worker) -> int:
    from exposure import api
    from exposure.errors import ExposureError

    if cmd == "report":
        return _report(overrides)
    if cmd == "aggregate":
        return _aggregate(overrides)
    if cmd == "whatif":
        return _whatif(overrides)
    try:
        cfg = api.compose(overrides)
        if cmd == "show":
            from omegaconf import OmegaConf

            print(OmegaConf.to_yaml(cfg))
        elif cmd == "validate":
            s = api.validate(cfg)
            n = len(s.portfolio.trades) if s.portfolio is not None else 0
            print(f"config OK: {len(s.market.currencies)} currencies, {len(s.grid.dates)} dates, {n} trades")
        elif cmd == "simulate":
            path = api.write_scenarios(cfg)  # one run folder, staged and swapped in like `exposure run`
            print(f"scenarios written to {path}")
        elif cmd == "run":
            from exposure.report import print_summary

            from exposure.simulation.programs import finish_ahead, load_ahead

            ahead = load_ahead(_program_hint(cfg))  # the last such run's programs, loaded while this one sets up
            try:
                res = api.run(cfg, show_bar=None, report_worker=worker)  # bar on a TTY outside CI; run.log in the run folder
            finally:
                finish_ahead(ahead)
            print_summary(res.dataset, float(res.dataset.attrs.get("report_pfe_quantile", 0.99)))
            if res.out_dir is None:  # output.write=false: the results were computed and nothing was written
                print("results: not written (output.write=false)")
            else:
                print(f"results: {res.out_dir}" + (f" (report: {res.out_dir}/report.html)"
                                                   if any(f.endswith("report.html") for f in res.files) else ""))
        else:
            print(f"unknown command '{cmd}'\n{USAGE}", file=sys.stderr)
            return 2
    except ExposureError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk, permission or file-system problem while writing: one line, the file named
        print(f"error: {_os_line(exc)}", file=sys.stderr)
        return 2
    return 0


def _program_hint(cfg) -> str | None:
    """``exposure.confignode.program_hint``: the config without output.dir."""
    from exposure.confignode import program_hint

    return program_hint(cfg)


def _os_line(exc) -> str:
    """One line for an ExposureError, or for an OSError (disk, permissions) naming its file."""
    from exposure.errors import ExposureError

    if isinstance(exc, OSError) and not isinstance(exc, ExposureError):
        notes = "".join(f"; {n}" for n in getattr(exc, "__notes__", ()))
        return (f"{exc.filename}: " if exc.filename else "") + _one_line(exc.strerror or exc) + notes
    return _one_line(exc)


def _one_line(exc) -> str:
    """The error on one line (a parser's multi-line message joined with '; '), so a log line is the whole error;
    with its notes (where a failed run's log and checkpoint are, exposure.run_folder)."""
    text = "\n".join([str(exc)] + [str(n) for n in getattr(exc, "__notes__", ())])
    return "; ".join(ln.strip() for ln in text.splitlines() if ln.strip())


def _report(args: list[str]) -> int:
    from exposure import api
    from exposure.errors import ExposureError
    from exposure.report import print_summary

    if not args or "=" in args[0]:
        print("usage: exposure report RUN_DIR [report.key=value ...]", file=sys.stderr)
        return 2
    try:
        ds, files = api.report(args[0], args[1:])
    except (ExposureError, OSError) as exc:
        print(f"error: {_os_line(exc)}", file=sys.stderr)
        return 2
    print_summary(ds, float(ds.attrs["report_pfe_quantile"]))
    print(f"report written: {len(files)} files under {args[0]}")
    return 0


def _aggregate(args: list[str]) -> int:
    from exposure import api
    from exposure.errors import ExposureError
    from exposure.report import print_summary

    if not args or "=" in args[0]:
        print("usage: exposure aggregate RUN_DIR [key=value ...]", file=sys.stderr)
        return 2
    try:
        res = api.aggregate(args[0], args[1:], show_bar=None)  # bar on a TTY outside CI; run.log
    except (ExposureError, OSError) as exc:
        print(f"error: {_os_line(exc)}", file=sys.stderr)
        return 2
    print_summary(res.dataset, float(res.dataset.attrs["report_pfe_quantile"]))
    print(f"results: {res.out_dir}")
    return 0


def _whatif(args: list[str]) -> int:
    import argparse

    from exposure import api
    from exposure.errors import ExposureError
    from exposure.whatif import format_table

    ap = argparse.ArgumentParser(prog="exposure whatif")
    ap.add_argument("run_dir")
    ap.add_argument("--netting-set", required=True)
    ap.add_argument("--trade", required=True, help="YAML/JSON file of one or more trades (portfolio format)")
    ap.add_argument("overrides", nargs="*")
    try:
        a = ap.parse_intermixed_args(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        res = api.whatif(a.run_dir, a.netting_set, a.trade, a.overrides)
    except (ExposureError, OSError) as exc:
        print(f"error: {_os_line(exc)}", file=sys.stderr)
        return 2
    print(f"what-if: {', '.join(res.trade_ids)} into {res.netting_set} (counterparty {res.counterparty})")
    print(format_table(res.table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
