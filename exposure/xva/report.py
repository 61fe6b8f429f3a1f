"""xva.csv in ORE's columns (OREAnalytics reportwriter writeXVA), where they apply.

One row per netting set (TradeId empty) followed by its trades when trade-level results exist:
TradeId, NettingSetId, CVA, DVA, FBA, FCA, FBAexOwnSP, FCAexOwnSP, FBAexAllSP, FCAexAllSP, MVA, KVA, AllocatedCVA,
AllocatedDVA, AllocationMethod, BaselEPE, BaselEEPE, then the engine's additions FVA, CVA_stderr, DVA_stderr,
FCA_stderr, FBA_stderr, FVA_stderr, MVA_stderr. Trade rows: CVA/DVA stand-alone, AllocatedCVA/DVA the Euler allocation
(``allocation``), FBA/FCA/MVA/KVA/Basel columns #N/A (not computed per trade; MVA #N/A also when not computed). ORE's COLVA, KVA CCR/CVA split
and CollateralFloor columns are left out (not computed here). Missing figures are ORE's #N/A; signs as ORE
(magnitudes, ``adjustments``).
"""

from __future__ import annotations

import math
import os


from exposure.simulation.scenario_io import atomic_text

COLUMNS = ("TradeId", "NettingSetId", "CVA", "DVA", "FBA", "FCA", "FBAexOwnSP", "FCAexOwnSP", "FBAexAllSP",
           "FCAexAllSP", "MVA", "KVA", "AllocatedCVA", "AllocatedDVA", "AllocationMethod", "BaselEPE", "BaselEEPE",
           "FVA", "CVA_stderr", "DVA_stderr", "FCA_stderr", "FBA_stderr", "FVA_stderr", "MVA_stderr")
_NS_VARS = {"FBAexOwnSP": "FBA_exOwnSP", "FCAexOwnSP": "FCA_exOwnSP", "FBAexAllSP": "FBA_exAllSP",
            "FCAexAllSP": "FCA_exAllSP", "AllocatedCVA": "CVA", "AllocatedDVA": "DVA"}
_TRADE_VARS = {"CVA": "trade_CVA", "DVA": "trade_DVA", "AllocatedCVA": "AllocatedCVA", "AllocatedDVA": "AllocatedDVA"}


def _fmt(x) -> str:
    x = float(x)
    return repr(x) if math.isfinite(x) else "#N/A"


def xva_csv_text(ds) -> str:
    """The text of xva.csv for a results Dataset with the XVA variables."""
    from exposure.files import csv_text

    rows = []
    has_trades = "trade_CVA" in ds
    trade_ns = [str(n) for n in ds["trade_netting_set"].values] if has_trades else []
    for j, ns in enumerate(ds["netting_set"].values):
        cells = []
        for col in COLUMNS[2:]:
            if col == "AllocationMethod":
                cells.append("Marginal" if has_trades else "None")
                continue
            var = _NS_VARS.get(col, col)
            cells.append(_fmt(ds[var].values[j]) if var in ds else "#N/A")
        rows.append(["", str(ns)] + cells)
        for i in (i for i, n in enumerate(trade_ns) if n == str(ns)):
            cells = []
            for col in COLUMNS[2:]:
                var = _TRADE_VARS.get(col)
                cells.append("Marginal" if col == "AllocationMethod" else
                             (_fmt(ds[var].values[i]) if var is not None and var in ds else "#N/A"))
            rows.append([str(ds["trade"].values[i]), str(ns)] + cells)
    return csv_text(COLUMNS, rows)


def write_xva_csv(ds, out_dir: str) -> list[str]:
    """Writes out_dir/xva.csv atomically when ds holds CVA; returns the written paths ([] otherwise)."""
    if "CVA" not in ds:
        return []
    return [atomic_text(os.path.join(out_dir, "xva.csv"), xva_csv_text(ds))]
