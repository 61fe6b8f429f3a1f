"""Dynamic counterparty limits that tighten as the toxicity score worsens, checked against PFE; fail closed.

  effective_limit = pfe_limit * multiplier
  multiplier      = limits.mode=continuous: dynamic_multipliers (continuous in the score, hysteresis, cut on an
                    adverse-selection jump); class_step: multipliers[class] (e.g. Partner 1, Monitor .75, Toxic .5)
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
        raise ScorecardInputError("limit check", "additional_pfe",
                                  f"must be a number, got {additional_pfe!r}") from None
    if not math.isfinite(a) or a < 0:
        raise ScorecardInputError("limit check", "additional_pfe", f"must be finite and >= 0, got {additional_pfe}")
    return a


def limit_check(row: pd.Series, multipliers, additional_pfe: float = 0.0) -> dict:
    """Decision dict: counterparty, class, pfe_limit, multiplier, effective_limit, pfe_peak, additional_pfe,
    proposed_pfe, headroom (None where undefined), ok and reason ('' when ok). The multiplier is the row's
    dynamic `limit_multiplier` when the run computed one (limits.mode=continuous), else multipliers[class]."""
    add = check_additional(additional_pfe)
    cls = str(row.get("class", ""))
    mult = {str(k): float(v) for k, v in dict(multipliers).items()}
    base, pfe, m = _finite(row, "pfe_limit"), _finite(row, "pfe_peak"), mult.get(cls)
    if "limit_multiplier" in row.index:
        m = _finite(row, "limit_multiplier")
        cls = cls if m is not None else f"{cls} (no dynamic multiplier)"
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


def target_multiplier(score: float, cfg) -> float:
    """Continuous in the score: 1 up to full_below, linear down to min_multiplier at zero_at, flat beyond."""
    lo, hi, floor = float(cfg.full_below), float(cfg.zero_at), float(cfg.min_multiplier)
    if not math.isfinite(score):
        return floor  # fail closed
    frac = min(1.0, max(0.0, (score - lo) / (hi - lo)))
    return 1.0 - frac * (1.0 - floor)


def dynamic_multipliers(sc: pd.DataFrame, previous: pd.DataFrame | None, cfg) -> pd.DataFrame:
    """Per counterparty: limit_target (from the score), limit_multiplier (after hysteresis and the adverse-
    selection jump cut) and limit_reason.
      tighten at once: m = target when target <= m_prev; loosen only when target > m_prev + hysteresis
      jump: AS_now - AS_prev > as_jump_bps and > as_jump_z sqrt(se_now^2 + se_prev^2) -> m = m * as_jump_cut
    previous: index counterparty, columns limit_multiplier, adverse_selection_bps, adverse_selection_bps_se
    (the last run under the same profile)."""
    rows = []
    prev = previous if previous is not None else pd.DataFrame()
    for cp, r in sc.iterrows():
        tgt = target_multiplier(float(r["score"]), cfg)
        m, why = tgt, "from score"
        if cp in prev.index and math.isfinite(float(prev.loc[cp, "limit_multiplier"])):
            mp = float(prev.loc[cp, "limit_multiplier"])
            if mp < tgt <= mp + float(cfg.hysteresis):
                m, why = mp, f"held at {mp:.3f} (hysteresis: target {tgt:.3f} within {cfg.hysteresis})"
        a_now, a_prev = r.get("adverse_selection_bps", math.nan), math.nan
        if cp in prev.index:
            a_prev = float(prev.loc[cp].get("adverse_selection_bps", math.nan))
        if math.isfinite(float(a_now)) and math.isfinite(a_prev):
            se = math.hypot(float(r.get("adverse_selection_bps_se", 0.0) or 0.0),
                            float(prev.loc[cp].get("adverse_selection_bps_se", 0.0) or 0.0))
            jump = float(a_now) - a_prev
            if jump > float(cfg.as_jump_bps) and jump > float(cfg.as_jump_z) * se:
                m *= float(cfg.as_jump_cut)
                why += f"; cut x{cfg.as_jump_cut}: adverse selection jumped {jump:+.2f} bps"
        rows.append({"counterparty": cp, "limit_target": tgt, "limit_multiplier": m, "limit_reason": why})
    return pd.DataFrame(rows).set_index("counterparty")
