"""SA-CCR supervisory parameters (Basel CRE52.72, originally BCBS 279 table 2) and trade attributes.

Supervisory factor SF, correlation rho (credit, equity, commodity: between an entity's / type's add-on and
the systematic factor) and supervisory option volatility sigma, by asset class and sub-class:

    IR    0.5%                        sigma 50%
    FX    4.0%                        sigma 15%
    CR    single name AAA 0.38%, AA 0.38%, A 0.42%, BBB 0.54%, BB 1.06%, B 1.6%, CCC 6.0%   rho 50%, sigma 100%
          index IG 0.38%, SG 1.06%                                                          rho 80%, sigma 80%
    EQ    single name 32%  rho 50% sigma 120%; index 20%  rho 80% sigma 75%
    CO    electricity 40% (sigma 150%); oil_gas, metals, agricultural, other 18% (sigma 70%); rho 40%

Basis transactions use SF/2 and volatility transactions 5 SF (CRE52.46-47), each in its own hedging set.
Commodity hedging sets (CRE52.44): energy (electricity, oil_gas), metals, agricultural, other.
IR maturity buckets by end date E (years): (0, 1), [1, 5], (5, inf); bucket correlations 70% (adjacent),
30% (1st-3rd).
"""

from __future__ import annotations

import dataclasses
import math

ASSET_CLASSES = ("IR", "FX", "CR", "EQ", "CO")
CREDIT_RATINGS = {"AAA": 0.0038, "AA": 0.0038, "A": 0.0042, "BBB": 0.0054, "BB": 0.0106, "B": 0.016, "CCC": 0.06}
CREDIT_INDEX = {"IG": 0.0038, "SG": 0.0106}
COMMODITY_SF = {"electricity": 0.40, "oil_gas": 0.18, "metals": 0.18, "agricultural": 0.18, "other": 0.18}
COMMODITY_HEDGING_SET = {"electricity": "energy", "oil_gas": "energy", "metals": "metals",
                         "agricultural": "agricultural", "other": "other"}
RHO = {("CR", False): 0.5, ("CR", True): 0.8, ("EQ", False): 0.5, ("EQ", True): 0.8, "CO": 0.4}
IR_BUCKET_CORR = ((1.0, 0.7, 0.3), (0.7, 1.0, 0.7), (0.3, 0.7, 1.0))
BUSINESS_DAYS_PER_YEAR = 250.0
MIN_MATURITY = 10.0 / BUSINESS_DAYS_PER_YEAR  # CRE52.48: M floored at 10 business days


@dataclasses.dataclass(frozen=True)
class SaccrTrade:
    """One derivative with its SA-CCR attributes (amounts in base currency, times in years from today).

    asset_class: IR | FX | CR | EQ | CO. hedging_set: IR the currency, FX the pair (e.g. EURUSD), CO and
    CR/EQ are derived (blank). risk_factor: CR/EQ the reference entity or index, CO the commodity type
    (e.g. crude oil). sub_class: CR a rating AAA..CCC or IG/SG for an index; EQ single | index; CO
    electricity | oil_gas | metals | agricultural | other. is_index: CR/EQ index. long: long the primary risk
    factor (IR receive floating / pay fixed; CR protection bought; options: bought). start S, end E (IR and CR
    underlying period), maturity M (latest date the contract may be active). option: '' | call | put |
    tranche, with price P, strike K, expiry T (years), shift lambda (None: derived per currency), attachment
    A / detachment D for tranches. delta: an explicit supervisory delta (overrides everything else).
    """

    trade_id: str
    netting_set: str
    asset_class: str
    notional: float
    maturity: float
    mtm: float = 0.0
    long: bool = True
    hedging_set: str = ""
    risk_factor: str = ""
    sub_class: str = ""
    is_index: bool = False
    start: float = 0.0
    end: float | None = None
    option: str = ""
    price: float | None = None
    strike: float | None = None
    expiry: float | None = None
    shift: float | None = None
    attachment: float | None = None
    detachment: float | None = None
    basis: bool = False
    volatility: bool = False
    delta: float | None = None

    def supervisory_factor(self) -> float:
        ac, sub = self.asset_class, self.sub_class
        if ac == "IR":
            sf = 0.005
        elif ac == "FX":
            sf = 0.04
        elif ac == "CR":
            sf = (CREDIT_INDEX if self.is_index else CREDIT_RATINGS)[sub]
        elif ac == "EQ":
            sf = 0.20 if self.is_index else 0.32
        else:
            sf = COMMODITY_SF[sub]
        return sf * (0.5 if self.basis else 1.0) * (5.0 if self.volatility else 1.0)

    def supervisory_vol(self) -> float:
        ac = self.asset_class
        if ac == "IR":
            return 0.5
        if ac == "FX":
            return 0.15
        if ac == "CR":
            return 0.8 if self.is_index else 1.0
        if ac == "EQ":
            return 0.75 if self.is_index else 1.2
        return 1.5 if self.sub_class == "electricity" else 0.7


def supervisory_duration(start: float, end: float) -> float:
    """SD = (exp(-0.05 S) - exp(-0.05 E)) / 0.05, S floored at 0 and E at 10 business days (CRE52.34)."""
    s = max(start, 0.0)
    e = max(end, MIN_MATURITY)
    return (math.exp(-0.05 * s) - math.exp(-0.05 * e)) / 0.05


def ir_bucket(end: float) -> int:
    """Maturity bucket of an IR trade by its end date: 0 (< 1y), 1 (1y to 5y), 2 (> 5y)."""
    return 0 if end < 1.0 else (1 if end <= 5.0 else 2)
