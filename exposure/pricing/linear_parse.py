"""Linear trades: swaps (IBOR and OIS), FRAs, cross-currency swaps, FX forwards, equity forwards: parsing.

Each trade type is parsed from a portfolio-file dict into a frozen spec (``linear_specs``) whose ``legs``
are resolved schedules (``linear_legs``: adjusted dates, notionals per period, past fixings looked up), so
a trade that cannot be priced fails here, named, before any compute: unknown currency or index, maturity
not after start, a missing past fixing, a non-positive notional, a bad date, tenor, day count or
convention, an unknown field. The types register themselves with the portfolio loader on import.

Dates and tenors. A date field takes an ISO date (``2027-03-15``) or a tenor relative to the as-of
date (``5Y``, ``-18M`` for a seasoned trade, ``0D`` = as-of); tenors add calendar months/days (month
ends clip), and schedules then adjust the dates. Where a trade has both ``maturity`` and ``tenor``
only one may be given: ``tenor`` is the length from ``start``. Fields are read by ``fields.Fields``.

Common fields: ``id``, ``type``, ``netting_set`` (default: the trade is its own netting set),
``counterparty``, ``description`` (ignored).

``Swap`` (single currency, fixed vs floating)
    currency; notional (> 0; a number, or a list with one entry per fixed period of the full
    schedule for an amortising swap); amortisation ({type: linear}: N_i = N (n - i) / n, or
    {amount: A}: N_i = N - i A, per fixed period; not with a notional list); start (default 0D);
    maturity or tenor; fixed_rate; payer (default true: pay fixed, receive floating); fixed_tenor
    (default 1Y); fixed_day_count (default 30/360); float_index (a key of market.indices; omitted or
    null: forward off the currency's discount curve); float_tenor (default the index tenor, 3M without
    an index, and fixed_tenor for an overnight index); float_day_count (default the index's day count,
    ACT/360 without an index); spread (default 0); convention; payment_lag (business days, default 0),
    payment_calendar (default calendar), payment_convention (default following): each coupon of both legs
    pays payment_lag business days of payment_calendar after its accrual end (ORE's PaymentLag).
    A floating coupon's notional is the fixed period's notional in force at its accrual start.
    An overnight index (tenor 1D, e.g. USD-SOFR) makes an OIS: each floating coupon compounds the
    overnight rate daily over its accrual period (no lookback, lockout or observation shift), which
    telescopes exactly to P_f(T1)/P_f(T2) on the forward curve.

``Fra``
    float_index (required; currency defaults to its currency); notional; start (the fixing, value and
    settlement date); end or tenor (default: the index tenor from start); fixed_rate (the strike);
    day_count (default the index's); long (default true: receive the index rate, pay the fixed rate).
    Settled at start with N tau (L - K) / (1 + tau L), as QuantLib's ForwardRateAgreement.

``CrossCurrencySwap``
    start, maturity or tenor, convention; pay_leg and receive_leg, each {currency, notional,
    fixed_rate (a fixed leg) or float_index / spread (a floating leg; neither: floating off the
    discount curve), tenor (default 1Y fixed; floating: the index tenor, 1Y for an overnight index, 3M
    without an index), day_count, fixing_days / fixing_calendar (a floating leg's fixing lag, as a Swap's),
    payment_lag / payment_calendar / payment_convention (the leg's coupons pay that many business days after
    their accrual end, as a Swap's; the notional exchanges stay on the start and maturity dates, as ORE
    without NotionalPaymentLag)};
    initial_exchange
    and final_exchange (default true): at start the bank receives the pay leg's notional and pays the
    receive leg's; at maturity the reverse. Exchanges dated on or before the as-of date are gone.
    Notionals are constant (no mark-to-market resets).

``FxForward``
    buy_currency, buy_amount, sell_currency, sell_amount (amounts > 0), maturity (the settlement date).

``EquityForward``
    name (a key of market.equities), quantity (> 0), strike (>= 0, in the equity's currency per
    unit), maturity, long (default true). Value at t: +-quantity X_c (S e^{-q (T - t)} - K P_c(t, T)).

Schedules and past fixings: see ``linear_legs``.
"""

