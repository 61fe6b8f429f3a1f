"""The desk summary: one row per counterparty and per netting set (the summary.csv table and the printout).

Per netting set n: NPV (t0, base currency), peak EPE = max_t EPE_n(t) (discounted), peak PFE_q = PeakPFE at
the report quantile q (basis: attrs pfe_basis) and its date, EEPE (Basel effective EPE), CVA, DVA, FVA, EAD,
Capital (the results-contract variables, "n/a" when the run has none), the counterparty's tightest limit and
the netting set's share of it (peak PFE_n / limit).
Per counterparty c: NPV and EEPE, CVA, DVA, FVA, EAD, Capital summed over its netting sets (or the ``*_cpty``
variables when the results hold them), peak EPE of the summed EPE profile, the counterparty PFE
(``PFE_cpty``, see exposure.report.limits), the binding limit (highest utilisation), status and breaches.
"""

from __future__ import annotations

import io
import math
import sys

import numpy as np
import pandas as pd
import xarray as xr

from exposure.report.limits import (STATUS_BREACH, STATUS_NO_LIMIT, STATUS_OK, STATUS_UNDECIDED, bucket_mask, limit_values,
                                    counterparties, quantile_index)
from exposure.report.settings import parse_bucket

XVA_COLUMNS = ("CVA", "DVA", "FVA", "EAD", "Capital")


def pfe_label(q: float) -> str:
    return f"PeakPFE_{100.0 * q:g}"


def missing_figures(ds: xr.Dataset) -> list:
    """Result figures of the summary that this run does not hold (shown as n/a)."""
    return [v for v in XVA_COLUMNS if v not in ds and f"{v}_cpty" not in ds]


def _ns_values(ds, name) -> np.ndarray:
    n = ds.sizes["netting_set"]
    if name in ds and ds[name].dims == ("netting_set",):
        return np.asarray(ds[name].values, dtype=np.float64)
    return np.full(n, np.nan)


def _cpty_values(ds, name, names, owner) -> np.ndarray:
    var = f"{name}_cpty"
    if var in ds and "cpty" in ds[var].dims:
        cp = [str(c) for c in ds["cpty"].values]
        vals = np.asarray(ds[var].values, dtype=np.float64)
        return np.array([vals[cp.index(c)] if c in cp else np.nan for c in names])
    per_ns = _ns_values(ds, name)
    return np.array([per_ns[owner == c].sum() if (owner == c).any() else np.nan for c in names])


def _limit_info(ds, names):
    """Per counterparty: (limit text, limit amount, utilisation, status, breaches text) from the limit vars."""
    info = {c: ("n/a", np.nan, np.nan, STATUS_NO_LIMIT, "", "all") for c in names}
    if "PFE_limit" not in ds:
        return info
    rank = {STATUS_BREACH: 3, STATUS_UNDECIDED: 2, STATUS_OK: 1}
    for c in names:
        idx = [j for j in range(ds.sizes["limit"]) if str(ds["limit_counterparty"].values[j]) == c]
        if not idx:
            continue
        util = limit_values(ds, "PFE_limit_utilisation")[idx]
        status = [str(ds["PFE_limit_status"].values[j]) for j in idx]
        worst = max(status, key=lambda s: rank.get(s, 0))
        pick = idx[int(np.nanargmax(util))] if np.isfinite(util).any() else idx[0]
        bucket = str(ds["limit_bucket"].values[pick])
        lim = float(ds["PFE_limit"].values[pick])
        text = f"{lim:,.0f}" + ("" if bucket == "all" else f" ({bucket})")
        br = []
        for j in idx:
            if str(ds["PFE_limit_status"].values[j]) == STATUS_BREACH:
                d = str(np.datetime64(ds["PFE_limit_max_excess_date"].values[j], "D"))
                first = str(np.datetime64(ds["PFE_limit_first_breach_date"].values[j], "D"))
                br.append(f"{ds['limit_bucket'].values[j]}: {int(ds['PFE_limit_breach_count'].values[j])} date(s) from "
                          f"{first}, max excess {float(ds['PFE_limit_max_excess'].values[j]):,.0f} on {d}")
            elif str(ds["PFE_limit_status"].values[j]) == STATUS_UNDECIDED:
                br.append(f"{ds['limit_bucket'].values[j]}: cannot decide ({ds['PFE_limit_reason'].values[j]})")
        info[c] = (text, lim, float(np.nanmax(util)) if np.isfinite(util).any() else np.nan, worst, "; ".join(br),
                   bucket)
    return info


