"""SA-CCR exposure at default per netting set (Basel CRE52; BCBS 279 of March 2014).

    EAD   = alpha (RC + PFE),  alpha = 1.4;  a margined set's EAD is capped at its unmargined EAD
    RC    = max(V - C, 0)                        unmargined
          = max(V - C, TH + MTA - NICA, 0)       margined (V: net MtM, C: net collateral held after haircuts)
    PFE   = multiplier AddOn,  multiplier = min(1, f + (1 - f) exp((V - C) / (2 (1 - f) AddOn))),  f = 5%
    AddOn = sum over asset classes; per trade the effective notional is  delta_i d_i MF_i  with
        d_i  = notional (FX, EQ, CO: in base currency) or notional SD_i (IR, CR),
               SD = (exp(-0.05 S) - exp(-0.05 E)) / 0.05
        MF_i = sqrt(min(M, 1y) / 1y) unmargined (M floored at 10 business days), 1.5 sqrt(MPoR / 1y) margined
        delta_i = +-1 linear; options +-Phi(+-d1), d1 = (ln((P + lambda)/(K + lambda)) + sigma^2 T / 2) / (sigma sqrt T)
                  (lambda: the shift for negative rates, CRE52.41); tranches +-15 / ((1 + 14 A)(1 + 14 D))
    IR:  per currency (hedging set) buckets D_1..D_3 by end date, EffNot = sqrt(D1^2 + D2^2 + D3^2 + 1.4 D1 D2
         + 1.4 D2 D3 + 0.6 D1 D3); AddOn = sum_HS SF EffNot
    FX:  per currency pair AddOn = SF |sum|
    CR, EQ: AddOn_k = SF_k EffNot_k per entity; AddOn = sqrt((sum rho_k AddOn_k)^2 + sum (1 - rho_k^2) AddOn_k^2)
    CO:  per hedging set (energy, metals, agricultural, other) over types k: sqrt((rho sum AddOn_k)^2
         + (1 - rho^2) sum AddOn_k^2), rho = 40%; AddOn = sum over hedging sets
Basis and volatility transactions form their own hedging sets (SF / 2 and 5 SF).
Amounts are in base currency; times in years.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

from exposure.capital.saccr_tables import (BUSINESS_DAYS_PER_YEAR, COMMODITY_HEDGING_SET, IR_BUCKET_CORR, MIN_MATURITY,
                                           RHO, SaccrTrade, ir_bucket, supervisory_duration)

ALPHA = 1.4
MULTIPLIER_FLOOR = 0.05


@dataclasses.dataclass(frozen=True)
class MarginTerms:
    """SA-CCR terms of a netting set, base currency. margined: a variation-margin agreement; threshold TH,
    mta MTA, nica (net independent collateral amount held; negative when posted), collateral C (net
    collateral held now: VM + NICA), mpor_days (business days; e.g. 10 + N - 1 with remargining every N days)."""

    margined: bool = False
    threshold: float = 0.0
    mta: float = 0.0
    nica: float = 0.0
    collateral: float = 0.0
    mpor_days: float = 10.0


@dataclasses.dataclass(frozen=True)
class TradeDetail:
    trade_id: str
    adjusted_notional: float
    delta: float
    maturity_factor: float
    effective_notional: float  # delta d MF (SF not included)


@dataclasses.dataclass(frozen=True)
class SaccrResult:
    """One netting set: V, C, RC, add-on per asset class, multiplier, PFE, EAD (after the cap), the
    unmargined EAD (== EAD for an unmargined set) and the trade details, all of the calculation that gives
    EAD (the unmargined one when the cap binds: ``capped``), so that EAD = alpha (RC + PFE) always."""

    netting_set: str
    V: float
    C: float
    RC: float
    addons: dict
    addon: float
    multiplier: float
    PFE: float
    EAD: float
    EAD_unmargined: float
    margined: bool
    trades: tuple
    capped: bool = False  # a margined set whose EAD is its unmargined EAD


def _phi(x: float) -> float:
    """Standard normal CDF (erfc form: full relative precision in both tails)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def maturity_factor(m: float, margined: bool, mpor_days: float) -> float:
    if margined:
        return 1.5 * math.sqrt(mpor_days / BUSINESS_DAYS_PER_YEAR)
    return math.sqrt(min(max(m, MIN_MATURITY), 1.0))


def option_delta(t: SaccrTrade, shift: float = 0.0) -> float:
    """Supervisory delta of an option (CRE52.40-41) or a CDO tranche (CRE52.42); +-1 otherwise."""
    sign = 1.0 if t.long else -1.0
    if t.delta is not None:
        return float(t.delta)
    if not t.option:
        return sign
    if t.option == "tranche":
        a, d = t.attachment, t.detachment
        return sign * 15.0 / ((1.0 + 14.0 * a) * (1.0 + 14.0 * d))
    p, k, T = t.price + shift, t.strike + shift, max(t.expiry, MIN_MATURITY)
    if p <= 0 or k <= 0:
        raise ValueError(f"trade '{t.trade_id}': P + lambda = {p}, K + lambda = {k} must be > 0 for the delta")
    vol = t.supervisory_vol()
    d1 = (math.log(p / k) + 0.5 * vol * vol * T) / (vol * math.sqrt(T))
    if t.option == "call":
        return sign * _phi(d1)
    return -sign * _phi(-d1)


def rate_shifts(trades) -> dict:
    """lambda per IR currency (CRE52.41): max(-L, 0) + 0.1% with L the lowest P or K of the currency's options
    when any is <= 0; 0 otherwise (the plain lognormal delta)."""
    low: dict = {}
    for t in trades:
        if t.asset_class == "IR" and t.option in ("call", "put") and t.delta is None and t.shift is None:
            low[t.hedging_set] = min(low.get(t.hedging_set, math.inf), t.price, t.strike)
    return {c: (max(-lo, 0.0) + 0.001 if lo <= 0 else 0.0) for c, lo in low.items()}