from __future__ import annotations

import dataclasses

from exposure.errors import TradeError
from exposure.market.schedule import add_tenor
from exposure.pricing.fields import Fields
from exposure.pricing.linear_legs import (
    OVERNIGHT_TENORS,
    default_float_tenor,
    fixed_leg,
    float_leg,
    leg_notionals,
)
from exposure.pricing.linear_specs import (
    CrossCurrencySwapSpec,
    EquityForwardSpec,
    EquityLeg,
    Exchange,
    FraLeg,
    FraSpec,
    FxForwardSpec,
    LinearTrade,
    SwapSpec,
)


def _ids(raw: dict):
    ns = raw.get("netting_set")
    cp = raw.get("counterparty")
    return str(raw["id"]), (None if ns is None else str(ns)), (None if cp is None else str(cp))


def parse_swap(raw: dict, ctx) -> SwapSpec:
    f = Fields(raw, ctx, ("currency", "notional", "amortisation", "start", "maturity", "tenor", "fixed_rate",
                          "payer", "fixed_tenor", "fixed_day_count", "float_index", "float_tenor",
                          "float_day_count", "spread", "convention", "calendar", "fixed_convention",
                          "float_convention", "fixing_days", "fixing_calendar", "payment_lag", "payment_calendar",
                          "payment_convention"))
    ccy = f.currency()
    index_name, idx = f.index("float_index", ccy)
    start, end = f.start_end()
    conv = f.convention()
    rate = f.number("fixed_rate")
    payer = f.boolean("payer", True)
    fixed_tenor = f.tenor("fixed_tenor", "1Y")
    fixed_dc = f.day_count("fixed_day_count", "30/360")
    float_tenor = f.tenor("float_tenor", default_float_tenor(idx, fixed_tenor))
    float_dc = f.day_count("float_day_count", idx.day_count if idx is not None else "ACT/360")
    spread = f.number("spread", 0.0)
    cal = f.calendar()
    fixed_conv, float_conv = f.convention("fixed_convention", conv), f.convention("float_convention", conv)
    pay = _payment_lag(f, cal)
    fixed = fixed_leg(f, ccy, -1.0 if payer else 1.0, rate, fixed_tenor, fixed_dc, start, end, fixed_conv,
                      lambda n: leg_notionals(f, "notional", n, "amortisation"), "fixed_tenor", cal, pay)
    fixed_starts, fixed_notionals = fixed.accrual_start, fixed.notionals

    def float_notionals(starts):
        out = []
        for s in starts:
            i = max([j for j, fs in enumerate(fixed_starts) if fs <= s] or [0])
            out.append(fixed_notionals[i])
        return out

    flt = float_leg(f, "float_index", ccy, 1.0 if payer else -1.0, index_name, idx, float_tenor, float_dc, spread,
                    start, end, float_conv, float_notionals, cal, _fixing_lag(f, cal), pay)
    tid, ns, cp = _ids(raw)
    return SwapSpec(tid, "Swap", ns, cp, (fixed, flt), ccy, fixed_notionals[0], start, end, rate, payer,
                    index_name, spread, flt.overnight)


def _fixing_lag(f, cal):
    """(fixing days, fixing calendar) of a Swap's IBOR coupons: fixing = advance(accrual start, -days)."""
    days = f.number("fixing_days", 0.0, nonneg=True)
    if days != int(days):
        f.fail("fixing_days", f"must be a whole number of business days (got {days:g})")
    return int(days), f.calendar("fixing_calendar", cal.name) if f.has("fixing_calendar") else cal