def summary_frame(ds: xr.Dataset, q: float) -> pd.DataFrame:
    """Counterparty rows (Level=counterparty), each followed by its netting sets (Level=netting_set)."""
    qi = quantile_index(ds, q)
    names = counterparties(ds)
    owner = np.array([str(c) for c in ds["counterparty"].values])
    ns_ids = [str(n) for n in ds["netting_set"].values]
    epe = np.asarray(ds["EPE"].values, dtype=np.float64)
    dates = ds["date"].values
    peak_pfe = np.asarray(ds["PeakPFE"].values[:, qi], dtype=np.float64)
    peak_date = ds["PeakPFEDate"].values[:, qi]
    label = pfe_label(q)
    lim = _limit_info(ds, names)
    ns_cols = {name: _ns_values(ds, name) for name in ("NPV", "EEPE") + XVA_COLUMNS}
    cp_cols = {name: _cpty_values(ds, name, names, owner) for name in ("NPV", "EEPE") + XVA_COLUMNS}
    cp_pfe = (np.asarray(ds["PFE_cpty"].values, dtype=np.float64) if "PFE_cpty" in ds else None)
    cp_names = [str(c) for c in ds["cpty"].values] if "cpty" in ds.coords else names
    rows = []
    for i, c in enumerate(names):
        members = np.flatnonzero(owner == c)
        text, amount, util, status, breaches, bucket = lim[c]
        in_bucket = bucket_mask(ds, parse_bucket(bucket, "limit_bucket"))
        prof = cp_pfe[cp_names.index(c)] if cp_pfe is not None and c in cp_names else (
            ds["PFE"].values[members, :, qi].sum(axis=0) if members.size else np.full(len(dates), np.nan))
        k = int(np.nanargmax(prof)) if np.isfinite(prof).any() else None
        rows.append({"Level": "counterparty", "Counterparty": c, "NettingSet": "", "NettingSets": int(members.size),
                     "NPV": cp_cols["NPV"][i],
                     "PeakEPE": float(epe[members].sum(axis=0).max()) if members.size else np.nan,
                     label: float(prof[k]) if k is not None else np.nan,
                     "PeakPFEDate": str(np.datetime64(dates[k], "D")) if k is not None else "",
                     "EEPE": cp_cols["EEPE"][i], **{x: cp_cols[x][i] for x in XVA_COLUMNS},
                     "Limit": amount, "LimitText": text, "Utilisation": util, "LimitStatus": status,
                     "Breaches": breaches})
        for j in members:
            rows.append({"Level": "netting_set", "Counterparty": c, "NettingSet": ns_ids[j], "NettingSets": 1,
                         "NPV": ns_cols["NPV"][j], "PeakEPE": float(epe[j].max()), label: peak_pfe[j],
                         "PeakPFEDate": "" if pd.isna(peak_date[j]) else str(np.datetime64(peak_date[j], "D")),
                         "EEPE": ns_cols["EEPE"][j], **{x: ns_cols[x][j] for x in XVA_COLUMNS},
                         "Limit": amount, "LimitText": text,
                         "Utilisation": _share(ds["PFE"].values[j, :, qi], in_bucket, amount),
                         "LimitStatus": "share of limit" if math.isfinite(amount) else STATUS_NO_LIMIT, "Breaches": ""})
    return pd.DataFrame(rows)


def _share(pfe, mask, limit) -> float:
    """max PFE_n over the binding limit's bucket / limit: the netting set's share of its counterparty's limit."""
    p = np.asarray(pfe, dtype=np.float64)[mask]
    if not math.isfinite(limit) or not p.size or not np.isfinite(p).all():
        return np.nan
    return float(p.max()) / limit


