"""Schemas of wrong-way risk: ``xva.wwr`` (the model choice) and ``model.credit`` (stochastic intensities).

Read by ``exposure.xva.settings.xva_settings`` and ``exposure.models.build.build_model``; README ("XVA",
"Wrong-way risk") documents every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional


class WwrModel(str, Enum):
    none = "none"  # CVA with the deterministic credit curves (independent defaults)
    hull_white_2012 = "hull_white_2012"  # CVA_WWR: exposure-driven intensity h = exp(a(t) + b Z) (needs store_cube)
    stochastic_intensity = "stochastic_intensity"  # CVA pathwise with the model.credit intensities


@dataclass
class WwrConfig:
    model: WwrModel = WwrModel.none
    b: Optional[float] = None  # hull_white_2012 strength b (xva.wwr_b is the older spelling)


@dataclass
class CreditIntensityConfig:
    """lambda = phi(t) + z, dz = -a z dt + sigma(t) dW; correlate ``CR:<name>`` in model.correlations."""

    mean_reversion: float = 0.1  # a, per year
    volatility: List[float] = field(default_factory=lambda: [0.01])  # absolute intensity vol per sqrt(year)
    volatility_times: List[str] = field(default_factory=list)  # breakpoints, len = len(volatility) - 1
    # calibration (optional; replaces volatility): ATM payer CDS options, Black vols of the forward spread
    option_expiries: List[str] = field(default_factory=list)
    option_terms: List[str] = field(default_factory=list)  # CDS length after each expiry, e.g. 5Y
    option_vols: List[float] = field(default_factory=list)
