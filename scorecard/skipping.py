"""Skipping cost under counterparty credit limits (CCLs), from book snapshots and credit headroom.

For each fill (firm side s, notional N = price * size) take the book side it hit (ask when buying) from the latest
snapshot at or before the fill. A level of counterparty X is accessible when X's headroom (as of the fill) >= N.
  best_acc      = best accessible price
  skip cost X   = s (best_acc - p_X) / best_acc * 1e4  [bps] for each inaccessible X quoting better than best_acc
Per counterparty X: skip_rate = skip events / fills where X quoted (Wilson), skip_event_cost_bps = mean cost per
event, skipping_cost_bps = mean cost per opportunity (zeros included),
skipping_cost_usd = sum of cost * N: what exhausting X's line cost the firm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import METRIC_COLUMNS, Estimate, mean_estimate, metric_rows, wilson


def skip_events(ex: pd.DataFrame, book: pd.DataFrame, headroom: pd.DataFrame, max_staleness: str) -> pd.DataFrame:
    """One row per (fill, counterparty quoting on the hit side): fill_id, counterparty, skipped, cost_bps, cost_usd."""
    tol = int(pd.Timedelta(max_staleness).value)
    fills = ex[["fill_id", "ts_ns", "instrument", "side", "price", "size", "counterparty"]].rename(
        columns={"counterparty": "exec_cp"})
    snaps = book[["ts_ns", "instrument"]].drop_duplicates().rename(columns={"ts_ns": "snap_ts"})
    snaps = snaps.sort_values("snap_ts", kind="stable")
    f = pd.merge_asof(fills.sort_values("ts_ns", kind="stable"), snaps, left_on="ts_ns", right_on="snap_ts",
                      by="instrument", direction="backward", tolerance=tol).dropna(subset=["snap_ts"])
    f["snap_ts"] = f["snap_ts"].astype("int64")
    f["book_side"] = np.where(f["side"] > 0, "ask", "bid")
    lv = f.merge(book.rename(columns={"ts_ns": "snap_ts"}), on=["snap_ts", "instrument", "book_side"],
                 suffixes=("", "_q"))
    hr = headroom.sort_values("ts_ns", kind="stable")[["ts_ns", "counterparty", "headroom"]]
    lv = pd.merge_asof(lv.sort_values("ts_ns", kind="stable"), hr, on="ts_ns", by="counterparty",
                       direction="backward")
    # no headroom record means no known limit: treat the level as accessible rather than invent a breach
    lv["accessible"] = lv["headroom"].isna() | (lv["headroom"] >= lv["price"] * lv["size"])
    lv["signed"] = lv["side"] * lv["price_q"]  # lower is better for the firm on either side
    best_acc = lv[lv["accessible"]].groupby("fill_id")["signed"].min()
    lv["best_acc_signed"] = lv["fill_id"].map(best_acc)
    lv = lv.dropna(subset=["best_acc_signed"])
    gain = lv["best_acc_signed"] - lv["signed"]
    lv["skipped"] = (~lv["accessible"]) & (gain > 0)
    lv["cost_bps"] = np.where(lv["skipped"], gain / lv["best_acc_signed"].abs() * 1e4, 0.0)
    lv["cost_usd"] = lv["cost_bps"] / 1e4 * lv["price"] * lv["size"]
    lv = lv[lv["counterparty"] != lv["exec_cp"]]
    return lv[["fill_id", "counterparty", "skipped", "cost_bps", "cost_usd"]].reset_index(drop=True)


def skipping_metrics(ex, book, headroom, cfg, z: float = 1.96) -> pd.DataFrame:
    ev = skip_events(ex, book, headroom, cfg.max_staleness)
    rows = []
    for cp, g in ev.groupby("counterparty", sort=True):
        k = int(g["skipped"].sum())
        rows.append(metric_rows(cp, "skip_rate", wilson(k, len(g), z), "fraction"))
        # per opportunity (zeros included): the expected cost the composite uses, = skip_rate x event cost
        rows.append(metric_rows(cp, "skipping_cost_bps", mean_estimate(g["cost_bps"].to_numpy(float), z), "bps"))
        if k:
            rows.append(metric_rows(cp, "skip_event_cost_bps",
                                    mean_estimate(g.loc[g["skipped"], "cost_bps"].to_numpy(float), z), "bps"))
        usd = float(g["cost_usd"].sum())
        rows.append(metric_rows(cp, "skipping_cost_usd", Estimate(usd, 0.0, usd, usd, k), "USD"))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
