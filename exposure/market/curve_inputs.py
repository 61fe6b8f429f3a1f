"""``market.curve_inputs`` -> bootstrapped DiscountCurves (the instrument-quote form of a market curve).

Each entry of ``curves`` is one curve: a currency key (``USD``) is that currency's discount curve, an index key
(``USD-LIBOR-3M``) that index's forwarding curve. Its instruments (``type``):

    deposit     tenor from spot (index fixing days), on the curve's index        quote: simple rate
    fra         start x (start + tenor) from spot, on the curve's index          quote: simple rate
    future      IMM future on the curve's index: start = the contract month     quote: price (100 - rate %)
                (YYYY-MM, its IMM date) or an IMM date; tenor (default: the index tenor, 3M for an overnight
                index; 1M on an overnight index: the monthly contract averaging the daily rates of the
                month); convexity (futures rate - forward rate, decimal, default 0)
    ois         fixed vs compounded overnight (index overnight), from spot       quote: fair fixed rate
    swap        fixed vs IBOR (par coupons), from spot                           quote: fair fixed rate
    tenor_basis index (default: the curve's) vs other_index, both floating       quote: spread on spread_leg
    xccy_basis  constant-notional float/float against ``collateral``'s currency quote: spread on spread_leg
                (index: this currency's leg; other_index: the collateral currency's leg)

Conventions come from the index (``exposure.market.conventions``: per-index defaults, ``conventions`` overrides)
and may be overridden per instrument: fixed_tenor, fixed_day_count, settlement_days, payment_lag, calendar,
convention, end_of_month. Discounting: ``discount`` names a curve (default: the curve itself for a currency
key; the currency's curve for an index key). A bad entry raises ConfigError naming its key.
"""

from __future__ import annotations

import dataclasses
import re

from exposure.errors import ConfigError, MarketDataError
from exposure.market.bootstrap import CurveSpec, Quote, bootstrap
from exposure.market.conventions import SwapConvention, default_swap, make_index
from exposure.market.rate_futures import Future, is_imm_date, third_wednesday
from exposure.market.rate_helpers import CrossCurrencyBasisSwap, Deposit, Swap, TenorBasisSwap
from exposure.market.schedule import parse_tenor

_CCY = re.compile(r"^[A-Z]{3}$")
TYPES = ("deposit", "fra", "future", "ois", "swap", "tenor_basis", "xccy_basis")


@dataclasses.dataclass(frozen=True)
class InputCurves:
    curves: dict  # name -> DiscountCurve (currency keys and index keys)
    indices: dict  # index name -> IndexConvention, for every index that has a bootstrapped curve
    index_curve: dict  # index name -> curve name
    errors: dict  # curve name -> ((label, implied - quote), ...)


def _get(node, name, default=None):
    v = getattr(node, name, default)
    return default if v is None else v


def build_input_curves(asof, ci, known: dict, key: str = "market.curve_inputs") -> InputCurves:
    """Bootstrap every curve of ``ci`` (a MarketInputsConfig node) given the zero-rate curves ``known``."""
    specs, indices, index_curve = input_specs(asof, ci, key)
    try:
        res = bootstrap(asof, specs, known)
    except MarketDataError as exc:
        raise ConfigError(f"{key}.curves", str(exc)) from None
    return InputCurves(res.curves, indices, index_curve, res.errors)


