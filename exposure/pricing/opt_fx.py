"""European FX options: Garman-Kohlhagen on the path's FX spot, zero bonds and the FX vol curve.

For a call (w = +1) / put (w = -1) on ``notional`` units of the foreign currency f against the domestic d,
strike K (units of d per unit of f), expiry T, valued at t_k <= T on a path:

    S = X_f / X_d                          (X_c = base per unit of c, from the view; X_base = 1)
    F = S P_f(t,T) / P_d(t,T)              (P_c from the path's Hull-White state of currency c)
    V_d = N P_d(t,T) Black(F, K, v, w),    v = v(t_k, T) below
    V_base = X_d V_d = N w [ X_f P_f N(w d1) - K X_d P_d N(w d2) ],
    d1 = ln(X_f P_f / (K X_d P_d)) / sqrt(v) + sqrt(v) / 2

v(t,T) is the model's conditional variance of ln F (``models.forward_variance``: FX and both
currencies' rate vols with their correlations) plus a per-expiry constant,

    v(t,T) = v_model(t,T) + [w(T) - v_model(0,T)],

with w(T) the market's total variance of the pair: w_f(T) of the market's FX vol curve when d is the
base currency (w_d when f is); for a cross of two non-base currencies int_0^T (s_f^2 + s_d^2 - 2 rho s_f
s_d) du with the curves' instantaneous vols and the model correlation rho(FX:f, FX:d). The constant makes
the t0 value the market's Garman-Kohlhagen price for every expiry; it is 0 at the vol pillars when the
model's FX vols are bootstrapped (``model.vol_calibration: bootstrap``), so there the path values are
those of the simulated model itself (a negative constant, possible between pillars, is clipped with
v at 0 just before expiry). Either way, since ln F(t,T) is Gaussian with variance v_model(0,T)
- v_model(t,T) over [0, t] under the domestic T-forward measure, E[V(t)/N(t)] = V(0): the discounted
path values are martingales around the t0 price (tested). The option is cash settled at expiry: it is
worth 0 from t_k = T on (a payment on a valuation date is not in that date's value, as for linear
trades; an option expiring on the as-of date is worth 0 at t0). Short positions carry the opposite sign.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from exposure.models.forward_variance import forward_variance, fx_log_forward
from exposure.pricing.linear import static_loops_enabled
from exposure.pricing.opt_closed_form import black_log
from exposure.pricing.opt_common import (
    TIME_EPS,
    cast_floats,
    variance_between_np,
)
from exposure.pricing.view import TradeBatch
from exposure.pricing.today_options import fx_today

# Live options evaluated together: temporaries (FX_CHUNK, paths) stay in cache. ``_fx_values`` spends
# ceil(live / FX_CHUNK) chunks on a date; ``_fx_add`` chunks the live cells of all dates together (bench-1k: 13% of
# the (date, trade) cells are before expiry).
FX_CHUNK = 8


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
    """The market's Black variance of ln(X_f / X_d) over [t, T] (0 where t >= T); t, T broadcast."""
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
        # Latest expiry first: on every date the options still alive are then a prefix of this order.
        self.order = np.argsort([-s.expiry_time for s in self.specs], kind="stable")

    def event_dates(self) -> tuple:
        """The expiry dates (cash settlement from the path's state at expiry)."""
        return tuple(s.expiry for s in self.specs)

    def prepare(self, ctx):
        specs = self.specs
        t = np.asarray(ctx.times, dtype=np.float64)
        T = np.array([s.expiry_time for s in specs])
        lnAf, Bf = ctx.bond_coefficients(self.foreign, T)
        lnAd, Bd = ctx.bond_coefficients(self.domestic, T)
        alive = t[:, None] < T[None, :] - TIME_EPS
        lf = fx_log_forward(ctx.model, self.foreign, self.domestic)
        shift = pair_variance(ctx.market, ctx.model, self.foreign, self.domestic, 0.0, T) - forward_variance(
            ctx.model, lf, 0.0, T)
        var = forward_variance(ctx.model, lf, t[:, None], T[None, :]) + shift[None, :]
        sd = np.sqrt(np.where(alive, np.maximum(var, 0.0), 0.0))
        sign = np.array([1.0 if s.long else -1.0 for s in specs])
        notional = np.array([s.notional for s in specs])
        lnK = np.log([s.strike for s in specs])
        w = np.array([1.0 if s.call else -1.0 for s in specs])
        # Columns in ``self.order`` (alive: a prefix of n_alive[k]), padded to a multiple of FX_CHUNK with
        # dead columns (weight 0).
        o, n = self.order, len(specs)
        pad = lambda a: np.pad(a[..., o], [(0, 0)] * (a.ndim - 1) + [(0, -n % FX_CHUNK)])  # noqa: E731
        return jax.device_put({  # device_put: no program per shape; every leaf in one transfer
            "lnAf": pad(lnAf), "Bf": pad(Bf), "lnAd": pad(lnAd + lnK[None, :]), "Bd": pad(Bd), "sd": pad(sd),
            "wgt": pad(alive * (sign * notional)[None, :]), "w": pad(w),
            "n_alive": alive.sum(axis=1).astype(np.int32),
        })

    def _sorted_values(self, pre, view):
        """(K, n_pad, P) values in ``self.order``."""
        return _fx_values(pre, view.x, view.fx, fi=view.ccy_index(self.foreign), di=view.ccy_index(self.domestic),
                          static_loops=static_loops_enabled())

    def values(self, pre, view):
        # A gather of static columns: inside the chunk program it fuses with the netting sums (TradeBatch).
        inv = np.argsort(self.order)
        return jnp.take(self._sorted_values(pre, view), jnp.asarray(inv, dtype=jnp.int32), axis=1)

    today_values = fx_today  # (n,) t0 values on the host from the t0 prepared data (``pricing.today``)

    def add_netting_values(self, pre, view, n_netting_sets: int, acc=None):
        """acc (K, n_netting_sets, P) or None (zeros) + the batch's netting values, each live chunk's rows added
        into its date's netting rows (``_fx_add``): no per-batch (K, n, P) array."""
        K, P = view.x.shape[1], view.x.shape[2]
        if acc is None:
            acc = jnp.zeros((K, n_netting_sets, P), view.x.dtype)
        if static_loops_enabled():  # reverse mode: the static-loop path of ``values``
            return acc + self.netting_values(pre, view, n_netting_sets)
        cols = self.netting_set[self.order]
        ns = tuple(int(s) for s in np.pad(cols, (0, pre["w"].shape[0] - cols.size)))
        return _fx_add(pre, view.x, view.fx, acc, fi=view.ccy_index(self.foreign), di=view.ccy_index(self.domestic),
                       ns=ns, n_ns=n_netting_sets)


