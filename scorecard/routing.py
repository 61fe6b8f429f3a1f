"""Routing and pre-trade selection using the scorecard.

All-in cost of a quote (bps of notional, lower is better), firm side s (+1 buy, -1 sell):
  price_cost    = s (price - mid) / mid * 1e4
  toxicity_cost = adverse_selection_bps + excess_slippage_bps + bps_per_score_point * score
  all_in        = price_cost + toxicity_cost
Counterparties in an excluded class (Restrict by default) are listed but not eligible.
Plain Python over row mappings: the router calls this per order, so it avoids pandas' per-call overhead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from .errors import ScorecardInputError


def _metric(row: Mapping, name: str) -> float:
    v = row.get(name)
    return float(v) if v is not None and math.isfinite(v) else 0.0


def toxicity_cost_bps(row: Mapping, bps_per_score_point: float) -> float:
    """Expected drag of trading with this counterparty in bps (a missing metric counts as 0)."""
    return (_metric(row, "adverse_selection_bps") + _metric(row, "excess_slippage_bps")
            + bps_per_score_point * float(row["score"]))


def rank_quotes(quotes: list[dict], side: int, mid: float, rows: Mapping[str, Mapping], cfg) -> list[dict]:
    """Rank quotes [{counterparty, price}] by all-in cost; rows: counterparty -> scorecard row mapping.
    Eligible quotes first (rank 1, 2, ...), then excluded ones (rank 0)."""
    if side not in (1, -1):
        raise ScorecardInputError("routing request", "side", f"must be buy/sell (+1/-1), got {side}")
    if not (mid > 0):
        raise ScorecardInputError("routing request", "mid", f"must be > 0, got {mid}")
    if not quotes:
        raise ScorecardInputError("routing request", "quotes", "no quotes given")
    excluded = set(cfg.exclude_classes)
    per_point = float(cfg.bps_per_score_point)
    out = []
    for i, q in enumerate(quotes):
        cp = q["counterparty"]
        if cp not in rows:
            raise ScorecardInputError("routing request", f"quotes[{i}]", f"unknown counterparty '{cp}'")
        price = float(q["price"])
        if not (price > 0):
            raise ScorecardInputError("routing request", f"quotes[{i}].price", f"must be > 0, got {price}")
        r = rows[cp]
        pc = side * (price - mid) / mid * 1e4
        score = r.get("score")
        if score is None or not math.isfinite(float(score)):  # fail closed: no score, no routing to it
            out.append({"counterparty": cp, "price": price, "price_cost_bps": pc, "toxicity_cost_bps": None,
                        "all_in_cost_bps": None, "score": None, "class": str(r.get("class")), "eligible": False,
                        "reason": "no finite toxicity score"})
            continue
        tc = toxicity_cost_bps(r, per_point)
        ok = str(r["class"]) not in excluded
        out.append({"counterparty": cp, "price": price, "price_cost_bps": pc, "toxicity_cost_bps": tc,
                    "all_in_cost_bps": pc + tc, "score": float(score), "class": str(r["class"]), "eligible": ok,
                    "reason": "" if ok else f"class {r['class']} is excluded (routing.exclude_classes)"})
    out.sort(key=lambda d: (not d["eligible"], d["all_in_cost_bps"] if d["all_in_cost_bps"] is not None
                            else math.inf))
    rank = 0
    for d in out:
        rank += d["eligible"]
        d["rank"] = rank if d["eligible"] else 0
    return out


def best_k(scorecard: pd.DataFrame, k: int, exclude_classes=("Restrict",), candidates: list[str] | None = None,
           limit_ok: pd.Series | None = None) -> pd.DataFrame:
    """The k lowest-score counterparties for an RFQ or block, skipping excluded classes, limit breaches and
    counterparties whose limit could not be checked (absent from ``limit_ok``: fail closed) or whose score is
    not a finite number."""
    return pretrade_select(scorecard, k, exclude_classes, candidates, limit_ok)[0]


def pretrade_select(scorecard: pd.DataFrame, k: int, exclude_classes=("Restrict",),
                    candidates: list[str] | None = None, limit_ok: pd.Series | None = None,
                    reasons: dict | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """(selected rows sorted by score, {counterparty: why it was not selectable}). Fails closed: a counterparty
    is selectable only when its class is allowed, its score finite and its limit check said ok."""
    if k < 1:
        raise ScorecardInputError("pre-trade request", "k", f"must be >= 1, got {k}")
    sc = scorecard
    if candidates:
        unknown = [c for c in candidates if c not in sc.index]
        if unknown:
            raise ScorecardInputError("pre-trade request", "candidates", f"unknown counterparties {unknown}")
        sc = sc.loc[list(dict.fromkeys(candidates))]
    why: dict[str, str] = {}
    score = pd.to_numeric(sc["score"], errors="coerce")
    for cp in sc.index:
        cls = str(sc.loc[cp, "class"])
        if cls in set(exclude_classes):
            why[cp] = f"class {cls} is excluded (routing.exclude_classes)"
        elif not math.isfinite(float(score.loc[cp])):
            why[cp] = "no finite toxicity score"
        elif limit_ok is not None and not bool(limit_ok.get(cp, False)):
            why[cp] = (reasons or {}).get(cp) or "limit check did not pass"
    ok = ~sc.index.isin(list(why))
    return sc[ok].assign(score=score[ok]).sort_values("score").head(k), why