def input_specs(asof, ci, key: str = "market.curve_inputs") -> tuple:
    """(specs {curve name: CurveSpec, its quotes in the configured order}, indices {index name: IndexConvention},
    index_curve {index name: curve name}) of ``ci``: what ``bootstrap`` solves."""
    overrides = dict(_get(ci, "conventions", {}) or {})
    idx_cache: dict = {}

    def index(name, where):
        if name not in idx_cache:
            try:
                idx_cache[name] = make_index(str(name), overrides.get(name))
            except ValueError as exc:
                raise ConfigError(where, str(exc)) from None
        return idx_cache[name]

    curves_cfg = dict(_get(ci, "curves", {}) or {})
    # which curve forwards which index: an index key, or the 'index' of a currency key
    index_curve = {}
    for name, cc in curves_cfg.items():
        if not _CCY.match(str(name)):
            index_curve[str(name)] = str(name)
    for name, cc in curves_cfg.items():
        ix = _get(cc, "index")
        if ix is not None and str(ix) not in index_curve:
            index_curve[str(ix)] = str(name)

    specs = {}
    for name, cc in curves_cfg.items():
        name, ck = str(name), f"{key}.curves.{name}"
        is_ccy = bool(_CCY.match(name))
        own_index = _get(cc, "index", None if is_ccy else name)
        ccy = _get(cc, "currency") or (name if is_ccy else (index(own_index, f"{ck}.index").currency))
        disc = str(_get(cc, "discount", name if is_ccy else ccy))
        insts = list(_get(cc, "instruments", []) or [])
        if not insts:
            raise ConfigError(f"{ck}.instruments", "no instrument")
        quotes = []
        for i, inst in enumerate(insts):
            ik = f"{ck}.instruments[{i}]"
            quotes.append(_quote(asof, inst, ik, name, ccy, own_index, disc, cc, index, index_curve))
        specs[name] = CurveSpec(name, tuple(quotes), bool(getattr(cc, "drop_duplicate_pillars", False)))
    return specs, {n: index(n, f"{key}.curves") for n in index_curve}, index_curve


def _quote(asof, inst, ik, name, ccy, own_index, disc, cc, index, index_curve) -> Quote:
    typ = str(_get(inst, "type", "")).lower()
    if typ not in TYPES:
        raise ConfigError(f"{ik}.type", f"unknown instrument type '{typ}' (known: {', '.join(TYPES)})")
    if typ == "future" and _get(inst, "tenor") is None:
        ix0 = index(str(_get(inst, "index", own_index)), f"{ik}.index") if _get(inst, "index", own_index) else None
        tenor = "3M" if ix0 is None or ix0.overnight else ix0.tenor
    else:
        tenor = str(_get(inst, "tenor", ""))
    try:
        n, unit = parse_tenor(tenor)
        if n <= 0:
            raise ValueError(f"tenor must be positive (got '{tenor}')")
    except ValueError as exc:
        raise ConfigError(f"{ik}.tenor", str(exc)) from None
    tenor = f"{n}{unit}"
    q = float(_get(inst, "quote"))
    label = f"{typ} {tenor}" + (f" (start {_get(inst, 'start')})" if _get(inst, "start") else "")
    ix_name = _get(inst, "index", own_index)
    if ix_name is None:
        raise ConfigError(f"{ik}.index", f"curve '{name}' has no index: give 'index' on the curve or instrument")
    ix = index(str(ix_name), f"{ik}.index")
    ix = _with(ix, inst, ik)
    fwd = index_curve.get(ix.name, name)
    if typ == "future":
        monthly = ix.cal if ix.overnight and tenor == "1M" else None
        return Quote(Future(ix, _future_start(inst, ik, asof, monthly), tenor, q, asof,
                            float(_get(inst, "convexity", 0.0))), fwd, disc, label)
    if typ in ("deposit", "fra"):
        start = _get(inst, "start")
        if typ == "fra" and start is None:
            raise ConfigError(f"{ik}.start", "an FRA needs its forward start (e.g. 3M for a 3x6)")
        return Quote(Deposit(ix, tenor, q, asof, None if typ == "deposit" else str(start)), fwd, disc, label)
    if typ in ("ois", "swap"):
        if (typ == "ois") != ix.overnight:
            raise ConfigError(f"{ik}.index", f"{typ} on index '{ix.name}' (tenor {ix.tenor}): 'ois' needs an "
                                             "overnight index, 'swap' an IBOR index")
        try:
            base = default_swap(ix)
        except ValueError as exc:
            base = SwapConvention(ix.currency, "1Y", ix.day_count)
            if _get(inst, "fixed_tenor") is None:
                raise ConfigError(f"{ik}.fixed_tenor", str(exc)) from None
        conv = SwapConvention(
            ix.currency, str(_get(inst, "fixed_tenor", base.fixed_tenor)),
            str(_get(inst, "fixed_day_count", base.fixed_day_count)),
            str(_get(inst, "convention", base.fixed_convention)),
            _get(inst, "settlement_days", base.settlement_days), int(_get(inst, "payment_lag", base.payment_lag)),
            bool(_get(inst, "end_of_month", base.end_of_month)))
        return Quote(Swap(ix, conv, tenor, q, asof), fwd, disc, label)
    other_name = _get(inst, "other_index")
    if other_name is None:
        raise ConfigError(f"{ik}.other_index", f"a {typ} needs the other leg's index")
    other = index(str(other_name), f"{ik}.other_index")
    spread_leg = str(_get(inst, "spread_leg", "this"))
    if spread_leg not in ("this", "other"):
        raise ConfigError(f"{ik}.spread_leg", f"must be 'this' or 'other' (got '{spread_leg}')")
    days = int(_get(inst, "settlement_days", max(ix.fixing_days, other.fixing_days)))
    joint = ix.calendar if ix.calendar == other.calendar else f"{ix.calendar},{other.calendar}"
    cal = str(_get(inst, "calendar", joint))
    conv, eom = str(_get(inst, "convention", "modified_following")), bool(_get(inst, "end_of_month", False))
    other_fwd = index_curve.get(other.name, other.name)
    if typ == "tenor_basis":
        base, oth, bc, oc = (ix, other, fwd, other_fwd) if spread_leg == "this" else (other, ix, other_fwd, fwd)
        return Quote(TenorBasisSwap(base, oth, tenor, q, asof, days, cal, conv, eom, bc, oc), fwd, disc, label)
    coll = _get(cc, "collateral")
    if coll is None:
        raise ConfigError(f"{ik}", "an xccy_basis curve needs 'collateral' (the collateral currency) on the curve")
    return Quote(CrossCurrencyBasisSwap(ix, other, tenor, q, asof, days, cal, fwd, other_fwd, str(coll), conv, eom,
                                        spread_leg), fwd, name, label)


