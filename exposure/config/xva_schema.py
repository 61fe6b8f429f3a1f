"""Schemas of the ``xva`` config group and of ``market.funding`` (registered by ``schema.register_configs``).

Read by ``exposure.xva.settings.xva_settings``; the meaning of every key is documented there and in README
("XVA").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional

from exposure.config.wwr_schema import WwrConfig


class XvaDiscretisation(str, Enum):
    ore = "ore"  # right end point: sum_j (1-R) dPD_j EPE(t_j)
    midpoint = "midpoint"  # exposure interpolated to the interval midpoint


class SurvivalWeighting(str, Enum):
    full = "full"  # FCA/FBA/KVA weighted by S_c S_b (ORE's FCA/FBA)
    ex_own_sp = "ex_own_sp"  # S_c only (ORE's FCAexOwnSP)
    ex_all_sp = "ex_all_sp"  # no survival (ORE's FCAexAllSP)


class MissingCredit(str, Enum):
    zero = "zero"  # CVA 0 for a netting set whose counterparty has no credit curve; listed in attrs
    fail = "fail"  # ConfigError before any compute


@dataclass
class XvaConfig:
    enabled: bool = True
    bilateral: bool = False
    discretisation: XvaDiscretisation = XvaDiscretisation.ore
    survival_weighting: SurvivalWeighting = SurvivalWeighting.full
    missing_credit: MissingCredit = MissingCredit.zero
    cost_of_capital: float = 0.10  # KVA hurdle rate per year
    capital_ratio: float = 0.08  # KVA capital proxy: ratio x risk weight x alpha x forward EEPE
    risk_weight: float = 1.0
    alpha: float = 1.4
    mva: bool = False  # regression dynamic initial margin and MVA (needs simulation.mpor and market.funding)
    dim_quantile: float = 0.99
    dim_order: int = 2
    wwr_b: Optional[float] = None  # wrong-way risk: exposure-driven intensity strength (needs output.store_cube)
    wwr: WwrConfig = field(default_factory=WwrConfig)  # wrong-way risk model choice (wwr_schema)


@dataclass
class FundingConfig:
    """Funding spreads over the base discount curve (continuously compounded zero spreads, bp) by tenor."""

    tenors: List[str] = field(default_factory=list)
    borrowing_bp: List[float] = field(default_factory=list)
    lending_bp: List[float] = field(default_factory=list)
