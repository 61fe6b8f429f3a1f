"""Typed configuration schema of the scorecard (Hydra structured configs, registered by ``scorecard.cli``).

Plain dataclasses and str Enums only: this module does not import Hydra, so the compute code can be used with
any mapping that has these fields (an OmegaConf DictConfig or the dataclasses themselves).
Units: durations are pandas-style strings ("5s", "5min"), prices in quote currency, spreads in bps.
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, List, Optional


class TransformKind(str, Enum):
    linear = "linear"  # lo -> 0, hi -> 10, clipped: toxicity on a common 0-10 scale


class MissingPolicy(str, Enum):
    renormalise = "renormalise"  # weights re-scaled over the metrics present for that counterparty
    error = "error"


class UnmatchedPolicy(str, Enum):
    exclude = "exclude"  # rows with unknown names are dropped from scoring and listed in the report
    error = "error"
    keep = "keep"  # scored under the raw name, flagged as unmatched


class StressSource(str, Enum):
    vol_index = "vol_index"  # e.g. VIX level from the regime table
    realised_vol = "realised_vol"  # realised volatility column of the regime table


@dataclass
class MetricTransform:
    kind: TransformKind = TransformKind.linear
    lo: float = 0.0
    hi: float = 10.0


@dataclass
class BandConfig:
    name: str = "Partner"
    upper: float = 10.0  # scores < upper (and >= previous upper) fall in this band


@dataclass
class ProfileConfig:
    name: str = "default"
    description: str = ""
    weights: Dict[str, float] = field(default_factory=dict)


@dataclass
class SyntheticConfig:
    enabled: bool = False  # generate seeded SYNTHETIC data instead of reading files: only when asked explicitly
    seed: int = 20240601
    n_fills_per_cp: int = 400
    n_rfq: int = 1500


@dataclass
class DataConfig:
    dir: Optional[str] = None  # folder holding the standard file names (executions.csv, rfq.parquet, ...)
    executions: Optional[str] = None
    quotes: Optional[str] = None
    rfq: Optional[str] = None
    book: Optional[str] = None
    headroom: Optional[str] = None
    regime: Optional[str] = None
    instruments: Optional[str] = None
    counterparties: Optional[str] = None
    aliases: Optional[str] = None
    unmatched: UnmatchedPolicy = UnmatchedPolicy.exclude
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ExposureInputConfig:
    # HDF5 written by the exposure engine, or a folder: its newest *.h5 is used; None -> synthetic fixture when
    # the data is synthetic, else no credit metrics
    results: Optional[str] = None
    pfe_quantile: float = 0.95
    pd_horizon_years: float = 1.0


class MarkoutSign(str, Enum):
    against_firm = "against_firm"  # > 0: mid moved against the firm's new position (firm bought, mid fell)
    with_trade = "with_trade"  # > 0: mid kept moving in the direction of the firm's trade (bought, mid rose)


@dataclass
class MarkoutConfig:
    sign: MarkoutSign = MarkoutSign.against_firm
    horizons: List[str] = field(default_factory=lambda: ["1s", "5s", "30s", "60s", "5min"])
    headline: str = "60s"
    reversion_short: str = "5s"
    reversion_long: str = "5min"
    max_staleness: str = "2s"


@dataclass
class SlippageConfig:
    benchmark: str = "regression"  # regression (firm-wide OLS on size, volatility, time of day) | buckets
    size_buckets: int = 3
    vol_buckets: int = 3
    min_bucket_count: int = 10


@dataclass
class StressConfig:
    source: StressSource = StressSource.vol_index
    threshold: float = 25.0
    max_staleness: str = "1D"


@dataclass
class SkippingConfig:
    max_staleness: str = "1s"


@dataclass
class ProtocolConfig:
    response_rate_lo: float = 0.5  # -> sub-score 0
    response_rate_hi: float = 1.0  # -> sub-score 1
    response_ms_lo: float = 2000.0
    response_ms_hi: float = 100.0
    halfspread_bps_lo: float = 5.0
    halfspread_bps_hi: float = 0.5
    fill_rate_lo: float = 0.5
    fill_rate_hi: float = 1.0
    weights: Dict[str, float] = field(
        default_factory=lambda: {"response_rate": 0.2, "response_time": 0.15, "fill_rate": 0.2,
                                 "stress_response_rate": 0.15, "stress_fill_rate": 0.15, "competitiveness": 0.15}
    )


@dataclass
class CreditConfig:
    # each sub-score is linear from lo (-> 10) to hi (-> 1), clipped; pd and rating_pd on a log10 scale;
    # cva/fva/ead/capital as a fraction of the counterparty's PFE limit
    utilisation_lo: float = 0.2
    utilisation_hi: float = 1.0
    log10_pd_lo: float = -4.0
    log10_pd_hi: float = -1.0
    log10_rating_pd_lo: float = -4.0
    log10_rating_pd_hi: float = -1.0
    cva_to_limit_lo: float = 0.0
    cva_to_limit_hi: float = 0.01
    fva_to_limit_lo: float = 0.0
    fva_to_limit_hi: float = 0.01
    ead_to_limit_lo: float = 0.0
    ead_to_limit_hi: float = 1.0
    capital_to_limit_lo: float = 0.0
    capital_to_limit_hi: float = 0.10
    weights: Dict[str, float] = field(
        default_factory=lambda: {"utilisation": 0.2, "pd": 0.25, "rating_pd": 0.1, "cva": 0.15, "fva": 0.1,
                                 "ead": 0.05, "capital": 0.15}
    )
    # external rating -> one-year PD (scorecard.ratings); +/- notches map to their grade; None -> built-in table
    rating_pds: Optional[Dict[str, float]] = None


@dataclass
class CompositeConfig:
    transforms: Dict[str, MetricTransform] = field(default_factory=dict)
    bands: List[BandConfig] = field(default_factory=list)
    missing: MissingPolicy = MissingPolicy.renormalise


@dataclass
class RoutingConfig:
    bps_per_score_point: float = 0.1  # extra all-in cost per point of composite toxicity
    exclude_classes: List[str] = field(default_factory=lambda: ["Restrict"])
    # Folder of stored engine runs (exposure run output.store_cube=true) that a pre-trade request may name for a
    # what-if (POST /v1/pretrade {"whatif": {"run": NAME, "trades": [...]}}); None: what-if requests refused.
    engine_runs_dir: Optional[str] = None


class LimitMode(str, Enum):
    continuous = "continuous"  # multiplier moves with the score (with hysteresis and an adverse-selection jump cut)
    class_step = "class_step"  # multiplier per class (limits.multipliers)


@dataclass
class LimitsConfig:
    mode: LimitMode = LimitMode.continuous
    multipliers: Dict[str, float] = field(
        default_factory=lambda: {"Partner": 1.0, "Monitor": 0.75, "Toxic": 0.5, "Restrict": 0.0}
    )
    full_below: float = 3.0  # score at or below which the full limit applies
    zero_at: float = 9.0  # score at which the limit reaches min_multiplier
    min_multiplier: float = 0.0
    hysteresis: float = 0.10  # a limit only loosens when the target exceeds the previous multiplier by more
    as_jump_bps: float = 0.5  # adverse-selection rise since the previous run that triggers the jump cut ...
    as_jump_z: float = 3.0  # ... when it is also this many standard errors of the change
    as_jump_cut: float = 0.5  # multiplier factor applied on such a jump (until the next run)


@dataclass
class PricingConfig:
    hurdle_rate: float = 0.10  # annual return on capital
    capital_ratio: float = 0.005  # capital per unit notional when the caller does not give one (derivatives)
    score_addon_bps: float = 0.05  # add-on per point of composite toxicity
    toxicity_capital_loading: float = 0.5  # economic capital = capital x (1 + loading x score / 10)


@dataclass
class AlertsConfig:
    window: str = "7D"
    max_move: float = 1.5  # score points within the window


@dataclass
class FeedbackConfig:
    db: Optional[str] = None  # None -> <output.dir>/feedback.sqlite
    override_expiry_days: Optional[float] = 90.0  # an override lapses after this many days (None: never)


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    token: Optional[str] = None  # None -> env var named by token_env
    token_env: str = "SCORECARD_TOKEN"
    log_level: str = "warning"
    access_log: bool = False  # per-request logging costs latency; the router calls at high rates


@dataclass
class OutputConfig:
    dir: str = "outputs/scorecard"


@dataclass
class CIConfig:
    z: float = 1.96
    bootstrap: int = 500  # draws for the score interval and class probabilities
    seed: int = 0
    time_cluster: Optional[str] = "5min"  # fills in one time bucket are one cluster (with the parent order); null: off
    min_n: int = 30  # observations below which a metric is "insufficient": reported, not scored
    min_clusters: int = 10  # independent clusters below which a fill-based metric is "insufficient"
    min_n_per_metric: Dict[str, int] = field(default_factory=dict)  # per-metric override of min_n


@dataclass
class ScorecardConfig:
    data: DataConfig = field(default_factory=DataConfig)
    exposure: ExposureInputConfig = field(default_factory=ExposureInputConfig)
    markouts: MarkoutConfig = field(default_factory=MarkoutConfig)
    slippage: SlippageConfig = field(default_factory=SlippageConfig)
    stress: StressConfig = field(default_factory=StressConfig)
    skipping: SkippingConfig = field(default_factory=SkippingConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    credit: CreditConfig = field(default_factory=CreditConfig)
    composite: CompositeConfig = field(default_factory=CompositeConfig)
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    pricing: PricingConfig = field(default_factory=PricingConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    ci: CIConfig = field(default_factory=CIConfig)
