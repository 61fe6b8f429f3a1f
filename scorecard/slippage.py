"""Implementation shortfall (Perold) and excess slippage against comparable trades of all counterparties.

Per fill:  IS = s (price - arrival_mid) / arrival_mid * 1e4   [bps, > 0 is a cost]
Per order (Perold): IS_order = [sum_i s (p_i - a) q_i + s (m_end - a) (Q - sum_i q_i)] / (a Q) * 1e4  [bps]
  (executed cost plus opportunity cost of the unfilled quantity valued at the last known mid m_end)
Excess slippage of a fill = IS - the firm-wide expected IS for a similar trade: slippage.benchmark=regression
(default) fits IS on [1, sigma sqrt(q/ADV), q/ADV, sigma, time-of-day quarter] over all fills; `buckets` uses the
mean IS of its (size, volatility) bucket (quantiles of participation and daily volatility). Per counterparty: mean
with a cluster-robust interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ScorecardInputError
from .clustered import cluster_mean_estimate, fill_clusters
from .stats import METRIC_COLUMNS, metric_rows


def fill_shortfall_bps(ex: pd.DataFrame) -> pd.Series:
    return ex["side"] * (ex["price"] - ex["arrival_mid"]) / ex["arrival_mid"] * 1e4


def order_shortfall(ex: pd.DataFrame, end_mid: pd.Series | None = None) -> pd.DataFrame:
    """Perold IS per order; needs column order_qty for the opportunity cost (else orders count as complete).
    end_mid: mid at the order's end indexed by order_id (defaults to the last fill price)."""
    g = ex.assign(cost=ex["side"] * (ex["price"] - ex["arrival_mid"]) * ex["size"]).groupby("order_id")
    out = g.agg(side=("side", "first"), arrival=("arrival_mid", "first"), filled=("size", "sum"),
                cost=("cost", "sum"), last_price=("price", "last"))
    qty = g["order_qty"].first() if "order_qty" in ex.columns else out["filled"]
    out["order_qty"] = np.maximum(qty, out["filled"])
    m_end = end_mid.reindex(out.index).fillna(out["last_price"]) if end_mid is not None else out["last_price"]
    out["opportunity"] = out["side"] * (m_end - out["arrival"]) * (out["order_qty"] - out["filled"])
    out["is_bps"] = (out["cost"] + out["opportunity"]) / (out["arrival"] * out["order_qty"]) * 1e4
    return out.reset_index()


def comparable_buckets(ex: pd.DataFrame, instruments: pd.DataFrame | None, n_size: int, n_vol: int) -> pd.Series:
    """Bucket label per fill: quantiles of participation (or notional without ADV) x quantiles of daily vol."""
    if instruments is not None:
        ref = ex[["instrument"]].merge(instruments[["instrument", "adv", "daily_vol_bps"]], on="instrument",
                                       how="left")
        size_key = (ex["size"].to_numpy() / ref["adv"].to_numpy())
        vol_key = ref["daily_vol_bps"].to_numpy()
    else:
        size_key = (ex["size"] * ex["price"]).to_numpy()
        vol_key = np.zeros(len(ex))
    sb = pd.qcut(pd.Series(size_key).rank(method="first"), n_size, labels=False) if n_size > 1 else 0
    if n_vol > 1 and np.unique(vol_key[~np.isnan(vol_key)]).size > 1:
        vb = pd.qcut(pd.Series(vol_key).rank(method="first"), n_vol, labels=False)
    else:
        vb = pd.Series(np.zeros(len(ex), dtype=int))
    return pd.Series(np.asarray(sb) * 100 + np.asarray(vb), index=ex.index, name="bucket")


def regression_benchmark(ex: pd.DataFrame, instruments: pd.DataFrame, is_bps: np.ndarray) -> pd.Series:
    """Firm-wide expected IS of each fill: OLS of IS on [1, sigma sqrt(q/ADV), q/ADV, sigma, time-of-day quarter
    dummies] over ALL fills (the firm-wide average for similar trades, conditioned continuously)."""
    ref = ex[["instrument"]].merge(instruments[["instrument", "adv", "daily_vol_bps"]], on="instrument", how="left")
    part, vol = ex["size"].to_numpy(float) / ref["adv"].to_numpy(float), ref["daily_vol_bps"].to_numpy(float)
    quarter = (pd.to_datetime(ex["ts_ns"], utc=True).dt.hour // 6).to_numpy()
    X = np.column_stack([np.ones(len(ex)), vol * np.sqrt(part), part, vol]
                        + [(quarter == k).astype(float) for k in (1, 2, 3) if (quarter == k).any()])
    beta, *_ = np.linalg.lstsq(X, is_bps, rcond=None)
    return pd.Series(X @ beta, index=ex.index)


def slippage_metrics(ex: pd.DataFrame, instruments: pd.DataFrame | None, cfg, z: float = 1.96,
                     time_bucket: str | None = None) -> pd.DataFrame:
    """Long metrics table: shortfall_bps (fill IS) and excess_slippage_bps per counterparty.
    Without instrument reference data the size buckets use notional and there is one volatility bucket.
    Excess slippage is only reported for fills in buckets with >= min_bucket_count fills (n says how many)."""
    is_bps = fill_shortfall_bps(ex)
    how = str(getattr(cfg, "benchmark", "buckets"))
    if how not in ("regression", "buckets"):
        raise ScorecardInputError("config", "slippage.benchmark", f"must be regression or buckets, got '{how}'")
    if how == "regression" and instruments is not None:
        excess = is_bps - regression_benchmark(ex, instruments, is_bps.to_numpy(float))
    else:
        bucket = comparable_buckets(ex, instruments, cfg.size_buckets, cfg.vol_buckets)
        bmean = is_bps.groupby(bucket).transform("mean")
        bcount = is_bps.groupby(bucket).transform("size")
        excess = (is_bps - bmean).where(bcount >= cfg.min_bucket_count)
    rows = []
    for cp, idx in ex.groupby("counterparty", sort=True).groups.items():
        o, b = fill_clusters(ex.loc[idx], time_bucket)
        rows.append(metric_rows(cp, "shortfall_bps", cluster_mean_estimate(is_bps.loc[idx].to_numpy(), o, b, z),
                                "bps"))
        ok = excess.loc[idx].notna().to_numpy()
        if ok.any():
            est = cluster_mean_estimate(excess.loc[idx].to_numpy()[ok], o[ok], None if b is None else b[ok], z)
            rows.append(metric_rows(cp, "excess_slippage_bps", est, "bps"))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