def _chunk_values(c, w, j):
    """(FX_CHUNK, P): the options j FX_CHUNK .. (j + 1) FX_CHUNK - 1 of one date (c: that date's slices)."""
    sl = lambda a: jax.lax.dynamic_slice_in_dim(a, j * FX_CHUNK, FX_CHUNK)[:, None]  # noqa: E731
    ln_f = c["yf"][None, :] + sl(c["lnAf"]) - sl(c["Bf"]) * c["xf"][None, :]
    ln_k = c["yd"][None, :] + sl(c["lnAd"]) - sl(c["Bd"]) * c["xd"][None, :]
    return sl(c["wgt"]) * black_log(ln_f, ln_k, sl(c["sd"]), sl(w))


@partial(jax.jit, static_argnames=("fi", "di", "static_loops"))
def _fx_values(pre, x, fx, fi: int, di: int, static_loops: bool = False):
    """(K, n_pad, P) base-currency values, columns as in ``pre``: a scan over dates, each evaluating only
    the chunks of FX_CHUNK options that hold a live one (dead cells stay 0). With ``static_loops`` (reverse
    mode, ``linear.differentiable_loops``) every chunk is visited and the dead ones masked: the same values."""
    pre = cast_floats(pre, x.dtype)
    per_date = {k: pre[k] for k in ("lnAf", "Bf", "lnAd", "Bd", "sd", "wgt", "n_alive")}
    per_date.update(xf=x[fi], xd=x[di], yf=jnp.log(fx[fi]), yd=jnp.log(fx[di]))
    n_pad, P, CH = pre["w"].shape[0], x.shape[2], FX_CHUNK

    def one_date(_, c):
        def chunk(j, out):
            return jax.lax.dynamic_update_slice_in_dim(out, _chunk_values(c, pre["w"], j), j * CH, axis=0)

        n_chunks = (c["n_alive"] + CH - 1) // CH
        out = jnp.zeros((n_pad, P), x.dtype)
        if static_loops:
            out = jax.lax.fori_loop(0, n_pad // CH, lambda j, o: jnp.where(j < n_chunks, chunk(j, o), o), out)
        else:
            out = jax.lax.fori_loop(0, n_chunks, chunk, out)
        return None, out

    return jax.lax.scan(one_date, None, per_date)[1]


@partial(jax.jit, static_argnames=("fi", "di", "ns", "n_ns"))
def _fx_add(pre, x, fx, acc, fi: int, di: int, ns: tuple, n_ns: int):
    """acc (K, n_ns, P) + the options' netting values; ``ns`` (n_pad,): the netting set of each column of ``pre``.

    The live cells (date k, column j < n_alive[k]) are taken as one flat list, e = sum_{k' < k} n_alive[k'] + j,
    and evaluated FX_CHUNK at a time (a chunk may span dates: no padding columns), each chunk's values (the same as
    ``_fx_values``', bit for bit) scatter-added straight into acc's rows k n_ns + ns[j]. A netting set's trades are
    added date by date in expiry order (the columns' order), not trade order. No zero-filled (K, n_pad, P) output
    and no per-date copy of acc's (n_ns, P) tile (the date scan that copied it in and out cost 3x the Black
    values themselves, benchmarks/RESULTS.md)."""
    pre = cast_floats(pre, x.dtype)
    K, P, CH = x.shape[1], x.shape[2], FX_CHUNK
    xf, xd, yf, yd = x[fi], x[di], jnp.log(fx[fi]), jnp.log(fx[di])
    n_alive = pre["n_alive"]
    ends = jnp.cumsum(n_alive)  # (K,): live cells up to and including date k
    total = ends[-1]
    ns_col = jnp.asarray(np.asarray(ns, dtype=np.int32))

    def chunk(c, flat):
        e = c * CH + jnp.arange(CH, dtype=ends.dtype)
        live = e < total
        k = jnp.minimum(jnp.searchsorted(ends, e, side="right"), K - 1)
        j = jnp.where(live, e - (ends[k] - n_alive[k]), 0)
        col = lambda name: pre[name][k, j][:, None]  # noqa: E731
        ln_f = yf[k] + col("lnAf") - col("Bf") * xf[k]
        ln_k = yd[k] + col("lnAd") - col("Bd") * xd[k]
        v = col("wgt") * black_log(ln_f, ln_k, col("sd"), pre["w"][j][:, None])
        row = jnp.where(live, k * n_ns + ns_col[j], K * n_ns)  # past the end: dropped
        return flat.at[row].add(v, mode="drop")

    flat = jax.lax.fori_loop(0, (total + CH - 1) // CH, chunk, acc.reshape(K * n_ns, P))
    return flat.reshape(K, n_ns, P)
