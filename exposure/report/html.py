"""The HTML report: one self-contained file (inline CSS, PNGs embedded as base64 data URIs, no external
asset, no network) that opens offline in any browser.

Sections: run metadata (seed, paths, quantiles, config), portfolio summary and overview plot, limit utilisation
and breaches, counterparties ranked by peak PFE and by CVA, and per netting set its plot, summary row and
profile table. A few lines of inline script count the images that decoded into ``body[data-images-loaded]``
("decoded/total"), which the headless-browser test reads.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os

import numpy as np
import pandas as pd
import xarray as xr

from exposure.report.summary import XVA_COLUMNS, missing_figures, pfe_label

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;color:#1c2833}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:2px solid #d5d8dc;padding-bottom:3px;margin-top:28px}
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;font-size:12px;margin:6px 0 12px}
th,td{border:1px solid #d5d8dc;padding:3px 7px;text-align:right;white-space:nowrap}th{background:#eaecee}
td.l,th.l{text-align:left}tr.cp td{font-weight:600;background:#f8f9f9}.breach{color:#c0392b;font-weight:700}
.undecided{color:#b9770e;font-weight:700}.ok{color:#1e8449}.muted{color:#7f8c8d;font-size:12px}
img{max-width:100%;border:1px solid #eaecee}pre{background:#f4f6f6;padding:8px;font-size:11px;overflow:auto;max-height:400px}
nav a{margin-right:12px;font-size:13px}.kpi{display:inline-block;margin:4px 18px 4px 0}.kpi b{display:block;font-size:18px}
"""

