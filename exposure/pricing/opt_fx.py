"""European FX options: Garman-Kohlhagen on the path's FX spot, zero bonds and the FX vol curve.

For a call (w = +1) / put (w = -1) on ``notional`` units of the foreign currency f against the domestic d,
strike K (units of d per unit of f), expiry T, valued at t_k <= T on a path:

    S = X_f / X_d                          (X_c = base per unit of c, from the view; X_base = 1)
    F = S P_f(t,T) / P_d(t,T)              (P_c from the path's Hull-White state of currency c)
    V_d = N P_d(t,T) Black(F, K, v, w),    v = remaining Black variance over [t_k, T]
    V_base = X_d V_d = N w [ X_f P_f N(w d1) - K X_d P_d N(w d2) ],
    d1 = ln(X_f P_f / (K X_d P_d)) / sqrt(v) + sqrt(v) / 2

v = w_f(T) - w_f(t) of the market's FX vol curve when d is the base currency (w_d when f is); for a cross
of two non-base currencies v = int_t^T (s_f^2 + s_d^2 - 2 rho s_f s_d) du with the curves' instantaneous
vols and the model correlation rho(FX:f, FX:d). The option is cash settled at expiry: it is worth 0 from
t_k = T on (a payment on a valuation date is not in that date's value, as for linear trades; an option
expiring on the as-of date is worth 0 at t0). Short positions carry the opposite sign.

Model consistency. The market's variance stands for the forward's variance, as when ORE prices on a
simulated market. Under the cross-asset model the forward F(t,T) also carries both currencies' rate vols
and their correlations with FX, so with stochastic rates E[V(t)/N(t)] = X_d(0) P_d(0,T) Black(F0, K,
Var_model[ln F(t,T)] + v(t,T)) rather than V(0) (the tests check this identity; it is V(0) with
deterministic rates). Calibrating the model's FX vols to the options (as ORE does) and pricing with the
model's conditional variance would make path values and t0 prices agree exactly.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.opt_common import (
    TIME_EPS,
    black_log,
    cast_floats,
    map_dates,
    variance_between_np,
)
from exposure.pricing.view import TradeBatch


def _piecewise_vol(curve):
    breaks, vals = curve.local_vol_piecewise()
    return np.asarray(breaks, dtype=np.float64), np.asarray(vals, dtype=np.float64)


def _vol_at(breaks, vals, u):
    """sigma_inst(u) = vals[k] on (breaks[k-1], breaks[k]] (breaks[-1] := 0), vals[-1] after the last break."""
    return vals[np.searchsorted(breaks, u, side="left")]


def covariance_integral(curve_a, curve_b, t, T):
    """int_t^T s_a(u) s_b(u) du for two Black vol curves (piecewise-constant instantaneous vols); broadcasts."""
    ba, va = _piecewise_vol(curve_a)
    bb, vb = _piecewise_vol(curve_b)
    knots = np.unique(np.concatenate([[0.0], ba, bb]))
    mids = 0.5 * (knots[:-1] + knots[1:])
    prod = _vol_at(ba, va, mids) * _vol_at(bb, vb, mids)
    cum = np.concatenate([[0.0], np.cumsum(prod * np.diff(knots))])
    last = va[-1] * vb[-1]

    def integral(u):
        u = np.maximum(np.asarray(u, dtype=np.float64), 0.0)
        return np.where(u > knots[-1], cum[-1] + last * (u - knots[-1]), np.interp(u, knots, cum))

    return integral(np.maximum(T, t)) - integral(t)


def pair_variance(market, model, foreign: str, domestic: str, t, T):
    """Remaining Black variance of ln(X_f / X_d) over [t, T] (0 where t >= T); t, T broadcast."""
    base = model.currencies[0]
    t = np.asarray(t, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    Te = np.maximum(T, t)

    def var(ccy):
        return variance_between_np(market.fx_vols[ccy], t, Te)

    if domestic == base:
        return var(foreign)
    if foreign == base:
        return var(domestic)
    names = model.factor_names
    rho = float(model.correlation[names.index(f"FX:{foreign}"), names.index(f"FX:{domestic}")])
    cov = covariance_integral(market.fx_vols[foreign], market.fx_vols[domestic], t, Te)
    return np.maximum(var(foreign) + var(domestic) - 2.0 * rho * cov, 0.0)


class FxOptionBatch(TradeBatch):
    """FX options on one currency pair (foreign, domestic); specs from ``options.parse_fx_option``."""

    def __init__(self, specs, netting_index):
        super().__init__(specs, netting_index)
        self.foreign = specs[0].foreign_currency
        self.domestic = specs[0].domestic_currency

    def prepare(self, ctx):
        specs = self.specs
        t = np.asarray(ctx.times, dtype=np.float64)
        T = np.array([s.expiry_time for s in specs])
        lnAf, Bf = ctx.bond_coefficients(self.foreign, T)
        lnAd, Bd = ctx.bond_coefficients(self.domestic, T)
        alive = t[:, None] < T[None, :] - TIME_EPS
        var = pair_variance(ctx.market, ctx.model, self.foreign, self.domestic, t[:, None], T[None, :])
        sd = np.sqrt(np.where(alive, np.maximum(var, 0.0), 0.0))
        sign = np.array([1.0 if s.long else -1.0 for s in specs])
        notional = np.array([s.notional for s in specs])
        lnK = np.log([s.strike for s in specs])
        w = np.array([1.0 if s.call else -1.0 for s in specs])
        return {
            "lnAf": jnp.asarray(lnAf), "Bf": jnp.asarray(Bf),
            "lnAd": jnp.asarray(lnAd + lnK[None, :]), "Bd": jnp.asarray(Bd),
            "sd": jnp.asarray(sd),
            "wgt": jnp.asarray(alive * (sign * notional)[None, :]),
            "w": jnp.asarray(w),
        }

    def values(self, pre, view):
        return _fx_values(pre, view.x, view.fx, fi=view.ccy_index(self.foreign), di=view.ccy_index(self.domestic))


@partial(jax.jit, static_argnames=("fi", "di"))
def _fx_values(pre, x, fx, fi: int, di: int):
    """(K, n, P) base-currency values."""
    pre = cast_floats(pre, x.dtype)
    per_date = {k: pre[k] for k in ("lnAf", "Bf", "lnAd", "Bd", "sd", "wgt")}
    per_date.update(xf=x[fi], xd=x[di], yf=jnp.log(fx[fi]), yd=jnp.log(fx[di]))
    w = pre["w"][:, None]

    def one_date(c):
        ln_f = c["yf"][None, :] + c["lnAf"][:, None] - c["Bf"][:, None] * c["xf"][None, :]
        ln_k = c["yd"][None, :] + c["lnAd"][:, None] - c["Bd"][:, None] * c["xd"][None, :]
        return c["wgt"][:, None] * black_log(ln_f, ln_k, c["sd"][:, None], w)

    return map_dates(one_date, per_date)
