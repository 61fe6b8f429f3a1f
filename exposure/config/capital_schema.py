"""Schema of the ``capital`` config group (regulatory capital; see exposure.capital and README "Capital")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class CounterpartyCapitalConfig:
    sector: str = "other"  # BA-CVA sector (MAR50.16): sovereign, local_government, financial, basic_materials,
    #                        consumer, technology, health_care, other
    investment_grade: bool = False
    pd: Optional[float] = None  # 1y PD override (decimal); None: the credit curve's 1y default probability
    lgd: Optional[float] = None  # None: capital.lgd
    large_financial: Optional[bool] = None  # the 1.25 asset-correlation multiplier; None: capital.large_financial


@dataclass
class CdsHedgeConfig:
    counterparty: Optional[str] = None  # hedged counterparty (single-name CDS); None: an index CDS
    sector: str = "other"
    investment_grade: bool = False
    maturity: float = 5.0  # years
    notional: float = 0.0  # protection bought, base currency
    r: float = 1.0  # single name: 1.0 the name, 0.8 legally related, 0.5 same sector and region
    diversified: bool = True  # index: risk weight x 0.7


@dataclass
class SaCvaConfig:
    source: str = "auto"  # auto: the table if given, else the engine's `sensitivity` results; table | engine
    sensitivities: Optional[str] = None  # CSV risk_class,type,bucket,risk_factor,s_cva,s_hedge[,rw]
    m_cva: float = 1.0
    rho: Dict[str, float] = field(default_factory=dict)  # intra-bucket correlation per non-built-in risk class
    gamma: Dict[str, float] = field(default_factory=dict)  # cross-bucket correlation per risk class
    equity_buckets: Dict[str, str] = field(default_factory=dict)  # equity name -> MAR50 bucket 1-13 (default 11)


@dataclass
class CapitalConfig:
    enabled: bool = True
    approach: str = "saccr"  # saccr | imm: the EAD used for RWA and BA-CVA
    alpha: float = 1.4
    multiplier_floor: float = 0.05
    mpor_days: float = 10.0  # SA-CCR margin period of risk of CSA netting sets, business days
    trade_table: Optional[str] = None  # SA-CCR trade table CSV (trades the engine does not simulate)
    margin_table: Optional[str] = None  # SA-CCR margin terms CSV (overrides the CSA-derived terms)
    equity_indices: List[str] = field(default_factory=list)  # market.equities names that are indices
    pd_floor: float = 0.0005  # 0.05% Basel III (0.03% Basel II)
    lgd: float = 0.45
    default_pd: float = 0.01  # counterparties with neither a pd override nor a credit curve
    irb_scaling: float = 1.0  # 1.06 under Basel II
    large_financial: bool = False
    default_sector: str = "other"
    default_investment_grade: bool = False
    counterparties: Dict[str, CounterpartyCapitalConfig] = field(default_factory=dict)
    ba_cva: str = "reduced"  # reduced | full
    cds_hedges: List[CdsHedgeConfig] = field(default_factory=list)
    eepe_stressed: Dict[str, float] = field(default_factory=dict)  # netting set -> stressed-calibration EEPE
    eepe_stressed_run: Optional[str] = None  # a run with the stressed calibration: its BaselEEPE per netting set
    sa_cva: SaCvaConfig = field(default_factory=SaCvaConfig)
    profile: bool = True  # EAD_profile / Capital_profile on the exposure dates
    csv: bool = True  # write capital.csv
