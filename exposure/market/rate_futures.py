"""Interest-rate futures as curve-building instruments, and IMM dates.

    price = 100 (1 - (F + convexity)),   F = (P_F(start) / P_F(end) - 1) / tau_I(start, end)

P_F the discount factors of the forward curve F (``curves.df(name, dates)``), tau_I the index's year fraction
(day count), convexity the futures-minus-forward rate adjustment (decimal); F and the price per unit notional
(price in percent). The monthly overnight future averages daily forwards (``Future``). Dates are
``datetime.date``; the instrument interface (``pillar``, ``implied``) is that of ``rate_helpers``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import numpy as np

from exposure.market.conventions import IndexConvention
from exposure.market.schedule import add_tenor, year_fraction


def third_wednesday(year: int, month: int) -> dt.date:
    """The IMM date of a month: its third Wednesday."""
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(2 - first.weekday()) % 7 + 14)


def is_imm_date(d: dt.date) -> bool:
    """QuantLib's IMM::isIMMdate(d, mainCycle=false): the third Wednesday of any month."""
    return d == third_wednesday(d.year, d.month)


@dataclasses.dataclass(frozen=True)
class Future:
    """Interest-rate future on ``index`` over [start, end], quoted as a price:

        price = 100 (1 - (F + convexity)),   F = (P_F(start) / P_F(end) - 1) / tau_I(start, end)

    IBOR (QuantLib's FuturesRateHelper, IMM type): start an IMM date, end = advance(start, tenor) on the index's
    calendar, convention and end-of-month rule. Overnight index (QuantLib's SofrFutureRateHelper), quarterly
    (tenor 3M or longer, compounded): start the IMM date of the contract month, end the IMM date ``tenor`` later;
    the daily compounding telescopes to P_F(start)/P_F(end). Monthly (tenor 1M, arithmetic average, QuantLib
    1.44's OvernightIndexFuture::averagedRate): the reference period is [1st of the month, 1st of the next
    month) (calendar dates), d_0 = start, d_{i+1} = the next business day after d_i, f_0 = start rolled back to a
    business day, f_i = d_i otherwise, and

        F = sum_i L(f_i, d_{i+1}) tau_I(d_i, min(d_{i+1}, end)) / tau_I(start, end),
        L(f, d) = (P_F(f)/P_F(d) - 1) / tau_I(f, d)    (the overnight forward fixed on f)

    ``convexity``: the futures-minus-forward rate adjustment (decimal), an input as in QuantLib. Pillar: end."""

    index: IndexConvention
    start: dt.date
    tenor: str
    quote: float
    asof: dt.date
    convexity: float = 0.0

    @property
    def averaged(self) -> bool:
        return self.index.overnight and self.tenor == "1M"

    @functools.cached_property
    def end(self) -> dt.date:
        ix = self.index
        if self.averaged:
            return add_tenor(self.start.replace(day=1), "1M")
        if ix.overnight:
            d = add_tenor(self.start, self.tenor)
            return third_wednesday(d.year, d.month)
        return ix.cal.advance(self.start, self.tenor, ix.convention, ix.end_of_month)

    @functools.cached_property
    def _days(self):
        """(fixing dates f_i, next dates d_{i+1}, weights tau(d_i, min(d_{i+1}, end)) / tau(f_i, d_{i+1}))."""
        cal, dc = self.index.cal, self.index.day_count
        fixes, nexts, w = [], [], []
        d, f = self.start, cal.adjust(self.start, "preceding")
        while d < self.end:
            d2 = cal.advance(d, "1D")
            fixes.append(f)
            nexts.append(d2)
            w.append(year_fraction(d, min(d2, self.end), dc) / year_fraction(f, d2, dc))
            d = f = d2
        return fixes, nexts, np.array(w)

    @functools.cached_property
    def pillar(self):
        return self.end

    def implied(self, curves, fwd: str, disc: str) -> float:
        s, e = self.start, self.end
        if self.averaged:
            fixes, nexts, w = self._days
            growth = float(np.sum((curves.df(fwd, fixes) / curves.df(fwd, nexts) - 1.0) * w))
        else:
            growth = float(curves.df(fwd, [s])[0] / curves.df(fwd, [e])[0] - 1.0)
        rate = growth / year_fraction(s, e, self.index.day_count)
        return float(100.0 * (1.0 - (rate + self.convexity)))
