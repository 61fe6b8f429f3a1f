"""write_report: the desk files of a run folder from the results Dataset (also on a stored run).

    <out_dir>/summary.csv           counterparty and netting-set rows (exposure.report.summary)
    <out_dir>/limits.csv            one row per PFE limit: peak, utilisation, status, first breach, max excess
    <out_dir>/limit_breaches.csv    every (limit, date) in breach
    <out_dir>/plots/*.png           per netting set and portfolio.png (report.plots)
    <out_dir>/report.html           self-contained report (report.html)
"""

from __future__ import annotations

import os

from exposure.report.limits import apply_limits, breaches_frame, limits_frame
from exposure.report.summary import summary_frame, write_summary_csv


def _csv(frame, path: str) -> str:
    from exposure.results import _atomic

    return _atomic(path, lambda tmp: frame.to_csv(tmp, index=False, na_rep="n/a", float_format="%.10g"))


def write_report(ds, out_dir: str, settings, progress=None, folder_label: str | None = None,
                 plot_runner=None) -> list:
    """Write the report files for ``ds`` (limits applied here when ds has none); returns the paths written.
    ``settings``: exposure.report.settings.ReportSettings; nothing is written when settings.enabled is false.
    folder_label: the run folder named in report.html (default out_dir; a staged run names its final folder).
    plot_runner: how the plots are drawn (exposure.report.plots.write_plots; default one after the other)."""
    if not settings.enabled:
        return []
    if progress is not None:
        progress.stage("report")
    if "PFE_cpty" not in ds:
        ds = apply_limits(ds, settings)
    q = float(settings.pfe_quantile)
    os.makedirs(out_dir, exist_ok=True)
    frame = summary_frame(ds, q)
    limits, breaches = limits_frame(ds), breaches_frame(ds)
    files = [write_summary_csv(frame, os.path.join(out_dir, "summary.csv")),
             _csv(limits, os.path.join(out_dir, "limits.csv")),
             _csv(breaches, os.path.join(out_dir, "limit_breaches.csv"))]
    plots = {}
    if settings.plots:
        from exposure.report.plots import write_plots

        plots = write_plots(ds, frame, q, out_dir, plot_runner)
        files += list(plots.values())
    if settings.html:
        from exposure.report.html import render_html
        from exposure.simulation.scenario_io import atomic_text

        text = render_html(ds, frame, limits, breaches, plots, settings, folder_label or out_dir)
        files.append(atomic_text(os.path.join(out_dir, "report.html"), text))
    if progress is not None:
        progress.log(f"report: {len(files)} files")
    return [str(f) for f in files]
