"""The SA-CCR trade table (CSV) and netting-set margin table, validated before any compute.

Trade table, one row per trade (header names exactly; blank cells take the default):

    trade_id      required, unique
    netting_set   required
    asset_class   IR | FX | CR | EQ | CO
    notional      >= 0, base currency (IR/CR: the trade notional; FX: the foreign leg in base currency, the
                  larger leg when neither is the base; EQ/CO: price x units)
    maturity      M, years (> 0) or an ISO date (needs the as-of date): the latest date the trade may be active
    mtm           current value V_i, base currency (default 0)
    long          true/false (default true): long the primary risk factor (IR: receive floating / pay fixed;
                  CR: protection bought; options: bought)
    hedging_set   IR: currency; FX: currency pair (e.g. EURUSD). Required for IR and FX
    risk_factor   CR/EQ: reference entity or index; CO: commodity type (e.g. crude oil). Required for CR, EQ, CO
    sub_class     CR: AAA AA A BBB BB B CCC, or IG / SG for an index; EQ: blank; CO: electricity | oil_gas |
                  metals | agricultural | other
    is_index      true/false (CR, EQ)
    start, end    S and E of the IR / CR underlying period (years or ISO dates; default 0 and M)
    option        blank | call | put | tranche;  price P, strike K, expiry T (years or date) for call/put;
                  attachment A, detachment D (0 <= A < D <= 1) for a tranche; shift: lambda (optional)
    basis, volatility  true/false: basis / volatility transaction
    delta         an explicit supervisory delta (overrides long / option)

Margin table (optional), one row per netting set: netting_set, margined (true/false), threshold, mta, nica,
collateral, mpor_days (default 10). A netting set not listed is unmargined with no collateral.
Errors (ConfigError) name the file, the row (line number) and the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import math

from exposure.dates import model_time
from exposure.capital.saccr import MarginTerms
from exposure.capital.saccr_tables import (ASSET_CLASSES, COMMODITY_SF, CREDIT_INDEX, CREDIT_RATINGS, SaccrTrade)
from exposure.errors import ConfigError

TRADE_COLUMNS = ("trade_id", "netting_set", "asset_class", "notional", "maturity", "mtm", "long", "hedging_set",
                 "risk_factor", "sub_class", "is_index", "start", "end", "option", "price", "strike", "expiry",
                 "shift", "attachment", "detachment", "basis", "volatility", "delta")
MARGIN_COLUMNS = ("netting_set", "margined", "threshold", "mta", "nica", "collateral", "mpor_days")
_TRUE, _FALSE = ("true", "1", "yes", "y"), ("false", "0", "no", "n", "")


class _Row:
    def __init__(self, row: dict, path: str, line: int):
        self.row, self.path, self.line = row, path, line

    def error(self, field: str, msg: str) -> ConfigError:
        return ConfigError(f"line {self.line}, field '{field}'", msg, source=self.path)

    def text(self, f: str, required: bool = False) -> str:
        v = (self.row.get(f) or "").strip()
        if required and not v:
            raise self.error(f, "is required")
        return v

    def number(self, f: str, default=None, *, min_value=None, positive=False):
        v = self.text(f)
        if not v:
            if default is None and (positive or min_value is not None):
                raise self.error(f, "is required")
            return default
        try:
            x = float(v)
        except ValueError:
            raise self.error(f, f"'{v}' is not a number") from None
        if not math.isfinite(x):
            raise self.error(f, f"'{v}' is not finite")
        if positive and x <= 0:
            raise self.error(f, f"must be > 0 (got {x})")
        if min_value is not None and x < min_value:
            raise self.error(f, f"must be >= {min_value} (got {x})")
        return x

    def boolean(self, f: str, default: bool) -> bool:
        v = self.text(f).lower()
        if not v:
            return default
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise self.error(f, f"'{v}' is not true/false")

    def time(self, f: str, asof, default=None, positive=False):
        v = self.text(f)
        if not v:
            if default is None and positive:
                raise self.error(f, "is required")
            return default
        if "-" in v[1:] and len(v) == 10:
            if asof is None:
                raise self.error(f, f"an ISO date ('{v}') needs the as-of date")
            try:
                x = model_time(asof, dt.date.fromisoformat(v))
            except ValueError:
                raise self.error(f, f"'{v}' is not an ISO date") from None
        else:
            x = self.number(f)
        if positive and x <= 0:
            raise self.error(f, f"must be after today (got {x:g} years)")
        return x


def _rows(path: str, known: tuple, required: tuple):
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            rows = list(reader)
    except OSError as exc:
        raise ConfigError("capital", f"cannot read: {exc}", source=path) from exc
    unknown = [h for h in header if h not in known]
    if unknown:
        raise ConfigError(f"column '{unknown[0]}'", f"unknown column (known: {', '.join(known)})", source=path)
    missing = [h for h in required if h not in header]
    if missing:
        raise ConfigError(f"column '{missing[0]}'", "required column is missing", source=path)
    return [_Row(r, path, i) for i, r in enumerate(rows, start=2)]


def parse_trade_row(r: _Row, asof=None) -> SaccrTrade:
    ac = r.text("asset_class", True).upper()
    if ac not in ASSET_CLASSES:
        raise r.error("asset_class", f"'{ac}' is not one of {', '.join(ASSET_CLASSES)}")
    m = r.time("maturity", asof, positive=True)
    kw = dict(trade_id=r.text("trade_id", True), netting_set=r.text("netting_set", True), asset_class=ac,
              notional=r.number("notional", min_value=0.0), maturity=m, mtm=r.number("mtm", 0.0),
              long=r.boolean("long", True), hedging_set=r.text("hedging_set"), risk_factor=r.text("risk_factor"),
              sub_class=r.text("sub_class"), is_index=r.boolean("is_index", False),
              start=r.time("start", asof, 0.0), end=r.time("end", asof, None), option=r.text("option").lower(),
              basis=r.boolean("basis", False), volatility=r.boolean("volatility", False),
              delta=r.number("delta", None))
    if ac in ("IR", "FX") and not kw["hedging_set"]:
        raise r.error("hedging_set", f"is required for {ac} (IR: the currency, FX: the pair)")
    if ac in ("CR", "EQ", "CO") and not kw["risk_factor"]:
        raise r.error("risk_factor", f"is required for {ac} (the entity, index or commodity type)")
    if ac == "CR":
        table = CREDIT_INDEX if kw["is_index"] else CREDIT_RATINGS
        kw["sub_class"] = kw["sub_class"].upper()
        if kw["sub_class"] not in table:
            raise r.error("sub_class", f"'{kw['sub_class']}' is not one of {', '.join(table)}")
    if ac == "CO":
        kw["sub_class"] = kw["sub_class"].lower()
        if kw["sub_class"] not in COMMODITY_SF:
            raise r.error("sub_class", f"'{kw['sub_class']}' is not one of {', '.join(COMMODITY_SF)}")
    if kw["end"] is not None and kw["end"] < kw["start"]:
        raise r.error("end", f"end {kw['end']:g} is before start {kw['start']:g}")
    opt = kw["option"]
    if opt not in ("", "call", "put", "tranche"):
        raise r.error("option", f"'{opt}' is not blank, call, put or tranche")
    if opt in ("call", "put") and kw["delta"] is None:
        kw.update(price=r.number("price", None), strike=r.number("strike", None),
                  expiry=r.time("expiry", asof, positive=True), shift=r.number("shift", None))
        for f in ("price", "strike"):
            if kw[f] is None:
                raise r.error(f, f"is required for an option ({opt})")
        if kw["shift"] is None and ac != "IR" and (kw["price"] <= 0 or kw["strike"] <= 0):
            raise r.error("price" if kw["price"] <= 0 else "strike", "must be > 0 (or give a shift)")
    if opt == "tranche" and kw["delta"] is None:
        a, d = r.number("attachment", None, min_value=0.0), r.number("detachment", None, min_value=0.0)
        if not (0.0 <= a < d <= 1.0):
            raise r.error("detachment", f"needs 0 <= attachment < detachment <= 1 (got {a}, {d})")
        kw.update(attachment=a, detachment=d)
    if kw["basis"] and kw["volatility"]:
        raise r.error("volatility", "a trade is a basis or a volatility transaction, not both")
    return SaccrTrade(**kw)


def read_trade_table(path: str, asof: dt.date | None = None) -> tuple:
    """SaccrTrade per row of the CSV at ``path``; ConfigError naming file, line and field on bad input."""
    rows = _rows(path, TRADE_COLUMNS, ("trade_id", "netting_set", "asset_class", "notional", "maturity"))
    out, seen = [], set()
    for r in rows:
        t = parse_trade_row(r, asof)
        if t.trade_id in seen:
            raise r.error("trade_id", f"duplicate trade id '{t.trade_id}'")
        seen.add(t.trade_id)
        out.append(t)
    return tuple(out)


def read_margin_table(path: str) -> dict:
    """{netting set: MarginTerms} from the margin CSV at ``path``."""
    out = {}
    for r in _rows(path, MARGIN_COLUMNS, ("netting_set",)):
        ns = r.text("netting_set", True)
        if ns in out:
            raise r.error("netting_set", f"duplicate netting set '{ns}'")
        out[ns] = MarginTerms(margined=r.boolean("margined", False),
                              threshold=r.number("threshold", 0.0, min_value=0.0),
                              mta=r.number("mta", 0.0, min_value=0.0), nica=r.number("nica", 0.0),
                              collateral=r.number("collateral", 0.0),
                              mpor_days=r.number("mpor_days", 10.0, min_value=1.0))
    return out
