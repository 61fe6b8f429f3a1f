"""Write a scorecard run: CSV, Parquet, HDF5 (xarray/h5netcdf), an HTML summary and the API snapshot.

Every file is written atomically. snapshot.json bundles everything the HTTP service needs in ONE file, so that a
reload sees either the previous run or the new one, never a mix of files from two runs.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .outputs import atomic_write_dataset, atomic_write_frame, atomic_write_json, atomic_write_text

SUMMARY_COLS = ["name", "score", "score_lo", "score_hi", "class", "model_class", "override", "override_expires_at",
                "rank", "credit_score", "adverse_selection_bps", "excess_slippage_bps",
                "stress_fill_pct", "protocol_score", "annual_notional", "adverse_selection_cost_usd",
                "excess_slippage_cost_usd", "limit_multiplier", "allocated_capital", "metrics_used", "metrics_missing"]


def scorecard_dataset(sc: pd.DataFrame, metrics: pd.DataFrame, attrs: dict) -> xr.Dataset:
    """dims counterparty, metric: scorecard columns as variables; metric_{value,se,lo,hi,n} (counterparty, metric)."""
    ds = xr.Dataset(coords={"counterparty": sc.index.astype(str).to_numpy()})
    for c in sc.columns:
        col = sc[c]
        ds[c] = ("counterparty", col.to_numpy(float) if col.dtype.kind in "fiub" else col.astype(str).to_numpy())
    for k in ("value", "se", "lo", "hi", "n"):
        p = metrics.pivot_table(index="counterparty", columns="metric", values=k, aggfunc="first")
        p = p.reindex(sc.index)
        ds[f"metric_{k}"] = (("counterparty", "metric"), p.to_numpy(float))
        ds = ds.assign_coords(metric=p.columns.astype(str).to_numpy())
    ds.attrs.update({k: str(v) for k, v in attrs.items()})
    return ds


def html_summary(sc: pd.DataFrame, notes: list[str], alerts: pd.DataFrame, title: str) -> str:
    cols = [c for c in SUMMARY_COLS if c in sc.columns]
    table = sc[cols].round(3).to_html(classes="scorecard", border=0, escape=True)
    contrib = sc[[c for c in sc.columns if c.startswith("contrib_")]].round(3).to_html(border=0)
    al = alerts.to_html(index=False, border=0) if not alerts.empty else "<p>none</p>"
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><h2>Scorecard (lower score is better)</h2>{table}"
            f"<h2>Per-metric contributions</h2>{contrib}<h2>Alerts</h2>{al}<h2>Notes</h2><ul>{notes_html}</ul>"
            "</body></html>")


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records", double_precision=15))


def guard_non_finite(sc: pd.DataFrame, metrics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Infinite numbers (e.g. the SE of a mean of one observation) become missing (empty in CSV, null in JSON),
    each named in a note by counterparty and metric/column: no output file ever holds Infinity or NaN literals."""
    notes = []
    m = metrics.copy()
    for col in ("value", "se", "lo", "hi"):
        v = pd.to_numeric(m[col], errors="coerce").to_numpy(float)
        bad = np.isinf(v)
        for i in np.flatnonzero(bad):
            notes.append(f"non-finite {col} of metric '{m['metric'].iloc[i]}' for {m['counterparty'].iloc[i]} "
                         f"(n={m['n'].iloc[i]}): omitted")
        m[col] = np.where(bad, np.nan, v)
    out = sc.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            bad = np.isinf(out[c].to_numpy())
            for cp in out.index[bad]:
                notes.append(f"non-finite '{c}' for {cp}: omitted")
            out[c] = out[c].where(~bad)
    return out, m, notes


def _strict(obj, where: str = "snapshot"):
    """JSON-ready copy with NaN mapped to null; an infinite number left anywhere is a bug: named and refused."""
    if isinstance(obj, dict):
        return {k: _strict(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (float, np.floating)):
        if np.isnan(obj):
            return None
        if np.isinf(obj):
            raise ValueError(f"{where}: infinite number would reach the snapshot")
        return float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_outputs(res, cfg, aliases, sources: dict, now: str) -> dict[str, str]:
    out = Path(cfg.output.dir)
    res.scorecard, res.metrics, notes = guard_non_finite(res.scorecard, res.metrics)
    res.notes.extend(notes)
    sc = res.scorecard
    paths = {"dir": str(out)}
    flat = sc.reset_index()
    paths["scorecard_csv"] = atomic_write_frame(flat, out / "scorecard.csv")
    paths["scorecard_parquet"] = atomic_write_frame(flat, out / "scorecard.parquet")
    paths["metrics_csv"] = atomic_write_frame(res.metrics, out / "metrics.csv")
    paths["metrics_parquet"] = atomic_write_frame(res.metrics, out / "metrics.parquet")
    paths["unmatched_csv"] = atomic_write_frame(res.unmatched, out / "unmatched_counterparties.csv")
    paths["alerts_csv"] = atomic_write_frame(res.alerts, out / "alerts.csv")
    if res.orders is not None:
        paths["shortfall_orders_csv"] = atomic_write_frame(res.orders, out / "shortfall_orders.csv")
    attrs = {"profile": cfg.profile.name, "computed_at": now}
    paths["scorecard_h5"] = atomic_write_dataset(scorecard_dataset(sc, res.metrics, attrs), out / "scorecard.h5")
    paths["summary_html"] = atomic_write_text(html_summary(sc, res.notes, res.alerts,
                                                           f"Counterparty toxicity scorecard ({now})"),
                                              out / "summary.html")
    manifest = {"computed_at": now, "profile": cfg.profile.name, "sources": sources, "notes": res.notes,
                "impact_fit": res.impact, "bands": [{"name": b.name, "upper": _upper(b.upper)}
                                                    for b in cfg.composite.bands]}
    paths["manifest"] = atomic_write_json(_strict(manifest, "manifest"), out / "manifest.json")
    snap = {"manifest": manifest, "scorecard": _records(flat), "metrics": _records(res.metrics),
            "alerts": _records(res.alerts), "aliases": dict(aliases.mapping),
            "float_columns": [c for c in flat.columns if flat[c].dtype.kind == "f"]}
    text = json.dumps(_strict(snap), default=_json_default, allow_nan=False)
    paths["snapshot"] = atomic_write_text(text, out / "snapshot.json")
    return paths


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)


def _upper(u) -> float | None:
    """A band's upper bound; null in JSON for the open last band (.inf)."""
    return float(u) if np.isfinite(float(u)) else None