def _hs_key(t: SaccrTrade) -> tuple:
    base = t.hedging_set if t.asset_class in ("IR", "FX") else (
        COMMODITY_HEDGING_SET[t.sub_class] if t.asset_class == "CO" else "")
    flag = "basis" if t.basis else ("volatility" if t.volatility else "")
    if t.basis and t.asset_class in ("IR", "CO", "CR", "EQ"):
        base = f"{base}|{t.risk_factor if t.asset_class != 'IR' else t.hedging_set}"
    return (t.asset_class, base, flag)


def _entity_aggregate(addons: dict, rhos: dict) -> float:
    s = sum(rhos[k] * a for k, a in addons.items())
    return math.sqrt(s * s + sum((1.0 - rhos[k] ** 2) * a * a for k, a in addons.items()))


def addon_by_class(trades, margined: bool, mpor_days: float, shifts: dict | None = None):
    """(add-on per asset class dict, trade details) for the trades of one netting set."""
    shifts = rate_shifts(trades) if shifts is None else shifts
    details = []
    hs: dict = defaultdict(list)
    for t in trades:
        if t.asset_class in ("IR", "CR"):
            end = t.end if t.end is not None else t.maturity
            d = t.notional * supervisory_duration(t.start, end)
        else:
            d = t.notional
        lam = t.shift if t.shift is not None else (shifts.get(t.hedging_set, 0.0) if t.asset_class == "IR" else 0.0)
        delta = option_delta(t, lam)
        mf = maturity_factor(t.maturity, margined, mpor_days)
        en = delta * d * mf
        details.append(TradeDetail(t.trade_id, d, delta, mf, en))
        hs[_hs_key(t)].append((t, en))

    out = {ac: 0.0 for ac in ("IR", "FX", "CR", "EQ", "CO")}
    for (ac, _, _), members in hs.items():
        sf = members[0][0].supervisory_factor()
        if ac == "IR":
            D = [0.0, 0.0, 0.0]
            for t, en in members:
                D[ir_bucket(t.end if t.end is not None else t.maturity)] += en
            eff = math.sqrt(max(sum(IR_BUCKET_CORR[i][j] * D[i] * D[j] for i in range(3) for j in range(3)), 0.0))
            out[ac] += sf * eff
        elif ac == "FX":
            out[ac] += sf * abs(sum(en for _, en in members))
        else:
            addons: dict = defaultdict(float)
            rhos: dict = {}
            for t, en in members:
                key = t.risk_factor
                addons[key] += t.supervisory_factor() * en
                rhos[key] = RHO["CO"] if ac == "CO" else RHO[(ac, bool(t.is_index))]
            out[ac] += _entity_aggregate(addons, rhos)
    return out, tuple(details)


def multiplier(v_minus_c: float, addon: float, floor: float = MULTIPLIER_FLOOR) -> float:
    """min(1, floor + (1 - floor) exp((V - C) / (2 (1 - floor) AddOn))); 1 when AddOn = 0 and V - C >= 0."""
    if v_minus_c >= 0:
        return 1.0
    if addon <= 0:
        return floor
    return min(1.0, floor + (1.0 - floor) * math.exp(v_minus_c / (2.0 * (1.0 - floor) * addon)))


def _ead(trades, V, terms: MarginTerms, margined: bool, alpha: float, floor: float, shifts):
    C = terms.collateral
    if margined:
        rc = max(V - C, terms.threshold + terms.mta - terms.nica, 0.0)
    else:
        rc = max(V - C, 0.0)
    addons, details = addon_by_class(trades, margined, terms.mpor_days, shifts)
    addon = sum(addons.values())
    m = multiplier(V - C, addon, floor)
    return rc, addons, addon, m, m * addon, alpha * (rc + m * addon), details


def saccr_netting_set(netting_set: str, trades, terms: MarginTerms | None = None, *, V: float | None = None,
                      alpha: float = ALPHA, floor: float = MULTIPLIER_FLOOR) -> SaccrResult:
    """SA-CCR of one netting set. V: net MtM (default: the sum of the trades' mtm)."""
    terms = terms or MarginTerms()
    trades = list(trades)
    V = sum(t.mtm for t in trades) if V is None else float(V)
    shifts = rate_shifts(trades)
    un = _ead(trades, V, terms, False, alpha, floor, shifts)
    mg = _ead(trades, V, terms, True, alpha, floor, shifts) if terms.margined else None
    # the cap (CRE52.2): when the unmargined EAD is lower, its RC, add-on and multiplier are the ones reported
    capped = mg is not None and un[5] < mg[5]
    rc, addons, addon, m, pfe, ead, details = un if mg is None or capped else mg
    return SaccrResult(netting_set, V, terms.collateral, rc, addons, addon, m, pfe, ead, un[5], terms.margined,
                       details, capped)


def saccr(trades, terms: dict | None = None, values: dict | None = None, *, alpha: float = ALPHA,
          floor: float = MULTIPLIER_FLOOR) -> dict:
    """SA-CCR for every netting set of ``trades``: {netting set: SaccrResult}. terms / values: per netting set
    MarginTerms and net MtM (default: unmargined, sum of trade mtm)."""
    groups: dict = defaultdict(list)
    for t in trades:
        groups[t.netting_set].append(t)
    terms, values = terms or {}, values or {}
    return {ns: saccr_netting_set(ns, ts, terms.get(ns), V=values.get(ns), alpha=alpha, floor=floor)
            for ns, ts in groups.items()}
