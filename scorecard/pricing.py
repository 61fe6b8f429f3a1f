"""Price add-on for a client trade from the counterparty's toxicity and capital usage.

  toxicity_bps = max(0, adverse_selection_bps + excess_slippage_bps) + score_addon_bps * score
  capital_bps  = hurdle_rate * capital * maturity_years / notional * 1e4
                 (capital = the trade's capital if given, else capital_ratio * notional)
  addon_bps    = toxicity_bps + capital_bps;  addon_amount = addon_bps / 1e4 * notional  [base currency]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ScorecardInputError


def price_addon(row: pd.Series, notional: float, maturity_years: float, cfg, capital: float | None = None) -> dict:
    if not (notional > 0):
        raise ScorecardInputError("pricing request", "notional", f"must be > 0, got {notional}")
    if not (maturity_years > 0):
        raise ScorecardInputError("pricing request", "maturity_years", f"must be > 0, got {maturity_years}")
    cap = float(capital) if capital is not None else float(cfg.capital_ratio) * notional
    if cap < 0:
        raise ScorecardInputError("pricing request", "capital", f"must be >= 0, got {capital}")

    def m(k):
        v = row.get(k, np.nan)
        return float(v) if np.isfinite(v) else 0.0

    tox = max(0.0, m("adverse_selection_bps") + m("excess_slippage_bps")) + float(cfg.score_addon_bps) * float(
        row["score"])
    cap_bps = float(cfg.hurdle_rate) * cap * maturity_years / notional * 1e4
    total = tox + cap_bps
    return {"counterparty": str(row.name), "class": str(row["class"]), "toxicity_bps": tox, "capital": cap,
            "capital_bps": cap_bps, "addon_bps": total, "addon_amount": total / 1e4 * notional}
