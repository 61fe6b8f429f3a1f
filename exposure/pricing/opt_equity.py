"""European equity options: Black-Scholes on the path's equity spot and the equity currency's zero bonds.

For ``quantity`` calls (w = +1) / puts (w = -1) on equity e (currency c, continuous dividend yield q,
Black vol curve of the market) with strike K in c and expiry T, valued at t_k <= T on a path:

    F = S e^{-q (T-t)} / P_c(t,T),   V_c = Q P_c(t,T) Black(F, K, v, w),   v = w_e(T) - w_e(t_k)
    V_base = X_c V_c = Q w [ X_c S e^{-q(T-t)} N(w d1) - K X_c P_c N(w d2) ]

S is the view's spot (in c), P_c from the path's Hull-White state, X_c the path's FX (1 for the base). All
underlyings are one batch: e and c are per-column data (``EquityOptionBatch``).
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
    """Equity options on every underlying in one batch (specs from ``options.parse_equity_option``): a trade's
    underlying and currency are data (its columns' positions ``epos`` into ``names``, ``cpos`` into ``ccys``), so
    the compiled pricer does not grow with the number of underlyings.

    names: the distinct underlyings in order of first appearance; und (n,): each trade's; ccys: their currencies,
    in that order. Columns: the trades in batch order (``options.equity_option_batches`` groups them by name)."""

    def __init__(self, specs, netting_index):
        super().__init__(specs, netting_index)
        self.names = tuple(dict.fromkeys(s.name for s in self.specs))
        self.und = np.array([self.names.index(s.name) for s in self.specs], dtype=np.int64)
        self.ccys = tuple(dict.fromkeys(s.currency for s in self.specs))

    def event_dates(self) -> tuple:
        """The expiry dates (cash settlement from the path's state at expiry)."""
        return tuple(s.expiry for s in self.specs)

    def name_columns(self, e: int) -> np.ndarray:
        """The trades (columns) on underlying ``names[e]``."""
        return np.flatnonzero(self.und == e)

    def prepare(self, ctx):
        specs, n = self.specs, len(self.specs)
        t = np.asarray(ctx.times, dtype=np.float64)
        T = np.array([s.expiry_time for s in specs])
        alive = t[:, None] < T[None, :] - TIME_EPS
        Te = np.maximum(T[None, :], t[:, None])
        lnA, B, sd, div = (np.zeros((t.size, n)) for _ in range(4))
        for e, name in enumerate(self.names):
            i = self.name_columns(e)
            eq = ctx.market.equities[name]
            lnA[:, i], B[:, i] = ctx.bond_coefficients(eq.currency, T[i])
            lf = equity_log_forward(ctx.model, ctx.model.equity_names.index(name))
            shift = variance_between_np(eq.vol, np.zeros_like(T[i]), T[i]) - forward_variance(ctx.model, lf, 0.0, T[i])
            var = forward_variance(ctx.model, lf, t[:, None], Te[:, i]) + shift[None, :]
            sd[:, i] = np.sqrt(np.where(alive[:, i], np.maximum(var, 0.0), 0.0))
            div[:, i] = -eq.dividend_yield * (Te[:, i] - t[:, None])
        sign = np.array([1.0 if s.long else -1.0 for s in specs])
        qty = np.array([s.quantity for s in specs])
        lnK = np.log([s.strike for s in specs])
        return {
            "div": jnp.asarray(div), "lnA": jnp.asarray(lnA + lnK[None, :]), "B": jnp.asarray(B),
            "sd": jnp.asarray(sd), "wgt": jnp.asarray(alive * (sign * qty)[None, :]),
            "w": jnp.asarray(np.array([1.0 if s.call else -1.0 for s in specs])), **self.prepare_ints(),
        }

    def prepare_ints(self) -> dict:
        """The integer leaves of ``prepare``: cpos, epos (n,) each column's currency in ``ccys`` and underlying in
        ``names``."""
        cpos = np.array([self.ccys.index(s.currency) for s in self.specs], np.int32)
        return {"cpos": jnp.asarray(cpos), "epos": jnp.asarray(self.und.astype(np.int32))}

    def values(self, pre, view):
        used_c = tuple(view.ccy_index(c) for c in self.ccys)
        used_e = tuple(view.equity_names.index(nm) for nm in self.names)
        return _eq_values(pre, view.x, view.fx, view.eq, used_c=used_c, used_e=used_e)

    today_values = equity_today  # (n,) t0 values on the host from the t0 prepared data (``pricing.today``)


@partial(jax.jit, static_argnames=("used_c", "used_e"))
def _eq_values(pre, x, fx, eq, used_c: tuple, used_e: tuple):
    """(K, n, P) base-currency values; used_c, used_e: the view's indices of the batch's ``ccys`` and ``names``
    (one static row each: XLA still sees ln X_c = ln exp(state), as with one underlying per batch)."""
    pre = cast_floats(pre, x.dtype)
    per_date = {k: pre[k] for k in ("div", "lnA", "B", "sd", "wgt")}
    per_date.update(x=jnp.stack([x[c] for c in used_c], axis=1), y=jnp.stack([jnp.log(fx[c]) for c in used_c], axis=1),
                    s=jnp.stack([jnp.log(eq[e]) for e in used_e], axis=1))  # (K, U, P) each
    w, cpos, epos = pre["w"][:, None], pre["cpos"], pre["epos"]

    def one_date(c):
        y, xc = c["y"][cpos], c["x"][cpos]  # (n, P): each column's currency
        ln_f = (y + c["s"][epos]) + c["div"][:, None]
        ln_k = y + c["lnA"][:, None] - c["B"][:, None] * xc
        return c["wgt"][:, None] * black_log(ln_f, ln_k, c["sd"][:, None], w)

    return map_dates(one_date, per_date)
