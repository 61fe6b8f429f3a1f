"""A market config node with entries from another source (an ORE market file) underneath the user's.

``merged(mc, extra)`` returns a read-only attribute view (a ``ConfigNode``) shaped like ``MarketConfig``: for each group
(curves, fx_spots, fx_vols, equities, swaption_vols, credit, curve_inputs.curves) an entry given in ``mc`` replaces
the extra one of the same key; missing schema defaults are filled in so the builders read both alike. No OmegaConf
here: ``mc`` is read through getattr only.
"""

from __future__ import annotations

from exposure.confignode import ConfigNode

_DEFAULTS = {
    "curves": {"kind": "zero"},
    "fx_vols": {"tenors": []},
    "swaption_vols": {"shift": 0.0, "fixed_frequency": "1Y"},
    "credit": {"flat_hazard": None, "recovery": 0.4},
}
_INPUT_CURVE = {"currency": None, "index": None, "discount": None, "collateral": None,
                "drop_duplicate_pillars": True}  # ORE files quote e.g. both 18M and 1Y6M
_INSTRUMENT = {k: None for k in ("start", "index", "other_index", "fixed_tenor", "fixed_day_count", "settlement_days",
                                 "payment_lag", "calendar", "convention", "end_of_month")}


def merged(mc, ore_cfg: dict):
    """A view of market config ``mc`` with the ORE-derived entries underneath: an entry given in ``mc``
    (curve, index curve, FX spot, vol, equity, credit name) replaces the ORE one of the same key."""
    out = {k: getattr(mc, k) for k in ("name", "asof", "base_currency", "indices", "own_name")}
    for group in ("curves", "fx_spots", "fx_vols", "equities", "swaption_vols", "credit"):
        mine = dict(getattr(mc, group) or {})
        theirs = {k: ({**_DEFAULTS.get(group, {}), **v} if isinstance(v, dict) else v)
                  for k, v in ore_cfg.get(group, {}).items() if k not in mine}
        if group == "equities":
            theirs = {k: {**v, "vol": {"tenors": [], **v["vol"]}} for k, v in theirs.items()}
        out[group] = {**theirs, **mine}
    ci = getattr(mc, "curve_inputs", None)
    mine_curves = dict(getattr(ci, "curves", None) or {}) if ci is not None else {}
    theirs = {}
    for k, v in ore_cfg.get("curve_inputs", {}).get("curves", {}).items():
        if k in mine_curves or k in out["curves"] and k not in ore_cfg.get("curves", {}):
            continue  # the user's own curve of that name (instruments or zero rates) wins
        theirs[k] = {**_INPUT_CURVE, **v, "instruments": [
            {**_INSTRUMENT, "spread_leg": "this", **i} for i in v["instruments"]]}
    conventions = dict(getattr(ci, "conventions", None) or {}) if ci is not None else {}
    fields = ("currency", "tenor", "fixing_days", "calendar", "convention", "end_of_month", "day_count")
    from_ore = ore_cfg.get("curve_inputs", {}).get("conventions", {})
    ore_conv = {k: {f: v.get(f) for f in fields} for k, v in from_ore.items()
                if k not in conventions}  # ORE's conventions.xml underneath the user's
    out["curve_inputs"] = {"conventions": {**ore_conv, **conventions}, "curves": {**theirs, **mine_curves}}
    return ConfigNode(out, "market")
