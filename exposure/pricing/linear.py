"""The valuation engine of linear trades on paths: cash flows times zero bonds, as moment matrix products.

Value in base currency at t_k of a set of trades (a netting set, or one trade):

    V(t_k) = sum_c X_c(t_k) sum_f a_f P_c(t_k, T_f)                  deterministic flows alive at t_k
           + sum_cpn X_c(t_k) w P_c(s, T1) / P_c(s, T2) P_c(t_k, T2)   current floating coupons
           + sum_eq  X_c(t_k) q S(t_k) exp(-div (T - t_k))             equity forwards

(see ``exposure.pricing.cashflows`` for the tables). With P_c(t_k, T) = A exp(-B x), x = x_c[k, p], the
flow sum is expanded around B_mid(k) = (B_min + B_max) / 2 over the batch's alive flows of currency c:

    sum_f a_f A_f exp(-B_f x) = exp(-B_mid x) sum_{n=0}^{N} m_n(k) xi^n,
    xi = x / s_k,  s_k = Y / h_k,  h_k = (B_max - B_min) / 2,   m_n(k) = sum_f a_f A_f ((B_mid - B_f) s_k)^n / n!

so that |(B_mid - B_f) x| <= Y exactly when |xi| <= 1. With Y = 6 and N = 41 the truncation error
|y|^{N+1}/(N+1)! e^{2|y|} is below 1e-13 and the rounding error eps e^{2|y|} below 2e-11, both relative
to the gross sum sum_f |a_f P_f|; for realistic states (|x| of a few percent, |y| < 1) both are ~1e-15.
Y = 6 means e.g. a short-rate deviation |x| = 0.5 for flows spread over 50 years (mean reversion 3%):
beyond it (|xi| > 1 on some path) ``values``/``netting_values`` raise SeriesRangeError (NaN when traced).

The moments m_n(k) are precomputed per (date, currency, trade) in NumPy (``prepare``; one sparse
product per date), and summed per netting set. On paths each (date, currency) is one Horner evaluation
of the (n_out, N_k + 1) moments at xi, whatever the number of trades; dates are a ``lax.scan``. The order
N_k of date k (a multiple of 4, at most N) is the smallest whose bound holds for |x| up to |E x_c(t_k)| +
BOUND_SD sd(x_c(t_k)) under the model: fixed before any path is drawn, so every path is evaluated with the
same operations whatever chunk it falls in (Horner, not a BLAS product, whose blocking changes the last
bits with the number of paths): results are bitwise independent of the chunk size. A date where some
path of a chunk lies beyond that bound (probability ~1e-15 per path and date) takes the full order N.

Current coupons (fixing date T1 <= t_k < payment T2) are evaluated exactly, one exp per coupon and path
(at most one per floating leg and date), packed per date and taken ``COUPON_CHUNK`` at a time so that
the work follows the number of live coupons; their cost grows with the number of floating legs. Their
fixing is the forward implied by the state at the fixing date if it is a valuation date of the view,
else at the last view date s before it (the t0 state if there is none):

    L = (D(T1)/D(T2) P(s,T1)/P(s,T2) - 1) / tau.

This approximates the realised fixing (and realised overnight compounding), but it is the fixing's
conditional expectation under the payment-date forward measure, so discounted values stay martingales
and E[V(t)/N(t)] is exactly the t0 value of the flows paid after t; it is exact when fixing dates are
grid dates.

Per-trade values: ``values(pre, view)`` (K, n_trades, P); netting-set sums: ``netting_values(pre,
view, n)`` (K, n, P), both in base currency, undiscounted, zero after maturity.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse

from exposure.dates import days as model_days
from exposure.dates import years as model_years
from exposure._pytree import pytree_dataclass, static_field
from exposure.errors import ExposureError
from exposure.pricing.cashflows import CashFlows, generate, log_discount
from exposure.pricing.linear_eval import (COUPON_CHUNK, _evaluate, differentiable_loops,  # noqa: F401 (re-exported)
                                          state_abs_max, static_loops_enabled)
from exposure.pricing.linear_specs import FloatLeg
from exposure.pricing.view import PathView, PricingContext, TradeBatch, netting_sum

SERIES_RANGE = 6.0  # Y: the largest |(B_f - B_mid) x| the series covers
SERIES_TOL = 1e-13
BOUND_SD = 8.0  # the per-date order covers |x| up to |mean| + BOUND_SD standard deviations


def series_order(y: float = SERIES_RANGE, tol: float = SERIES_TOL) -> int:
    """Smallest N with y^{N+1}/(N+1)! e^{2y} <= tol (the truncation error relative to the gross sum)."""
    n = 1
    while y ** (n + 1) / math.factorial(n + 1) * math.exp(2.0 * y) > tol:
        n += 1
    return n


SERIES_ORDER = series_order()  # 41 for Y = 6


class SeriesRangeError(ExposureError, ValueError):
    """A simulated rate state is outside the range the moment expansion covers."""


@pytree_dataclass
class LinearPre:
    """Deterministic arrays of a linear batch for K valuation dates (float64 NumPy at build time).

    mom_tr (K, n_ccy_b, N+1, n_trades), mom_ns (K, n_ccy_b, N+1, n_ns_b): moments m_n per trade /
        per netting set of the batch (local index u, global index ``ns_global[u]``)
    bmid, inv_scale (K, n_ccy_b): B_mid(k) and 1/s_k = h_k / Y per batch currency
    order_k (K,) int32, xi_lim (K, n_ccy_b): the series order of each date and the |xi| it covers
    cc_w, cc_b1, cc_b2, cc_j, cc_b (K, C): the current coupons of each date, packed to the front (cc_n (K,)
        of them, C a multiple of ``COUPON_CHUNK``; padding has w = 0): value w exp(-b1 x_b(s) - b2 x_b(t_k))
        X_b(t_k) with b = cc_b the batch currency and s = cc_j the view date of the fixing state (K: the t0
        state x = 0); sorted by (currency, local netting set, trade). cc_tr / cc_ns (K, C): the segment
        b * n_trades + trade / b * n_ns_b + netting set the value adds to
    eq_tr (K, n_eq_b, n_trades), eq_ns (K, n_eq_b, n_ns_b): q exp(-div (T - t_k)) of alive equity terms
    static: ccy_idx / eq_idx / eq_ccy_idx view indices of the batch's currencies, equities, their currency
    """

    mom_tr: jnp.ndarray
    mom_ns: jnp.ndarray
    bmid: jnp.ndarray
    inv_scale: jnp.ndarray
    order_k: jnp.ndarray
    xi_lim: jnp.ndarray
    cc_w: jnp.ndarray
    cc_b1: jnp.ndarray
    cc_b2: jnp.ndarray
    cc_j: jnp.ndarray
    cc_b: jnp.ndarray
    cc_n: jnp.ndarray
    cc_tr: jnp.ndarray
    cc_ns: jnp.ndarray
    cc_u: jnp.ndarray
    cu_b: jnp.ndarray
    cu_j: jnp.ndarray
    cu_b1: jnp.ndarray
    cu_b2: jnp.ndarray
    eq_tr: jnp.ndarray
    eq_ns: jnp.ndarray
    ccy_idx: tuple = static_field(default=())
    eq_idx: tuple = static_field(default=())
    eq_ccy_idx: tuple = static_field(default=())
    ns_global: tuple = static_field(default=())


def _view_days(ctx: PricingContext) -> np.ndarray:
    if ctx.dates and len(ctx.dates) == len(ctx.times):
        return np.array([(d - ctx.market.asof).days for d in ctx.dates], dtype=np.int64)
    return model_days(ctx.times)


def _taylor_terms(z: np.ndarray, order: int) -> np.ndarray:
    """(len(z), order+1): z^n / n!."""
    steps = np.empty((z.size, order + 1))
    steps[:, 0] = 1.0
    steps[:, 1:] = z[:, None] / np.arange(1, order + 1)[None, :]
    return np.cumprod(steps, axis=1)


def _flow_moments(ctx, cf: CashFlows, j: int, days, order: int, y: float):
    """Per-trade moments (K, N+1, n_tr), B_mid (K,) and 1/s (K,) of the flows of batch currency j."""
    K, n_tr = days.size, cf.n_trades
    mom = np.zeros((K, order + 1, n_tr))
    bmid, inv_s = np.zeros(K), np.zeros(K)
    sel = np.nonzero(cf.f_ccy == j)[0]
    if sel.size == 0:
        return mom, bmid, inv_s
    key = np.stack([cf.f_day[sel], cf.f_dead[sel], cf.f_num[sel], cf.f_den[sel]], axis=1)
    groups, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    W = scipy.sparse.csr_matrix((cf.f_amount[sel], (cf.f_trade[sel], inverse)), shape=(n_tr, groups.shape[0]))
    W.sum_duplicates()
    lnA, B = ctx.bond_coefficients(cf.currencies[j], model_years(groups[:, 0]))
    lag = groups[:, 2] != groups[:, 3]
    if lag.any():  # P(t,T) P(t,Tn) / P(t,Td) = exp(lnA + lnA_n - lnA_d - (B + B_n - B_d) x): one more bond
        lnA_n, B_n = ctx.bond_coefficients(cf.currencies[j], model_years(groups[lag, 2]))
        lnA_d, B_d = ctx.bond_coefficients(cf.currencies[j], model_years(groups[lag, 3]))
        lnA, B = lnA.copy(), B.copy()
        lnA[:, lag] += lnA_n - lnA_d
        B[:, lag] += B_n - B_d
    alive = days[:, None] < groups[None, :, 1]
    for k in range(K):
        a = alive[k]
        if not a.any():
            continue
        Bk = B[k]
        bmax, bmin = Bk[a].max(), Bk[a].min()
        bm, h = 0.5 * (bmax + bmin), 0.5 * (bmax - bmin)
        bmid[k], inv_s[k] = bm, h / y
        z = np.where(a, (bm - Bk) * (y / h if h > 0.0 else 0.0), 0.0)
        D = _taylor_terms(z, order) * np.where(a, np.exp(lnA[k]), 0.0)[:, None]
        mom[k] = (W @ D).T
    return mom, bmid, inv_s


def _current_coupons(ctx, cf: CashFlows, days, ns_local, n_u: int, own_fixings: bool = False):
    """The coupons in their fixed phase at each date, packed (see ``LinearPre``); ``own_fixings``: the
    coupons' fixing dates are the batch's event dates (read the state there when the view has it)."""
    K, n_tr = days.size, cf.n_trades
    active = (cf.c_fix[None, :] <= days[:, None]) & (days[:, None] < cf.c_pay[None, :])
    counts = active.sum(axis=1) if cf.c_fix.size else np.zeros(K, dtype=np.int64)
    C = COUPON_CHUNK * max(1, -(-int(counts.max(initial=0)) // COUPON_CHUNK))
    out = {n: np.zeros((K, C)) for n in ("w", "b1", "b2")}
    out.update({n: np.zeros((K, C), dtype=np.int32) for n in ("j", "b", "tr", "ns")})
    out["n"] = counts.astype(np.int32)
    if cf.c_fix.size == 0:
        return _distinct_exponents(out)
    # The last readable view date <= the fixing date (an event date of another trade is never read: see
    # PricingContext.readable), so these values do not depend on the rest of the portfolio.
    rd = np.arange(K) if ctx.readable is None else np.flatnonzero(ctx.readable)
    pos = np.searchsorted(days[rd], cf.c_fix, side="right") - 1
    jfix = np.where(pos >= 0, rd[np.maximum(pos, 0)], -1)
    if own_fixings:  # the batch's fixing dates are its own event dates: read the state simulated there
        hit = np.searchsorted(days, cf.c_fix, side="right") - 1
        exact = (hit >= 0) & (days[np.maximum(hit, 0)] == cf.c_fix)
        jfix = np.where(exact, hit, jfix)
    T1, T2, Tp = model_years(cf.c_start), model_years(cf.c_end), model_years(cf.c_pay)
    n = cf.c_fix.size
    lnA1, B1, lnA2, B2 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    lnAk, Bk = np.zeros((K, n)), np.zeros((K, n))
    for j, ccy in enumerate(cf.currencies):
        sel = np.nonzero(cf.c_ccy == j)[0]
        if sel.size == 0:
            continue
        a1, b1 = ctx.bond_coefficients(ccy, T1[sel])
        a2, b2 = ctx.bond_coefficients(ccy, T2[sel])
        lnAk[:, sel], Bk[:, sel] = ctx.bond_coefficients(ccy, Tp[sel]) if (cf.c_pay[sel] != cf.c_end[sel]).any() \
            else (a2, b2)
        js = jfix[sel]
        has = js >= 0
        rows, cols = np.maximum(js, 0), np.arange(sel.size)
        lnA1[sel] = np.where(has, a1[rows, cols], 0.0)
        lnA2[sel] = np.where(has, a2[rows, cols], 0.0)
        B1[sel] = np.where(has, b1[rows, cols], 0.0)
        B2[sel] = np.where(has, b2[rows, cols], 0.0)
        if (~has).any():  # no view date on or before the fixing: the t0 state (x = 0)
            curve = ctx.model.curves[ctx.ccy_index(ccy)]
            lnA1[sel[~has]] = log_discount(curve, T1[sel[~has]])
            lnA2[sel[~has]] = log_discount(curve, T2[sel[~has]])
    order = np.lexsort((cf.c_trade, ns_local[cf.c_trade], cf.c_ccy))  # packing order within a date
    for k in range(K):
        cc = order[active[k, order]]
        m = cc.size
        if m == 0:
            continue
        out["w"][k, :m] = cf.c_weight[cc] * np.exp(lnA1[cc] - lnA2[cc] + lnAk[k, cc])
        out["b1"][k, :m] = B1[cc] - B2[cc]
        out["b2"][k, :m] = Bk[k, cc]
        out["j"][k, :m] = np.where(jfix[cc] >= 0, jfix[cc], K)
        out["b"][k, :m] = cf.c_ccy[cc]
        out["tr"][k, :m] = cf.c_ccy[cc] * n_tr + cf.c_trade[cc]
        out["ns"][k, :m] = cf.c_ccy[cc] * n_u + ns_local[cf.c_trade[cc]]
    return _distinct_exponents(out)


def _distinct_exponents(out: dict) -> dict:
    """Coupons of a date with the same (currency, fixing state, b1, b2) have the same exp(-b1 x(s) - b2 x(t_k)):
    bench-1k's swaps have 56x more live coupons than distinct exponents. Adds the per-date table ``ub``, ``uj``,
    ``ub1``, ``ub2`` (K, U) of the distinct ones and ``u`` (K, C), each coupon's row in it (padding: row 0)."""
    K, C = out["w"].shape
    keys = []
    for k in range(K):
        m = int(out["n"][k])
        rows = np.stack([out["b"][k, :m].astype(np.float64), out["j"][k, :m].astype(np.float64), out["b1"][k, :m],
                         out["b2"][k, :m]], axis=1)
        uniq, inv = np.unique(rows, axis=0, return_inverse=True) if m else (np.zeros((0, 4)), np.zeros(0, int))
        keys.append((uniq, inv.reshape(-1)))
    U = max(1, max(u.shape[0] for u, _ in keys))
    out["u"] = np.zeros((K, C), dtype=np.int32)
    out.update({n: np.zeros((K, U), dtype=np.int32) for n in ("ub", "uj")})
    out.update({n: np.zeros((K, U)) for n in ("ub1", "ub2")})
    for k, (uniq, inv) in enumerate(keys):
        m = inv.size
        out["u"][k, :m] = inv
        out["ub"][k, :uniq.shape[0]] = uniq[:, 0].astype(np.int32)
        out["uj"][k, :uniq.shape[0]] = uniq[:, 1].astype(np.int32)
        out["ub1"][k, :uniq.shape[0]], out["ub2"][k, :uniq.shape[0]] = uniq[:, 2], uniq[:, 3]
    return out


