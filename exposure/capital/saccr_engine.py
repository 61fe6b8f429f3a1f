"""The engine's own trades mapped to SA-CCR attributes (``SaccrTrade``), amounts in base currency.

    Swap            IR, hedging set = currency, d on [start, maturity], long = pays fixed (receives floating);
                    notional = the first fixed-period notional (an amortising swap: its initial notional)
    Fra             IR on [start, end], M = start (settled then), long = receives the index
    CrossCurrencySwap  FX on the pair (long the received currency at maturity; adjusted notional: the
                    non-base leg in base currency, the larger of the two when neither is the base) when the
                    final exchange is on, plus one IR component per fixed leg (paying fixed = long)
    FxForward       FX, as above from the bought and sold amounts
    EquityForward   EQ, d = quantity x spot x FX; is_index when the name is in ``equity_indices``
    FxOption        FX option, P = the forward FX rate, K the strike, T the expiry (call bought: long the
                    foreign currency); sign flipped when the foreign currency is the pair's second
    EquityOption    EQ option, P = S exp(-q T) / P_c(T), K, T
    Swaption        IR option on the forward swap rate P (fixed-leg annuity in its day count, floating leg
                    off the index curve), K the fixed rate; payer = call; S expiry, E maturity; M = E
                    physical, the expiry when cash settled
    CapFloor        one IR option per caplet not yet fixed (S = fixing, E = M = period end, P the index
                    forward), cap = call
FX pairs are named by their two currencies in sorted order (``EURUSD``); "long" is long the first one.
The trade's MtM (the run's t0 NPV) goes to its first component.
"""

from __future__ import annotations

import math

import numpy as np

from exposure.capital.saccr_tables import SaccrTrade
from exposure.market.schedule import year_fraction


def _df(market, ccy: str, t: float, index: str | None = None) -> float:
    curve = market.forward_curve(index, ccy) if index else market.curves[ccy]
    return float(np.exp(curve.log_discount_np(max(t, 0.0))))  # NumPy: eager JAX compiles per call shape


def _pair(c1: str, c2: str) -> tuple:
    a, b = sorted((c1, c2))
    return a, b, a + b


def _fx_notional(market, amounts: dict) -> float:
    """Adjusted FX notional: the non-base leg in base currency, or the larger leg when neither is the base."""
    base = market.base_currency
    legs = {c: abs(a) * market.fx_spot(c) for c, a in amounts.items()}
    non_base = [v for c, v in legs.items() if c != base]
    return non_base[0] if len(non_base) == 1 else max(legs.values())


def _dfs(market, ccy: str, times, index: str | None = None) -> np.ndarray:
    curve = market.forward_curve(index, ccy) if index else market.curves[ccy]
    return np.exp(curve.log_discount_np(np.maximum(np.asarray(times, dtype=np.float64), 0.0)))


def _swap_rate(market, ccy, index, fixed_dates, fixed_dc, float_dates) -> float:
    """Forward swap rate: sum_j P(e_j) (P_f(s_j) / P_f(e_j) - 1) / sum_i tau_i P(t_i) (one vector call per curve)."""
    t = market.time
    tau = np.array([year_fraction(a, b, fixed_dc) for a, b in zip(fixed_dates[:-1], fixed_dates[1:])])
    annuity = float(np.sum(tau * _dfs(market, ccy, [t(d) for d in fixed_dates[1:]])))
    ft = np.array([t(d) for d in float_dates])
    pf = _dfs(market, ccy, ft, index)
    flt = float(np.sum(_dfs(market, ccy, ft[1:]) * (pf[:-1] / pf[1:] - 1.0)))
    return flt / annuity


