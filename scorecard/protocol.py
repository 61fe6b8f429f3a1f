"""Protocol engagement from RFQ logs, turned into a 1-5 score (higher is better).

  response_rate  = responded / solicited                          (Wilson)
  response_ms    = mean response time of responded quotes          (mean +/- z SE)
  halfspread_bps = mean s (quote - mid) / mid * 1e4 of responded quotes (competitiveness; lower is better)
  sub-score_k    = clip((x_k - lo_k) / (hi_k - lo_k), 0, 1)        (lo -> 0, hi -> 1)
  protocol_score = 1 + 4 * sum_k w_k sub_k / sum_k w_k            [1, 5]; its SE propagates the sub-score SEs
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .stats import METRIC_COLUMNS, Estimate, mean_estimate, metric_rows, wilson


def _unit(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def protocol_metrics(rfq: pd.DataFrame, cfg, z: float = 1.96) -> pd.DataFrame:
    rows = []
    w = dict(cfg.weights)
    wsum = sum(w.values())
    for cp, g in rfq.groupby("counterparty", sort=True):
        resp = g["responded"].to_numpy()
        rr = wilson(int(resp.sum()), len(g), z)
        rows.append(metric_rows(cp, "response_rate", rr, "fraction"))
        subs = {"response_rate": (_unit(rr.value, cfg.response_rate_lo, cfg.response_rate_hi),
                                  rr.se / abs(cfg.response_rate_hi - cfg.response_rate_lo))}
        if resp.sum() >= 2:
            rt = mean_estimate(g.loc[resp, "response_ms"].to_numpy(float), z)
            rows.append(metric_rows(cp, "response_ms", rt, "ms"))
            q = g.loc[resp]
            hs = mean_estimate((q["side"] * (q["quote_price"] - q["mid"]) / q["mid"] * 1e4).to_numpy(float), z)
            rows.append(metric_rows(cp, "halfspread_bps", hs, "bps"))
            subs["response_time"] = (_unit(rt.value, cfg.response_ms_lo, cfg.response_ms_hi),
                                     rt.se / abs(cfg.response_ms_hi - cfg.response_ms_lo))
            subs["competitiveness"] = (_unit(hs.value, cfg.halfspread_bps_lo, cfg.halfspread_bps_hi),
                                       hs.se / abs(cfg.halfspread_bps_hi - cfg.halfspread_bps_lo))
        used = {k: v for k, v in subs.items() if w.get(k, 0) > 0}
        ws = sum(w[k] for k in used) or wsum
        score = 1 + 4 * sum(w[k] * v[0] for k, v in used.items()) / ws
        se = 4 * math.sqrt(sum((w[k] * v[1]) ** 2 for k, v in used.items())) / ws
        est = Estimate(score, se, max(1.0, score - z * se), min(5.0, score + z * se), len(g))
        rows.append(metric_rows(cp, "protocol_score", est, "score 1-5"))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
