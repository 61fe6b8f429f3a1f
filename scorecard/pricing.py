"""Price add-on for a client trade from the counterparty's toxicity and capital, and capital allocation.

  loading       = 1 + toxicity_capital_loading * score / 10      (toxicity raises economic capital)
  allocated_c   = Capital_c * loading_c                           (engine's capital per counterparty, run time)
  toxicity_bps = max(0, adverse_selection_bps + excess_slippage_bps) + score_addon_bps * score
  capital_bps  = hurdle_rate * capital * loading * maturity_years / notional * 1e4
                 (capital = the trade's capital if given; else, when the caller gives the trade's EAD, the
                 counterparty's engine Capital / EAD times that EAD; else capital_ratio * notional)
  addon_bps    = toxicity_bps + capital_bps;  addon_amount = addon_bps / 1e4 * notional  [base currency]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ScorecardInputError


def price_addon(row: pd.Series, notional: float, maturity_years: float, cfg, capital: float | None = None,
                ead: float | None = None) -> dict:
    if not (notional > 0):
        raise ScorecardInputError("pricing request", "notional", f"must be > 0, got {notional}")
    if not (maturity_years > 0):
        raise ScorecardInputError("pricing request", "maturity_years", f"must be > 0, got {maturity_years}")
    intensity = _intensity(row)
    if capital is not None:
        cap, source = float(capital), "request"
    elif intensity is not None and ead is not None:
        cap, source = intensity * float(ead), "trade EAD x engine Capital / EAD of the counterparty"
    else:
        cap, source = float(cfg.capital_ratio) * notional, "pricing.capital_ratio"
    if cap < 0:
        raise ScorecardInputError("pricing request", "capital", f"must be >= 0, got {capital}")

    def m(k):
        v = row.get(k, np.nan)
        return float(v) if np.isfinite(v) else 0.0

    tox = max(0.0, m("adverse_selection_bps") + m("excess_slippage_bps")) + float(cfg.score_addon_bps) * float(
        row["score"])
    loading = 1.0 + float(getattr(cfg, "toxicity_capital_loading", 0.0)) * float(row["score"]) / 10.0
    cap_bps = float(cfg.hurdle_rate) * cap * loading * maturity_years / notional * 1e4
    total = tox + cap_bps
    return {"counterparty": str(row.name), "class": str(row["class"]), "toxicity_bps": tox, "capital": cap,
            "capital_source": source, "capital_loading": loading, "economic_capital": cap * loading,
            "capital_bps": cap_bps, "addon_bps": total, "addon_amount": total / 1e4 * notional}


def _intensity(row) -> float | None:
    try:
        c, e = float(row.get("capital", np.nan)), float(row.get("ead", np.nan))
    except (TypeError, ValueError):
        return None
    return c / e if np.isfinite(c) and np.isfinite(e) and e > 0 else None


def capital_allocation(sc: pd.DataFrame, cfg) -> pd.DataFrame:
    """Per counterparty: capital_loading = 1 + loading score / 10 and allocated_capital = engine Capital x loading
    (NaN where the engine gave no capital), with its annual cost at the hurdle rate."""
    load = 1.0 + float(cfg.toxicity_capital_loading) * sc["score"].astype(float) / 10.0
    cap = sc["capital"].astype(float) if "capital" in sc else pd.Series(np.nan, index=sc.index)
    out = pd.DataFrame({"capital_loading": load, "allocated_capital": cap * load}, index=sc.index)
    out["capital_cost"] = out["allocated_capital"] * float(cfg.hurdle_rate)
    return out
