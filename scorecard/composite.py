"""Composite toxicity score: per-metric transforms to a common 0-10 scale, profile weights, class bands.

  t_k(x)   = 10 * clip((x - lo_k) / (hi_k - lo_k), 0, 1)        (lo -> 0 benign, hi -> 10 toxic)
  score_c  = sum_{k present} w_k t_k(x_ck) / sum_{k present} w_k   in [0, 10], lower is better
  contrib_ck = w_k t_k(x_ck) / sum_{k present} w_k                 (sums to score_c)
  band     = first band with score < upper (bands ordered by upper)
Metrics absent for a counterparty are left out and the weights renormalised (missing=renormalise); the metrics
used are listed per counterparty so that a score is never silently computed from fewer inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .config import MissingPolicy, TransformKind
from .errors import ScorecardInputError


def transform(x, lo: float, hi: float, kind=TransformKind.linear) -> np.ndarray:
    if TransformKind(kind) is not TransformKind.linear:
        raise ValueError(f"unknown transform kind {kind}")
    if hi == lo:
        raise ScorecardInputError("composite.transforms", f"lo = hi = {lo}", "transform range is empty")
    return 10.0 * np.clip((np.asarray(x, float) - lo) / (hi - lo), 0.0, 1.0)


def band_of(score: float, bands) -> str:
    for b in sorted(bands, key=lambda b: float(b.upper)):
        if score < float(b.upper):
            return str(b.name)
    return str(max(bands, key=lambda b: float(b.upper)).name)


def composite_scores(wide: pd.DataFrame, transforms, weights, bands,
                     missing=MissingPolicy.renormalise) -> pd.DataFrame:
    """wide: index counterparty, one column per metric (raw units). Returns score, band, rank, metrics_used,
    t_<metric> (0-10) and contrib_<metric> columns."""
    weights = {k: float(v) for k, v in dict(weights).items() if float(v) != 0.0}
    if any(v < 0 for v in weights.values()):
        raise ScorecardInputError("profile.weights", str(weights), "weights must be non-negative")
    if not weights:
        raise ScorecardInputError("profile.weights", "{}", "no metric has a positive weight")
    no_tf = [k for k in weights if k not in transforms]
    if no_tf:
        raise ScorecardInputError("composite.transforms", str(no_tf), "weighted metrics without a transform")
    if not list(bands):
        raise ScorecardInputError("composite.bands", "[]", "no class bands configured")
    out = pd.DataFrame(index=wide.index)
    num = np.zeros(len(wide))
    den = np.zeros(len(wide))
    used = [[] for _ in range(len(wide))]
    for k, w in weights.items():
        if k not in wide.columns:
            x = np.full(len(wide), np.nan)
        else:
            x = wide[k].to_numpy(float)
        tf = transforms[k]
        t = transform(x, float(tf.lo), float(tf.hi), tf.kind)
        ok = np.isfinite(x)
        if MissingPolicy(missing) is MissingPolicy.error and not ok.all():
            raise ScorecardInputError("metrics", f"metric '{k}'", f"missing for {list(wide.index[~ok])}")
        out[f"t_{k}"] = np.where(ok, t, np.nan)
        num += np.where(ok, w * np.nan_to_num(t), 0.0)
        den += np.where(ok, w, 0.0)
        for i in np.flatnonzero(ok):
            used[i].append(k)
    if (den == 0).any():
        raise ScorecardInputError("metrics", f"counterparties {list(wide.index[den == 0])}",
                                  "none of the weighted metrics is available")
    for k, w in weights.items():
        out[f"contrib_{k}"] = w * out[f"t_{k}"] / den
    out["score"] = num / den
    out["metrics_used"] = [",".join(u) for u in used]
    out["metrics_missing"] = [",".join(f"{k} (w={weights[k]:g})" for k in weights if k not in u) for u in used]
    out["weight_coverage"] = den / sum(weights.values())
    out["class"] = [band_of(s, bands) for s in out["score"]]
    out["rank"] = out["score"].rank(method="min").astype(int)
    return out.sort_values("score")


def score_distribution(wide: pd.DataFrame, se: pd.DataFrame, transforms, weights, bands, z: float = 1.96,
                       n_draws: int = 500, seed: int = 0) -> pd.DataFrame:
    """Score interval and class probabilities from the metrics' sampling errors:
      x_k* ~ N(x_k, se_k^2) independently (se 0 where unknown), score* = the composite of the draws (same
      renormalisation as the score), score_lo/hi = quantiles of score* at the level of z,
      p_<class> = share of draws falling in that class (sums to 1)."""
    weights = {k: float(v) for k, v in dict(weights).items() if float(v) > 0}
    keys = [k for k in weights if k in wide.columns]
    rng = np.random.default_rng(seed)
    n = len(wide)
    num = np.zeros((n_draws, n))
    den = np.zeros(n)
    for k in keys:
        x = wide[k].to_numpy(float)
        s = np.nan_to_num(se[k].reindex(wide.index).to_numpy(float), nan=0.0, posinf=0.0) if k in se else 0.0
        ok = np.isfinite(x)
        draws = x[None, :] + s * rng.standard_normal((n_draws, n))
        tf = transforms[k]
        t = transform(draws, float(tf.lo), float(tf.hi), tf.kind)
        num += np.where(ok[None, :], weights[k] * np.nan_to_num(t), 0.0)
        den += np.where(ok, weights[k], 0.0)
    scores = num / np.where(den > 0, den, np.nan)[None, :]
    tail = 0.5 * math.erfc(z / math.sqrt(2))
    out = pd.DataFrame(index=wide.index)
    out["score_lo"] = np.quantile(scores, tail, axis=0)
    out["score_hi"] = np.quantile(scores, 1 - tail, axis=0)
    out["score_se"] = scores.std(axis=0, ddof=1)
    names = [str(b.name) for b in sorted(bands, key=lambda b: float(b.upper))]
    uppers = np.array([float(b.upper) for b in sorted(bands, key=lambda b: float(b.upper))])
    cls = np.minimum(np.searchsorted(uppers, scores, side="right"), len(uppers) - 1)
    for i, name in enumerate(names):
        out[f"p_{name}"] = (cls == i).mean(axis=0)
    return out


def apply_overrides(scores: pd.DataFrame, overrides: pd.DataFrame | None, bands) -> pd.DataFrame:
    """Active overrides from the feedback store, at most one per counterparty (the newest by id wins if a store
    ever held more): field 'score_adjustment' adds points (clipped to 0-10) and re-bands; field 'class' forces the
    class. Keeps model_score / model_class next to them, and override (text), override_id, override_expires_at."""
    out = scores.copy()
    out["model_score"] = out["score"]
    out["model_class"] = out["class"]
    out["override"] = ""
    out["override_id"] = np.nan
    out["override_expires_at"] = ""
    if overrides is None or overrides.empty:
        return out
    newest = overrides.sort_values("id").drop_duplicates("counterparty", keep="last")
    for _, o in newest.iterrows():
        cp = o["counterparty"]
        if cp not in out.index:
            continue
        if o["field"] == "score_adjustment":
            out.loc[cp, "score"] = float(np.clip(out.loc[cp, "score"] + float(o["value"]), 0.0, 10.0))
            out.loc[cp, "class"] = band_of(out.loc[cp, "score"], bands)
        elif o["field"] == "class":
            out.loc[cp, "class"] = str(o["value"])
        out.loc[cp, "override"] = f"{o['field']}={o['value']} by {o['author']}"
        out.loc[cp, "override_id"] = float(o["id"])
        exp = o.get("expires_at")
        out.loc[cp, "override_expires_at"] = "" if exp is None or pd.isna(exp) else str(exp)
    out["rank"] = out["score"].rank(method="min").astype(int)
    return out.sort_values("score")


def dollar_drag(notional: float, bps: float) -> float:
    """Annual $ drag = notional x bps / 1e4 (e.g. 50e9 x 1.25 bps = 6.25e6)."""
    return float(notional) * float(bps) / 1e4


def toxicity_costs(wide: pd.DataFrame, notional: pd.Series) -> pd.DataFrame:
    """Per counterparty: adverse selection and excess slippage drag in $ a year (negative = saving)."""
    out = pd.DataFrame(index=wide.index)
    out["annual_notional"] = notional.reindex(wide.index).to_numpy(float)
    for k, col in (("adverse_selection_bps", "adverse_selection_cost_usd"),
                   ("excess_slippage_bps", "excess_slippage_cost_usd")):
        bps = wide[k] if k in wide.columns else pd.Series(np.nan, index=wide.index)
        out[col] = [dollar_drag(n, b) if np.isfinite(n) and np.isfinite(b) else np.nan
                    for n, b in zip(out["annual_notional"], bps)]
    out["toxicity_cost_usd"] = out[["adverse_selection_cost_usd", "excess_slippage_cost_usd"]].sum(axis=1, min_count=1)
    return out
