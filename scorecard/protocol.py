"""Protocol engagement from RFQ logs, scored 1-5 (higher is better) as the framework describes: responsiveness,
response time, fill rate, and behaviour in volatile periods.

  response_rate        = responded / solicited                                     (Wilson)
  response_ms          = mean response time of responded quotes                     (mean +/- z SE)
  fill_rate            = filled / attempted (outcome filled or rejected)           (Wilson)
  stress_response_rate = responded / solicited while stressed (vol index > stress.threshold)   (Wilson)
  stress_fill_rate     = filled / attempted while stressed                         (Wilson)
  halfspread_bps       = mean s (quote - mid) / mid * 1e4 of responded quotes      (competitiveness; lower is better)
  sub-score_k    = clip((x_k - lo_k) / (hi_k - lo_k), 0, 1)        (lo -> 0, hi -> 1); fill-rate sub-scores share
                   the fill_rate_lo/hi range, response-rate ones response_rate_lo/hi
  protocol_score = 1 + 4 * sum_k w_k sub_k / sum_{k present} w_k   [1, 5]; its SE propagates the sub-score SEs
A sub-score without data (no stressed RFQ, no attempt) is left out and listed in the metric's unit column.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .stats import METRIC_COLUMNS, Estimate, mean_estimate, metric_rows, wilson

SCHEMA_COLUMNS = ("responded", "response_ms", "quote_price", "outcome")


def _unit(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _sub(est: Estimate, lo: float, hi: float) -> tuple[float, float]:
    v = _unit(est.value, lo, hi)
    slope = 0.0 if v in (0.0, 1.0) else 1.0 / abs(hi - lo)
    return v, (est.se if math.isfinite(est.se) else 0.0) * slope


def protocol_metrics(rfq: pd.DataFrame, cfg, z: float = 1.96, stressed: np.ndarray | None = None) -> pd.DataFrame:
    rows = []
    w = {str(k): float(v) for k, v in dict(cfg.weights).items() if float(v) > 0}
    st = np.zeros(len(rfq), bool) if stressed is None else np.asarray(stressed, bool)
    df = rfq.assign(_stressed=st)
    for cp, g in df.groupby("counterparty", sort=True):
        resp = g["responded"].to_numpy()
        s = g["_stressed"].to_numpy()
        att = g["outcome"].isin(["filled", "rejected"]).to_numpy()
        fil = (g["outcome"] == "filled").to_numpy()
        subs = {}
        rr = wilson(int(resp.sum()), len(g), z)
        rows.append(metric_rows(cp, "response_rate", rr, "fraction"))
        subs["response_rate"] = _sub(rr, cfg.response_rate_lo, cfg.response_rate_hi)
        if s.any():
            srr = wilson(int(resp[s].sum()), int(s.sum()), z)
            rows.append(metric_rows(cp, "stress_response_rate", srr, "fraction"))
            subs["stress_response_rate"] = _sub(srr, cfg.response_rate_lo, cfg.response_rate_hi)
        if att.any():
            fr = wilson(int(fil[att].sum()), int(att.sum()), z)
            rows.append(metric_rows(cp, "fill_rate", fr, "fraction"))
            subs["fill_rate"] = _sub(fr, cfg.fill_rate_lo, cfg.fill_rate_hi)
        if (att & s).any():
            sfr = wilson(int(fil[att & s].sum()), int((att & s).sum()), z)
            rows.append(metric_rows(cp, "stress_fill_rate", sfr, "fraction"))
            subs["stress_fill_rate"] = _sub(sfr, cfg.fill_rate_lo, cfg.fill_rate_hi)
        if resp.sum() >= 2:
            rt = mean_estimate(g.loc[resp, "response_ms"].to_numpy(float), z)
            rows.append(metric_rows(cp, "response_ms", rt, "ms"))
            q = g.loc[resp]
            hs = mean_estimate((q["side"] * (q["quote_price"] - q["mid"]) / q["mid"] * 1e4).to_numpy(float), z)
            rows.append(metric_rows(cp, "halfspread_bps", hs, "bps"))
            subs["response_time"] = _sub(rt, cfg.response_ms_lo, cfg.response_ms_hi)
            subs["competitiveness"] = _sub(hs, cfg.halfspread_bps_lo, cfg.halfspread_bps_hi)
        used = {k: v for k, v in subs.items() if k in w}
        missing = sorted(set(w) - set(used))
        ws = sum(w[k] for k in used)
        if ws == 0:
            continue
        score = 1 + 4 * sum(w[k] * v[0] for k, v in used.items()) / ws
        se = 4 * math.sqrt(sum((w[k] * v[1]) ** 2 for k, v in used.items())) / ws
        # n = the smallest sample behind a used sub-score: the minimum-sample rule then applies to the weakest part
        n = min([len(g)] + [int(att.sum())] * ("fill_rate" in used) + [int(s.sum())] * ("stress_response_rate" in used)
                + [int((att & s).sum())] * ("stress_fill_rate" in used))
        est = Estimate(score, se, max(1.0, score - z * se), min(5.0, score + z * se), n)
        unit = "score 1-5" + (f" (without {', '.join(missing)})" if missing else "")
        rows.append(metric_rows(cp, "protocol_score", est, unit))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
