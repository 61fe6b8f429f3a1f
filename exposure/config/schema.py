"""Dataclass schemas of the configuration groups (market, model, simulation, portfolio, output).

Registered in Hydra's ConfigStore so that a typo in a key or a wrong type fails at compose time. Units:
rates and vols are decimals (0.03 = 3%), credit spreads are in basis points, times are tenor strings
(``3M``, ``10Y``) relative to ``market.asof`` or ISO dates, FX spots are units of the base currency per one
unit of the foreign currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from exposure.config.capital_schema import CapitalConfig
from exposure.config.cluster_schema import ClusterConfig
from exposure.config.xva_schema import FundingConfig, XvaConfig
from exposure.config.market_inputs_schema import MarketInputsConfig
from exposure.config.report_schema import ReportConfig
from exposure.config.wwr_schema import CreditIntensityConfig
from exposure.config.risk_schema import RiskConfig


class CurveKind(str, Enum):
    zero = "zero"  # continuously compounded zero rates
    discount = "discount"  # discount factors


class SwaptionVolKind(str, Enum):
    normal = "normal"
    lognormal = "lognormal"


class Precision(str, Enum):
    float64 = "float64"
    float32 = "float32"


class EventDates(str, Enum):
    options = "options"  # option fixings and exercise dates simulated as extra, unreported dates (exact)
    none = "none"  # events read the state at the previous grid date (biased for options off the grid)
    fixings = "fixings"  # options, plus every IBOR coupon of a linear trade fixing on its own simulated date


class Reduction(str, Enum):
    auto = "auto"  # jax on an accelerator; on a CPU jax for large runs, numpy for small (reduction_choice.py)
    jax = "jax"  # collateral and path sums in the compiled per-chunk program (exposure.aggregation.reduction)
    numpy = "numpy"  # the same sums in NumPy on the host (exposure.aggregation.accumulators)


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class VolCalibration(str, Enum):
    bootstrap = "bootstrap"  # FX / equity model vols fitted so the model's forward variance = market at each pillar
    market = "market"  # the market's Black vol curve used as the spot vol (rates' contribution not removed)


class CalibrationStrip(str, Enum):
    none = "none"
    coterminal = "coterminal"
    diagonal = "diagonal"


@dataclass
class CurveConfig:
    tenors: List[str] = MISSING
    quotes: List[float] = MISSING  # zero rates or discount factors, per ``kind``
    kind: CurveKind = CurveKind.zero


@dataclass
class IndexCurveConfig:
    """A forwarding curve for a floating index (multi-curve); discounting stays on the currency curve."""

    currency: str = MISSING
    tenor: str = "3M"  # the index's own accrual tenor
    day_count: str = "ACT/360"
    curve: Optional[CurveConfig] = None  # None: forward off the discount curve


@dataclass
class VolConfig:
    """Black (lognormal) vol: flat (one value, tenors empty) or a term structure by tenor."""

    tenors: List[str] = field(default_factory=list)
    vols: List[float] = MISSING


@dataclass
class EquityConfig:
    currency: str = MISSING
    spot: float = MISSING
    dividend_yield: float = 0.0
    vol: VolConfig = field(default_factory=VolConfig)


@dataclass
class SwaptionVolConfig:
    kind: SwaptionVolKind = SwaptionVolKind.normal
    shift: float = 0.0
    expiries: List[str] = MISSING
    tenors: List[str] = MISSING
    vols: List[List[float]] = MISSING  # [expiry][tenor]
    fixed_frequency: str = "1Y"


@dataclass
class CreditConfig:
    """CDS par spreads (bps) by tenor with recovery, or a flat hazard rate (tenors empty)."""

    tenors: List[str] = field(default_factory=list)
    spreads_bp: List[float] = field(default_factory=list)
    recovery: float = 0.4
    flat_hazard: Optional[float] = None


@dataclass
class MarketConfig:
    name: str = "market"
    asof: str = MISSING
    base_currency: str = MISSING
    curves: Dict[str, CurveConfig] = field(default_factory=dict)
    indices: Dict[str, IndexCurveConfig] = field(default_factory=dict)
    fx_spots: Dict[str, float] = field(default_factory=dict)
    fx_vols: Dict[str, VolConfig] = field(default_factory=dict)
    equities: Dict[str, EquityConfig] = field(default_factory=dict)
    swaption_vols: Dict[str, SwaptionVolConfig] = field(default_factory=dict)
    credit: Dict[str, CreditConfig] = field(default_factory=dict)
    own_name: str = "BANK"  # the bank's own credit curve name, for DVA
    funding: FundingConfig = field(default_factory=FundingConfig)  # FVA spreads (exposure.xva); no tenors: none
    curve_inputs: Optional[MarketInputsConfig] = None  # curves bootstrapped from instrument quotes
    sanity: str = "warn"  # inputs outside a sane range (vol > 200%, |rate| > 50%, hazard > 100%): warn | fail | off


@dataclass
class IrModelConfig:
    mean_reversion: float = 0.03
    volatility: List[float] = field(default_factory=lambda: [0.01])
    volatility_times: List[str] = field(default_factory=list)  # breakpoints, len = len(volatility) - 1
    calibrate: CalibrationStrip = CalibrationStrip.none
    calibration_expiries: List[str] = field(default_factory=list)
    calibration_tenors: List[str] = field(default_factory=list)  # diagonal: one per expiry
    calibration_maturity: str = "10Y"  # coterminal final maturity


@dataclass
class CorrelationEntry:
    a: str = MISSING  # factor names: IR:USD, FX:EUR, EQ:SPX
    b: str = MISSING
    rho: float = MISSING


@dataclass
class ModelConfig:
    name: str = "model"
    ir: Dict[str, IrModelConfig] = field(default_factory=dict)
    correlations: List[CorrelationEntry] = field(default_factory=list)
    vol_calibration: VolCalibration = VolCalibration.bootstrap  # FX and equity vols
    credit: Dict[str, CreditIntensityConfig] = field(default_factory=dict)  # stochastic intensities (wwr_schema)


@dataclass
class SimulationConfig:
    grid: str = "1M,3M,6M,9M,1Y,18M,2Y,3Y,4Y,5Y,7Y,10Y"  # tenor list, or ISO dates
    mpor: Optional[str] = None  # margin period of risk, e.g. "2W"; adds close-out dates
    paths: int = 10000
    seed: int = 42
    chunk_size: int = 5000
    antithetic: bool = False
    precision: Precision = Precision.float64
    device: Device = Device.auto
    store_scenarios: bool = False
    events: EventDates = EventDates.options
    memory_budget_gb: Optional[float] = None  # most GB of path data a run may hold (default: the machine's RAM)
    checkpoint: bool = True  # journal every completed chunk in the staging folder (exposure.checkpoint)
    resume: str = "auto"  # auto | require | never: resume a killed run's checkpoint (exposure.checkpoint)
    reduction: Reduction = Reduction.auto  # where the collateral and path sums run (exposure.aggregation)


@dataclass
class PortfolioConfig:
    name: str = "portfolio"
    trades: str = MISSING  # path to a trades file (.json: JSON; anything else: YAML)
    netting_sets: Optional[str] = None
    fixings: Optional[str] = None
    on_error: str = "fail"  # fail | skip
    ore_xml: Optional[str] = None  # an ORE portfolio.xml, read instead of ``trades``


@dataclass
class OutputConfig:
    dir: str = "runs/latest"
    quantiles: List[float] = field(default_factory=lambda: [0.95, 0.975, 0.99])
    store_cube: bool = False
    trade_level: bool = False
    csv: bool = True
    write: bool = True  # false: exposure.run returns the Dataset in memory, no run folder, files or report


@dataclass
class ExposureConfig:
    market: MarketConfig = field(default_factory=MarketConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    portfolio: Optional[PortfolioConfig] = None
    output: OutputConfig = field(default_factory=OutputConfig)
    capital: CapitalConfig = field(default_factory=CapitalConfig)
    xva: XvaConfig = field(default_factory=XvaConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    extra: Dict[str, Any] = field(default_factory=dict)


def register_configs() -> None:
    # Hydra imported here only: a stored run's config (aggregate, what-if) is merged into these schemas without it.
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="exposure_schema", node=ExposureConfig)
    cs.store(group="market", name="market_schema", node=MarketConfig)
    cs.store(group="model", name="model_schema", node=ModelConfig)
    cs.store(group="simulation", name="simulation_schema", node=SimulationConfig)
    cs.store(group="portfolio", name="portfolio_schema", node=PortfolioConfig)
    cs.store(group="output", name="output_schema", node=OutputConfig)
    cs.store(group="capital", name="capital_schema", node=CapitalConfig)
    cs.store(group="xva", name="xva_schema", node=XvaConfig)
    cs.store(group="report", name="report_schema", node=ReportConfig)
    cs.store(group="cluster", name="cluster_schema", node=ClusterConfig)
    cs.store(group="risk", name="risk_schema", node=RiskConfig)