def write_summary_csv(frame: pd.DataFrame, path: str) -> str:
    from exposure.results import _atomic

    cols = [c for c in frame.columns if c != "LimitText"]
    return _atomic(path, lambda tmp: frame[cols].to_csv(tmp, index=False, na_rep="n/a", float_format="%.10g"))


def _money(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:,.0f}"


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


DISPLAY = ("NPV", "PeakEPE", None, "EEPE") + XVA_COLUMNS


def display_rows(frame: pd.DataFrame, q: float) -> tuple[list, list]:
    """(header, rows of strings) of the printed table."""
    label = pfe_label(q)
    head = ["cpty / netting set", "NPV", "peak EPE", f"peak PFE {100 * q:g}%", "EEPE", *XVA_COLUMNS, "limit", "util",
            "status"]
    rows = []
    for r in frame.to_dict("records"):
        name = r["Counterparty"] if r["Level"] == "counterparty" else f"  {r['NettingSet']}"
        status = r["LimitStatus"] if r["Level"] == "counterparty" else ""
        rows.append([name] + [_money(r[c if c else label]) for c in DISPLAY]
                    + [r["LimitText"] if r["Level"] == "counterparty" else "", _pct(r["Utilisation"]), status])
    return head, rows


def summary_text(ds: xr.Dataset, q: float, frame: pd.DataFrame | None = None) -> str:
    """The plain-text summary (fixed-width table, breaches, the n/a note)."""
    frame = summary_frame(ds, q) if frame is None else frame
    head, rows = display_rows(frame, q)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    lines = [fmt(head)] + [fmt(r) for r in rows]
    return "\n".join(lines + _notes(ds, frame))


def _notes(ds, frame) -> list:
    notes = []
    for r in frame[frame["Level"] == "counterparty"].to_dict("records"):
        if r["Breaches"]:
            notes.append(f"LIMIT {r['LimitStatus'].upper()} {r['Counterparty']}: {r['Breaches']}")
    miss = missing_figures(ds)
    if miss:
        notes.append(f"n/a: not in these results: {', '.join(miss)}")
    basis = ds.attrs.get("pfe_basis", "undiscounted")
    notes.append(f"EPE/EEPE discounted, PFE {basis}; counterparty PFE: {ds.attrs.get('PFE_cpty_method', 'sum of netting-set PFEs')}")
    return notes


def print_summary(ds: xr.Dataset, q: float, file=None, frame: pd.DataFrame | None = None) -> None:
    """A rich table on a terminal, the plain-text table otherwise."""
    file = sys.stdout if file is None else file
    frame = summary_frame(ds, q) if frame is None else frame
    if not getattr(file, "isatty", lambda: False)():
        print(summary_text(ds, q, frame), file=file)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    head, rows = display_rows(frame, q)
    # figures the run does not hold are all n/a: their columns go (the note below names them) so that the
    # table fits a terminal
    keep = [i for i, h in enumerate(head) if h not in missing_figures(ds)]
    head, rows = [head[i] for i in keep], [[r[i] for i in keep] for r in rows]
    table = Table(title=f"Exposure summary ({ds.attrs.get('base_currency', '')})", header_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for i, h in enumerate(head):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
    for r, rec in zip(rows, frame.to_dict("records")):
        style = "bold" if rec["Level"] == "counterparty" else None
        if rec["Level"] == "counterparty" and rec["LimitStatus"] == STATUS_BREACH:
            style = "bold red"
        elif rec["Level"] == "counterparty" and rec["LimitStatus"] == STATUS_UNDECIDED:
            style = "bold yellow"
        table.add_row(*r, style=style)
    console = Console(file=file)
    console.print(table)
    for line in _notes(ds, frame):
        console.print(line, markup=False, highlight=False)


def summary_string(ds: xr.Dataset, q: float) -> str:
    buf = io.StringIO()
    print_summary(ds, q, file=buf)
    return buf.getvalue()
