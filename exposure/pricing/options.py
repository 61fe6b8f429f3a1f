"""Option trades: FX options, swaptions, caps/floors, equity options. Parsing and registration (specs: ``opt_specs``).

Trade types (fields besides id, type, netting_set, counterparty, description; dates are ISO dates or
tenors counted from the as-of date, e.g. ``expiry: 1Y``, ``maturity: 2031-11-20``, ``start: -6M``; an
unknown field is an error):

  FxOption      foreign_currency, domestic_currency, notional (> 0, foreign units), strike (> 0, domestic
                per foreign), expiry, call (bool), long (bool, default true)
  Swaption      currency, notional (> 0), expiry, maturity (of the underlying swap, after the expiry),
                fixed_rate (finite; may be negative), payer (bool), fixed_tenor (default 1Y),
                fixed_day_count (default 30/360), float_index (a market.indices key of the same currency,
                or null: single curve), float_tenor (default: the index tenor when it is in months or
                years, else fixed_tenor), settlement (physical | cash, default physical), long (default true),
                calendar (default WeekendsOnly), convention (schedules, default modified_following;
                fixed_convention / float_convention per leg), settlement_days (default 0: the underlying
                starts settlement_days business days after the expiry on the calendar, QuantLib's swap-index
                spot lag) or start (the underlying's start date, ORE's leg StartDate; periods starting before
                the expiry are not part of the exercised swap)
  CapFloor      currency (default: the index's), index (market.indices key), notional (> 0), start,
                maturity, strike (> 0), cap (bool: true cap, false floor), long (default true), tenor
                (default: the index tenor, which must then be in months or years), calendar (schedule,
                default WeekendsOnly), convention (default modified_following), fixing_days (default 0)
                and fixing_calendar (default calendar): each caplet fixes fixing_days business days
                before its accrual start (the forward is still the one of its accrual period)
  EquityOption  name (market.equities key), quantity (> 0), strike (> 0), expiry, call (bool), long (default true)

Conventions: swaption expiries roll to a business day (modified following on the trade's calendar) and the
underlying starts on the expiry plus its settlement lag; schedules are QuantLib's Schedule (backward, modified
following, weekends only unless the trade names its calendar); floating rates fix on the accrual start (a
cap's fixing_days moves the fixing date earlier) and pay on the accrual end. A cap/floor running on the as-of
date needs the fixing of its current period in the fixings file when the period fixed before the as-of date
(one fixing on the as-of date uses the file's fixing if present, else the forward). As for linear trades, a
payment dated on a valuation date is no longer in that date's value: a cash-settled option (FX, equity, cash
swaption) is worth 0 from its expiry date on,
a caplet from its payment date on. All values are in base currency, undiscounted; short positions
(long: false) are negative. Pricing formulas are in the opt_* modules: ``opt_fx``, ``opt_swaption``,
``opt_capfloor``, ``opt_equity``; ``price_today`` gives t0 prices through the same path code.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from exposure.market.schedule import WEEKENDS_ONLY, make_schedule, parse_tenor
from exposure.pricing.fields import Fields
from exposure.pricing.opt_capfloor import CapFloorBatch
from exposure.pricing.opt_equity import EquityOptionBatch
from exposure.pricing.opt_fx import FxOptionBatch
from exposure.pricing.opt_specs import CapFloorSpec, EquityOptionSpec, FxOptionSpec, SwaptionSpec
from exposure.pricing.opt_swaption import SwaptionBatch
from exposure.pricing.view import PathView, PricingContext

__all__ = [
    "FxOptionSpec", "SwaptionSpec", "CapFloorSpec", "EquityOptionSpec",
    "parse_fx_option", "parse_swaption", "parse_cap_floor", "parse_equity_option",
    "fx_option_batches", "swaption_batches", "cap_floor_batches", "equity_option_batches",
    "FxOptionBatch", "SwaptionBatch", "CapFloorBatch", "EquityOptionBatch", "price_today",
]


def _head(f: Fields, raw: dict) -> dict:
    ns = raw.get("netting_set")
    cp = raw.get("counterparty")
    return {"id": f.tid, "type": str(raw["type"]), "netting_set": None if ns is None else str(ns),
            "counterparty": None if cp is None else str(cp)}


def _schedule(f: Fields, start, end, tenor, what, calendar=WEEKENDS_ONLY, convention="modified_following"):
    try:
        return make_schedule(start, end, tenor, convention, "backward", calendar).dates
    except ValueError as exc:
        raise f.error(f"cannot build the {what} schedule: {exc}") from exc


def _is_term(tenor: str) -> bool:
    return parse_tenor(tenor)[1] in ("M", "Y")


# ---- parsers -----------------------------------------------------------------------------------------
def parse_fx_option(raw: dict, ctx) -> FxOptionSpec:
    f = Fields(raw, ctx, ("foreign_currency", "domestic_currency", "notional", "strike", "expiry", "call", "long"))
    fc, dc = f.currency("foreign_currency"), f.currency("domestic_currency")
    if fc == dc:
        raise f.error(f"foreign_currency and domestic_currency are both '{fc}'")
    expiry = f.date("expiry")
    f.not_past("expiry", expiry)
    return FxOptionSpec(**_head(f, raw), foreign_currency=fc, domestic_currency=dc,
                        notional=f.number("notional", positive=True), strike=f.number("strike", positive=True),
                        expiry=expiry, expiry_time=ctx.market.time(expiry), call=f.boolean("call"),
                        long=f.boolean("long", True))


def parse_swaption(raw: dict, ctx) -> SwaptionSpec:
    f = Fields(raw, ctx, ("currency", "notional", "expiry", "maturity", "fixed_rate", "payer", "fixed_tenor",
                          "fixed_day_count", "float_index", "float_tenor", "settlement", "long", "start",
                          "settlement_days", "calendar", "convention", "fixed_convention", "float_convention",
                          "payment_lag", "payment_calendar", "payment_convention"))
    market = ctx.market
    ccy = f.currency("currency")
    cal = f.calendar()
    conv = f.convention()
    expiry = cal.adjust(f.date("expiry"), "modified_following")
    f.not_past("expiry", expiry)
    maturity = f.date("maturity")
    if maturity <= expiry:
        raise f.error(f"maturity {maturity.isoformat()} is not after the expiry {expiry.isoformat()}")
    start = _underlying_start(f, cal, expiry)
    if maturity <= start:
        raise f.error(f"maturity {maturity.isoformat()} is not after the underlying's start {start.isoformat()}")
    index = f.string("float_index", None)
    if index is not None:
        if index not in market.indices:
            raise f.error(f"unknown index '{index}' (market.indices has {', '.join(sorted(market.indices)) or 'none'})")
        if market.indices[index].currency != ccy:
            raise f.error(f"float_index '{index}' is in {market.indices[index].currency}, the swaption in {ccy}")
    fixed_tenor = f.tenor("fixed_tenor", "1Y")
    default_float = fixed_tenor
    if index is not None and _is_term(market.indices[index].tenor):
        default_float = market.indices[index].tenor
    float_tenor = f.tenor("float_tenor", default_float)
    # Coupons accruing from before the expiry are not part of the exercised swap (an ORE underlying that
    # starts on an unadjusted or earlier date): each leg starts on its first schedule date on or after it.
    legs = []
    for tenor, key, what in ((fixed_tenor, "fixed_convention", "fixed leg"), (float_tenor, "float_convention",
                                                                              "floating leg")):
        dates = [d for d in _schedule(f, start, maturity, tenor, what, cal, f.convention(key, conv)) if d >= expiry]
        if len(dates) < 2:
            raise f.error(f"the {what} has no period starting on or after the expiry {expiry.isoformat()}")
        legs.append(tuple(dates))
    from exposure.pricing.linear_legs import payment_dates
    from exposure.pricing.linear_parse import _payment_lag

    pay = _payment_lag(f, cal)  # both legs, as a Swap's payment_lag
    pays = [payment_dates(d[1:], pay) if pay is not None else () for d in legs]
    return SwaptionSpec(
        **_head(f, raw), currency=ccy, notional=f.number("notional", positive=True), expiry=expiry,
        maturity=maturity, fixed_rate=f.number("fixed_rate"), payer=f.boolean("payer"), fixed_tenor=fixed_tenor,
        fixed_day_count=f.day_count("fixed_day_count", "30/360"), float_index=index, float_tenor=float_tenor,
        settlement=f.choice("settlement", ("physical", "cash"), "physical"), long=f.boolean("long", True),
        fixed_dates=legs[0], float_dates=legs[1], start=min(legs[0][0], legs[1][0]),
        fixed_payment_dates=pays[0] if pays[0] != legs[0][1:] else (),
        float_payment_dates=pays[1] if pays[1] != legs[1][1:] else (),
    )


def _underlying_start(f: Fields, cal, expiry: dt.date) -> dt.date:
    """The underlying swap's start: ``start`` as given (ORE's leg StartDate; coupons accruing from before the
    expiry are dropped), else the expiry advanced by ``settlement_days`` business days on ``calendar``
    (QuantLib's MakeSwaption: the swap index's spot lag)."""
    if f.has("start"):
        if f.has("settlement_days"):
            f.fail("settlement_days", "give either 'start' or 'settlement_days', not both")
        return f.date("start")
    days = f.number("settlement_days", 0.0, nonneg=True)
    if days != int(days):
        f.fail("settlement_days", f"must be a whole number of business days (got {days:g})")
    return cal.advance(expiry, f"{int(days)}D")


def parse_cap_floor(raw: dict, ctx) -> CapFloorSpec:
    f = Fields(raw, ctx, ("currency", "index", "notional", "start", "maturity", "strike", "cap", "long", "tenor",
                          "calendar", "convention", "fixing_days", "fixing_calendar", "payment_lag",
                          "payment_calendar", "payment_convention"))
    market = ctx.market
    index = f.string("index")
    if index not in market.indices:
        raise f.error(f"unknown index '{index}' (market.indices has {', '.join(sorted(market.indices)) or 'none'})")
    ic = market.indices[index]
    ccy = f.currency("currency") if raw.get("currency") is not None else ic.currency
    if ic.currency != ccy:
        raise f.error(f"index '{index}' is in {ic.currency}, the cap/floor in {ccy}")
    start, maturity = f.date("start"), f.date("maturity")
    if maturity <= start:
        raise f.error(f"maturity {maturity.isoformat()} is not after the start {start.isoformat()}")
    f.not_past("maturity", maturity)
    if "tenor" not in raw and not _is_term(ic.tenor):
        raise f.error(f"index '{index}' has tenor {ic.tenor}: give the caplet 'tenor' (e.g. 3M)")
    tenor = f.tenor("tenor", ic.tenor)
    cal = f.calendar()
    dates = _schedule(f, start, maturity, tenor, "caplet", cal, f.convention())
    days = f.number("fixing_days", 0.0, nonneg=True)
    if days != int(days):
        f.fail("fixing_days", f"must be a whole number of business days (got {days:g})")
    fix_cal = f.calendar("fixing_calendar", cal.name) if f.has("fixing_calendar") else cal
    fixing_dates = tuple(fix_cal.advance(d, f"{-int(days)}D", "preceding") if days else d for d in dates[:-1])
    from exposure.pricing.linear_legs import payment_dates
    from exposure.pricing.linear_parse import _payment_lag

    pays = payment_dates(dates[1:], _payment_lag(f, cal))
    fixings = []
    for fd, s, e, p in zip(fixing_dates, dates[:-1], dates[1:], pays):
        value = None
        if fd <= market.asof <= p:
            fixing = ctx.fixings.get(index, fd) if ctx.fixings is not None else None
            if fixing is None and fd < market.asof:
                raise f.error(f"missing fixing of '{index}' on {fd.isoformat()} (the fixing of the period "
                              f"{s.isoformat()}..{e.isoformat()}; add it to the fixings file)")
            value = fixing
        fixings.append(None if value is None else float(value))
    return CapFloorSpec(**_head(f, raw), currency=ccy, index=index, notional=f.number("notional", positive=True),
                        start=start, maturity=maturity, strike=f.number("strike", positive=True),
                        cap=f.boolean("cap"), long=f.boolean("long", True), tenor=tenor, dates=dates,
                        fixings=tuple(fixings), fixing_dates=fixing_dates,
                        payment_dates=pays if pays != tuple(dates[1:]) else ())


def parse_equity_option(raw: dict, ctx) -> EquityOptionSpec:
    f = Fields(raw, ctx, ("name", "quantity", "strike", "expiry", "call", "long"))
    name = f.string("name")
    if name not in ctx.market.equities:
        known = ", ".join(sorted(ctx.market.equities)) or "none"
        raise f.error(f"unknown equity '{name}' (market.equities has {known})")
    expiry = f.date("expiry")
    f.not_past("expiry", expiry)
    return EquityOptionSpec(**_head(f, raw), name=name, currency=ctx.market.equities[name].currency,
                            quantity=f.number("quantity", positive=True), strike=f.number("strike", positive=True),
                            expiry=expiry, expiry_time=ctx.market.time(expiry), call=f.boolean("call"),
                            long=f.boolean("long", True))


# ---- batches -----------------------------------------------------------------------------------------
def _grouped(cls, key):
    """batch(specs, netting_index) -> one ``cls`` batch per static key, trade order kept within a batch."""

    def make(specs, netting_index):
        groups: dict = {}
        for s, ns in zip(specs, netting_index):
            g = groups.setdefault(key(s), ([], []))
            g[0].append(s)
            g[1].append(ns)
        return [cls(ss, idx) for ss, idx in groups.values()]

    return make


def _one_batch(cls, key):
    """batch(specs, netting_index) -> [one ``cls`` batch of every trade] (what varies between them is data of the
    batch), the trades grouped by the key in order of first appearance: the trade order of one batch per key."""
    by_key = _grouped(lambda ss, idx: (ss, idx), key)

    def make(specs, netting_index):
        groups = by_key(specs, netting_index)
        if not groups:
            return []
        return [cls([s for ss, _ in groups for s in ss], [i for _, idx in groups for i in idx])]

    return make


fx_option_batches = _one_batch(FxOptionBatch, lambda s: (s.foreign_currency, s.domestic_currency))  # pair: data
equity_option_batches = _one_batch(EquityOptionBatch, lambda s: s.name)  # underlying and currency: data
swaption_batches = _grouped(SwaptionBatch, lambda s: (s.currency, s.settlement))
cap_floor_batches = _grouped(CapFloorBatch, lambda s: s.currency)


def price_today(batch, market, model, fixings=None) -> np.ndarray:
    """t0 values (n,) in base currency: the batch's own path code on the one-date, one-path t0 view."""
    ctx = PricingContext(market, model, np.zeros(1), fixings, (market.asof,))
    return np.asarray(batch.values(batch.prepare(ctx), PathView.today(model)))[0, :, 0]
