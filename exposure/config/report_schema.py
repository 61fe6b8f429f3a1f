"""Schema of the ``report`` config group: the desk summary, PFE limits, plots and the HTML report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional


@dataclass
class ReportConfig:
    enabled: bool = True  # summary.csv, limits.csv, plots and report.html after `exposure run`
    # the PFE the summary and the limits read: one of output.quantiles; null: 0.99 when computed, else the highest
    pfe_quantile: Optional[float] = None
    limits_file: Optional[str] = None  # CSV Counterparty,Bucket,Limit (base currency); Bucket: all | 0-1Y | 1Y-5Y | 5Y+
    limits: Dict[str, Any] = field(default_factory=dict)  # {CP_A: 5.0e6, CP_B: {0-1Y: 2.0e6, 5Y+: 1.0e6}}
    plots: bool = True  # PNG per netting set and a portfolio overview under <output.dir>/plots
    html: bool = True  # one self-contained report.html (needs plots for its pictures)
