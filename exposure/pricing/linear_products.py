"""Linear trades: swaps (IBOR and OIS), FRAs, cross-currency swaps, FX forwards, equity forwards.

Each trade type is parsed from a portfolio-file dict into a frozen spec whose ``legs`` are resolved
schedules (adjusted dates, notionals per period, past fixings looked up), so a trade that cannot be
priced fails here, named, before any compute: unknown currency or index, maturity not after start,
a missing past fixing, a non-positive notional, a bad date, tenor, day count or convention, an unknown
field. The types register themselves with the portfolio loader on import.

Dates and tenors. A date field takes an ISO date (``2027-03-15``) or a tenor relative to the as-of
date (``5Y``, ``-18M`` for a seasoned trade, ``0D`` = as-of); tenors add calendar months/days (month
ends clip), and schedules then adjust the dates. Where a trade has both ``maturity`` and ``tenor``
only one may be given: ``tenor`` is the length from ``start``.

Schedules are QuantLib's ``Schedule`` (rule backward from maturity, short front stub) on the
weekends-only calendar, business-day convention ``convention`` (default modified_following, also used
for the termination date), no end-of-month rule. Every coupon pays on its adjusted accrual end (no
payment lag). Day counts: ACT/365F, ACT/360, 30/360 (bond basis), ACT/ACT (ISDA).

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
    ACT/360 without an index); spread (default 0); convention.
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
    discount curve), tenor (default 1Y fixed, index tenor or 3M floating), day_count}; initial_exchange
    and final_exchange (default true): at start the bank receives the pay leg's notional and pays the
    receive leg's; at maturity the reverse. Exchanges dated on or before the as-of date are gone.
    Notionals are constant (no mark-to-market resets).

``FxForward``
    buy_currency, buy_amount, sell_currency, sell_amount (amounts > 0), maturity (the settlement date).

``EquityForward``
    name (a key of market.equities), quantity (> 0), strike (>= 0, in the equity's currency per
    unit), maturity, long (default true). Value at t: +-quantity X_c (S e^{-q (T - t)} - K P_c(t, T)).

Past fixings (from the fixings file, decimal rates, keyed by index name; a floating leg without an index
looks its fixings up under its currency code). The fixing date of a coupon is its accrual start (no
fixing lag). An IBOR coupon fixed before the as-of date and paid after it needs its fixing; one fixing
on the as-of date uses the file's fixing if present, else the forward. An OIS coupon accruing over the
as-of date needs the overnight fixing of every business day from its start up to (not including) the
as-of date. Trades that have fully paid out are valid and worth 0.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re

from exposure.errors import TradeError
from exposure.market.schedule import (
    CONVENTIONS,
    WEEKENDS_ONLY,
    add_tenor,
    day_count_name,
    make_schedule,
    parse_tenor,
    year_fraction,
)

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMMON = ("id", "type", "netting_set", "counterparty", "description")
OVERNIGHT_TENORS = ("1D", "ON", "O/N")


# ---- resolved legs ---------------------------------------------------------------------------------


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

    ``fixing[i]`` is the accrual start. ``past[i]``: None (projected), the past IBOR fixing, or for an
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


# ---- field reading ---------------------------------------------------------------------------------

_REQUIRED = object()


class _Fields:
    """Typed access to one trade's raw dict; every problem is a TradeError naming the trade and field."""

    def __init__(self, raw: dict, ctx, known: tuple, prefix: str = ""):
        self.raw, self.ctx, self.prefix = raw, ctx, prefix
        self.id = str(raw.get("id", "?")) if not prefix else ctx.trade_id
        self.market = ctx.market
        self.source = getattr(ctx, "source", None)
        unknown = sorted(set(raw) - set(known) - (set(_COMMON) if not prefix else set()))
        if unknown:
            allowed = sorted(set(known) | (set(_COMMON) if not prefix else set()))
            self.fail(unknown[0], f"unknown field (known: {', '.join(allowed)})")

    def fail(self, key: str | None, problem: str):
        where = f"{self.prefix}{key}: " if key else ""
        raise TradeError(self.id, f"{where}{problem}", source=self.source)

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def get(self, key: str, default=_REQUIRED):
        v = self.raw.get(key)
        if v is None:
            if default is _REQUIRED:
                self.fail(key, "missing required field")
            return default
        return v

    def number(self, key: str, default=_REQUIRED, positive=False, nonneg=False) -> float:
        v = self.get(key, default)
        if v is None:
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(str(v))
            except ValueError:
                self.fail(key, f"expected a number (got {v!r})")
        v = float(v)
        if not math.isfinite(v):
            self.fail(key, f"must be finite (got {v})")
        if positive and v <= 0.0:
            self.fail(key, f"must be > 0 (got {v:g}); the direction is set by payer/long, not the sign")
        if nonneg and v < 0.0:
            self.fail(key, f"must be >= 0 (got {v:g})")
        return v

    def boolean(self, key: str, default=_REQUIRED) -> bool:
        v = self.get(key, default)
        if not isinstance(v, bool):
            self.fail(key, f"expected true or false (got {v!r})")
        return v

    def text(self, key: str, default=_REQUIRED) -> str | None:
        v = self.get(key, default)
        return None if v is None else str(v).strip()

    def tenor(self, key: str, default=_REQUIRED) -> str:
        v = self.text(key, default)
        try:
            n, unit = parse_tenor(v)
        except ValueError as exc:
            self.fail(key, str(exc))
        if n <= 0:
            self.fail(key, f"tenor must be positive (got '{v}')")
        return f"{n}{unit}"

    def date(self, key: str, default=_REQUIRED) -> dt.date | None:
        v = self.get(key, default)
        if v is None:
            return None
        return self._to_date(key, v)

    def _to_date(self, key: str, v) -> dt.date:
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        s = str(v).strip()
        if _ISO.match(s):
            try:
                return dt.date.fromisoformat(s)
            except ValueError:
                self.fail(key, f"'{s}' is not a valid date")
        try:
            return add_tenor(self.market.asof, s.upper())
        except ValueError:
            self.fail(key, f"'{s}' is neither an ISO date (YYYY-MM-DD) nor a tenor (e.g. 6M, 5Y, -1Y)")

    def day_count(self, key: str, default=_REQUIRED) -> str:
        v = self.text(key, default)
        try:
            return day_count_name(v)
        except ValueError as exc:
            self.fail(key, str(exc))

    def convention(self, key: str = "convention", default="modified_following") -> str:
        v = self.text(key, default)
        k = v.lower().replace(" ", "_").replace("-", "_")
        if k not in CONVENTIONS:
            self.fail(key, f"unknown business-day convention '{v}' (expected one of {', '.join(CONVENTIONS)})")
        return k

    def currency(self, key: str = "currency", default=_REQUIRED) -> str:
        c = self.text(key, default)
        if c not in self.market.curves:
            self.fail(key, f"unknown currency '{c}' (market has {', '.join(sorted(self.market.curves))})")
        return c

    def index(self, key: str, ccy: str | None, required=False):
        """An index name of market.indices (or None); checks its currency against ``ccy``."""
        name = self.text(key, _REQUIRED if required else None)
        if name is None or name.lower() in ("none", "null", ""):
            if required:
                self.fail(key, "missing required field")
            return None, None
        if name not in self.market.indices:
            known = ", ".join(sorted(self.market.indices)) or "none"
            self.fail(key, f"unknown index '{name}' (market indices: {known})")
        idx = self.market.indices[name]
        if ccy is not None and idx.currency != ccy:
            self.fail(key, f"index '{name}' is in {idx.currency}, not in the leg's currency {ccy}")
        return name, idx

    def start_end(self, start_key="start", end_key="maturity", tenor_key="tenor", start_default="0D"):
        start = self.date(start_key, start_default)
        if self.has(end_key) and self.has(tenor_key):
            self.fail(end_key, f"give either '{end_key}' or '{tenor_key}', not both")
        if self.has(tenor_key):
            end = add_tenor(start, self.tenor(tenor_key))
        else:
            end = self.date(end_key)
        if end <= start:
            self.fail(end_key, f"{end.isoformat()} is not after the start date {start.isoformat()}")
        return start, end


