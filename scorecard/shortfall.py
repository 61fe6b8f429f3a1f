"""Implementation-shortfall decomposition per parent order, and each counterparty's excess against comparable
orders worked with OTHER counterparties.

Per order (side s, decision mid P_d = `decision_mid` when given else the arrival mid P_0 = `arrival_mid`, fills j
with price p_j, quantity q_j, mid m_j at the fill from top of book (P_0 when none is fresh), fees f_j (`fees`,
currency, optional), order quantity Q (`order_qty`, else the filled X = sum q_j), end mid P_end = mid at the last
fill (or `end_mid` when given)):
  delay       = s (P_0 - P_d) X                 decision -> arrival, on the executed quantity
  timing      = s sum_j q_j (m_j - P_0)         market drift from arrival to each fill
  impact      = s sum_j q_j (p_j - m_j)         price paid against the mid at the fill (spread + impact)
  fees        = sum_j f_j
  opportunity = s (P_end - P_d) (Q - X)         the unfilled quantity, valued at the end mid
  total       = s sum_j q_j (p_j - P_d) + fees + opportunity = delay + timing + impact + fees + opportunity
Each is reported in currency and in bps of the order's decision value P_d Q (cost > 0).
Comparable orders: order IS (bps) regressed by OLS on [1, sigma sqrt(Q/ADV), Q/ADV, sigma, time-of-day quarter
dummies] using only the orders of the OTHER counterparties; a counterparty's excess = mean(actual - predicted)
over its orders with an interval clustered by time bucket. An order belongs to the counterparty that filled most
of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clustered import cluster_mean_estimate
from .markouts import mid_at
from .stats import METRIC_COLUMNS, metric_rows

COMPONENTS = ("delay", "timing", "impact", "fees", "opportunity")


def decompose(ex: pd.DataFrame, quotes: pd.DataFrame | None, max_staleness: str = "2s") -> pd.DataFrame:
    """One row per order_id: counterparty, side, qty, filled, decision, arrival, end_mid, ts_ns (first fill),
    the five components and total in currency and as <name>_bps."""
    f = ex.copy()
    if quotes is not None:
        m = mid_at(f, quotes, "ts_ns", int(pd.Timedelta(max_staleness).value))
    else:
        m = np.full(len(f), np.nan)
    f["_mid"] = np.where(np.isfinite(m), m, f["arrival_mid"])
    f["_dec"] = f["decision_mid"] if "decision_mid" in f else f["arrival_mid"]
    f["_fee"] = f["fees"].astype(float) if "fees" in f else 0.0
    f["_notional"] = f["size"]
    f = f.sort_values(["order_id", "ts_ns"], kind="stable")
    s, q = f["side"].astype(float), f["size"].astype(float)
    f["_timing"] = s * q * (f["_mid"] - f["arrival_mid"])
    f["_impact"] = s * q * (f["price"] - f["_mid"])
    g = f.groupby("order_id", sort=True)
    cp_q = f.groupby(["order_id", "counterparty"])["size"].sum().reset_index()
    main_cp = cp_q.sort_values("size", kind="stable").groupby("order_id").tail(1).set_index("order_id")["counterparty"]
    o = g.agg(side=("side", "first"), filled=("size", "sum"), decision=("_dec", "first"),
              arrival=("arrival_mid", "first"), end_mid=("_mid", "last"), ts_ns=("ts_ns", "first"),
              timing=("_timing", "sum"), impact=("_impact", "sum"), fees=("_fee", "sum"),
              instrument=("instrument", "first"))
    o["counterparty"] = main_cp.reindex(o.index)
    if "end_mid" in f:
        o["end_mid"] = g["end_mid"].last().fillna(o["end_mid"])
    qty = g["order_qty"].first() if "order_qty" in f else o["filled"]
    o["qty"] = np.maximum(qty.to_numpy(float), o["filled"].to_numpy(float))
    o["delay"] = o["side"] * (o["arrival"] - o["decision"]) * o["filled"]
    o["opportunity"] = o["side"] * (o["end_mid"] - o["decision"]) * (o["qty"] - o["filled"])
    o["total"] = o[list(COMPONENTS)].sum(axis=1)
    value = o["decision"] * o["qty"]
    for c in (*COMPONENTS, "total"):
        o[f"{c}_bps"] = o[c] / value * 1e4
    return o.reset_index()


def comparable_excess(orders: pd.DataFrame, instruments: pd.DataFrame | None, z: float = 1.96,
                      time_bucket: str | None = "5min") -> pd.DataFrame:
    """Long metrics: order_shortfall_bps (mean total IS of the counterparty's orders) and excess_shortfall_bps
    (against the leave-this-counterparty-out regression benchmark)."""
    o = orders.copy()
    if instruments is not None:
        ref = o[["instrument"]].merge(instruments[["instrument", "adv", "daily_vol_bps"]], on="instrument", how="left")
        part, vol = (o["qty"] / ref["adv"].to_numpy()).to_numpy(float), ref["daily_vol_bps"].to_numpy(float)
    else:
        part, vol = np.zeros(len(o)), np.zeros(len(o))
    quarter = (pd.to_datetime(o["ts_ns"], utc=True).dt.hour // 6).to_numpy()
    cols = [np.ones(len(o)), vol * np.sqrt(part), part, vol] + [(quarter == k).astype(float) for k in (1, 2, 3)]
    X = np.column_stack(cols)
    y = o["total_bps"].to_numpy(float)
    buckets = o["ts_ns"].to_numpy() // int(pd.Timedelta(time_bucket).value) if time_bucket else None
    rows = []
    for cp, idx in o.groupby("counterparty", sort=True).groups.items():
        mine = o.index.isin(idx)
        b = None if buckets is None else buckets[mine]
        rows.append(metric_rows(cp, "order_shortfall_bps", cluster_mean_estimate(y[mine], None, b, z), "bps"))
        if (~mine).sum() <= X.shape[1]:
            continue
        beta, *_ = np.linalg.lstsq(X[~mine], y[~mine], rcond=None)
        resid = y[mine] - X[mine] @ beta
        rows.append(metric_rows(cp, "excess_shortfall_bps", cluster_mean_estimate(resid, None, b, z), "bps"))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