def _future_start(inst, ik, asof, monthly=None):
    """The start of a future: 'YYYY-MM' (the contract month's third Wednesday, or with ``monthly`` (a 1M
    overnight future) the month's first day) or an IMM date, after asof."""
    import datetime as dt

    v = _get(inst, "start")
    if v is None:
        raise ConfigError(f"{ik}.start", "a future needs its contract month (YYYY-MM) or IMM start date")
    text = str(v).strip()
    try:
        if re.match(r"^\d{4}-\d{2}$", text) and monthly is not None:
            start = dt.date(int(text[:4]), int(text[5:]), 1)
        elif re.match(r"^\d{4}-\d{2}$", text):
            start = third_wednesday(int(text[:4]), int(text[5:]))
        elif monthly is not None:
            raise ValueError("a monthly (1M) overnight future takes its contract month YYYY-MM")
        else:
            start = v if isinstance(v, dt.date) else dt.date.fromisoformat(text)
            if not is_imm_date(start):
                raise ValueError(f"{start.isoformat()} is not an IMM date (a month's third Wednesday)")
    except ValueError as exc:
        raise ConfigError(f"{ik}.start", f"'{text}': {exc}") from None
    if start <= asof:
        raise ConfigError(f"{ik}.start", f"the future's reference period starts on {start.isoformat()}, not after the "
                                         f"as-of date {asof.isoformat()} (a started contract needs its fixings)")
    return start


def _with(ix, inst, ik):
    # an instrument's calendar/convention/end_of_month override its index's for deposits and FRAs
    out = ix
    for f in ("calendar", "convention", "end_of_month"):
        v = _get(inst, f)
        if v is not None and str(_get(inst, "type", "")).lower() in ("deposit", "fra"):
            out = dataclasses.replace(out, **{f: v})
    return out