_CASHFLOWS: dict = {}  # (id(batch), id(market)) -> (batch, market, CashFlows), oldest first
_MAX_CASHFLOWS = 64


class LinearBatch(TradeBatch):
    """Linear trades of any types and currencies, priced as moment matrix products (module docstring)."""

    def __init__(self, specs, netting_set, series_range: float = SERIES_RANGE, exact_fixings: bool = False):
        super().__init__(specs, netting_set)
        self.exact_fixings = bool(exact_fixings)
        if self.netting_set.size != len(self.specs):
            raise ValueError(f"{self.netting_set.size} netting set indices for {len(self.specs)} trades")
        self.types = tuple(sorted({s.type for s in self.specs}))
        self.type = "/".join(self.types)
        self.series_range = float(series_range)
        self.order = series_order(self.series_range)

    def __repr__(self) -> str:
        ccys = sorted({c for s in self.specs for c in s.currencies})
        return f"LinearBatch({self.type}, {'/'.join(ccys)}, {len(self.ids)} trades)"

    def fixing_dates(self) -> tuple:
        """The fixing dates of the batch's IBOR coupons (overnight coupons compound over their period)."""
        return tuple(sorted({d for s in self.specs for leg in s.legs if isinstance(leg, FloatLeg)
                             and not leg.overnight for d in leg.fixing_dates}))

    def event_dates(self) -> tuple:
        """With ``exact_fixings`` (``simulation.events=fixings``) the IBOR fixing dates: each coupon then fixes
        on the state simulated at its own fixing date; otherwise none (the last reporting date before it)."""
        return self.fixing_dates() if self.exact_fixings else ()

    def with_exact_fixings(self) -> "LinearBatch":
        """The same batch with its IBOR fixing dates as event dates (``event_dates``)."""
        return LinearBatch(self.specs, self.netting_set, self.series_range, exact_fixings=True)

    def cashflows(self, market) -> CashFlows:
        """The batch's cash-flow tables on ``market``; generated once per (batch, market object): a run
        prepares every batch twice (the simulation dates and t0) on the same market, and a warm process
        re-running a book on a cached market reuses them (the tables are a function of both, never mutated)."""
        key = (id(self), id(market))
        hit = _CASHFLOWS.get(key)
        if hit is not None and hit[0] is self and hit[1] is market:
            return hit[2]
        cf = generate(self.specs, market)
        while len(_CASHFLOWS) >= _MAX_CASHFLOWS:
            _CASHFLOWS.pop(next(iter(_CASHFLOWS)))
        _CASHFLOWS[key] = (self, market, cf)  # strong references: the ids cannot be reused while cached
        return cf

    def prepare(self, ctx: PricingContext) -> LinearPre:
        cf = self.cashflows(ctx.market)
        days = _view_days(ctx)
        K, n_tr = days.size, len(self.ids)
        ns_global, ns_local = np.unique(self.netting_set, return_inverse=True)
        ns_local = ns_local.reshape(-1)
        member = np.zeros((n_tr, ns_global.size))
        member[np.arange(n_tr), ns_local] = 1.0
        ccy_view = tuple(ctx.ccy_index(c) for c in cf.currencies)
        nb = len(cf.currencies)
        mom_tr = np.zeros((K, nb, self.order + 1, n_tr))
        bmid, inv_s = np.zeros((K, nb)), np.zeros((K, nb))
        for j in range(nb):
            mom_tr[:, j], bmid[:, j], inv_s[:, j] = _flow_moments(ctx, cf, j, days, self.order, self.series_range)
        xi_lim = np.minimum(_state_bound(ctx, cf.currencies) * inv_s, 1.0)
        order_k = np.array([min(self.order, _round_order(series_order(max(r, 1e-3) * self.series_range)))
                            for r in xi_lim.max(axis=1, initial=0.0)], dtype=np.int32)
        cc = _current_coupons(ctx, cf, days, ns_local, ns_global.size, self.exact_fixings)
        ne = len(cf.equities)
        eq_tr = np.zeros((K, ne, n_tr))
        times = np.asarray(ctx.times, dtype=np.float64)  # model times (days only decide what is alive)
        for r in range(cf.e_trade.size):
            coef = cf.e_qty[r] * np.exp(-cf.e_div[r] * (model_years(cf.e_day[r]) - times))
            eq_tr[:, cf.e_equity[r], cf.e_trade[r]] += np.where(days < cf.e_day[r], coef, 0.0)
        eq_idx = tuple(ctx.model.equity_names.index(e) for e in cf.equities)
        eq_ccy = tuple(ccy_view[int(cf.e_ccy[np.nonzero(cf.e_equity == e)[0][0]])] for e in range(ne))
        return LinearPre(
            mom_tr=mom_tr, mom_ns=_per_netting_set(mom_tr, member), bmid=bmid, inv_scale=inv_s, order_k=order_k,
            xi_lim=xi_lim,
            cc_w=cc["w"], cc_b1=cc["b1"], cc_b2=cc["b2"], cc_j=cc["j"], cc_b=cc["b"], cc_n=cc["n"],
            cc_tr=cc["tr"], cc_ns=cc["ns"], cc_u=cc["u"], cu_b=cc["ub"], cu_j=cc["uj"], cu_b1=cc["ub1"],
            cu_b2=cc["ub2"],
            eq_tr=eq_tr, eq_ns=_per_netting_set(eq_tr, member), ccy_idx=ccy_view, eq_idx=eq_idx, eq_ccy_idx=eq_ccy,
            ns_global=tuple(int(u) for u in ns_global),
        )

    def values(self, pre: LinearPre, view: PathView):
        """(K, n_trades, P) trade values in base currency, undiscounted."""
        return self._run(pre, view, per_trade=True)

    def netting_values(self, pre: LinearPre, view: PathView, n_netting_sets: int):
        """(K, n_netting_sets, P): the batch's values summed per netting set before the path dimension."""
        v = self._run(pre, view, per_trade=False)
        if pre.ns_global == tuple(range(n_netting_sets)):
            return v
        return netting_sum(v, pre.ns_global, n_netting_sets)

    def add_netting_values(self, pre: LinearPre, view: PathView, n_netting_sets: int, acc=None):
        """acc + ``netting_values`` (acc (K, n_netting_sets, P) or None for zeros), the batch's rows added date by
        date into acc inside the scan over dates (in place): no (K, n_out, P) array of the batch's own, no
        zero-filled scan output and no separate pass for the netting sums (the chunk program was memory-bound on
        these). The same additions in the same order as ``acc + netting_values(...)``, except that fused into one
        pass the compiler may round the last product and the addition to acc once (an FMA): equal to about one
        ulp of the sum (bench-1k: <= 2.3e-16 of each netting set's gross value, see benchmarks/RESULTS.md)."""
        K, P = view.x.shape[1], view.x.shape[2]
        if acc is None:
            acc = jnp.zeros((K, n_netting_sets, P), view.x.dtype)
        if not pre.ccy_idx or isinstance(view.x, jax.core.Tracer) and static_loops_enabled():
            return acc + self.netting_values(pre, view, n_netting_sets)
        traced = isinstance(view.x, jax.core.Tracer)
        if not traced:
            self.check_range(pre, state_abs_max(view.x))
        return _evaluate(pre.mom_ns, pre.bmid, pre.inv_scale, pre.order_k, pre.xi_lim, pre.cc_w, pre.cc_b1, pre.cc_b2,
                         pre.cc_j, pre.cc_b, pre.cc_n, (pre.cc_u, pre.cu_b, pre.cu_j, pre.cu_b1, pre.cu_b2), pre.cc_ns,
                         pre.eq_ns, view.x, view.fx, view.eq, pre.ccy_idx, pre.eq_idx, pre.eq_ccy_idx, True, traced,
                         False, acc=acc, rows=pre.ns_global)

    def check_range(self, pre: LinearPre, x_abs_max) -> None:
        """Raise SeriesRangeError if |xi| = |x| h / Y > 1 on some path and date, where the series is not
        accurate. x_abs_max (n_ccy, K): max over paths of |x| (``state_abs_max``), NumPy; one computation
        per chunk serves every batch. (Inside a trace values are poisoned with NaN instead.)"""
        if not pre.ccy_idx:
            return
        r = float(np.max(np.asarray(x_abs_max)[list(pre.ccy_idx)] * np.asarray(pre.inv_scale).T, initial=0.0))
        if not r <= 1.0:
            raise SeriesRangeError(
                f"{self!r}: a simulated rate state is {r:.3g} times beyond the range of the moment expansion "
                f"(|(B_f - B_mid) x| <= {self.series_range:g}); the model's rate paths are implausible (check "
                f"the Hull-White volatilities) or build the batch with a larger series_range")

    def _run(self, pre: LinearPre, view: PathView, per_trade: bool):
        mom, seg, eqc = (pre.mom_tr, pre.cc_tr, pre.eq_tr) if per_trade else (pre.mom_ns, pre.cc_ns, pre.eq_ns)
        if not pre.ccy_idx:  # every trade has paid out
            return jnp.zeros((view.x.shape[1], mom.shape[-1], view.x.shape[2]), view.x.dtype)
        traced = isinstance(view.x, jax.core.Tracer)
        if not traced:
            self.check_range(pre, state_abs_max(view.x))
        return _evaluate(mom, pre.bmid, pre.inv_scale, pre.order_k, pre.xi_lim, pre.cc_w, pre.cc_b1, pre.cc_b2,
                         pre.cc_j, pre.cc_b, pre.cc_n, (pre.cc_u, pre.cu_b, pre.cu_j, pre.cu_b1, pre.cu_b2), seg,
                         eqc, view.x, view.fx, view.eq, pre.ccy_idx, pre.eq_idx,
                         pre.eq_ccy_idx, not per_trade, traced, static_loops_enabled())


