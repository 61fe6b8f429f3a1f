"""Dynamic counterparty limits that tighten as the toxicity class worsens, checked against PFE; fail closed.

  effective_limit = pfe_limit * multiplier(class)      (e.g. Partner 1.0, Monitor 0.75, Toxic 0.5, Restrict 0)
  proposed        = pfe_peak + additional_pfe          (base currency, from the exposure results)
  headroom        = effective_limit - proposed;  ok = headroom >= 0
Every decision fails closed: a counterparty without a finite limit, PFE peak, class multiplier or score is
``ok = False`` with a ``reason`` saying which input is missing ("cannot decide" means "no").
"""

from __future__ import annotations

import math

import pandas as pd

from .errors import ScorecardInputError


def _finite(row, key) -> float | None:
    try:
        v = float(row.get(key, math.nan))
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def check_additional(additional_pfe) -> float:
    """The caller's extra exposure: a finite number >= 0 (base currency), else ScorecardInputError."""
    try:
        a = float(additional_pfe)
    except (TypeError, ValueError):
        raise ScorecardInputError("limit check", "additional_pfe", f"must be a number, got {additional_pfe!r}") from None
    if not math.isfinite(a) or a < 0:
        raise ScorecardInputError("limit check", "additional_pfe", f"must be finite and >= 0, got {additional_pfe}")
    return a


def limit_check(row: pd.Series, multipliers, additional_pfe: float = 0.0) -> dict:
    """Decision dict: counterparty, class, pfe_limit, multiplier, effective_limit, pfe_peak, additional_pfe,
    proposed_pfe, headroom (None where undefined), ok and reason ('' when ok)."""
    add = check_additional(additional_pfe)
    cls = str(row.get("class", ""))
    mult = {str(k): float(v) for k, v in dict(multipliers).items()}
    base, pfe, m = _finite(row, "pfe_limit"), _finite(row, "pfe_peak"), mult.get(cls)
    out = {"counterparty": str(row.name), "class": cls, "pfe_limit": base, "multiplier": m,
           "effective_limit": None, "pfe_peak": pfe, "additional_pfe": add, "proposed_pfe": None,
           "headroom": None, "ok": False, "reason": ""}
    missing = [what for what, v in (("PFE limit (counterparty reference data)", base),
                                    ("PFE peak (exposure results)", pfe)) if v is None]
    if m is None or not math.isfinite(m):
        missing.append(f"limit multiplier for class '{cls}' (limits.multipliers)")
    if missing:
        out["reason"] = "no decision possible, so refused: missing " + ", ".join(missing)
        return out
    eff, proposed = base * m, pfe + add
    head = eff - proposed
    if not (math.isfinite(eff) and math.isfinite(proposed) and math.isfinite(head)):
        out["reason"] = "limit arithmetic overflowed: refused"
        return out
    ok = proposed <= eff
    out.update(effective_limit=eff, proposed_pfe=proposed, headroom=head, ok=bool(ok),
               reason="" if ok else f"proposed PFE {proposed:.6g} exceeds effective limit {eff:.6g}")
    return out


def limit_table(scorecard: pd.DataFrame, multipliers) -> pd.DataFrame:
    """limit_check with no additional exposure for every counterparty (refusals included, with their reason)."""
    rows = [limit_check(r, multipliers) for _, r in scorecard.iterrows()]
    return pd.DataFrame(rows).set_index("counterparty") if rows else pd.DataFrame()