def _sub(f: _Fields, key: str, known: tuple) -> _Fields:
    raw = f.get(key)
    if not isinstance(raw, dict):
        f.fail(key, "expected a mapping of leg fields")

    class _Ctx:
        market = f.market
        source = f.source
        trade_id = f.id
        fixings = getattr(f.ctx, "fixings", None)

    return _Fields(raw, _Ctx, known, prefix=f"{key}.")


# ---- schedules and legs ----------------------------------------------------------------------------


def _schedule(f: _Fields, start, end, tenor, conv, key):
    try:
        s = make_schedule(start, end, tenor, conv, "backward", WEEKENDS_ONLY, conv)
    except ValueError as exc:
        f.fail(key, f"cannot build the schedule: {exc}")
    return s.dates


def _notionals(f: _Fields, key: str, n: int, amort_key: str | None = None) -> tuple:
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


def _fixed_leg(f, ccy, sign, rate, tenor, dc, start, end, conv, notionals, key) -> FixedLeg:
    dates = _schedule(f, start, end, tenor, conv, key)
    if callable(notionals):
        notionals = notionals(len(dates) - 1)
    return FixedLeg(ccy, float(sign), float(rate), dc, dates[:-1], dates[1:], dates[1:], tuple(notionals))


def _overnight_value_dates(t1: dt.date, t2: dt.date) -> list:
    out, d = [t1], t1
    while True:
        d = WEEKENDS_ONLY.advance(d, "1D")
        if d >= t2:
            out.append(t2)
            return out
        out.append(d)