SCRIPT = """window.addEventListener('load',function(){var im=Array.prototype.slice.call(document.images);
document.body.setAttribute('data-images-loaded',im.filter(function(i){return i.complete&&i.naturalWidth>0;}).length+'/'+im.length);});"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _money(x) -> str:
    return "n/a" if x is None or not np.isfinite(float(x)) else f"{float(x):,.0f}"


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(float(x)) else f"{100 * float(x):.1f}%"


def _status(s: str) -> str:
    cls = {"breach": "breach", "cannot decide": "undecided", "ok": "ok"}.get(s, "muted")
    return f'<span class="{cls}">{_e(s)}</span>'


def _img(path: str, alt: str) -> str:
    with open(path, "rb") as fh:
        data = base64.b64encode(fh.read()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(header, rows, left=1, row_classes=None) -> str:
    head = "".join(f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>" for i, h in enumerate(header))
    body = []
    for r, cells in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        tds = "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>" for i, c in enumerate(cells))
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _summary_table(frame: pd.DataFrame, q: float) -> str:
    label = pfe_label(q)
    header = ["counterparty / netting set", "NPV", "peak EPE", f"peak PFE {100 * q:g}%", "peak PFE date", "EEPE",
              *XVA_COLUMNS, "limit", "utilisation", "status"]
    rows, classes = [], []
    for r in frame.to_dict("records"):
        cp = r["Level"] == "counterparty"
        name = _e(r["Counterparty"]) if cp else f'&nbsp;&nbsp;<a href="#ns-{_e(r["NettingSet"])}">{_e(r["NettingSet"])}</a>'
        rows.append([name, _money(r["NPV"]), _money(r["PeakEPE"]), _money(r[label]), _e(r["PeakPFEDate"]),
                     _money(r["EEPE"]), *[_money(r[c]) for c in XVA_COLUMNS], _e(r["LimitText"]) if cp else "",
                     _pct(r["Utilisation"]), _status(r["LimitStatus"]) if cp else ""])
        classes.append("cp" if cp else "")
    return _table(header, rows, row_classes=classes)


def _ranked(frame: pd.DataFrame, col: str, title: str, q: float) -> str:
    cps = frame[frame["Level"] == "counterparty"]
    if not np.isfinite(cps[col].astype(float)).any():
        return f"<h3>{_e(title)}</h3><p class='muted'>{_e(col)} is not in these results (n/a).</p>"
    cps = cps.sort_values(col, ascending=False, na_position="last")
    label = pfe_label(q)
    cols = [(col, col if col != label else f"peak PFE {100 * q:g}%")]
    cols += [(c, h) for c, h in ((label, f"peak PFE {100 * q:g}%"), ("CVA", "CVA")) if c != col]
    rows = [[str(i + 1), _e(r["Counterparty"]), *[_money(r[c]) for c, _ in cols], _pct(r["Utilisation"]),
             _status(r["LimitStatus"])] for i, r in enumerate(cps.to_dict("records"))]
    return f"<h3>{_e(title)}</h3>" + _table(["rank", "counterparty", *[h for _, h in cols], "limit utilisation",
                                               "status"], rows, left=2)


def _limits_section(limits: pd.DataFrame, breaches: pd.DataFrame) -> str:
    if limits.empty:
        return "<p class='muted'>No PFE limits configured (report.limits / report.limits_file).</p>"
    rows = [[_e(r["Counterparty"]), _e(r["Bucket"]), _money(r["Limit"]), _money(r["PeakPFE"]), _e(r["PeakDate"]),
             _pct(r["Utilisation"]), _status(r["Status"]), str(r["BreachDates"]), _e(r["FirstBreach"]),
             _money(r["MaxExcess"]), _e(r["MaxExcessDate"]), _e(r["Reason"])] for r in limits.to_dict("records")]
    out = _table(["counterparty", "bucket", "limit", "peak PFE", "peak date", "utilisation", "status",
                  "dates in breach", "first breach", "max excess", "max excess date", "reason"], rows, left=2)
    if breaches.empty:
        return out + "<p class='ok'>No breach.</p>"
    brow = [[_e(r["Counterparty"]), _e(r["Bucket"]), _e(r["Date"]), _money(r["PFE"]), _money(r["Limit"]),
             f'<span class="breach">{_money(r["Excess"])}</span>'] for r in breaches.to_dict("records")]
    return out + "<h3>Breaches (every date)</h3>" + _table(["counterparty", "bucket", "date", "PFE", "limit",
                                                             "excess"], brow, left=3)


def _profile_table(ds: xr.Dataset, j: int, q: float) -> str:
    from exposure.report.limits import quantile_index

    qi = quantile_index(ds, q)
    names = [n for n in ("EPE", "EE_stderr", "ENE", "ExpectedCollateral", "BaselEEE") if n in ds]
    rows = []
    for k, d in enumerate(ds["date"].values):
        rows.append([str(np.datetime64(d, "D")), f"{float(ds['time'].values[k]):.3f}",
                     *[_money(ds[n].values[j, k]) for n in names], _money(ds["PFE"].values[j, k, qi])])
    return ("<details><summary>profile table</summary>" + _table(["date", "time", *names, f"PFE {100 * q:g}%"],
                                                                  rows, left=1) + "</details>")


def _metadata(ds: xr.Dataset, settings, out_dir: str) -> str:
    a = ds.attrs
    items = [("as-of", a.get("asof", "")), ("base currency", a.get("base_currency", "")), ("seed", a.get("seed", "")),
             ("paths", a.get("n_paths", "")), ("trades", a.get("n_trades", "n/a")),
             ("netting sets", ds.sizes["netting_set"]), ("dates", ds.sizes["date"]),
             ("quantiles", ", ".join(f"{q:g}" for q in ds["quantile"].values)),
             ("report quantile", f"{settings.pfe_quantile:g}"), ("quantile method", a.get("quantile_method", "")),
             ("PFE basis", a.get("pfe_basis", "")), ("counterparty PFE", a.get("PFE_cpty_method", "")),
             ("limits", a.get("limits_source", settings.limits_source)), ("skipped trades", a.get("skipped_trades", "n/a")),
             ("results schema", a.get("results_schema", "")), ("package version", a.get("package_version", "")),
             ("run folder", os.path.abspath(out_dir)),
             ("report written", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))]
    rows = [[_e(k), _e(v)] for k, v in items]
    cfg = a.get("config", "")
    return _table(["item", "value"], rows, left=2) + (f"<details><summary>configuration</summary><pre>{_e(cfg)}</pre>"
                                                      "</details>" if cfg else "")


def _kpis(ds, frame, limits) -> str:
    cps = frame[frame["Level"] == "counterparty"]
    tot = [("NPV", _money(np.nansum(cps["NPV"]))), ("peak EPE (sum of netting sets)",
                                                    _money(float(ds["EPE"].values.sum(axis=0).max()))),
           ("EEPE (sum)", _money(np.nansum(cps["EEPE"])))]
    for name in ("CVA_total", "DVA_total", "FVA_total", "BA_CVA_total", "SA_CVA_total"):
        tot.append((name, _money(float(ds[name].values)) if name in ds else "n/a"))
    n_breach = int((limits["Status"] == "breach").sum()) if not limits.empty else 0
    n_und = int((limits["Status"] == "cannot decide").sum()) if not limits.empty else 0
    tot += [("limits in breach", f'<span class="{"breach" if n_breach else "ok"}">{n_breach}</span>'),
            ("limits undecided", f'<span class="{"undecided" if n_und else "ok"}">{n_und}</span>')]
    return "".join(f'<div class="kpi"><span class="muted">{_e(k)}</span><b>{v}</b></div>' for k, v in tot)


def render_html(ds: xr.Dataset, frame: pd.DataFrame, limits: pd.DataFrame, breaches: pd.DataFrame, plots: dict,
                settings, out_dir: str) -> str:
    """The report as one HTML string (plots: {"portfolio": png path, <netting set>: png path}; may be empty)."""
    q = float(settings.pfe_quantile)
    ccy = ds.attrs.get("base_currency", "")
    miss = missing_figures(ds)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Exposure report {_e(ds.attrs.get('asof', ''))}"
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>Counterparty exposure report</h1><p class='muted'>as of {_e(ds.attrs.get('asof', ''))}, amounts in "
             f"{_e(ccy)}; EPE/ENE/EEPE discounted, PFE {_e(ds.attrs.get('pfe_basis', ''))} at {100 * q:g}%"
             + (f"; n/a: {_e(', '.join(miss))} not in these results" if miss else "") + "</p>",
             "<nav><a href='#summary'>summary</a><a href='#limits'>limits</a><a href='#ranking'>rankings</a>"
             "<a href='#netting'>netting sets</a><a href='#metadata'>run metadata</a></nav>",
             "<h2 id='summary'>Portfolio summary</h2>", _kpis(ds, frame, limits)]
    if "portfolio" in plots:
        parts.append(_img(plots["portfolio"], "portfolio overview"))
    parts += [_summary_table(frame, q), "<h2 id='limits'>PFE limits and utilisation</h2>",
              _limits_section(limits, breaches), "<h2 id='ranking'>Counterparty rankings</h2>",
              _ranked(frame, pfe_label(q), f"By peak PFE {100 * q:g}%", q), _ranked(frame, "CVA", "By CVA", q),
              "<h2 id='netting'>Netting sets</h2>"]
    for j, ns in enumerate(ds["netting_set"].values):
        ns = str(ns)
        parts.append(f"<h3 id='ns-{_e(ns)}'>{_e(ns)} <span class='muted'>counterparty "
                     f"{_e(ds['counterparty'].values[j])}</span></h3>")
        if ns in plots:
            parts.append(_img(plots[ns], f"exposure profile of {ns}"))
        parts.append(_summary_table(frame[(frame["NettingSet"] == ns)], q))
        parts.append(_profile_table(ds, j, q))
    parts += ["<h2 id='metadata'>Run metadata</h2>", _metadata(ds, settings, out_dir),
              f"<script>{SCRIPT}</script></body></html>"]
    return "\n".join(parts)
