"""Resolved option-trade specs (``options`` parses a portfolio-file dict into one of them; the batches in the
opt_* modules price them). Dates are ``datetime.date`` (schedule dates adjusted); ``*_time`` fields are year
fractions from the as-of date; notionals and strikes as in the portfolio file (see ``options``)."""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class FxOptionSpec:
    id: str
    type: str
    netting_set: str | None
    counterparty: str | None
    foreign_currency: str
    domestic_currency: str
    notional: float
    strike: float
    expiry: dt.date
    expiry_time: float
    call: bool
    long: bool


@dataclasses.dataclass(frozen=True)
class SwaptionSpec:
    id: str
    type: str
    netting_set: str | None
    counterparty: str | None
    currency: str
    notional: float
    expiry: dt.date  # business day (modified following on the calendar): the exercise date
    maturity: dt.date
    fixed_rate: float
    payer: bool
    fixed_tenor: str
    fixed_day_count: str
    float_index: str | None
    float_tenor: str
    settlement: str  # "physical" | "cash"
    long: bool
    fixed_dates: tuple  # adjusted schedule dates, start .. maturity
    float_dates: tuple
    start: dt.date | None = None  # the underlying's start: expiry + settlement_days (or as given)
    fixed_payment_dates: tuple = ()  # per fixed period: its payment date (end + payment_lag); () = the ends
    float_payment_dates: tuple = ()  # per float period, likewise


@dataclasses.dataclass(frozen=True)
class CapFloorSpec:
    id: str
    type: str
    netting_set: str | None
    counterparty: str | None
    currency: str
    index: str
    notional: float
    start: dt.date
    maturity: dt.date
    strike: float
    cap: bool
    long: bool
    tenor: str
    dates: tuple  # adjusted schedule dates
    fixings: tuple  # per period: the fixing (decimal) for periods fixed before the as-of date, else None
    fixing_dates: tuple = ()  # per period: its fixing date (accrual start - fixing_days); () = the starts
    payment_dates: tuple = ()  # per period: its payment date (end + payment_lag); () = the ends


@dataclasses.dataclass(frozen=True)
class EquityOptionSpec:
    id: str
    type: str
    netting_set: str | None
    counterparty: str | None
    name: str
    currency: str
    quantity: float
    strike: float
    expiry: dt.date
    expiry_time: float
    call: bool
    long: bool