def _past_fixings(f, leg_key, ccy, index_name, overnight, idx_dc, starts, ends, pays):
    """(past, past_end) per coupon; TradeError for a missing past fixing."""
    asof = f.market.asof
    fixings = getattr(f.ctx, "fixings", None)
    name = index_name if index_name is not None else ccy
    past, past_end = [], []
    for t1, t2, tp in zip(starts, ends, pays):
        if tp <= asof or t1 > asof:
            past.append(None)
            past_end.append(None)
            continue
        if not overnight:
            v = fixings.get(name, t1) if fixings is not None else None
            if v is None and t1 < asof:
                f.fail(leg_key, f"missing past fixing of {name} on {t1.isoformat()} (needed for the coupon "
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


def _float_leg(f, leg_key, ccy, sign, index_name, idx, tenor, dc, spread, start, end, conv, notionals) -> FloatLeg:
    overnight = idx is not None and str(idx.tenor).upper() in OVERNIGHT_TENORS
    idx_dc = day_count_name(idx.day_count) if idx is not None else dc
    dates = _schedule(f, start, end, tenor, conv, leg_key)
    if callable(notionals):
        notionals = notionals(dates[:-1])
    starts, ends = dates[:-1], dates[1:]
    past, past_end = _past_fixings(f, leg_key, ccy, index_name, overnight, idx_dc, starts, ends, ends)
    return FloatLeg(ccy, float(sign), index_name, overnight, float(spread), dc, idx_dc, starts, ends, ends,
                    tuple(notionals), past, past_end)


def _default_float_tenor(idx, fallback: str) -> str:
    if idx is None:
        return "3M"
    if str(idx.tenor).upper() in OVERNIGHT_TENORS:
        return fallback
    return str(idx.tenor).upper()


# ---- parsers ---------------------------------------------------------------------------------------


def _ids(raw: dict):
    ns = raw.get("netting_set")
    cp = raw.get("counterparty")
    return str(raw["id"]), (None if ns is None else str(ns)), (None if cp is None else str(cp))


def parse_swap(raw: dict, ctx) -> SwapSpec:
    f = _Fields(raw, ctx, ("currency", "notional", "amortisation", "start", "maturity", "tenor", "fixed_rate",
                           "payer", "fixed_tenor", "fixed_day_count", "float_index", "float_tenor",
                           "float_day_count", "spread", "convention"))
    ccy = f.currency()
    index_name, idx = f.index("float_index", ccy)
    start, end = f.start_end()
    conv = f.convention()
    rate = f.number("fixed_rate")
    payer = f.boolean("payer", True)
    fixed_tenor = f.tenor("fixed_tenor", "1Y")
    fixed_dc = f.day_count("fixed_day_count", "30/360")
    float_tenor = f.tenor("float_tenor", _default_float_tenor(idx, fixed_tenor))
    float_dc = f.day_count("float_day_count", idx.day_count if idx is not None else "ACT/360")
    spread = f.number("spread", 0.0)
    fixed = _fixed_leg(f, ccy, -1.0 if payer else 1.0, rate, fixed_tenor, fixed_dc, start, end, conv,
                       lambda n: _notionals(f, "notional", n, "amortisation"), "fixed_tenor")
    fixed_starts, fixed_notionals = fixed.accrual_start, fixed.notionals

    def float_notionals(starts):
        out = []
        for s in starts:
            i = max([j for j, fs in enumerate(fixed_starts) if fs <= s] or [0])
            out.append(fixed_notionals[i])
        return out

    flt = _float_leg(f, "float_index", ccy, 1.0 if payer else -1.0, index_name, idx, float_tenor, float_dc, spread,
                     start, end, conv, float_notionals)
    tid, ns, cp = _ids(raw)
    return SwapSpec(tid, "Swap", ns, cp, (fixed, flt), ccy, fixed_notionals[0], start, end, rate, payer,
                    index_name, spread, flt.overnight)


def parse_fra(raw: dict, ctx) -> FraSpec:
    f = _Fields(raw, ctx, ("currency", "notional", "start", "end", "tenor", "fixed_rate", "float_index",
                           "day_count", "long", "convention"))
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
    start_adj, end_adj = WEEKENDS_ONLY.adjust(start, conv), WEEKENDS_ONLY.adjust(end, conv)
    if end_adj <= start_adj:
        f.fail("end", f"{end_adj.isoformat()} is not after the start date {start_adj.isoformat()}")
    notional = f.number("notional", positive=True)
    strike = f.number("fixed_rate")
    dc = f.day_count("day_count", idx.day_count)
    long = f.boolean("long", True)
    leg = FraLeg(ccy, 1.0 if long else -1.0, index_name, notional, strike, dc, start_adj, end_adj)
    tid, ns, cp = _ids(raw)
    return FraSpec(tid, "Fra", ns, cp, (leg,), ccy, notional, start_adj, end_adj, strike, index_name, long)


_XCCY_LEG = ("currency", "notional", "fixed_rate", "float_index", "spread", "tenor", "day_count")


def parse_cross_currency_swap(raw: dict, ctx) -> CrossCurrencySwapSpec:
    f = _Fields(raw, ctx, ("start", "maturity", "tenor", "convention", "pay_leg", "receive_leg",
                           "initial_exchange", "final_exchange"))
    start, end = f.start_end()
    conv = f.convention()
    init_x = f.boolean("initial_exchange", True)
    final_x = f.boolean("final_exchange", True)
    legs, ccys = [], []
    asof = f.market.asof
    for key, sign in (("pay_leg", -1.0), ("receive_leg", 1.0)):
        g = _sub(f, key, _XCCY_LEG)
        ccy = g.currency()
        notional = g.number("notional", positive=True)
        if g.has("fixed_rate"):
            if g.has("float_index") or g.has("spread"):
                g.fail("fixed_rate", "a leg is fixed (fixed_rate) or floating (float_index, spread), not both")
            tenor = g.tenor("tenor", "1Y")
            leg = _fixed_leg(g, ccy, sign, g.number("fixed_rate"), tenor, g.day_count("day_count", "30/360"),
                             start, end, conv, lambda n, N=notional: (N,) * n, "tenor")
        else:
            index_name, idx = g.index("float_index", ccy)
            tenor = g.tenor("tenor", _default_float_tenor(idx, "1Y"))
            dc = g.day_count("day_count", idx.day_count if idx is not None else "ACT/360")
            leg = _float_leg(g, "float_index", ccy, sign, index_name, idx, tenor, dc, g.number("spread", 0.0),
                             start, end, conv, lambda s, N=notional: (N,) * len(s))
        legs.append(leg)
        first, last = leg.accrual_start[0], leg.payment[-1]
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
    f = _Fields(raw, ctx, ("buy_currency", "buy_amount", "sell_currency", "sell_amount", "maturity"))
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
    f = _Fields(raw, ctx, ("name", "quantity", "strike", "maturity", "long"))
    name = f.text("name")
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


def _make_batches(specs, netting_index):
    from exposure.pricing.linear import make_batches

    return make_batches(specs, netting_index)


def register() -> None:
    from exposure.portfolio.loader import register_trade_type

    for name, parse in PARSERS.items():
        register_trade_type(name, parse, _make_batches)


register()
