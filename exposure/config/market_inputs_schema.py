"""Schema of ``market.curve_inputs``: curves bootstrapped from instrument quotes (``exposure.market.curve_inputs``).

    curve_inputs:
      conventions:   {<index name>: {currency, tenor, fixing_days, calendar, convention, end_of_month, day_count}}
                     (overrides / additions to the per-index defaults of exposure.market.conventions)
      curves:
        <CCY or index name>:  {currency, index, discount, collateral, instruments: [{type, tenor, quote, ...}]}

A key that is a currency code is that currency's discount curve; any other key is the forwarding curve of the
index of that name. Quotes are decimals (rates and basis spreads: 0.0012 = 12 bp).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from omegaconf import MISSING


@dataclass
class InstrumentConfig:
    type: str = MISSING  # deposit | fra | future | ois | swap | tenor_basis | xccy_basis
    tenor: Optional[str] = None  # length, required (FRA: the accrual length, 3M of a 3x6; future: default the index tenor)
    quote: float = MISSING  # rate or spread, decimal
    start: Optional[str] = None  # FRA: forward start from spot (3M of a 3x6); future: contract month YYYY-MM or IMM date
    convexity: Optional[float] = None  # future: futures rate - forward rate (decimal), default 0
    index: Optional[str] = None  # default: the curve's index
    other_index: Optional[str] = None  # basis swaps: the other leg's index
    spread_leg: str = "this"  # basis swaps: the spread is on 'this' curve's leg or the 'other'
    fixed_tenor: Optional[str] = None
    fixed_day_count: Optional[str] = None
    settlement_days: Optional[int] = None
    payment_lag: Optional[int] = None
    calendar: Optional[str] = None
    convention: Optional[str] = None
    end_of_month: Optional[bool] = None


@dataclass
class IndexConventionConfig:
    currency: Optional[str] = None
    tenor: Optional[str] = None
    fixing_days: Optional[int] = None
    calendar: Optional[str] = None
    convention: Optional[str] = None
    end_of_month: Optional[bool] = None
    day_count: Optional[str] = None


@dataclass
class InputCurveConfig:
    currency: Optional[str] = None  # default: the key (a currency) or the index's currency
    index: Optional[str] = None  # the curve's own index (an OIS discount curve: its overnight index)
    discount: Optional[str] = None  # discounting curve; default: itself (currency key) or the currency's curve
    collateral: Optional[str] = None  # xccy_basis: the collateral currency (its curve discounts the other leg)
    instruments: List[InstrumentConfig] = field(default_factory=list)


@dataclass
class MarketInputsConfig:
    ore_market: Optional[str] = None  # an ORE market.txt: its quotes of market.asof fill what the config leaves out
    ore_conventions: Optional[str] = None  # ORE conventions.xml: Swap/OIS/index conventions of ore_market's curves
    ore_curveconfig: Optional[str] = None  # ORE curveconfig.xml: which convention each quote uses
    conventions: Dict[str, IndexConventionConfig] = field(default_factory=dict)
    curves: Dict[str, InputCurveConfig] = field(default_factory=dict)
