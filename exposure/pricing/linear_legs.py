"""Leg builders of the linear trades: schedules, notionals per period, past fixings -> FixedLeg / FloatLeg.

Schedules are QuantLib's ``Schedule`` (rule backward from maturity, short front stub) on the trade's
``calendar`` (default weekends only), business-day convention ``convention`` (default modified_following, also used
for the termination date), no end-of-month rule. Every coupon pays on its adjusted accrual end, or with a
payment lag (Swap ``payment_lag``) that many business days of the payment calendar after it. Day counts: ACT/365F, ACT/360, 30/360 (bond basis), ACT/ACT (ISDA).

Notionals per fixed period i = 0..n-1 of the full schedule (> 0, in the leg's currency): a number N for
all periods; a list with one entry per period; or N amortised, {type: linear}: N_i = N (n - i) / n, or
{amount: A}: N_i = N - i A (not with a notional list).

Past fixings (from the fixings file, decimal rates, keyed by index name; a floating leg without an index
looks its fixings up under its currency code). The fixing date of an IBOR coupon is its accrual start, or with
a fixing lag (Swap ``fixing_days``) that many business days of the fixing calendar before it; the coupon's
forward stays the par forward over its accrual period (as QuantLib's par coupons), so the lag decides which
fixing is past, its date, and on the paths the date from which the coupon is a known amount (``FloatLeg.fixing``). An IBOR coupon fixed before the as-of date and paid after it needs its fixing; one fixing
on the as-of date uses the file's fixing if present, else the forward. An OIS coupon (overnight index,
tenor in OVERNIGHT_TENORS) accruing over the as-of date needs the overnight fixing of every business day
from its start up to (not including) the as-of date; its realised factor prod (1 + r_d tau_d) is kept.
Trades that have fully paid out are valid and worth 0. A missing fixing is a TradeError naming the leg.
"""

from __future__ import annotations

import datetime as dt
import math

from exposure.market.schedule import WEEKENDS_ONLY, day_count_name, make_schedule, year_fraction
from exposure.pricing.fields import Fields
from exposure.pricing.linear_specs import FixedLeg, FloatLeg

OVERNIGHT_TENORS = ("1D", "ON", "O/N")


def _schedule(f: Fields, start, end, tenor, conv, key, calendar=WEEKENDS_ONLY):
    try:
        s = make_schedule(start, end, tenor, conv, "backward", calendar, conv)
    except ValueError as exc:
        f.fail(key, f"cannot build the schedule: {exc}")
    return s.dates


def leg_notionals(f: Fields, key: str, n: int, amort_key: str | None = None) -> tuple:
    """(n,) notionals of the n periods from field ``key`` (a number or a list) and ``amort_key``."""
    v = f.get(key)
    if isinstance(v, (list, tuple)):
        if amort_key and f.has(amort_key):
            f.fail(amort_key, f"give either a notional list or '{amort_key}', not both")
        if len(v) != n:
            f.fail(key, f"{len(v)} notionals for {n} periods")
        out = []
        for i, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
                f.fail(f"{key}[{i}]", f"must be a number > 0 (got {x!r})")
            out.append(float(x))
        return tuple(out)
    N = f.number(key, positive=True)
    if amort_key is None or not f.has(amort_key):
        return (N,) * n
    am = f.get(amort_key)
    if not isinstance(am, dict):
        f.fail(amort_key, "expected {type: linear} or {amount: A}")
    if set(am) - {"type", "amount"}:
        f.fail(amort_key, f"unknown field '{sorted(set(am) - {'type', 'amount'})[0]}' (known: type, amount)")
    if am.get("amount") is not None:
        A = am["amount"]
        if isinstance(A, bool) or not isinstance(A, (int, float)) or not math.isfinite(A) or A < 0:
            f.fail(f"{amort_key}.amount", f"must be a number >= 0 (got {A!r})")
        out = tuple(N - i * float(A) for i in range(n))
        if out[-1] <= 0:
            f.fail(f"{amort_key}.amount", f"amortises the notional to {out[-1]:g} <= 0 over {n} periods")
        return out
    if str(am.get("type", "")).lower() == "linear":
        return tuple(N * (n - i) / n for i in range(n))
    f.fail(amort_key, "expected {type: linear} or {amount: A}")


def payment_dates(ends, pay=None) -> tuple:
    """Payment date of each coupon: its accrual end, or with ``pay`` = (lag, calendar, convention) that many
    business days of the payment calendar after it (QuantLib's ``paymentCalendar.advance(end, paymentLag,
    Days, paymentAdjustment)``, ORE's PaymentLag / PaymentCalendar / PaymentConvention)."""
    if pay is None:
        return tuple(ends)
    lag, cal, conv = pay
    return tuple(cal.advance(e, f"{int(lag)}D", conv) for e in ends)


