"""Alerts when a counterparty's score crosses a class band or moves fast over a rolling window.

  band_change: class now != class at the previous recorded score
  fast_move:   |score_now - score_then| >= max_move for some recorded score_then within `window` before now
"""

from __future__ import annotations

import pandas as pd


def detect_alerts(history: pd.DataFrame, current: pd.DataFrame, now: str, window: str, max_move: float) -> pd.DataFrame:
    """history: ts, counterparty, score, class (earlier runs); current: index counterparty, score, class."""
    now_ts = pd.Timestamp(now)
    rows = []
    h = history.copy()
    if not h.empty:
        h["ts"] = pd.to_datetime(h["ts"], utc=True, format="ISO8601")
        if now_ts.tzinfo is None:
            now_ts = now_ts.tz_localize("UTC")
        h = h[h["ts"] < now_ts]
    for cp, r in current.iterrows():
        g = h[h["counterparty"] == cp].sort_values("ts") if not h.empty else h
        if g.empty:
            continue
        prev = g.iloc[-1]
        if prev["class"] != r["class"]:
            rows.append({"counterparty": cp, "kind": "band_change", "from": prev["class"], "to": r["class"],
                         "score": float(r["score"]), "message": f"{cp}: class {prev['class']} -> {r['class']}"})
        recent = g[g["ts"] >= now_ts - pd.Timedelta(window)]
        if not recent.empty:
            moves = float(r["score"]) - recent["score"].to_numpy(float)
            i = int(abs(moves).argmax())
            if abs(moves[i]) >= max_move:
                rows.append({"counterparty": cp, "kind": "fast_move", "from": f"{recent['score'].iloc[i]:.2f}",
                             "to": f"{float(r['score']):.2f}", "score": float(r["score"]),
                             "message": f"{cp}: score moved {moves[i]:+.2f} within {window}"})
    return pd.DataFrame(rows, columns=["counterparty", "kind", "from", "to", "score", "message"])
