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

# Live options evaluated together: temporaries (FX_CHUNK, paths) stay in cache. ``_fx_values`` and ``_fx_add``
# chunk the live cells of all dates and pairs together (bench-1k: 13% of the (date, trade) cells are before expiry).
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
    """FX options on every currency pair in one batch (specs from ``options.parse_fx_option``): a trade's pair is
    data (its columns' currency positions ``fpos``, ``dpos`` into ``ccys``), so the compiled pricer does not grow
    with the number of pairs.

    pairs: the distinct (foreign, domestic) in order of first appearance; pair (n,): each trade's; ccys: the
    currencies they name, in that order. Columns: pair by pair, latest expiry first within a pair (``order``), so
    on every date a pair's live options are a prefix of its columns (``n_alive`` (K, G) per date and pair, ``g0``
    (G,) the pairs' first columns)."""

    def __init__(self, specs, netting_index):
        super().__init__(specs, netting_index)
        keys = [(s.foreign_currency, s.domestic_currency) for s in self.specs]
        self.pairs = tuple(dict.fromkeys(keys))
        self.pair = np.array([self.pairs.index(k) for k in keys], dtype=np.int64)
        self.ccys = tuple(dict.fromkeys(c for p in self.pairs for c in p))
        self.order = np.lexsort((np.array([-s.expiry_time for s in self.specs]), self.pair))  # stable

    def event_dates(self) -> tuple:
        """The expiry dates (cash settlement from the path's state at expiry)."""
        return tuple(s.expiry for s in self.specs)

    def pair_columns(self, g: int) -> np.ndarray:
        """The trades of pair g in column order (latest expiry first)."""
        return self.order[self.pair[self.order] == g]

    def prepare(self, ctx):
        specs, n = self.specs, len(self.specs)
        t = np.asarray(ctx.times, dtype=np.float64)
        T = np.array([s.expiry_time for s in specs])
        alive = t[:, None] < T[None, :] - TIME_EPS
        lnAf, Bf, lnAd, Bd, sd = (np.zeros((t.size, n)) for _ in range(5))
        for g, (f, d) in enumerate(self.pairs):
            i = np.flatnonzero(self.pair == g)
            lnAf[:, i], Bf[:, i] = ctx.bond_coefficients(f, T[i])
            lnAd[:, i], Bd[:, i] = ctx.bond_coefficients(d, T[i])
            lf = fx_log_forward(ctx.model, f, d)
            shift = pair_variance(ctx.market, ctx.model, f, d, 0.0, T[i]) - forward_variance(ctx.model, lf, 0.0, T[i])
            var = forward_variance(ctx.model, lf, t[:, None], T[None, i]) + shift[None, :]
            sd[:, i] = np.sqrt(np.where(alive[:, i], np.maximum(var, 0.0), 0.0))
        sign = np.array([1.0 if s.long else -1.0 for s in specs])
        notional = np.array([s.notional for s in specs])
        lnK = np.log([s.strike for s in specs])
        w = np.array([1.0 if s.call else -1.0 for s in specs])
        # Columns in ``self.order``, padded to a multiple of FX_CHUNK with dead columns (weight 0).
        o = self.order
        pad = lambda a: np.pad(a[..., o], [(0, 0)] * (a.ndim - 1) + [(0, -n % FX_CHUNK)])  # noqa: E731
        return jax.device_put({  # device_put: no program per shape; every leaf in one transfer
            "lnAf": pad(lnAf), "Bf": pad(Bf), "lnAd": pad(lnAd + lnK[None, :]), "Bd": pad(Bd), "sd": pad(sd),
            "wgt": pad(alive * (sign * notional)[None, :]), "w": pad(w), **self.prepare_ints(alive),
        })

    def prepare_ints(self, alive) -> dict:
        """The integer leaves of ``prepare`` from alive (K, n): fpos, dpos (n_pad,) each column's foreign and
        domestic currency in ``ccys`` (padding: 0), n_alive (K, G) the live options per date and pair, g0 (G,)
        each pair's first column."""
        G, n = len(self.pairs), len(self.specs)
        pos = lambda side: np.array([self.ccys.index(self.pairs[g][side]) for g in self.pair], np.int32)  # noqa: E731
        pad = lambda a: np.pad(a[self.order], (0, -n % FX_CHUNK))  # noqa: E731
        n_alive = np.stack([alive[:, self.pair == g].sum(axis=1) for g in range(G)], axis=1).astype(np.int32)
        g0 = np.concatenate([[0], np.cumsum(np.bincount(self.pair, minlength=G))[:-1]]).astype(np.int32)
        return {"fpos": pad(pos(0)), "dpos": pad(pos(1)), "n_alive": n_alive, "g0": g0}

    def _used(self, view) -> tuple:
        return tuple(view.ccy_index(c) for c in self.ccys)

    def _sorted_values(self, pre, view):
        """(K, n_pad, P) values in ``self.order``."""
        return _fx_values(pre, view.x, view.fx, used=self._used(view), static_loops=static_loops_enabled())

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
        return _fx_add(pre, view.x, view.fx, acc, used=self._used(view), ns=ns, n_ns=n_netting_sets)


