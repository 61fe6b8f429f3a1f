"""Curve-building instruments: dates from conventions, and the quote each implies on a set of curves.

Every instrument is priced per unit notional from discount factors P_c(d) of named curves ``c`` (``curves.
df(name, dates)``); ``implied(curves)`` is the quote the curves imply, ``pillar`` the last date whose discount
factor of the curve being built the quote depends on (QuantLib's "last relevant date"):

    Deposit / FRA (on index I, curve F):   (P_F(s)/P_F(e) - 1) / tau_I(s, e)
    Future (IMM, price):                   100 (1 - ((P_F(s)/P_F(e) - 1) / tau_I(s, e) + convexity))  ``rate_futures``
    OIS (index O, curve F, discount D):    sum_i (P_F(s_i)/P_F(e_i) - 1) P_D(p_i) / sum_i tau_i P_D(p_i)
    IBOR swap (index I):                   sum_j tau_j L_j P_D(e_j) / sum_i tau_i P_D(e_i)    (fixed annuity)
    tenor basis (base B + spread vs other O, discount D):  (PV_O - PV_B) / sum_j tau_j P_D(e_j) on B's dates
    cross-currency basis (constant notional, unit notionals, exchanges at start and end, leg x in its
        own currency on its own discount curve):  PV_x = sum tau (L + s_x) P_x(p) - P_x(start) + P_x(end);
        quote = the spread on the ``spread_leg`` making PV_this = PV_other.

Floating coupons are QuantLib's par coupons: fixing = advance(accrual start, -fixing days), value = advance
(fixing, +fixing days), forward over [value, advance(advance(accrual end, -fix), +fix)] (that is the accrual
period when the accrual dates are fixing-calendar business days). Dates are ``datetime.date``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import numpy as np

from exposure.market.calendars import get_calendar
from exposure.market.conventions import IndexConvention, SwapConvention
from exposure.market.schedule import make_schedule, year_fraction



def spot_date(asof: dt.date, days: int, calendar) -> dt.date:
    cal = get_calendar(calendar)
    return cal.advance(cal.adjust(asof), f"{days}D")


@dataclasses.dataclass(frozen=True)
class FloatCoupons:
    """Par floating coupons of ``index`` on a schedule: accrual tau (index day count), forward period."""

    index: IndexConvention
    pay: tuple
    tau: np.ndarray
    fwd_start: tuple
    fwd_end: tuple
    fwd_tau: np.ndarray

    @staticmethod
    def build(index: IndexConvention, dates, pay_lag: int = 0, pay_calendar=None) -> "FloatCoupons":
        cal = index.cal
        pc = get_calendar(pay_calendar) if pay_calendar is not None else cal
        s, e = list(dates[:-1]), list(dates[1:])
        if index.overnight:
            fs, fe = s, e  # compounded daily: telescopes to P(s)/P(e) on one curve
        else:
            fs = [index.value_date(index.fixing_date(d)) for d in s]
            fe = [max(index.value_date(index.fixing_date(d)), a + dt.timedelta(days=1)) for d, a in zip(e, fs)]
        pay = tuple(pc.advance(d, f"{pay_lag}D") if pay_lag else d for d in e)
        tau = np.array([year_fraction(a, b, index.day_count) for a, b in zip(s, e)])
        ftau = np.array([year_fraction(a, b, index.day_count) for a, b in zip(fs, fe)])
        return FloatCoupons(index, pay, tau, tuple(fs), tuple(fe), ftau)

    def forwards(self, curves, fwd_curve: str) -> np.ndarray:
        return (curves.df(fwd_curve, self.fwd_start) / curves.df(fwd_curve, self.fwd_end) - 1.0) / self.fwd_tau

    def last_date(self):
        return max(max(self.pay), max(self.fwd_end))


@dataclasses.dataclass(frozen=True)
class Deposit:
    """A deposit (or FRA when ``forward_start`` is given: start = advance(spot, forward_start))."""

    index: IndexConvention
    tenor: str
    quote: float
    asof: dt.date
    forward_start: str | None = None

    @functools.cached_property
    def _dates(self):
        return self._make_dates()

    def dates(self):
        return self._dates

    def _make_dates(self):
        cal, ix = self.index.cal, self.index
        spot = spot_date(self.asof, ix.fixing_days, ix.calendar)
        if self.forward_start is None:
            return spot, cal.advance(spot, self.tenor, ix.convention, ix.end_of_month)
        start = cal.advance(spot, self.forward_start, ix.convention, ix.end_of_month)
        return start, cal.advance(start, self.tenor, ix.convention, ix.end_of_month)

    @functools.cached_property
    def pillar(self):
        return self.dates()[1]

    def implied(self, curves, fwd: str, disc: str) -> float:
        s, e = self.dates()
        ratio = curves.df(fwd, [s])[0] / curves.df(fwd, [e])[0]
        return float((ratio - 1.0) / year_fraction(s, e, self.index.day_count))


@dataclasses.dataclass(frozen=True)
class Swap:
    """Fixed vs floating swap (IBOR or OIS) starting at spot, ``tenor`` long; quote = fair fixed rate."""

    index: IndexConvention
    conv: SwapConvention
    tenor: str
    quote: float
    asof: dt.date

    @functools.cached_property
    def _legs(self):
        ix, c = self.index, self.conv
        days = c.settlement_days if c.settlement_days is not None else (2 if ix.overnight else ix.fixing_days)
        start = spot_date(self.asof, days, ix.calendar)
        end = _add(start, self.tenor)
        fix = make_schedule(start, end, c.fixed_tenor, c.fixed_convention, "backward", ix.cal, c.fixed_convention,
                            c.end_of_month).dates
        flt = fix if ix.overnight else make_schedule(start, end, ix.tenor, ix.convention, "backward", ix.cal,
                                                     ix.convention, c.end_of_month).dates
        coupons = FloatCoupons.build(ix, flt, c.payment_lag if ix.overnight else 0)
        fpay = [ix.cal.advance(d, f"{c.payment_lag}D") if c.payment_lag else d for d in fix[1:]]
        ftau = np.array([year_fraction(a, b, c.fixed_day_count) for a, b in zip(fix[:-1], fix[1:])])
        return fpay, ftau, coupons

    @functools.cached_property
    def pillar(self):
        fpay, _, cp = self._legs
        return max(max(fpay), cp.last_date())

    def implied(self, curves, fwd: str, disc: str) -> float:
        fpay, ftau, cp = self._legs
        annuity = float(np.sum(ftau * curves.df(disc, fpay)))
        flt = float(np.sum(cp.tau * cp.forwards(curves, fwd) * curves.df(disc, cp.pay)))
        return flt / annuity


@dataclasses.dataclass(frozen=True)
class TenorBasisSwap:
    """Pay base index + spread, receive other index, both on their own tenors; quote = the spread."""

    base: IndexConvention
    other: IndexConvention
    tenor: str
    quote: float
    asof: dt.date
    settlement_days: int
    calendar: str
    convention: str = "modified_following"
    end_of_month: bool = False
    base_curve: str = ""
    other_curve: str = ""

    @functools.cached_property
    def _legs(self):
        cal = get_calendar(self.calendar)
        start = cal.advance(self.asof, f"{self.settlement_days}D", "following")
        end = _add(start, self.tenor)
        legs = []
        for ix in (self.base, self.other):
            t = "1Y" if ix.overnight else ix.tenor
            d = make_schedule(start, end, t, self.convention, "backward", cal, self.convention, self.end_of_month).dates
            legs.append(FloatCoupons.build(ix, d))
        return legs

    @functools.cached_property
    def pillar(self):
        return max(c.last_date() for c in self._legs)

    def implied(self, curves, fwd: str, disc: str) -> float:
        b, o = self._legs
        pv_b = float(np.sum(b.tau * b.forwards(curves, self.base_curve) * curves.df(disc, b.pay)))
        pv_o = float(np.sum(o.tau * o.forwards(curves, self.other_curve) * curves.df(disc, o.pay)))
        return (pv_o - pv_b) / float(np.sum(b.tau * curves.df(disc, b.pay)))


@dataclasses.dataclass(frozen=True)
class CrossCurrencyBasisSwap:
    """Constant-notional float/float cross-currency swap with notional exchanges; quote = spread on
    ``spread_leg`` ('this': the leg in the currency of the curve being built, 'other': the other leg)."""

    this: IndexConvention
    other: IndexConvention
    tenor: str
    quote: float
    asof: dt.date
    settlement_days: int
    calendar: str
    this_fwd: str
    other_fwd: str
    other_disc: str
    convention: str = "modified_following"
    end_of_month: bool = False
    spread_leg: str = "this"

    @functools.cached_property
    def _legs(self):
        cal = get_calendar(self.calendar)
        start = cal.advance(cal.adjust(self.asof), f"{self.settlement_days}D", "following")
        end = _add(start, self.tenor)
        out = []
        for ix in (self.this, self.other):
            t = "1Y" if ix.overnight else ix.tenor
            d = make_schedule(start, end, t, self.convention, "backward", cal, self.convention, self.end_of_month).dates
            out.append((d[0], d[-1], FloatCoupons.build(ix, d)))
        return out

    @functools.cached_property
    def pillar(self):
        return max(max(e, c.last_date()) for _, e, c in self._legs)

    def implied(self, curves, fwd: str, disc: str) -> float:
        (s1, e1, c1), (s2, e2, c2) = self._legs

        def pv(s, e, c, fwd_curve, disc_curve):
            d = curves.df(disc_curve, c.pay)
            flt = float(np.sum(c.tau * c.forwards(curves, fwd_curve) * d))
            ends = curves.df(disc_curve, [s, e])
            return flt - ends[0] + ends[1], float(np.sum(c.tau * d))

        pv_this, bps_this = pv(s1, e1, c1, self.this_fwd, disc)
        pv_other, bps_other = pv(s2, e2, c2, self.other_fwd, self.other_disc)
        if self.spread_leg == "this":
            return (pv_other - pv_this) / bps_this
        return (pv_this - pv_other) / bps_other


def _add(d: dt.date, tenor: str) -> dt.date:
    from exposure.market.schedule import add_tenor

    return add_tenor(d, tenor)
