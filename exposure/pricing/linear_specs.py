"""Resolved linear-trade specs: the legs (cash-flow formulas on fixed dates) and the trade specs built on them.

A parser in ``linear_parse`` turns a portfolio-file dict into one of the frozen trade specs below; its ``legs``
are resolved schedules (adjusted dates, notionals per period, past fixings looked up) that the cash-flow
generator (``cashflows``) prices. Per leg, with N notionals and amounts in the leg's ``currency``, tau the
accrual year fraction in the leg's day count, sign +1 received, -1 paid:

    FixedLeg     sign * N_i * rate * tau_i                          paid at payment[i]
    FloatLeg     sign * N_i * tau_i * (L_i + spread)                paid at payment[i] (= accrual end)
    Exchange     amount (signed: + received)                        paid on date
    FraLeg       sign * N tau (L - K) / (1 + tau L)                 settled at start
    EquityLeg    sign * quantity * (S(T) - strike)                  paid at maturity

Dates are ``datetime.date``; date and amount fields are tuples, one entry per period.
"""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class FixedLeg:
    """Fixed coupons sign * N_i * rate * tau_i paid at ``payment[i]``; sign +1 receive, -1 pay."""

    currency: str
    sign: float
    rate: float
    day_count: str
    accrual_start: tuple
    accrual_end: tuple
    payment: tuple
    notionals: tuple


@dataclasses.dataclass(frozen=True)
class FloatLeg:
    """Floating coupons sign * N_i * tau_i * (L_i + spread) paid at ``payment[i]`` (= accrual end).

    ``fixing[i]``: the fixing date (the accrual start, or ``fixing_days`` business days before it for an
    IBOR coupon; empty: the accrual starts). ``past[i]``: None (projected), the past IBOR fixing, or for an
    OIS coupon accruing over the as-of date the realised compounding factor over [start, past_end[i]).
    """

    currency: str
    sign: float
    index: str | None
    overnight: bool
    spread: float
    day_count: str
    index_day_count: str
    accrual_start: tuple
    accrual_end: tuple
    payment: tuple
    notionals: tuple
    past: tuple
    past_end: tuple
    fixing: tuple = ()

    @property
    def fixing_dates(self) -> tuple:
        """Fixing date of each coupon (the accrual starts when ``fixing`` is empty)."""
        return self.fixing or self.accrual_start


@dataclasses.dataclass(frozen=True)
class Exchange:
    """A fixed amount (signed: + received) in ``currency`` on ``date``."""

    currency: str
    date: dt.date
    amount: float


@dataclasses.dataclass(frozen=True)
class FraLeg:
    """sign * N tau (L - K) / (1 + tau L) settled at ``start``; L the index forward over [start, end]."""

    currency: str
    sign: float
    index: str | None
    notional: float
    strike: float
    day_count: str
    start: dt.date
    end: dt.date


@dataclasses.dataclass(frozen=True)
class EquityLeg:
    """sign * quantity * (S(T) - strike) paid in the equity's currency at ``maturity``."""

    name: str
    currency: str
    sign: float
    quantity: float
    strike: float
    maturity: dt.date


# ---- trade specs -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LinearTrade:
    """Common part of every linear trade spec: identity plus the resolved ``legs``."""

    id: str
    type: str
    netting_set: str | None
    counterparty: str | None
    legs: tuple

    @property
    def currencies(self) -> tuple:
        """Distinct currencies of the legs, sorted."""
        return tuple(sorted({leg.currency for leg in self.legs}))

    @property
    def batch_key(self) -> tuple:
        return (self.type,) + self.currencies


@dataclasses.dataclass(frozen=True)
class SwapSpec(LinearTrade):
    currency: str = ""
    notional: float = 0.0
    start: dt.date | None = None
    maturity: dt.date | None = None
    fixed_rate: float = 0.0
    payer: bool = True
    float_index: str | None = None
    spread: float = 0.0
    overnight: bool = False


@dataclasses.dataclass(frozen=True)
class FraSpec(LinearTrade):
    currency: str = ""
    notional: float = 0.0
    start: dt.date | None = None
    end: dt.date | None = None
    fixed_rate: float = 0.0
    float_index: str | None = None
    long: bool = True


@dataclasses.dataclass(frozen=True)
class CrossCurrencySwapSpec(LinearTrade):
    start: dt.date | None = None
    maturity: dt.date | None = None
    pay_currency: str = ""
    receive_currency: str = ""
    initial_exchange: bool = True
    final_exchange: bool = True


@dataclasses.dataclass(frozen=True)
class FxForwardSpec(LinearTrade):
    buy_currency: str = ""
    buy_amount: float = 0.0
    sell_currency: str = ""
    sell_amount: float = 0.0
    maturity: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class EquityForwardSpec(LinearTrade):
    name: str = ""
    currency: str = ""
    quantity: float = 0.0
    strike: float = 0.0
    maturity: dt.date | None = None
    long: bool = True