def _cells(pre, c):
    """(k, j, live) (FX_CHUNK,) of the live cells c FX_CHUNK .. (c + 1) FX_CHUNK - 1, taken date by date, pair by
    pair within a date, in column order within a pair: cell e = sum of n_alive over the (date, pair) before its
    own + its place in its pair's live prefix (past the last live cell: live False, k and j clamped)."""
    n_alive = pre["n_alive"]
    K, G = n_alive.shape
    flat = n_alive.reshape(-1)
    ends = jnp.cumsum(flat)  # (K G,): live cells up to and including (date, pair)
    e = c * FX_CHUNK + jnp.arange(FX_CHUNK, dtype=ends.dtype)
    live = e < ends[-1]
    q = jnp.minimum(jnp.searchsorted(ends, e, side="right"), K * G - 1)
    k, g = q // G, q % G
    j = jnp.where(live, pre["g0"][g] + e - (ends[q] - flat[q]), 0)
    return k, j, live


def _cell_values(pre, xu, yu, k, j):
    """(FX_CHUNK, P) weighted Black values of the cells (k, j); xu, yu (U, K, P): x and ln X of ``ccys``."""
    col = lambda name: pre[name][k, j][:, None]  # noqa: E731
    fp, dp = pre["fpos"][j], pre["dpos"][j]
    ln_f = yu[fp, k] + col("lnAf") - col("Bf") * xu[fp, k]
    ln_k = yu[dp, k] + col("lnAd") - col("Bd") * xu[dp, k]
    return col("wgt") * black_log(ln_f, ln_k, col("sd"), pre["w"][j][:, None])


def _states(x, fx, used: tuple):
    """(U, K, P) x and ln X of the view's currencies ``used``, one static row each (as ``x[c]``, ``log(fx[c])``
    of one currency: XLA then sees ln X_c = ln exp(state) and simplifies it, as it did for one pair per batch)."""
    return jnp.stack([x[c] for c in used]), jnp.stack([jnp.log(fx[c]) for c in used])


def _n_chunks(pre):
    return (jnp.sum(pre["n_alive"]) + FX_CHUNK - 1) // FX_CHUNK


@partial(jax.jit, static_argnames=("used", "static_loops"))
def _fx_values(pre, x, fx, used: tuple, static_loops: bool = False):
    """(K, n_pad, P) base-currency values, columns as in ``pre``: the live cells (``_cells``) FX_CHUNK at a time,
    the dead ones 0. With ``static_loops`` (reverse mode, ``linear.differentiable_loops``) or on one date (the t0
    view, where every option is alive: no loop to compile) every cell is evaluated at once and the dead ones
    masked: the same values."""
    pre = cast_floats(pre, x.dtype)
    xu, yu = _states(x, fx, used)
    K, P, n_pad = x.shape[1], x.shape[2], pre["w"].shape[0]
    if static_loops or K == 1:
        cols = jnp.arange(n_pad)
        g = jnp.searchsorted(pre["g0"], cols, side="right") - 1
        alive = (cols - pre["g0"][g])[None, :] < pre["n_alive"][:, g]  # (K, n_pad)
        k = jnp.broadcast_to(jnp.arange(K)[:, None], (K, n_pad)).reshape(-1)
        j = jnp.broadcast_to(cols[None, :], (K, n_pad)).reshape(-1)
        v = _cell_values(pre, xu, yu, k, j).reshape(K, n_pad, P)
        return jnp.where(alive[:, :, None], v, 0.0)

    def chunk(c, flat):
        k, j, live = _cells(pre, c)
        row = jnp.where(live, k * n_pad + j, K * n_pad)  # past the end: dropped
        return flat.at[row].set(_cell_values(pre, xu, yu, k, j), mode="drop")

    flat = jax.lax.fori_loop(0, _n_chunks(pre), chunk, jnp.zeros((K * n_pad, P), x.dtype))
    return flat.reshape(K, n_pad, P)


@partial(jax.jit, static_argnames=("used", "ns", "n_ns"))
def _fx_add(pre, x, fx, acc, used: tuple, ns: tuple, n_ns: int):
    """acc (K, n_ns, P) + the options' netting values; ``ns`` (n_pad,): the netting set of each column of ``pre``.

    The live cells (``_cells``: date by date, pair by pair) are evaluated FX_CHUNK at a time (a chunk may span
    dates and pairs: no padding columns), each chunk's values (``_fx_values``', bit for bit) scatter-added straight
    into acc's rows k n_ns + ns[j]. A netting set's trades are added date by date, pair by pair (in order of first
    appearance) and in expiry order within a pair: the order of one batch per pair added one after the other. No
    zero-filled (K, n_pad, P) output and no per-date copy of acc's (n_ns, P) tile (the date scan that copied it in
    and out cost 3x the Black values themselves, benchmarks/RESULTS.md)."""
    pre = cast_floats(pre, x.dtype)
    K, P = x.shape[1], x.shape[2]
    xu, yu = _states(x, fx, used)
    ns_col = jnp.asarray(np.asarray(ns, dtype=np.int32))

    def chunk(c, flat):
        k, j, live = _cells(pre, c)
        row = jnp.where(live, k * n_ns + ns_col[j], K * n_ns)  # past the end: dropped
        return flat.at[row].add(_cell_values(pre, xu, yu, k, j), mode="drop")

    flat = jax.lax.fori_loop(0, _n_chunks(pre), chunk, acc.reshape(K * n_ns, P))
    return flat.reshape(K, n_ns, P)
