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
keeps central differences of the tables). Nearly every amount is such a product, so the builder reads ln P as a
``LogSum`` whose exp is a ``LogDual`` (value, the (curve, day, s_rq) terms of d ln|a| / d lnP): products and
quotients concatenate terms, only a sum (an overnight coupon's growth - 1) falls back to a general ``Dual``, and
the rows (row, curve, day, a_r s_rq) go to the interpolation rows as one NumPy scatter per curve.
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
        if isinstance(o, (LogDual, LogSum)):
            o = o.dual()
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


class LogDual:
    """v > 0 or < 0 with d ln|v| / d lnP as a tuple ``terms`` of (curve id, day, +-1): a product or quotient of
    exp(sum of log factors) and constants (a projected coupon's D(T1)/D(T2), an FRA's D(T2)/D(T1)), the form that
    nearly every amount takes. Its arithmetic costs a tuple concatenation, not a gradient dict; a sum falls back to
    ``Dual`` (an overnight coupon's growth - 1). The value is the float operations' own, in the same order."""

    __slots__ = ("v", "terms")

    def __init__(self, v: float, terms: tuple):
        self.v, self.terms = v, terms

    def dual(self) -> Dual:
        d: dict = {}
        for c, day, s in self.terms:
            d[(c, day)] = d.get((c, day), 0.0) + s * self.v
        return Dual(self.v, d)

    def __mul__(self, o):
        if isinstance(o, LogDual):
            return LogDual(self.v * o.v, self.terms + o.terms)
        if isinstance(o, Dual):
            return self.dual() * o
        return LogDual(self.v * o, self.terms)

    def __rmul__(self, o):
        if isinstance(o, Dual):
            return o * self.dual()
        return LogDual(o * self.v, self.terms)

    def __truediv__(self, o):
        if isinstance(o, LogDual):
            return LogDual(self.v / o.v, self.terms + tuple([(c, day, -s) for c, day, s in o.terms]))
        if isinstance(o, Dual):
            return self.dual() / o
        return LogDual(self.v / o, self.terms)

    def __rtruediv__(self, o):
        return o / self.dual()

    def __neg__(self):
        return LogDual(-self.v, self.terms)

    def __add__(self, o):
        return self.dual() + o

    def __radd__(self, o):
        return o + self.dual()

    def __sub__(self, o):
        return self.dual() - o

    def __rsub__(self, o):
        return o - self.dual()

    def __float__(self):
        return float(self.v)

    def __eq__(self, o):
        return self.v == (o.v if isinstance(o, (Dual, LogDual)) else o)

    def __ne__(self, o):
        return not self.__eq__(o)

    __hash__ = None


class LogSum:
    """A sum of log factors sum_q s_q ln P_q (``log_fwd``'s value and differences of them): its exp is a
    ``LogDual``."""

    __slots__ = ("v", "terms")

    def __init__(self, v: float, terms: tuple):
        self.v, self.terms = v, terms

    def __sub__(self, o):
        if isinstance(o, LogSum):
            return LogSum(self.v - o.v, self.terms + tuple([(c, day, -s) for c, day, s in o.terms]))
        return self.dual() - o

    def __add__(self, o):
        if isinstance(o, LogSum):
            return LogSum(self.v + o.v, self.terms + o.terms)
        return self.dual() + o

    def dual(self) -> Dual:
        d: dict = {}
        for c, day, s in self.terms:
            d[(c, day)] = d.get((c, day), 0.0) + s
        return Dual(self.v, d)

    def exp(self):
        return LogDual(float(np.exp(self.v)), self.terms)

    def __float__(self):
        return float(self.v)


def _record(acc: list, r: int, amount) -> None:
    """Append (row, curve, day, coefficient) of every term of d amount / d lnP to ``acc`` (terms may repeat)."""
    if isinstance(amount, LogDual):
        v = amount.v
        acc.extend([(r, c, day, s * v) for c, day, s in amount.terms])
    elif isinstance(amount, Dual):
        acc.extend([(r, c, day, g) for (c, day), g in amount.d.items()])


class _DualBuilder(_Builder):
    """``cashflows._Builder`` with ln P(0, T) read as ``LogSum``s (``Dual``s with ``dual=True``, the reference);
    every appended flow's gradient recorded as (row, curve, day, coefficient) terms, curves by their position in
    ``curves``."""

    def __init__(self, market, dual: bool = False):
        super().__init__(market)
        self.curves: list = []
        self.flow_terms: list = []
        self._dual = dual
        self._curve_of: dict = {}

    def _log_fwd(self, index, ccy, d) -> tuple:
        """(ln P_f(0, T) as the parent reads it, the curve's position, the day)."""
        day = (d - self.asof).days
        tab = self.logdf.get((index if index in self.market.indices else None, ccy))
        v = tab.get(day) if tab is not None else None  # the parent's prefetched value, else its own evaluation
        if v is None:
            v = super().log_fwd(index, ccy, d)
        k = self._curve_of.get((index, ccy))
        if k is None:
            curve = self.market.forward_curve(index if index in self.market.indices else None, ccy)
            ids = [id(c) for c in self.curves]
            if id(curve) not in ids:
                self.curves.append(curve)
            k = self._curve_of[(index, ccy)] = [id(c) for c in self.curves].index(id(curve))
        return v, k, day

    def log_fwd(self, index, ccy, d):
        v, k, day = self._log_fwd(index, ccy, d)
        if self._dual:
            return Dual(v, {(k, day): 1.0})
        return LogSum(v, ((k, day, 1.0),))

    def basis(self, index, ccy, d):
        if self._dual:
            return (self.log_fwd(index, ccy, d) - self.log_fwd(None, ccy, d)).exp()
        vf, kf, day = self._log_fwd(index, ccy, d)  # LogSum's difference and exp written out (the most frequent)
        vd, kd, _ = self._log_fwd(None, ccy, d)
        return LogDual(float(np.exp(vf - vd)), ((kf, day, 1.0), (kd, day, -1.0)))

    def flow(self, i, ccy, pay, amount, dead=None, settle=None, ratio=None):
        n = len(self.flows)
        super().flow(i, ccy, pay, amount, dead, settle, ratio)
        if len(self.flows) > n:
            _record(self.flow_terms, n, amount)

    @staticmethod
    def _growth(log_ratio):
        # an overnight coupon's t0 growth kept as a dual number (the parent floats it)
        return log_ratio.exp() if isinstance(log_ratio, (Dual, LogSum)) else float(np.exp(log_ratio))


def _dense(terms: list, n_rows: int, curves: list) -> list:
    """[(rows, n_pillars) per curve]: sum_q coefficient_q J_curve(day_q) of every row's gradient terms."""
    from exposure.risk.setup_reverse import interpolation_matrix

    out = [np.zeros((n_rows, np.size(c.times))) for c in curves]
    if not terms:
        return out
    a = np.array(terms, np.float64)  # (row, curve, day, coefficient): rows, curves and days exact small integers
    rows, ks, days, coef = a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64), a[:, 3]
    for k, curve in enumerate(curves):
        sel = np.flatnonzero((ks == k) & (coef != 0.0))
        if sel.size:
            udays, at = np.unique(days[sel], return_inverse=True)  # one interpolation row per distinct day
            J = interpolation_matrix(curve, model_years(udays))
            np.add.at(out[k], rows[sel], coef[sel, None] * J[at.reshape(-1)])
    return out


def amount_jacobian(batch, market, cf, dual: bool = False) -> dict | None:
    """{id(curve): (curve, d f_amount / d lnP (F, n), d c_weight / d lnP (C, n))} of every curve the batch's
    amounts read, or None when the dual build does not reproduce the tables ``cf`` exactly. dual=True: every
    number a general ``Dual`` (the reference; the default carries products of exponentials as ``LogDual``s, the
    same values, coefficients within rounding)."""
    b = _DualBuilder(market, dual)
    b.prefetch(batch.specs)
    for i, s in enumerate(batch.specs):
        for leg in s.legs:
            b.add(i, leg)
    amt = np.array([float(r[5]) for r in b.flows], np.float64)
    cw = np.array([float(r[5]) for r in b.coupons], np.float64)
    if not (np.array_equal(amt, cf.f_amount) and np.array_equal(cw, cf.c_weight)):
        return None
    c_terms: list = []
    for r, c in enumerate(b.coupons):
        _record(c_terms, r, c[5])
    dA, dW = _dense(b.flow_terms, len(b.flows), b.curves), _dense(c_terms, len(b.coupons), b.curves)
    return {id(c): (c, a, w) for c, a, w in zip(b.curves, dA, dW)}
