"""Stress reliability: fill rate on solicited quotes in normal vs stressed regimes, and its degradation.

An attempt is a solicitation whose quote the firm tried to trade on (outcome filled or rejected).
  fill_rate(regime) = filled / attempts                 (Wilson interval)
  degradation       = fill_rate(normal) - fill_rate(stress) in percentage points (Newcombe interval)
  stressed          = regime indicator at the request time > threshold (vol index such as VIX, or realised vol)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import StressSource
from .errors import ScorecardInputError
from .clustered import clustered_proportion
from .stats import METRIC_COLUMNS, Estimate, metric_rows, newcombe_difference, wilson


def stressed_flags(rfq: pd.DataFrame, regime: pd.DataFrame, cfg) -> np.ndarray:
    """Boolean per RFQ row: regime value (as of the request, <= max_staleness old) above the threshold."""
    col = "vol_index" if StressSource(cfg.source) is StressSource.vol_index else "realised_vol"
    if col not in regime.columns:
        raise ScorecardInputError("regime", f"column '{col}'", f"needed for stress.source={cfg.source}")
    reg = regime[["ts_ns", col]].sort_values("ts_ns", kind="stable")
    ev = rfq[["ts_ns"]].rename(columns={"ts_ns": "t"}).assign(_row=np.arange(len(rfq))).sort_values("t")
    m = pd.merge_asof(ev, reg, left_on="t", right_on="ts_ns", direction="backward",
                      tolerance=int(pd.Timedelta(cfg.max_staleness).value))
    if m[col].isna().any():
        first = int(m.loc[m[col].isna(), "_row"].iloc[0])
        raise ScorecardInputError("regime", f"rfq row {first + 1} (rfq_id={rfq['rfq_id'].iloc[first]})",
                                  f"no {col} observation within {cfg.max_staleness} before the request")
    out = np.zeros(len(rfq), dtype=bool)
    out[m["_row"].to_numpy()] = m[col].to_numpy() > cfg.threshold
    return out


def reliability_metrics(rfq: pd.DataFrame, regime: pd.DataFrame, cfg, z: float = 1.96,
                        time_bucket: str | None = None) -> pd.DataFrame:
    """Long metrics table: fill_rate_normal, fill_rate_stress (fractions), stress_fill_pct (%),
    fill_degradation_pp (percentage points) per counterparty with attempts in both regimes.
    With time_bucket, the fill-rate intervals are Wilson on the effective sample of time-clustered outcomes
    (scorecard.clustered.clustered_proportion): fills that fail together in one stressed hour count less."""
    stressed = stressed_flags(rfq, regime, cfg)
    att = rfq.assign(stressed=stressed)
    att = att[att["outcome"].isin(["filled", "rejected"])]
    width = int(pd.Timedelta(time_bucket).value) if time_bucket else None
    rows = []
    for cp, g in att.groupby("counterparty", sort=True):
        filled = (g["outcome"] == "filled").to_numpy()
        s = g["stressed"].to_numpy()
        b = None if width is None else g["ts_ns"].to_numpy() // width
        kn, nn, ks, ns = int(filled[~s].sum()), int((~s).sum()), int(filled[s].sum()), int(s.sum())
        if nn:
            rows.append(metric_rows(cp, "fill_rate_normal",
                                    clustered_proportion(filled[~s], None if b is None else b[~s], z), "fraction"))
        if ns:
            w = clustered_proportion(filled[s], None if b is None else b[s], z)
            rows.append(metric_rows(cp, "fill_rate_stress", w, "fraction"))
            rows.append(metric_rows(cp, "stress_fill_pct", _scale(w, 100.0), "%"))
        if nn and ns:
            rows.append(metric_rows(cp, "fill_degradation_pp", _scale(newcombe_difference(kn, nn, ks, ns, z), 100.0),
                                    "pp"))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def _scale(e: Estimate, k: float) -> Estimate:
    return Estimate(e.value * k, e.se * k, e.lo * k, e.hi * k, e.n, e.g)
