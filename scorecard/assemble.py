"""The scorecard table: one row per counterparty from the long metrics table, scored and joined with credit.

    score = composite of the transformed metrics with the profile's weights (``composite``), with its bootstrap
            distribution from the metrics' standard errors, then overrides
    drag  = annual notional x bps / 1e4   adverse selection and excess slippage cost a year (``toxicity_costs``)
    annual notional = reference annual_notional, else observed sum(price x size) x 365.25 d / observed span

Metrics come long (counterparty, metric, value, se, lo, hi, n, unit, n_clusters, status), lo/hi = value -/+ z se;
a metric on too few observations or clusters is 'insufficient': reported, never scored. Credit metrics (score
1-10, capital usage as a fraction of the limit, CVA / FVA / EAD / capital / EEPE in base currency) carry the
engine's Monte Carlo standard errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .composite import apply_overrides, composite_scores, score_distribution, toxicity_costs
from .stats import METRIC_COLUMNS

SCORE_METRICS = ("credit_score", "adverse_selection_bps", "excess_slippage_bps", "stress_fill_pct",
                 "fill_degradation_pp", "excess_impact_bps", "skipping_cost_bps", "protocol_score", "reversion_bps",
                 "capital_usage", "profitability_bps")

CREDIT_METRICS = (("credit_score", "score 1-10"), ("capital_usage", "fraction of limit"), ("cva", "base ccy"),
                  ("fva", "base ccy"), ("ead", "base ccy"), ("capital", "base ccy"), ("eepe", "base ccy"))


def sample_status(metrics: pd.DataFrame, ci) -> np.ndarray:
    """'ok', or 'insufficient' when a metric rests on fewer than its minimum observations (ci.min_n, or
    ci.min_n_per_metric[metric]) or fewer than ci.min_clusters independent clusters: reported, never scored."""
    per = {str(k): int(v) for k, v in dict(ci.min_n_per_metric).items()}
    need = metrics["metric"].map(lambda m: per.get(m, int(ci.min_n))).to_numpy()
    few = (metrics["n"].to_numpy(float) < need) | (metrics["n_clusters"].to_numpy(float) < int(ci.min_clusters))
    return np.where(few, "insufficient", "ok")


def credit_rows(credit: pd.DataFrame, z: float) -> pd.DataFrame:
    """Credit metrics with their Monte Carlo standard errors from the engine (0 where the engine gave none)."""
    rows = []
    for cp, r in credit.iterrows():
        n = len(r["credit_inputs"].split(",")) if r["credit_inputs"] else 0
        for m, unit in CREDIT_METRICS:
            if m in r and np.isfinite(r[m]):
                se = float(r.get(f"{m}_se", 0.0))
                se = se if np.isfinite(se) else 0.0
                rows.append({"counterparty": cp, "metric": m, "value": r[m], "se": se, "lo": r[m] - z * se,
                             "hi": r[m] + z * se, "n": n, "unit": unit, "n_clusters": n, "status": "ok"})
    return pd.DataFrame(rows, columns=METRIC_COLUMNS + ["status"])


def annual_notional(ex: pd.DataFrame, ref: pd.DataFrame) -> pd.Series:
    """Reference annual_notional when given, else observed notional scaled to a year (365.25 d / span)."""
    span_days = max(1.0, (ex["ts_ns"].max() - ex["ts_ns"].min()) / 8.64e13)
    obs = (ex["price"] * ex["size"]).groupby(ex["counterparty"]).sum() * 365.25 / span_days
    if "annual_notional" in ref.columns:
        refn = ref.set_index("counterparty")["annual_notional"].astype(float)
        return refn.combine_first(obs)
    return obs


def build_scorecard(metrics: pd.DataFrame, credit: pd.DataFrame | None, ref: pd.DataFrame, notional: pd.Series,
                    overrides: pd.DataFrame | None, cfg) -> pd.DataFrame:
    scored = metrics[metrics["status"] == "ok"] if "status" in metrics else metrics
    wide = scored.pivot_table(index="counterparty", columns="metric", values="value", aggfunc="first")
    se = scored.pivot_table(index="counterparty", columns="metric", values="se", aggfunc="first")
    wide = wide.reindex(sorted(set(metrics["counterparty"])))
    sc = composite_scores(wide, cfg.composite.transforms, cfg.profile.weights, cfg.composite.bands,
                          cfg.composite.missing)
    sc = sc.join(score_distribution(wide.reindex(sc.index), se.reindex(sc.index), cfg.composite.transforms,
                                    cfg.profile.weights, cfg.composite.bands, float(cfg.ci.z),
                                    int(cfg.ci.bootstrap), int(cfg.ci.seed)))
    sc = apply_overrides(sc, overrides, cfg.composite.bands)
    for m in SCORE_METRICS:
        if m in wide:
            sc[m] = wide[m].reindex(sc.index)
            sc[f"{m}_se"] = se[m].reindex(sc.index)
    if credit is not None:
        for c in ("pfe_peak", "pfe_limit", "utilisation", "epe_peak", "eepe", "eepe_se", "pd", "rating", "rating_pd",
                  "cva", "cva_se", "fva", "fva_se", "ead", "ead_se", "capital", "capital_se", "credit_inputs",
                  "credit_missing"):
            if c in credit:
                sc[c] = credit[c].reindex(sc.index)
    if "pfe_limit" not in sc:
        sc["pfe_limit"] = ref.set_index("counterparty")["pfe_limit"].reindex(sc.index)
    if "name" in ref.columns:
        sc.insert(0, "name", ref.set_index("counterparty")["name"].reindex(sc.index))
    sc = sc.join(toxicity_costs(wide.reindex(sc.index), notional))
    sc["profile"] = cfg.profile.name
    sc.index.name = "counterparty"
    first = [c for c in ("name", "score", "class", "rank", "override", "metrics_used") if c in sc]
    return sc[first + [c for c in sc.columns if c not in first]]