def map_trade(spec, market, mtm: float = 0.0, equity_indices=()) -> list:
    """SaccrTrade components of one engine trade spec (see the module docstring)."""
    kind, tid, ns = spec.type, spec.id, spec.netting_set or spec.id
    t, fx = market.time, market.fx_spot
    if kind == "Swap":
        return [SaccrTrade(tid, ns, "IR", spec.notional * fx(spec.currency), t(spec.maturity), mtm, long=spec.payer,
                           hedging_set=spec.currency, start=max(t(spec.start), 0.0), end=t(spec.maturity))]
    if kind == "Fra":
        s = t(spec.start)
        return [SaccrTrade(tid, ns, "IR", spec.notional * fx(spec.currency), max(s, 0.0), mtm, long=spec.long,
                           hedging_set=spec.currency, start=max(s, 0.0), end=t(spec.end))]
    if kind == "FxForward":
        a, b, name = _pair(spec.buy_currency, spec.sell_currency)
        d = _fx_notional(market, {spec.buy_currency: spec.buy_amount, spec.sell_currency: spec.sell_amount})
        return [SaccrTrade(tid, ns, "FX", d, t(spec.maturity), mtm, long=spec.buy_currency == a, hedging_set=name)]
    if kind == "CrossCurrencySwap":
        return _xccy(spec, market, mtm)
    if kind == "EquityForward":
        d = spec.quantity * market.equities[spec.name].spot * fx(spec.currency)
        return [SaccrTrade(tid, ns, "EQ", d, t(spec.maturity), mtm, long=spec.long, risk_factor=spec.name,
                           is_index=spec.name in equity_indices)]
    if kind == "FxOption":
        fc, dc, T = spec.foreign_currency, spec.domestic_currency, spec.expiry_time
        a, _, name = _pair(fc, dc)
        fwd = fx(fc) / fx(dc) * _df(market, fc, T) / _df(market, dc, T)
        d = _fx_notional(market, {fc: spec.notional, dc: spec.notional * spec.strike})
        if fc == a:
            opt, price, strike = ("call" if spec.call else "put"), fwd, spec.strike
        else:  # seen from the pair's first currency: a call on X struck at K is a put on 1/X struck at 1/K
            opt, price, strike = ("put" if spec.call else "call"), 1.0 / fwd, 1.0 / spec.strike
        return [SaccrTrade(tid, ns, "FX", d, T, mtm, long=spec.long, hedging_set=name, option=opt, price=price,
                           strike=strike, expiry=T)]
    if kind == "EquityOption":
        eq, T = market.equities[spec.name], spec.expiry_time
        fwd = eq.spot * math.exp(-eq.dividend_yield * T) / _df(market, eq.currency, T)
        return [SaccrTrade(tid, ns, "EQ", spec.quantity * eq.spot * fx(eq.currency), T, mtm, long=spec.long,
                           risk_factor=spec.name, is_index=spec.name in equity_indices,
                           option="call" if spec.call else "put", price=fwd, strike=spec.strike, expiry=T)]
    if kind == "Swaption":
        S, E = t(spec.expiry), t(spec.maturity)
        rate = _swap_rate(market, spec.currency, spec.float_index, spec.fixed_dates, spec.fixed_day_count,
                          spec.float_dates)
        return [SaccrTrade(tid, ns, "IR", spec.notional * fx(spec.currency), E if spec.settlement == "physical" else S,
                           mtm, long=spec.long, hedging_set=spec.currency, start=S, end=E,
                           option="call" if spec.payer else "put", price=rate, strike=spec.fixed_rate, expiry=S)]
    if kind == "CapFloor":
        return _caplets(spec, market, mtm)
    raise ValueError(f"trade '{tid}': no SA-CCR mapping for trade type '{kind}' (give it in the trade table)")


def _xccy(spec, market, mtm):
    from exposure.pricing.linear_specs import Exchange, FixedLeg

    tid, ns, t, fx = spec.id, spec.netting_set or spec.id, market.time, market.fx_spot
    E = t(spec.maturity)
    notionals = {}
    out = []
    for leg in spec.legs:
        if isinstance(leg, Exchange):
            continue
        notionals.setdefault(leg.currency, (leg.notionals[0], leg.sign))
        if isinstance(leg, FixedLeg):
            out.append(SaccrTrade(f"{tid}:IR:{leg.currency}", ns, "IR", leg.notionals[0] * fx(leg.currency), E, 0.0,
                                  long=leg.sign < 0, hedging_set=leg.currency, start=max(t(spec.start), 0.0), end=E))
    if spec.final_exchange:
        a, _, name = _pair(spec.pay_currency, spec.receive_currency)
        d = _fx_notional(market, {c: n for c, (n, _) in notionals.items()})
        out.insert(0, SaccrTrade(f"{tid}:FX", ns, "FX", d, E, 0.0, long=spec.receive_currency == a, hedging_set=name))
    if out:
        first = out[0]
        out[0] = SaccrTrade(**{**first.__dict__, "trade_id": tid, "mtm": mtm})
    return out


def _caplets(spec, market, mtm):
    t, ns = market.time, spec.netting_set or spec.id
    ic = market.indices[spec.index]
    out = []
    for j, (s, e) in enumerate(zip(spec.dates[:-1], spec.dates[1:])):
        if s <= market.asof:  # fixed: a known cash flow, no rate risk left
            continue
        tau = year_fraction(s, e, ic.day_count)
        fwd = (_df(market, spec.currency, t(s), spec.index) / _df(market, spec.currency, t(e), spec.index) - 1.0) / tau
        out.append(SaccrTrade(f"{spec.id}#{j}", ns, "IR", spec.notional * market.fx_spot(spec.currency), t(e),
                              mtm if not out else 0.0, long=spec.long, hedging_set=spec.currency, start=t(s),
                              end=t(e), option="call" if spec.cap else "put", price=fwd, strike=spec.strike,
                              expiry=t(s)))
    return out


def map_portfolio(portfolio, market, npv: dict | None = None, equity_indices=()) -> tuple:
    """SaccrTrade components of every trade of an engine portfolio; npv: trade id -> t0 value."""
    npv = npv or {}
    out = []
    for spec in portfolio.trades:
        out.extend(map_trade(spec, market, float(npv.get(spec.id, 0.0)), equity_indices))
    return tuple(out)
