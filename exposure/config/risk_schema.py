"""Schema of the ``risk`` config group (registered by ``schema.register_configs``): XVA sensitivities.

Read by ``exposure.risk.settings.risk_settings``; every key is documented there and in README
("Sensitivities"). ``exposure run risk=ad`` switches reverse-mode sensitivities on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import List


class RiskMethod(str, Enum):
    none = "none"  # no sensitivities
    ad = "ad"  # reverse mode through the paths, the set-up layer by central differences
    bump = "bump"  # central bump and full revaluation per factor (the reference)


@dataclass
class RiskConfig:
    method: RiskMethod = RiskMethod.none
    measures: List[str] = field(default_factory=list)  # among CVA, DVA, FCA, FBA; empty: those the run has
    factor_types: List[str] = field(default_factory=list)  # empty: every factor type
    profiles: bool = False  # EPE_sensitivity / ENE_sensitivity (forward mode, one pass per 8 factors)
    block_paths: int = 64  # paths per reverse-mode block (multiple of 64); fixes the summation order
    setup_step: float = 0.1  # central-difference step of the deterministic set-up, in factor units
    mta_smoothing: float = 0.0  # smoothed MTA call width as a fraction of the MTA (0: pathwise)
    bump_step: float = 1.0  # method=bump: bump size in factor units
    csv: bool = True  # write sensitivities.csv
    reverse_setup: bool = True  # curve pillars / FX spots by one vjp through the set-up (false: per-factor tangents)