def _per_netting_set(a: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(..., n_ns_b) = a (..., n_trades) @ member as one 2-D product (NumPy's stacked matmul of a 4-D array runs
    about 60x slower: 3.4 s against 0.05 s CPU for bench-1k's moments)."""
    return (a.reshape(-1, a.shape[-1]) @ member).reshape(a.shape[:-1] + member.shape[1:])


def _state_bound(ctx: PricingContext, currencies) -> np.ndarray:
    """(K, n_b): |E x_c(t_k)| + BOUND_SD sd(x_c(t_k)) under the model, from x_c(0) = 0.

    sd from the Hull-White state variance; the mean of a non-base x_c is its quanto drift,
    -int_0^t e^{-a (t-u)} rho sigma_c sigma_Xc du, bounded by |rho| max sigma_c max sigma_Xc (1 - e^{-a t}) / a."""
    model = ctx.model
    t = np.asarray(ctx.times, dtype=np.float64)
    out = np.zeros((t.size, len(currencies)))
    names = model.factor_names
    for j, ccy in enumerate(currencies):
        c = model.currencies.index(ccy)
        rm = model.rate_model(c)
        sd = np.sqrt(np.maximum(rm.state_variance(np.zeros_like(t), t), 0.0))
        mean = np.zeros_like(t)
        if c:
            rho = abs(float(model.correlation[names.index(f"IR:{ccy}"), names.index(f"FX:{ccy}")]))
            mean = rm.quanto_drift_bound(t, rho * float(np.max(model.fx_vol[c - 1].values)))
        out[:, j] = mean + BOUND_SD * sd
    return out


def _round_order(n: int) -> int:
    """Orders used are multiples of 4 (fewer compilations)."""
    return 4 * ((n + 3) // 4)


PAD_LIMIT = 2048  # the most (trade, currency) pairs without flows that merged currency groups may carry


def make_batches(specs, netting_index) -> list:
    """Linear trades of every type in as few LinearBatch objects as their currencies allow.

    Each batch traces and compiles its own evaluation in the pricing program (about 0.1 s of tracing and 0.4 s
    of compilation in a fresh process, whatever its size), while a batch's moments are dense over its currencies
    x trades (K, n_ccy_b, N+1, n_trades): a trade without flows in one of them carries zeros there. So trades are
    grouped by currency set (every type together: no zeros), and the groups, smallest first, share one batch
    while its zeros, n_ccy_b n_trades - sum of each trade's own currency count, stay within ``PAD_LIMIT``: a
    small book is one batch, a large one keeps its large single-currency groups apart. Within a batch, trades of
    one ``batch_key`` (type, currencies) sit side by side in file order, keys in order of first appearance; batches
    in the order of their first key (the trade order of the results)."""
    rank: dict = {}
    groups: dict = {}  # currencies -> trade positions
    for i, s in enumerate(specs):
        rank.setdefault(s.batch_key, len(rank))
        groups.setdefault(s.currencies, []).append(i)
    shared, ccys, own, alone = [], set(), 0, []
    for key in sorted(groups, key=lambda c: (len(groups[c]), rank[specs[groups[c][0]].batch_key])):
        g = groups[key]
        union = ccys | set(key)
        n = sum(len(groups[k]) for k in shared) + len(g)
        if len(union) * n - (own + len(key) * len(g)) <= PAD_LIMIT:
            shared.append(key)
            ccys, own = union, own + len(key) * len(g)
        else:
            alone.append([key])
    parts = ([shared] if shared else []) + alone
    out = []
    for keys in parts:
        pos = sorted((i for k in keys for i in groups[k]), key=lambda i: (rank[specs[i].batch_key], i))
        batch = LinearBatch([specs[i] for i in pos], [netting_index[i] for i in pos])
        out.append((rank[specs[pos[0]].batch_key], batch))
    return [b for _, b in sorted(out, key=lambda r: r[0])]


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