def fixed_leg(f, ccy, sign, rate, tenor, dc, start, end, conv, notionals, key, calendar=WEEKENDS_ONLY,
              pay=None) -> FixedLeg:
    """FixedLeg on the schedule start..end; ``notionals`` a sequence or a function of the period count;
    ``pay``: the payment lag (``payment_dates``)."""
    dates = _schedule(f, start, end, tenor, conv, key, calendar)
    if callable(notionals):
        notionals = notionals(len(dates) - 1)
    return FixedLeg(ccy, float(sign), float(rate), dc, dates[:-1], dates[1:], payment_dates(dates[1:], pay),
                    tuple(notionals))


def _overnight_value_dates(t1: dt.date, t2: dt.date) -> list:
    out, d = [t1], t1
    while True:
        d = WEEKENDS_ONLY.advance(d, "1D")
        if d >= t2:
            out.append(t2)
            return out
        out.append(d)


def fixing_date(start: dt.date, overnight: bool, lag=None) -> dt.date:
    """An IBOR coupon's fixing date: ``lag`` = (days, calendar) business days before its accrual start
    (QuantLib's ``fixingCalendar.advance(start, -days, Days, Preceding)``); an overnight coupon's is its start."""
    return start if overnight or not lag or not lag[0] else lag[1].advance(start, f"{-lag[0]}D", "preceding")


def _past_fixings(f, leg_key, ccy, index_name, overnight, idx_dc, starts, ends, pays, lag=None):
    """(past, past_end) per coupon; TradeError for a missing past fixing. ``lag``: (fixing days, fixing
    calendar) of an IBOR coupon, fixing = advance(accrual start, -days) (None: the accrual start)."""
    asof = f.market.asof
    fixings = getattr(f.ctx, "fixings", None)
    name = index_name if index_name is not None else ccy
    past, past_end = [], []
    for t1, t2, tp in zip(starts, ends, pays):
        fix = fixing_date(t1, overnight, lag)
        if tp <= asof or fix > asof:
            past.append(None)
            past_end.append(None)
            continue
        if not overnight:
            v = fixings.get(name, fix) if fixings is not None else None
            if v is None and fix < asof:
                f.fail(leg_key, f"missing past fixing of {name} on {fix.isoformat()} (needed for the coupon "
                                f"{t1.isoformat()}..{t2.isoformat()}; add it to the fixings file)")
            past.append(v)
            past_end.append(None)
            continue
        if t1 == asof:
            past.append(None)
            past_end.append(None)
            continue
        vd = _overnight_value_dates(t1, t2)
        comp, end = 1.0, t1
        missing = []
        for d0, d1 in zip(vd[:-1], vd[1:]):
            if d0 >= asof:
                break
            v = fixings.get(name, d0) if fixings is not None else None
            if v is None:
                missing.append(d0)
                continue
            comp *= 1.0 + v * year_fraction(d0, d1, idx_dc)
            end = d1
        if missing:
            f.fail(leg_key, f"missing past fixing of {name} on {missing[0].isoformat()} ({len(missing)} overnight "
                            f"fixing(s) missing for the coupon {t1.isoformat()}..{t2.isoformat()})")
        past.append(comp)
        past_end.append(end)
    return tuple(past), tuple(past_end)


def float_leg(f, leg_key, ccy, sign, index_name, idx, tenor, dc, spread, start, end, conv, notionals,
              calendar=WEEKENDS_ONLY, lag=None, pay=None) -> FloatLeg:
    """FloatLeg on the schedule start..end, past fixings included; ``notionals`` a sequence or a function
    of the accrual starts; ``pay``: the payment lag (``payment_dates``)."""
    overnight = idx is not None and str(idx.tenor).upper() in OVERNIGHT_TENORS
    idx_dc = day_count_name(idx.day_count) if idx is not None else dc
    dates = _schedule(f, start, end, tenor, conv, leg_key, calendar)
    if callable(notionals):
        notionals = notionals(dates[:-1])
    starts, ends = dates[:-1], dates[1:]
    pays = payment_dates(ends, pay)
    past, past_end = _past_fixings(f, leg_key, ccy, index_name, overnight, idx_dc, starts, ends, pays, lag)
    fixing = tuple(fixing_date(s, overnight, lag) for s in starts)
    return FloatLeg(ccy, float(sign), index_name, overnight, float(spread), dc, idx_dc, starts, ends, pays,
                    tuple(notionals), past, past_end, fixing if fixing != tuple(starts) else ())


def default_float_tenor(idx, fallback: str) -> str:
    """The index tenor; 3M without an index, ``fallback`` for an overnight index."""
    if idx is None:
        return "3M"
    if str(idx.tenor).upper() in OVERNIGHT_TENORS:
        return fallback
    return str(idx.tenor).upper()