def _payment_lag(f, cal):
    """(lag, payment calendar, payment convention) of a Swap's coupons, or None without a lag."""
    days = f.number("payment_lag", 0.0, nonneg=True)
    if days != int(days):
        f.fail("payment_lag", f"must be a whole number of business days (got {days:g})")
    pcal = f.calendar("payment_calendar", cal.name) if f.has("payment_calendar") else cal
    pconv = f.convention("payment_convention", "following")
    if days == 0 and not f.has("payment_calendar") and not f.has("payment_convention"):
        return None
    return int(days), pcal, pconv


def parse_fra(raw: dict, ctx) -> FraSpec:
    f = Fields(raw, ctx, ("currency", "notional", "start", "end", "tenor", "fixed_rate", "float_index",
                          "day_count", "long", "convention", "calendar"))
    index_name, idx = f.index("float_index", None, required=True)
    ccy = f.currency("currency", idx.currency)
    if idx.currency != ccy:
        f.fail("currency", f"index '{index_name}' is in {idx.currency}, not {ccy}")
    conv = f.convention()
    start = f.date("start")
    if f.has("end") and f.has("tenor"):
        f.fail("end", "give either 'end' or 'tenor', not both")
    if str(idx.tenor).upper() in OVERNIGHT_TENORS and not (f.has("end") or f.has("tenor")):
        f.fail("end", f"an FRA on the overnight index '{index_name}' needs 'end' or 'tenor'")
    end = f.date("end") if f.has("end") else add_tenor(start, f.tenor("tenor", str(idx.tenor).upper()))
    cal = f.calendar()
    start_adj, end_adj = cal.adjust(start, conv), cal.adjust(end, conv)
    if end_adj <= start_adj:
        f.fail("end", f"{end_adj.isoformat()} is not after the start date {start_adj.isoformat()}")
    notional = f.number("notional", positive=True)
    strike = f.number("fixed_rate")
    dc = f.day_count("day_count", idx.day_count)
    long = f.boolean("long", True)
    leg = FraLeg(ccy, 1.0 if long else -1.0, index_name, notional, strike, dc, start_adj, end_adj)
    tid, ns, cp = _ids(raw)
    return FraSpec(tid, "Fra", ns, cp, (leg,), ccy, notional, start_adj, end_adj, strike, index_name, long)


_XCCY_LEG = ("currency", "notional", "fixed_rate", "float_index", "spread", "tenor", "day_count", "fixing_days",
             "fixing_calendar", "payment_lag", "payment_calendar", "payment_convention")


def parse_cross_currency_swap(raw: dict, ctx) -> CrossCurrencySwapSpec:
    f = Fields(raw, ctx, ("start", "maturity", "tenor", "convention", "pay_leg", "receive_leg",
                          "initial_exchange", "final_exchange", "calendar"))
    start, end = f.start_end()
    conv = f.convention()
    cal = f.calendar()
    init_x = f.boolean("initial_exchange", True)
    final_x = f.boolean("final_exchange", True)
    legs, ccys = [], []
    asof = f.market.asof
    for key, sign in (("pay_leg", -1.0), ("receive_leg", 1.0)):
        g = f.sub(key, _XCCY_LEG)
        ccy = g.currency()
        notional = g.number("notional", positive=True)
        pay = _payment_lag(g, cal)
        if g.has("fixed_rate"):
            if g.has("float_index") or g.has("spread") or g.has("fixing_days"):
                g.fail("fixed_rate", "a leg is fixed (fixed_rate) or floating (float_index, spread, fixing_days), "
                                     "not both")
            tenor = g.tenor("tenor", "1Y")
            leg = fixed_leg(g, ccy, sign, g.number("fixed_rate"), tenor, g.day_count("day_count", "30/360"),
                            start, end, conv, lambda n, N=notional: (N,) * n, "tenor", cal, pay)
        else:
            index_name, idx = g.index("float_index", ccy)
            tenor = g.tenor("tenor", default_float_tenor(idx, "1Y"))
            dc = g.day_count("day_count", idx.day_count if idx is not None else "ACT/360")
            leg = float_leg(g, "float_index", ccy, sign, index_name, idx, tenor, dc, g.number("spread", 0.0),
                            start, end, conv, lambda s, N=notional: (N,) * len(s), cal, _fixing_lag(g, cal), pay)
        legs.append(leg)
        # the exchanges stay on the accrual start and end (ORE's NotionalPaymentLag, default 0, not PaymentLag)
        first, last = leg.accrual_start[0], leg.accrual_end[-1]
        if init_x and first > asof:
            legs.append(Exchange(ccy, first, -sign * notional))
        if final_x and last > asof:
            legs.append(Exchange(ccy, last, sign * notional))
        ccys.append(ccy)
    if ccys[0] == ccys[1]:
        f.fail("receive_leg.currency", f"both legs are in {ccys[0]}; a cross-currency swap needs two currencies")
    tid, ns, cp = _ids(raw)
    return CrossCurrencySwapSpec(tid, "CrossCurrencySwap", ns, cp, tuple(legs), start, end, ccys[0], ccys[1],
                                 init_x, final_x)


