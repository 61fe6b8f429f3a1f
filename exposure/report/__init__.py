"""Desk and credit-officer outputs from a results Dataset: summary, PFE limits, plots, the HTML report.

Everything here reads the results Dataset (exposure.results) only, so it runs on a stored run as well:

    from exposure.report import report_settings, apply_limits, write_report
    ds = apply_limits(read_results("runs/example/results.h5"), settings)
    write_report(ds, "runs/example", settings)
"""

from exposure.report.limits import apply_limits, breaches_frame, counterparty_pfe, limits_frame
from exposure.report.progress import RunProgress, bar_wanted
from exposure.report.settings import LimitSpec, ReportSettings, parse_bucket, read_limits_csv, report_settings
from exposure.report.summary import print_summary, summary_frame, summary_text
from exposure.report.write import write_report

__all__ = ["LimitSpec", "ReportSettings", "RunProgress", "bar_wanted", "apply_limits", "breaches_frame", "counterparty_pfe", "limits_frame",
           "parse_bucket", "print_summary", "read_limits_csv", "report_settings", "summary_frame", "summary_text",
           "write_report"]
