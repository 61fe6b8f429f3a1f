"""Adverse selection (signed post-trade markouts), post-trade profitability and reversion per counterparty.

Per fill with firm side s (+1 buy, -1 sell), mid m(t) from top of book, horizon h:
  markout(h)       = -s (m(t+h) - m(t)) / m(t) * 1e4   [bps]; > 0: the market moved against the firm's new position
  profitability(h) =  s (m(t+h) - price) / price * 1e4  [bps]; the firm's P&L per unit marked to mid, spread included
  reversion        = markout(short) - markout(long)     [bps], paired per fill; fraction = reversion / markout(short)
Per counterparty: mean +/- z SE over fills with a fresh mid (<= max_staleness old) at both t and t+h.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .stats import METRIC_COLUMNS, Estimate, mean_estimate, metric_rows, paired_difference


def horizon_label(h: str) -> str:
    s = pd.Timedelta(h).total_seconds()
    return f"{int(s)}s" if float(s).is_integer() else f"{s:g}s"


def mid_at(events: pd.DataFrame, quotes: pd.DataFrame, ts_col: str, max_staleness_ns: int) -> np.ndarray:
    """Latest quote mid at or before each event time of the same instrument; NaN when none or stale."""
    q = quotes[["ts_ns", "instrument"]].assign(_mid=0.5 * (quotes["bid"] + quotes["ask"]))
    q = q.sort_values("ts_ns", kind="stable")
    ev = events[[ts_col, "instrument"]].assign(_row=np.arange(len(events))).sort_values(ts_col, kind="stable")
    m = pd.merge_asof(ev, q, left_on=ts_col, right_on="ts_ns", by="instrument", direction="backward",
                      tolerance=max_staleness_ns)
    out = np.full(len(events), np.nan)
    out[m["_row"].to_numpy()] = m["_mid"].to_numpy()
    return out


def per_fill_markouts(ex: pd.DataFrame, quotes: pd.DataFrame, horizons: list[str], max_staleness: str) -> pd.DataFrame:
    """Columns mid_0 and markout_<h>_bps / profit_<h>_bps for each horizon (NaN where no fresh mid)."""
    tol = int(pd.Timedelta(max_staleness).value)
    out = ex[["fill_id", "counterparty", "side", "price", "instrument", "ts_ns"]].copy()
    m0 = mid_at(out, quotes, "ts_ns", tol)
    out["mid_0"] = m0
    for h in horizons:
        lab = horizon_label(h)
        out["_t"] = out["ts_ns"] + int(pd.Timedelta(h).value)
        mh = mid_at(out, quotes, "_t", tol)
        out[f"markout_{lab}_bps"] = -out["side"] * (mh - m0) / m0 * 1e4
        out[f"profit_{lab}_bps"] = out["side"] * (mh - out["price"]) / out["price"] * 1e4
    return out.drop(columns="_t")


def markout_metrics(ex: pd.DataFrame, quotes: pd.DataFrame, cfg, z: float = 1.96) -> pd.DataFrame:
    """Long metrics table: markout_<h>_bps per horizon, adverse_selection_bps and profitability_bps at the
    headline horizon, reversion_bps and reversion_fraction between cfg.reversion_short and cfg.reversion_long."""
    horizons = list(dict.fromkeys(list(cfg.horizons) + [cfg.headline, cfg.reversion_short, cfg.reversion_long]))
    pf = per_fill_markouts(ex, quotes, horizons, cfg.max_staleness)
    head, short, long_ = (horizon_label(h) for h in (cfg.headline, cfg.reversion_short, cfg.reversion_long))
    rows = []
    for cp, g in pf.groupby("counterparty", sort=True):
        for h in horizons:
            x = g[f"markout_{horizon_label(h)}_bps"].dropna().to_numpy()
            if x.size:
                rows.append(metric_rows(cp, f"markout_{horizon_label(h)}_bps", mean_estimate(x, z), "bps"))
        x = g[f"markout_{head}_bps"].dropna().to_numpy()
        if x.size:
            rows.append(metric_rows(cp, "adverse_selection_bps", mean_estimate(x, z), "bps"))
        p = g[f"profit_{head}_bps"].dropna().to_numpy()
        if p.size:
            rows.append(metric_rows(cp, "profitability_bps", mean_estimate(p, z), "bps"))
        pair = g[[f"markout_{short}_bps", f"markout_{long_}_bps"]].dropna()
        if len(pair) >= 2:
            a, b = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
            rev = paired_difference(a, b, z)
            rows.append(metric_rows(cp, "reversion_bps", rev, "bps"))
            frac = _reversion_fraction(a, b, z)
            if frac is not None:
                rows.append(metric_rows(cp, "reversion_fraction", frac, "fraction"))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def _reversion_fraction(a: np.ndarray, b: np.ndarray, z: float) -> Estimate | None:
    """(mean a - mean b) / mean a with a delta-method SE; only when mean a differs from 0 by > 2 SE,
    because the ratio is meaningless otherwise (the report then carries reversion_bps alone)."""
    n = a.size
    ma, mb = a.mean(), b.mean()
    sa = a.std(ddof=1) / math.sqrt(n)
    if abs(ma) <= 2 * sa:
        return None
    r = (ma - mb) / ma
    # gradient of f(ma, mb) = 1 - mb/ma
    cov = np.cov(a, b, ddof=1) / n
    g = np.array([mb / ma**2, -1 / ma])
    se = float(math.sqrt(max(g @ cov @ g, 0.0)))
    return Estimate(float(r), se, float(r - z * se), float(r + z * se), n)