def parse_fx_forward(raw: dict, ctx) -> FxForwardSpec:
    f = Fields(raw, ctx, ("buy_currency", "buy_amount", "sell_currency", "sell_amount", "maturity"))
    buy, sell = f.currency("buy_currency"), f.currency("sell_currency")
    if buy == sell:
        f.fail("sell_currency", f"same as buy_currency ({buy})")
    ba = f.number("buy_amount", positive=True)
    sa = f.number("sell_amount", positive=True)
    mat = f.date("maturity")
    tid, ns, cp = _ids(raw)
    legs = (Exchange(buy, mat, ba), Exchange(sell, mat, -sa))
    return FxForwardSpec(tid, "FxForward", ns, cp, legs, buy, ba, sell, sa, mat)


def parse_equity_forward(raw: dict, ctx) -> EquityForwardSpec:
    f = Fields(raw, ctx, ("name", "quantity", "strike", "maturity", "long"))
    name = f.string("name")
    if name not in f.market.equities:
        known = ", ".join(sorted(f.market.equities)) or "none"
        f.fail("name", f"unknown equity '{name}' (market equities: {known})")
    ccy = f.market.equities[name].currency
    q = f.number("quantity", positive=True)
    k = f.number("strike", nonneg=True)
    mat = f.date("maturity")
    long = f.boolean("long", True)
    tid, ns, cp = _ids(raw)
    leg = EquityLeg(name, ccy, 1.0 if long else -1.0, q, k, mat)
    return EquityForwardSpec(tid, "EquityForward", ns, cp, (leg,), name, ccy, q, k, mat, long)


PARSERS = {
    "Swap": parse_swap,
    "Fra": parse_fra,
    "CrossCurrencySwap": parse_cross_currency_swap,
    "FxForward": parse_fx_forward,
    "EquityForward": parse_equity_forward,
}


@dataclasses.dataclass(frozen=True)
class _DirectContext:
    market: object
    fixings: object = None
    source: str | None = None
    grid: object = None


def parse_trade(raw: dict, market, fixings=None, source: str | None = None) -> LinearTrade:
    """Parse one linear trade dict outside the loader (tests, notebooks); raises TradeError."""
    tid = str(raw.get("id", "?"))
    if raw.get("type") not in PARSERS:
        raise TradeError(tid, f"unknown linear trade type '{raw.get('type')}' (known: {', '.join(PARSERS)})", source)
    return PARSERS[raw["type"]](raw, _DirectContext(market, fixings, source))


def make_batches(specs, netting_index):
    """Linear trades into batches (``exposure.pricing.linear_batching.make_batches``)."""
    from exposure.pricing.linear_batching import make_batches as linear_batches

    return linear_batches(specs, netting_index)
