"""Dynamic counterparty limits that tighten as the toxicity class worsens, checked against PFE.

  effective_limit = pfe_limit * multiplier(class)      (e.g. Partner 1.0, Monitor 0.75, Toxic 0.5, Restrict 0)
  proposed        = pfe_peak + additional_pfe          (base currency, from the exposure results)
  headroom        = effective_limit - proposed;  ok = headroom >= 0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ScorecardInputError


def limit_check(row: pd.Series, multipliers, additional_pfe: float = 0.0) -> dict:
    cls = str(row["class"])
    mult = dict(multipliers)
    if cls not in mult:
        raise ScorecardInputError("limits.multipliers", cls, "no limit multiplier for this class")
    base = float(row.get("pfe_limit", np.nan))
    pfe = float(row.get("pfe_peak", np.nan))
    if not np.isfinite(base) or not np.isfinite(pfe):
        raise ScorecardInputError("limit check", f"counterparty '{row.name}'",
                                  "no PFE limit or PFE peak (reference data or exposure results missing)")
    if additional_pfe < 0 or not np.isfinite(additional_pfe):
        raise ScorecardInputError("limit check", "additional_pfe", f"must be finite and >= 0, got {additional_pfe}")
    eff = base * float(mult[cls])
    proposed = pfe + additional_pfe
    return {"counterparty": str(row.name), "class": cls, "pfe_limit": base, "multiplier": float(mult[cls]),
            "effective_limit": eff, "pfe_peak": pfe, "additional_pfe": float(additional_pfe),
            "proposed_pfe": proposed, "headroom": eff - proposed, "ok": bool(proposed <= eff)}


def limit_table(scorecard: pd.DataFrame, multipliers) -> pd.DataFrame:
    """limit_check with no additional exposure for every counterparty that has a limit and a PFE."""
    rows = [limit_check(r, multipliers) for _, r in scorecard.iterrows()
            if np.isfinite(r.get("pfe_limit", np.nan)) and np.isfinite(r.get("pfe_peak", np.nan))]
    return pd.DataFrame(rows).set_index("counterparty") if rows else pd.DataFrame()
