"""European equity options: Black-Scholes on the path's equity spot and the equity currency's zero bonds.

For ``quantity`` calls (w = +1) / puts (w = -1) on equity e (currency c, continuous dividend yield q,
Black vol curve of the market) with strike K in c and expiry T, valued at t_k <= T on a path:

    F = S e^{-q (T-t)} / P_c(t,T),   V_c = Q P_c(t,T) Black(F, K, v, w),   v = w_e(T) - w_e(t_k)
    V_base = X_c V_c = Q w [ X_c S e^{-q(T-t)} N(w d1) - K X_c P_c N(w d2) ]

S is the view's spot (in c), P_c from the path's Hull-White state, X_c the path's FX (1 for the base).
As for FX options (``opt_fx``), v is the model's conditional variance of ln F (equity vol, the rate vol
of c and their correlation) plus the per-expiry constant that makes the t0 value the market's:

    v(t,T) = v_model(t,T) + [w_e(T) - v_model(0,T)]

(0 shift at the pillars when the equity vol is bootstrapped), so E[V(t)/N(t)] = V(0) on the paths. The
option is cash settled at expiry: 0 from t_k = T on (a payment on a valuation date is not in that
date's value, as for linear trades). Short positions are negative.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from exposure.models.forward_variance import equity_log_forward, forward_variance
from exposure.pricing.opt_closed_form import black_log
from exposure.pricing.opt_common import (
    TIME_EPS,
    cast_floats,
    map_dates,
    variance_between_np,
)
from exposure.pricing.view import TradeBatch
from exposure.pricing.today_options import equity_today


class EquityOptionBatch(TradeBatch):
    """Equity options on one underlying; specs from ``options.parse_equity_option``."""

    def __init__(self, specs, netting_index):
        super().__init__(specs, netting_index)
        self.name = specs[0].name
        self.currency = specs[0].currency

    def event_dates(self) -> tuple:
        """The expiry dates (cash settlement from the path's state at expiry)."""
        return tuple(s.expiry for s in self.specs)

    def prepare(self, ctx):
        specs = self.specs
        eq = ctx.market.equities[self.name]
        ccy = self.currency
        t = np.asarray(ctx.times, dtype=np.float64)
        T = np.array([s.expiry_time for s in specs])
        lnA, B = ctx.bond_coefficients(ccy, T)
        alive = t[:, None] < T[None, :] - TIME_EPS
        Te = np.maximum(T[None, :], t[:, None])
        lf = equity_log_forward(ctx.model, ctx.model.equity_names.index(self.name))
        shift = variance_between_np(eq.vol, np.zeros_like(T), T) - forward_variance(ctx.model, lf, 0.0, T)
        var = forward_variance(ctx.model, lf, t[:, None], Te) + shift[None, :]
        sd = np.sqrt(np.where(alive, np.maximum(var, 0.0), 0.0))
        sign = np.array([1.0 if s.long else -1.0 for s in specs])
        qty = np.array([s.quantity for s in specs])
        lnK = np.log([s.strike for s in specs])
        return {
            "div": jnp.asarray(-eq.dividend_yield * (Te - t[:, None])),
            "lnA": jnp.asarray(lnA + lnK[None, :]), "B": jnp.asarray(B),
            "sd": jnp.asarray(sd),
            "wgt": jnp.asarray(alive * (sign * qty)[None, :]),
            "w": jnp.asarray(np.array([1.0 if s.call else -1.0 for s in specs])),
        }

    def values(self, pre, view):
        ci, ei = view.ccy_index(self.currency), view.equity_names.index(self.name)
        return _eq_values(pre, view.x, view.fx, view.eq, ci=ci, ei=ei)

    today_values = equity_today  # (n,) t0 values on the host from the t0 prepared data (``pricing.today``)


@partial(jax.jit, static_argnames=("ci", "ei"))
def _eq_values(pre, x, fx, eq, ci: int, ei: int):
    """(K, n, P) base-currency values."""
    pre = cast_floats(pre, x.dtype)
    per_date = {k: pre[k] for k in ("div", "lnA", "B", "sd", "wgt")}
    per_date.update(x=x[ci], y=jnp.log(fx[ci]), s=jnp.log(eq[ei]))
    w = pre["w"][:, None]

    def one_date(c):
        ln_f = (c["y"] + c["s"])[None, :] + c["div"][:, None]
        ln_k = c["y"][None, :] + c["lnA"][:, None] - c["B"][:, None] * c["x"][None, :]
        return c["wgt"][:, None] * black_log(ln_f, ln_k, c["sd"][:, None], w)

    return map_dates(one_date, per_date)
