"""Sensitivity settings: one frozen dataclass built from the ``risk`` config group.

    risk.method         str    none | ad (reverse mode through the paths) | bump (central bump and revalue,
                               full reruns; the reference the tests and the benchmark compare with)
    risk.measures       list   among CVA, DVA, FCA, FBA (empty: every one the run has; FCA/FBA need funding)
    risk.factor_types   list   factor types to report (empty: all; ``factors.FACTOR_TYPES``)
    risk.profiles       bool   also EPE/ENE profile sensitivities (forward mode per factor, see ``reverse``)
    risk.block_paths    int    paths per reverse-mode block (a multiple of 64): the unit of memory and of the
                               fixed summation order; results depend on it, never on simulation.chunk_size
    risk.setup_step     float  central-difference step of the deterministic set-up layer, in factor units
    risk.mta_smoothing  float  width of the smoothed MTA call as a fraction of the MTA (0: pathwise)
    risk.bump_step      float  bump of risk.method=bump, in factor units
    risk.csv            bool   write sensitivities.csv
    risk.reverse_setup  bool   curve pillars and FX spots by one vjp of g_S through the set-up (``setup_reverse``)
                               instead of a tangent per factor (the reference); off when profiles are asked

Nothing here imports Hydra or OmegaConf: the config node is read through getattr only.
"""

from __future__ import annotations

import dataclasses

from exposure.errors import ConfigError

METHODS = ("none", "ad", "bump")
MEASURES = ("CVA", "DVA", "FCA", "FBA")


@dataclasses.dataclass(frozen=True)
class RiskSettings:
    method: str = "ad"
    measures: tuple = ()  # empty: every measure the run has
    factor_types: tuple = ()
    profiles: bool = False
    block_paths: int = 64
    setup_step: float = 0.1
    mta_smoothing: float = 0.0
    bump_step: float = 1.0
    csv: bool = True
    reverse_setup: bool = True


def risk_settings(cfg) -> RiskSettings | None:
    """RiskSettings from the whole config (``cfg.risk``), None when absent or risk.method == none."""
    from exposure.risk.factors import FACTOR_TYPES
    from exposure.simulation.paths import PATH_LANES

    node = getattr(cfg, "risk", None)
    if node is None:
        return None
    method = str(getattr(getattr(node, "method", "none"), "value", getattr(node, "method", "none")))
    if method not in METHODS:
        raise ConfigError("risk.method", f"'{method}' is not one of {', '.join(METHODS)}")
    if method == "none":
        return None
    measures = tuple(str(m) for m in (getattr(node, "measures", None) or ()))
    for m in measures:
        if m not in MEASURES:
            raise ConfigError("risk.measures", f"'{m}' is not one of {', '.join(MEASURES)}")
    xva = getattr(cfg, "xva", None)
    if xva is None or not bool(getattr(xva, "enabled", True)):
        raise ConfigError("risk.method", f"'{method}' differentiates the XVA sums: it needs xva.enabled=true")
    funding = getattr(getattr(cfg, "market", None), "funding", None)
    if {"FCA", "FBA"} & set(measures) and not list(getattr(funding, "tenors", None) or []):
        raise ConfigError("risk.measures", "FCA/FBA sensitivities need market.funding spreads (none configured)")
    types = tuple(str(t) for t in (getattr(node, "factor_types", None) or ()))
    for t in types:
        if t not in FACTOR_TYPES:
            raise ConfigError("risk.factor_types", f"'{t}' is not one of {', '.join(FACTOR_TYPES)}")
    block = int(getattr(node, "block_paths", 64))
    if block <= 0 or block % PATH_LANES:
        raise ConfigError("risk.block_paths", f"must be a positive multiple of {PATH_LANES} (got {block})")
    out = {}
    for name, default in (("setup_step", 0.1), ("mta_smoothing", 0.0), ("bump_step", 1.0)):
        v = float(getattr(node, name, default))
        if not v >= 0.0 or v == float("inf") or (name != "mta_smoothing" and v == 0.0):
            raise ConfigError(f"risk.{name}", f"must be finite and {'>= 0' if name == 'mta_smoothing' else '> 0'} (got {v})")
        out[name] = v
    return RiskSettings(method, measures, types, bool(getattr(node, "profiles", False)), block, **out,
                        csv=bool(getattr(node, "csv", True)),
                        reverse_setup=bool(getattr(node, "reverse_setup", True)))
