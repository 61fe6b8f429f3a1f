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
the work follows the number of live coupons; their cost grows with the number of floating legs. For netting
values (``linear_eval._coupon_slots``) the weights of the coupons of one netting set that share an exponent are
summed once per chunk, so each date costs a few products per netting set and distinct exponent. Their
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

from exposure.dates import years as model_years
from exposure._pytree import pytree_dataclass, static_field
from exposure.errors import ExposureError
from exposure.pricing.cashflows import CashFlows, generate, market_key
from exposure.pricing.linear_eval import (COUPON_CHUNK, _evaluate, differentiable_loops,  # noqa: F401 (re-exported)
                                          state_abs_max, static_loops_enabled)
from exposure.pricing.linear_moments import (_current_coupons, _flow_moments, exponent_widths, per_netting_set,
                                             _state_bound, view_days)
from exposure.pricing.linear_specs import FloatLeg
from exposure.pricing.today_linear import linear_today
from exposure.pricing.view import PathView, PricingContext, TradeBatch, netting_sum

SERIES_RANGE = 6.0  # Y: the largest |(B_f - B_mid) x| the series covers
SERIES_TOL = 1e-13


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
    static: ccy_idx / eq_idx / eq_ccy_idx view indices of the batch's currencies, equities, their currency;
        cu_width per batch currency the most distinct coupon exponents of one date (() : the netting values sum
        the coupons one by one)
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
    cu_width: tuple = static_field(default=())


_CASHFLOWS: dict = {}  # (specs, cashflows.market_key) -> CashFlows, oldest first
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
        """The batch's cash-flow tables on ``market``, memoised by value: the trade specs and every market value the
        tables read (``cashflows.market_key``). A run prepares every batch twice (the simulation dates and t0), and
        each warm run of a book parses it and builds its market anew: equal values, the same tables (never
        mutated). A market without a value key (``market_key`` None) is generated each time."""
        mkey = market_key(self.specs, market)
        try:
            key = None if mkey is None else (tuple(self.specs), mkey)
            hit = None if key is None else _CASHFLOWS.get(key)
        except TypeError:  # a spec that cannot be hashed
            key = hit = None
        if hit is not None:
            return hit
        cf = generate(self.specs, market)
        if key is not None:
            while len(_CASHFLOWS) >= _MAX_CASHFLOWS:
                _CASHFLOWS.pop(next(iter(_CASHFLOWS)))
            _CASHFLOWS[key] = cf
        return cf

    def prepare(self, ctx: PricingContext) -> LinearPre:
        cf = self.cashflows(ctx.market)
        days = view_days(ctx)
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
            _, bmid[:, j], inv_s[:, j] = _flow_moments(ctx, cf, j, days, self.order, self.series_range, mom_tr[:, j])
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
            mom_tr=mom_tr, mom_ns=per_netting_set(mom_tr, member), bmid=bmid, inv_scale=inv_s, order_k=order_k,
            xi_lim=xi_lim,
            cc_w=cc["w"], cc_b1=cc["b1"], cc_b2=cc["b2"], cc_j=cc["j"], cc_b=cc["b"], cc_n=cc["n"],
            cc_tr=cc["tr"], cc_ns=cc["ns"], cc_u=cc["u"], cu_b=cc["ub"], cu_j=cc["uj"], cu_b1=cc["ub1"],
            cu_b2=cc["ub2"],
            eq_tr=eq_tr, eq_ns=per_netting_set(eq_tr, member), ccy_idx=ccy_view, eq_idx=eq_idx, eq_ccy_idx=eq_ccy,
            ns_global=tuple(int(u) for u in ns_global), cu_width=exponent_widths(cc, nb),
        )

    def values(self, pre: LinearPre, view: PathView):
        """(K, n_trades, P) trade values in base currency, undiscounted."""
        return self._run(pre, view, per_trade=True)

    today_values = linear_today  # (n,) t0 values on the host from the t0 prepared data (``pricing.today``)

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
                         False, acc=acc, rows=pre.ns_global, cu_width=pre.cu_width)

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
                         pre.eq_ccy_idx, not per_trade, traced, static_loops_enabled(), cu_width=pre.cu_width)


def _round_order(n: int) -> int:
    """Orders used are multiples of 4 (fewer compilations)."""
    return 4 * ((n + 3) // 4)
