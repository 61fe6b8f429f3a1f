"""Cash-flow tables of linear trades: every trade as deterministic bond flows, floating coupons and equity terms.

Under Hull-White with a deterministic multiplicative basis D(T) = P_f(0,T) / P_d(0,T) between an index's
forwarding curve f and the discount curve d, a floating coupon on [T1, T2] not yet fixed pays
N tau_leg (L + s) at T2 with L = (D(T1)/D(T2) P_d(T1,T1)/P_d(T1,T2) - 1) / tau_idx, so at t < T1

    V(t) = N g D(T1)/D(T2) P_d(t, T1) - N g P_d(t, T2) + N tau_leg s P_d(t, T2),   g = tau_leg / tau_idx,

exactly, linear in zero bonds (g = 1 when the leg and the index share a day count; an overnight
coupon compounded daily telescopes to the same expression). An FRA settled at T1 with
N tau (L - K) / (1 + tau L) is worth N P_d(t, T1) - N (1 + tau K) D(T2)/D(T1) P_d(t, T2) for t < T1.

So every trade becomes three tables, with days counted from the as-of date (model time = days / 365):

flows      a * X_c(t) * P_c(t, T) * P_c(t, Tn) / P_c(t, Td)   while day(t) < dead (dead <= T; T is ``day``,
           Tn = Td for an ordinary flow, whose ratio is 1). ``dead`` is T for an ordinary flow and the
           fixing date T1 for the D(T1)/D(T2) part of a projected coupon (after it the coupon is
           "current", below). ``settle`` is the payment date of the cash flow the row belongs to (Tp for
           both parts of a coupon), used to tell paid from remaining flows.
coupons    current floating coupons: while Tf <= day(t) < Tp (Tf <= T1 the fixing date: the accrual start, or
           ``fixing_days`` before it) the coupon's D(T1)/D(T2) part is worth w X_c(t) P_c(s, T1) / P_c(s, T2)
           P_c(t, Tp) with w = sign N g D(T1)/D(T2) and s the fixing state's date, Tf or the last reporting
           date before it (see ``exposure.pricing.linear``); its -N g and spread parts stay in ``flows``. Before
           Tf the D(T1)/D(T2) part is the flow w P(t, T1) [P(t, Tp) / P(t, T2)], dead from Tf on.

Payment lag: a coupon accruing over [T1, T2] and paid at Tp > T2 pays the same amount (the par forward
over the accrual period, as QuantLib's and ORE's coupons, no timing adjustment) discounted to Tp: before
its fixing the D(T1)/D(T2) part is w P(t, T1) P(t, Tp) / P(t, T2) (Tn = Tp, Td = T2), the forward read off
the curve of date t and paid at Tp, as ORE values a coupon on a simulated curve; without a lag Tp = T2
and it is the bond w P(t, T1).
equity     q X_c(t) S(t) exp(-div (T - t)) while day(t) < T (the strike is a flow).

Coupons fixed before the as-of date are ordinary flows with their known amount (IBOR: past fixing;
OIS accruing over the as-of date: realised compounding times the t0 forward compounding to T2).
Flows paid on or before the as-of date are dropped (as QuantLib, today's flows are not in the t0 value).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from exposure.dates import years as model_years
from exposure.market.schedule import year_fraction
from exposure.pricing.linear_specs import EquityLeg, Exchange, FixedLeg, FloatLeg, FraLeg


def log_discount(curve, t) -> np.ndarray:
    """ln P(0, t) of a ``DiscountCurve`` in NumPy (``DiscountCurve.log_discount_np``)."""
    return curve.log_discount_np(t)


@dataclasses.dataclass(frozen=True)
class CashFlows:
    """Flat NumPy tables for a list of trades (row order: trade order, then leg order).

    flows: f_trade (F,) int, f_ccy (F,) int into ``currencies``, f_day (F,) bond maturity (days),
    f_dead (F,) alive while day < f_dead, f_settle (F,), f_amount (F,) in the flow's currency, f_num,
    f_den (F,) the days Tn, Td of the bond ratio P(t, Tn) / P(t, Td) (equal: no ratio).
    coupons: c_trade, c_ccy, c_leg (a running index of floating legs), c_fix (fixing day Tf <= T1), c_pay
    (Tp day), c_weight (C,), c_end (T2 day, the accrual end of the fixing's forward), c_start (T1 day).
    equity: e_trade, e_equity (int into ``equities``), e_ccy, e_day, e_qty (signed), e_div (E,).
    """

    asof: dt.date
    n_trades: int
    currencies: tuple
    equities: tuple
    f_trade: np.ndarray
    f_ccy: np.ndarray
    f_day: np.ndarray
    f_dead: np.ndarray
    f_settle: np.ndarray
    f_amount: np.ndarray
    c_trade: np.ndarray
    c_ccy: np.ndarray
    c_leg: np.ndarray
    c_fix: np.ndarray
    c_pay: np.ndarray
    c_weight: np.ndarray
    e_trade: np.ndarray
    e_equity: np.ndarray
    e_ccy: np.ndarray
    e_day: np.ndarray
    e_qty: np.ndarray
    e_div: np.ndarray
    f_num: np.ndarray = None
    f_den: np.ndarray = None
    c_end: np.ndarray = None
    c_start: np.ndarray = None

    def __post_init__(self):
        # tables built without payment lags: no bond ratios, coupons fixing forwards to their payment date
        if self.f_num is None:
            object.__setattr__(self, "f_num", self.f_day.copy())
            object.__setattr__(self, "f_den", self.f_day.copy())
        if self.c_end is None:
            object.__setattr__(self, "c_end", self.c_pay.copy())
        if self.c_start is None:  # no fixing lags: coupons fix on their accrual start
            object.__setattr__(self, "c_start", self.c_fix.copy())


class _Builder:
    def __init__(self, market):
        self.market = market
        self.asof = market.asof
        self.flows: list = []
        self.coupons: list = []
        self.equity: list = []
        self.logdf: dict = {}
        self.n_legs = 0
        self._basis: dict = {}  # (index, ccy, date) -> D(T): coupons share their dates (one's end, the next's start)

    def day(self, d: dt.date) -> int:
        return (d - self.asof).days

    def t(self, d: dt.date) -> float:
        return model_years(self.day(d))

    def prefetch(self, specs) -> None:
        """Evaluate every forward/discount log-factor the legs need in one vectorised call per curve."""
        need: dict = {}
        for s in specs:
            for leg in s.legs:
                if isinstance(leg, FloatLeg):
                    ds = set(leg.accrual_start) | set(leg.accrual_end) | {d for d in leg.past_end if d is not None}
                elif isinstance(leg, FraLeg):
                    ds = {leg.start, leg.end}
                else:
                    continue
                need.setdefault((leg.index, leg.currency), set()).update(ds)
                need.setdefault((None, leg.currency), set()).update(ds)
        for (index, ccy), ds in need.items():
            days = sorted(self.day(d) for d in ds)
            curve = self.market.forward_curve(index, ccy) if index is not None else self.market.curves[ccy]
            vals = log_discount(curve, model_years(days))
            self.logdf[(index, ccy)] = dict(zip(days, vals.tolist()))

    def log_fwd(self, index, ccy, d: dt.date) -> float:
        """ln P_f(0, T) of the index's forwarding curve (the discount curve without an index)."""
        tab = self.logdf.get((index if index in self.market.indices else None, ccy))
        day = self.day(d)
        if tab is None or day not in tab:
            curve = self.market.forward_curve(index, ccy)
            return float(log_discount(curve, self.t(d)))
        return tab[day]

    def basis(self, index, ccy, d: dt.date) -> float:
        """D(T) = P_f(0,T) / P_d(0,T)."""
        key = (index, ccy, d)
        v = self._basis.get(key)
        if v is None:
            v = self._basis[key] = float(np.exp(self.log_fwd(index, ccy, d) - self.log_fwd(None, ccy, d)))
        return v

    def flow(self, i, ccy, pay: dt.date, amount, dead: dt.date | None = None, settle: dt.date | None = None,
             ratio: tuple | None = None):
        """amount P(t, pay) [P(t, ratio[0]) / P(t, ratio[1])] while t < dead."""
        day = self.day
        d_pay = day(pay)
        d_dead = d_pay if dead is None or dead >= pay else day(dead)  # alive while t < min(dead, pay)
        if d_dead > 0 and amount != 0.0:
            d_num, d_den = (d_pay, d_pay) if ratio is None or ratio[0] == ratio[1] else (day(ratio[0]), day(ratio[1]))
            self.flows.append((i, ccy, d_pay, d_dead, d_pay if settle is None else day(settle), float(amount),
                               d_num, d_den))

    def add(self, i: int, leg) -> None:
        if isinstance(leg, FixedLeg):
            for N, a, b, p in zip(leg.notionals, leg.accrual_start, leg.accrual_end, leg.payment):
                self.flow(i, leg.currency, p, leg.sign * N * leg.rate * year_fraction(a, b, leg.day_count))
        elif isinstance(leg, FloatLeg):
            self._float(i, leg)
        elif isinstance(leg, FraLeg):
            if leg.start > self.asof:
                tau = year_fraction(leg.start, leg.end, leg.day_count)
                d1, d2 = self.basis(leg.index, leg.currency, leg.start), self.basis(leg.index, leg.currency, leg.end)
                self.flow(i, leg.currency, leg.start, leg.sign * leg.notional)
                self.flow(i, leg.currency, leg.end, -leg.sign * leg.notional * (1.0 + tau * leg.strike) * d2 / d1,
                          dead=leg.start, settle=leg.start)
        elif isinstance(leg, Exchange):
            self.flow(i, leg.currency, leg.date, leg.amount)
        elif isinstance(leg, EquityLeg):
            if leg.maturity > self.asof:
                div = float(self.market.equities[leg.name].dividend_yield)
                self.equity.append((i, leg.name, leg.currency, self.day(leg.maturity), leg.sign * leg.quantity, div))
                self.flow(i, leg.currency, leg.maturity, -leg.sign * leg.quantity * leg.strike)
        else:  # pragma: no cover - a new leg kind must be handled here
            raise TypeError(f"unknown leg type {type(leg).__name__}")

    @staticmethod
    def _growth(log_ratio):
        """exp(ln F(past_end) - ln F(T2)): the t0 forward compounding of an overnight coupon's rest (a hook: the
        risk stage's dual-number builder keeps its derivative)."""
        return float(np.exp(log_ratio))

    def _float(self, i: int, leg: FloatLeg) -> None:
        ccy = leg.currency
        self.n_legs += 1
        for k, (N, t1, t2, pay, fix) in enumerate(zip(leg.notionals, leg.accrual_start, leg.accrual_end, leg.payment,
                                                      leg.fixing_dates)):
            if pay <= self.asof:
                continue
            tau = year_fraction(t1, t2, leg.day_count)
            g = tau / year_fraction(t1, t2, leg.index_day_count)
            past = leg.past[k]
            if past is not None:
                if leg.overnight:
                    # realised compounding to past_end, then the t0 forward compounding to T2
                    growth = past * self._growth(self.log_fwd(leg.index, ccy, leg.past_end[k])
                                                 - self.log_fwd(leg.index, ccy, t2))
                    amount = N * (g * (growth - 1.0) + tau * leg.spread)
                else:
                    amount = N * tau * (past + leg.spread)
                self.flow(i, ccy, pay, leg.sign * amount)
                continue
            ratio = self.basis(leg.index, ccy, t1) / self.basis(leg.index, ccy, t2)
            w = leg.sign * N * g * ratio
            self.flow(i, ccy, t1, w, dead=fix, settle=pay, ratio=(pay, t2))
            self.flow(i, ccy, pay, -leg.sign * N * g)
            self.flow(i, ccy, pay, leg.sign * N * tau * leg.spread)
            self.coupons.append((i, ccy, self.n_legs - 1, self.day(fix), self.day(pay), w, self.day(t2),
                                 self.day(t1)))


def _curve_value(curve) -> tuple:
    """The values ``log_discount`` reads of a DiscountCurve (pillar times, ln P): part of ``market_key``."""
    from exposure.market.curves import DiscountCurve

    if type(curve) is not DiscountCurve:
        raise TypeError(f"no value key for a {type(curve).__name__}")
    t, y = np.asarray(curve.times, dtype=np.float64), np.asarray(curve.log_dfs, dtype=np.float64)
    return t.shape, t.tobytes(), y.shape, y.tobytes()


def market_key(specs, market) -> tuple | None:
    """Every market value ``generate(specs, market)`` reads, as a hashable tuple: the as-of date, per (index,
    currency) of a floating leg or FRA whether the index is the market's, its forwarding and discount curves'
    pillars, and the dividend yield of each live equity leg; None when some input has no value key (a curve that
    is not a DiscountCurve, traced values). Two markets with equal keys give equal tables."""
    pairs, names = set(), set()
    for s in specs:
        for leg in s.legs:
            if isinstance(leg, (FloatLeg, FraLeg)):
                pairs.add((leg.index, leg.currency))
            elif isinstance(leg, EquityLeg) and leg.maturity > market.asof:
                names.add(leg.name)
    try:
        parts = [market.asof]
        for index, ccy in sorted(pairs, key=repr):
            parts.append((index, ccy, index in market.indices, _curve_value(market.forward_curve(index, ccy)),
                          _curve_value(market.curves[ccy])))
        parts.extend((n, float(market.equities[n].dividend_yield)) for n in sorted(names))
    except Exception:  # noqa: BLE001 - no value key: the caller generates the tables without a memo
        return None
    return tuple(parts)


def generate(specs, market) -> CashFlows:
    """The cash-flow tables of ``specs`` (LinearTrade) on the t0 ``market`` (for the basis and t0 forwards)."""
    b = _Builder(market)
    b.prefetch(specs)
    for i, s in enumerate(specs):
        for leg in s.legs:
            b.add(i, leg)
    ccys = tuple(sorted({r[1] for r in b.flows} | {r[1] for r in b.coupons} | {r[2] for r in b.equity}))
    eqs = tuple(sorted({r[1] for r in b.equity}))
    ci = {c: j for j, c in enumerate(ccys)}
    ei = {e: j for j, e in enumerate(eqs)}

    def columns(rows, width):
        return list(zip(*rows)) if rows else [()] * width

    def col(cols, j, dtype, f=None):
        return np.array(cols[j] if f is None else [f(v) for v in cols[j]], dtype=dtype)

    F, C, E = columns(b.flows, 8), columns(b.coupons, 8), columns(b.equity, 6)
    return CashFlows(
        market.asof, len(specs), ccys, eqs,
        col(F, 0, np.int64), col(F, 1, np.int64, ci.get), col(F, 2, np.int64), col(F, 3, np.int64),
        col(F, 4, np.int64), col(F, 5, np.float64),
        col(C, 0, np.int64), col(C, 1, np.int64, ci.get), col(C, 2, np.int64), col(C, 3, np.int64),
        col(C, 4, np.int64), col(C, 5, np.float64),
        col(E, 0, np.int64), col(E, 1, np.int64, ei.get), col(E, 2, np.int64, ci.get), col(E, 3, np.int64),
        col(E, 4, np.float64), col(E, 5, np.float64),
        col(F, 6, np.int64), col(F, 7, np.int64), col(C, 6, np.int64), col(C, 7, np.int64),
    )
