"""Adverse selection (signed post-trade markouts), post-trade profitability and reversion per counterparty.

Per fill with firm side s (+1 buy, -1 sell), mid m(t) from top of book, horizon h:
  markout(h)       = -s (m(t+h) - m(t)) / m(t) * 1e4   [bps]; > 0: the market moved against the firm's new position
  profitability(h) =  s (m(t+h) - price) / price * 1e4  [bps]; the firm's P&L per unit marked to mid, spread included
  reversion        = markout(short) - markout(long)     [bps], paired per fill; fraction = reversion / markout(short)
Per counterparty: mean over fills with a fresh mid (<= max_staleness old) at both t and t+h, with a two-way
cluster-robust interval (parent order, time bucket; scorecard.clustered).
Sign convention (markouts.sign). The framework says both "a positive number indicates the market moved against
the firm" (its table notes: the default, `against_firm`, the formula above: firm buys, mid falls -> > 0) and
"for a buy order, a consistent upward drift in price post-trade ... is a strong indicator of adverse selection"
(its Adverse Selection Model), which for the FIRM's buy is a move in the firm's favour, unless read as leakage:
the price running ahead of the rest of the firm's order. `with_trade` scores that reading:
  markout(h) = +s (m(t+h) - m(t)) / m(t) * 1e4     (> 0: mid kept moving in the direction of the firm's trade).
Profitability keeps its sign in both conventions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .clustered import cluster_mean_estimate, fill_clusters
from .stats import METRIC_COLUMNS, Estimate, metric_rows


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
    cols = ["fill_id", "counterparty", "side", "price", "instrument", "ts_ns"]
    out = ex[cols + (["order_id"] if "order_id" in ex.columns else [])].copy()
    m0 = mid_at(out, quotes, "ts_ns", tol)
    out["mid_0"] = m0
    for h in horizons:
        lab = horizon_label(h)
        out["_t"] = out["ts_ns"] + int(pd.Timedelta(h).value)
        mh = mid_at(out, quotes, "_t", tol)
        out[f"markout_{lab}_bps"] = -out["side"] * (mh - m0) / m0 * 1e4
        out[f"profit_{lab}_bps"] = out["side"] * (mh - out["price"]) / out["price"] * 1e4
    return out.drop(columns="_t")


def markout_metrics(ex: pd.DataFrame, quotes: pd.DataFrame, cfg, z: float = 1.96,
                    time_bucket: str | None = None) -> pd.DataFrame:
    """Long metrics table: markout_<h>_bps per horizon, adverse_selection_bps and profitability_bps at the
    headline horizon, reversion_bps and reversion_fraction between cfg.reversion_short and cfg.reversion_long.
    Intervals are cluster-robust by parent order and time bucket."""
    horizons = list(dict.fromkeys(list(cfg.horizons) + [cfg.headline, cfg.reversion_short, cfg.reversion_long]))
    pf = per_fill_markouts(ex, quotes, horizons, cfg.max_staleness)
    sign = getattr(cfg, "sign", "against_firm")
    if str(getattr(sign, "value", sign)) == "with_trade":
        for c in [c for c in pf.columns if c.startswith("markout_")]:
            pf[c] = -pf[c]
    if "order_id" not in pf:
        pf["order_id"] = pf["fill_id"]
    head, short, long_ = (horizon_label(h) for h in (cfg.headline, cfg.reversion_short, cfg.reversion_long))

    def est(g, col):
        ok = g[col].notna().to_numpy()
        if not ok.any():
            return None
        o, b = fill_clusters(g[ok], time_bucket)
        return cluster_mean_estimate(g.loc[ok, col].to_numpy(float), o, b, z)

    rows = []
    for cp, g in pf.groupby("counterparty", sort=True):
        for h in horizons:
            e = est(g, f"markout_{horizon_label(h)}_bps")
            if e is not None:
                rows.append(metric_rows(cp, f"markout_{horizon_label(h)}_bps", e, "bps"))
        e = est(g, f"markout_{head}_bps")
        if e is not None:
            rows.append(metric_rows(cp, "adverse_selection_bps", e, "bps"))
        e = est(g, f"profit_{head}_bps")
        if e is not None:
            rows.append(metric_rows(cp, "profitability_bps", e, "bps"))
        pair = g.dropna(subset=[f"markout_{short}_bps", f"markout_{long_}_bps"])
        if len(pair) >= 2:
            a, b = pair[f"markout_{short}_bps"].to_numpy(), pair[f"markout_{long_}_bps"].to_numpy()
            rows.append(metric_rows(cp, "reversion_bps", est(pair.assign(_rev=a - b), "_rev"), "bps"))
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
