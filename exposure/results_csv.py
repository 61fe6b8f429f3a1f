"""ORE-style exposure reports of the results Dataset: one CSV per netting set and per trade.

Rows are (netting set or trade, date): the profiles of ``exposure.results`` (EPE, ENE, ExpectedCollateral,
discounted; BaselEE, BaselEEE, TimeWeightedBaselEPE / EEPE, non-discounted; PFE(t, q) at one quantile and one
column PFE_<100 q> per quantile), base currency, in the columns of ORE's exposure_nettingset_*.csv /
exposure_trade_*.csv. Dates ISO, Time (years ACT/365F) with 6 decimals, values at full precision (repr),
missing values as ORE's #N/A. Each file is written atomically (``results._atomic``).
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import xarray as xr

from exposure.files import file_stems
from exposure.results import _atomic

# ORE's report columns (OREAnalytics/orea/app/reportwriter.cpp: writeNettingSetExposures / writeTradeExposures).
ORE_NETTING_SET_COLUMNS = ("NettingSet", "Date", "Time", "EPE", "ENE", "PFE", "ExpectedCollateral", "BaselEE",
                           "BaselEEE", "TimeWeightedBaselEPE", "TimeWeightedBaselEEPE")
ORE_TRADE_COLUMNS = ("TradeId", "Date", "Time", "EPE", "ENE", "AllocatedEPE", "AllocatedENE", "PFE", "BaselEE",
                     "BaselEEE", "TimeWeightedBaselEPE", "TimeWeightedBaselEEPE")


def _fmt(x) -> str:
    x = float(x)
    return "#N/A" if not math.isfinite(x) else repr(x)


def _qlabel(q: float) -> str:
    return f"PFE_{100.0 * float(q):g}"


def _pick_quantile(ds: xr.Dataset, q) -> int:
    qs = np.asarray(ds["quantile"].values, dtype=np.float64)
    if not qs.size:
        return -1
    if q is None:
        return 0
    hit = np.flatnonzero(np.isclose(qs, float(q), rtol=0, atol=1e-12))
    if not hit.size:
        raise ValueError(f"quantile {q} is not in the results ({qs.tolist()})")
    return int(hit[0])


def _write_csv(path: str, header: Sequence[str], rows) -> str:
    """rows: an iterable of lists of strings, consumed while the temporary file is open."""

    def write(tmp):
        from exposure.files import write_csv_rows

        with open(tmp, "w", newline="") as fh:
            write_csv_rows(fh, header, rows)  # a comma or newline in an id is quoted, not a new column

    return _atomic(path, write)


def write_ore_csv(ds: xr.Dataset, out_dir: str, pfe_quantile: float | None = None) -> list[str]:
    """exposure_nettingset_<id>.csv per netting set and exposure_trade_<id>.csv per trade, in ORE's columns.

    Netting sets: NettingSet,Date,Time,EPE,ENE,PFE,ExpectedCollateral,BaselEE,BaselEEE,TimeWeightedBaselEPE,
    TimeWeightedBaselEEPE, then PFE_<100 q> for every quantile and EE_stderr. Trades: TradeId,Date,Time,EPE,ENE,
    AllocatedEPE,AllocatedENE,PFE,BaselEE,BaselEEE,TimeWeightedBaselEPE,TimeWeightedBaselEEPE, then NettingSet
    (and PFE_<100 q> when trade PFE was computed). ``PFE`` is at ``pfe_quantile`` (default: the first
    quantile). Dates ISO, Time with 6 decimals, values at full precision, missing values as ORE's #N/A.
    """
    qi = _pick_quantile(ds, pfe_quantile)
    qs = np.asarray(ds["quantile"].values, dtype=np.float64)
    dates = [str(np.datetime64(d, "D")) for d in ds["date"].values]
    times = [f"{float(t):.6f}" for t in ds["time"].values]
    written = []

    has_se = "EE_stderr" in ds  # absent when undefined (one path): the column is left out, not filled
    extras_ns = [_qlabel(q) for q in qs] + (["EE_stderr"] if has_se else [])
    ns_stems = file_stems(ds["netting_set"].values)
    for j, nid in enumerate(ds["netting_set"].values):
        row = {name: ds[name].values[j] for name in ("EPE", "ENE", "ExpectedCollateral", "BaselEE", "BaselEEE",
                                                       "TimeWeightedBaselEPE", "TimeWeightedBaselEEPE",
                                                       *(("EE_stderr",) if has_se else ()))}
        pfe = ds["PFE"].values[j]
        rows = (
            [str(nid), dates[k], times[k], _fmt(row["EPE"][k]), _fmt(row["ENE"][k]),
             _fmt(pfe[k, qi] if qi >= 0 else np.nan), _fmt(row["ExpectedCollateral"][k]), _fmt(row["BaselEE"][k]),
             _fmt(row["BaselEEE"][k]), _fmt(row["TimeWeightedBaselEPE"][k]), _fmt(row["TimeWeightedBaselEEPE"][k])]
            + [_fmt(pfe[k, m]) for m in range(qs.size)] + ([_fmt(row["EE_stderr"][k])] if has_se else [])
            for k in range(len(dates))
        )
        path = os.path.join(out_dir, f"exposure_nettingset_{ns_stems[str(nid)]}.csv")
        written.append(_write_csv(path, ORE_NETTING_SET_COLUMNS + tuple(extras_ns), rows))

    if "trade" in ds.dims:
        has_pfe = "trade_PFE" in ds
        extras_t = ["NettingSet"] + ([_qlabel(q) for q in qs] if has_pfe else [])
        names = ("trade_EPE", "trade_ENE", "AllocatedEPE", "AllocatedENE", "trade_BaselEE", "trade_BaselEEE",
                 "trade_TimeWeightedBaselEPE", "trade_TimeWeightedBaselEEPE")
        trade_stems = file_stems(ds["trade"].values)
        for i, tid in enumerate(ds["trade"].values):
            v = {name: ds[name].values[i] for name in names}
            pfe = ds["trade_PFE"].values[i] if has_pfe else None
            ns = str(ds["trade_netting_set"].values[i])
            rows = (
                [str(tid), dates[k], times[k], _fmt(v["trade_EPE"][k]), _fmt(v["trade_ENE"][k]),
                 _fmt(v["AllocatedEPE"][k]), _fmt(v["AllocatedENE"][k]),
                 _fmt(pfe[k, qi] if has_pfe and qi >= 0 else np.nan), _fmt(v["trade_BaselEE"][k]),
                 _fmt(v["trade_BaselEEE"][k]), _fmt(v["trade_TimeWeightedBaselEPE"][k]),
                 _fmt(v["trade_TimeWeightedBaselEEPE"][k]), ns]
                + ([_fmt(pfe[k, m]) for m in range(qs.size)] if has_pfe else [])
                for k in range(len(dates))
            )
            path = os.path.join(out_dir, f"exposure_trade_{trade_stems[str(tid)]}.csv")
            written.append(_write_csv(path, ORE_TRADE_COLUMNS + tuple(extras_t), rows))
    return written
