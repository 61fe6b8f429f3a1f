"""The cash-flow amounts of a linear batch as functions of the curves: their Jacobian against the pillars, once.

The amounts of ``pricing.cashflows`` that read a curve are products of t0 discount factors (module docstring
there): a projected coupon's w = sign N g D(T1)/D(T2), an FRA's -sign N (1 + tau K) D(T2)/D(T1) with
D(T) = P_f(0,T) / P_d(0,T), and an overnight coupon accruing over the as-of date N g growth with
growth = past P_f(0,Te) / P_f(0,T2). So each amount a_r is  a_r = c_r exp(sum_q s_rq ln P_{curve_rq}(0, T_rq))
(+ a constant), and

    d a_r / d lnP_c[pillars] = (a_r - const_r) sum_{q: curve_rq = c} s_rq J_c(T_rq),

J_c(T) the (exactly linear) log-linear interpolation row of curve c at T (``setup_reverse.interpolation_matrix``).
The derivative is carried through the very ``cashflows._Builder`` that builds the tables (forward mode with
dual numbers: value and {(curve, day): d/d ln P(0, day)}), so the rows are the tables' own; the values are
checked bit for bit against the batch's tables (``amount_jacobian`` returns None when they differ: the caller
keeps central differences of the tables).
"""

from __future__ import annotations

import numpy as np

from exposure.dates import years as model_years
from exposure.pricing.cashflows import _Builder


class Dual:
    """A float with its gradient {(curve id, day): coefficient} (the arithmetic the builder applies)."""

    __slots__ = ("v", "d")

    def __init__(self, v: float, d: dict):
        self.v, self.d = v, d

    @staticmethod
    def _parts(o):
        return (o.v, o.d) if isinstance(o, Dual) else (o, {})

    @staticmethod
    def _comb(a: dict, ca: float, b: dict, cb: float) -> dict:
        out = {k: ca * g for k, g in a.items()}
        for k, g in b.items():
            out[k] = out.get(k, 0.0) + cb * g
        return out

    def __add__(self, o):
        v, d = self._parts(o)
        return Dual(self.v + v, self._comb(self.d, 1.0, d, 1.0))

    def __radd__(self, o):
        v, d = self._parts(o)
        return Dual(v + self.v, self._comb(d, 1.0, self.d, 1.0))

    def __sub__(self, o):
        v, d = self._parts(o)
        return Dual(self.v - v, self._comb(self.d, 1.0, d, -1.0))

    def __rsub__(self, o):
        v, d = self._parts(o)
        return Dual(v - self.v, self._comb(d, 1.0, self.d, -1.0))

    def __neg__(self):
        return Dual(-self.v, {k: -g for k, g in self.d.items()})

    def __mul__(self, o):
        v, d = self._parts(o)
        return Dual(self.v * v, self._comb(self.d, v, d, self.v))

    def __rmul__(self, o):
        v, d = self._parts(o)
        return Dual(v * self.v, self._comb(d, self.v, self.d, v))

    def __truediv__(self, o):
        v, d = self._parts(o)
        q = self.v / v
        return Dual(q, self._comb(self.d, 1.0 / v, d, -q / v))

    def __rtruediv__(self, o):
        v, d = self._parts(o)
        q = v / self.v
        return Dual(q, self._comb(d, 1.0 / self.v, self.d, -q / self.v))

    def exp(self):  # np.exp of an object
        e = float(np.exp(self.v))
        return Dual(e, {k: e * g for k, g in self.d.items()})

    def __float__(self):
        return float(self.v)

    def __eq__(self, o):
        return self.v == self._parts(o)[0]

    def __ne__(self, o):
        return self.v != self._parts(o)[0]

    __hash__ = None


class _DualBuilder(_Builder):
    """``cashflows._Builder`` with ln P(0, T) read as dual numbers; every appended flow's gradient recorded."""

    def __init__(self, market):
        super().__init__(market)
        self.curve_objs: dict = {}
        self.flow_grads: list = []

    def log_fwd(self, index, ccy, d):
        v = super().log_fwd(index, ccy, d)
        curve = self.market.forward_curve(index if index in self.market.indices else None, ccy)
        self.curve_objs[id(curve)] = curve
        return Dual(v, {(id(curve), self.day(d)): 1.0})

    def basis(self, index, ccy, d):
        return (self.log_fwd(index, ccy, d) - self.log_fwd(None, ccy, d)).exp()

    def flow(self, i, ccy, pay, amount, dead=None, settle=None, ratio=None):
        n = len(self.flows)
        super().flow(i, ccy, pay, amount, dead, settle, ratio)
        if len(self.flows) > n:
            self.flow_grads.append(amount.d if isinstance(amount, Dual) else {})

    @staticmethod
    def _growth(log_ratio):
        # an overnight coupon's t0 growth kept as a dual number (the parent floats it)
        return log_ratio.exp() if isinstance(log_ratio, Dual) else float(np.exp(log_ratio))


def _dense(grads: list, curve, cid) -> np.ndarray:
    """(rows, n_pillars): sum_q coefficient_q J_curve(day_q) of every row's gradient entries on curve ``cid``."""
    from exposure.risk.setup_reverse import interpolation_matrix

    rows, days, coef = [], [], []
    for r, g in enumerate(grads):
        for (c, day), v in g.items():
            if c == cid and v != 0.0:
                rows.append(r)
                days.append(day)
                coef.append(v)
    n = np.size(curve.times)
    out = np.zeros((len(grads), n))
    if rows:
        J = interpolation_matrix(curve, model_years(np.asarray(days)))
        np.add.at(out, np.asarray(rows), np.asarray(coef)[:, None] * J)
    return out


def amount_jacobian(batch, market, cf) -> dict | None:
    """{id(curve): (curve, d f_amount / d lnP (F, n), d c_weight / d lnP (C, n))} of every curve the batch's
    amounts read, or None when the dual build does not reproduce the tables ``cf`` exactly."""
    b = _DualBuilder(market)
    b.prefetch(batch.specs)
    for i, s in enumerate(batch.specs):
        for leg in s.legs:
            b.add(i, leg)
    amt = np.array([float(r[5]) for r in b.flows], np.float64)
    cw = np.array([float(r[5]) for r in b.coupons], np.float64)
    if not (np.array_equal(amt, cf.f_amount) and np.array_equal(cw, cf.c_weight)):
        return None
    c_grads = [r[5].d if isinstance(r[5], Dual) else {} for r in b.coupons]
    return {cid: (curve, _dense(b.flow_grads, curve, cid), _dense(c_grads, curve, cid))
            for cid, curve in b.curve_objs.items()}
