"""t0 values of linear trades, two independent routes:

    engine:  V_i(0) = the path pricer at t = 0 on the t0 market (``LinearBatch.values`` on ``PathView.today``)
    tables:  V_i(0) = sum_f a_f P_c(0, T_f) X_c(0) + sum_cpn w P(0,T1)/P(0,T2) P(0,Tp) X_c(0)
                      + sum_eq q S(0) exp(-div T) X_c(0)      (no model: the cash-flow tables and t0 curves)

(n_trades,) arrays in base currency.
"""

from __future__ import annotations

import numpy as np

from exposure.dates import years as model_years
from exposure.pricing.linear import LinearBatch
from exposure.pricing.view import PathView, PricingContext


def today_context(market, model, fixings=None) -> PricingContext:
    """The pricing context of the t0 market (one date, t = 0)."""
    return PricingContext(market, model, np.zeros(1), fixings, (market.asof,))


def present_values(batch: LinearBatch, market, model) -> np.ndarray:
    """(n_trades,) t0 values in base currency through the same code as the path values."""
    pre = batch.prepare(today_context(market, model))
    return np.asarray(batch.values(pre, PathView.today(model)))[0, :, 0]


def present_values_local(batch: LinearBatch, market) -> np.ndarray:
    """(n_trades,) t0 values straight from the cash-flow tables and t0 curves (no model): sum a P(0,T) X(0)."""
    cf = batch.cashflows(market)
    out = np.zeros(len(batch.ids))
    for r in range(cf.f_trade.size):
        c = cf.currencies[cf.f_ccy[r]]
        lnp = lambda day, c=c: float(market.curves[c].log_discount(model_years(day)))  # noqa: E731
        lag = lnp(cf.f_num[r]) - lnp(cf.f_den[r]) if cf.f_num[r] != cf.f_den[r] else 0.0
        p = float(np.exp(lnp(cf.f_day[r]) + lag))
        out[cf.f_trade[r]] += cf.f_amount[r] * p * market.fx_spot(c)
    for r in range(cf.c_trade.size):
        if cf.c_fix[r] <= 0:  # fixing today, current at t0: w P(0,T1)/P(0,T2) P(0,Tp)
            c = cf.currencies[cf.c_ccy[r]]
            lnp = lambda day, c=c: float(market.curves[c].log_discount(model_years(day)))  # noqa: E731
            ln = lnp(cf.c_start[r]) - lnp(cf.c_end[r]) + lnp(cf.c_pay[r])
            out[cf.c_trade[r]] += cf.c_weight[r] * float(np.exp(ln)) * market.fx_spot(c)
    for r in range(cf.e_trade.size):
        e = cf.equities[cf.e_equity[r]]
        c = cf.currencies[cf.e_ccy[r]]
        spot = market.equities[e].spot
        out[cf.e_trade[r]] += cf.e_qty[r] * spot * np.exp(-cf.e_div[r] * model_years(cf.e_day[r])) * market.fx_spot(c)
    return out
