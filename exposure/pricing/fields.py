"""Typed reading of one raw trade dict (a portfolio-file mapping) for the trade parsers.

``Fields(raw, ctx, known)`` turns a trade's fields into Python values, each checked once, here:

    number    float, finite (optionally > 0 or >= 0), in the units the trade type gives the field
    boolean   bool
    string    str, stripped;  choice: one of a fixed list, lower case
    date      datetime.date: an ISO date (YYYY-MM-DD, or a YAML date) or a tenor counted from the as-of date
              (``5Y``, ``-18M``, ``0D`` = as-of; calendar months/days, month ends clip; unadjusted)
    tenor     canonical "<n><unit>" string, n > 0;  day_count: canonical day-count name;
    convention  business-day convention name;  currency: a key of market.curves;  index: (name, index)
              of market.indices

Every problem raises (or, from ``error``, returns) a TradeError naming the trade and the field; a field not in
``known`` (nor one of COMMON_FIELDS at the top level) is an error. ``sub`` reads a nested mapping (a leg) whose
fields are then named ``leg.field``.

Leniency, the same for every trade type: booleans are true/false or the strings "true"/"false" (any
case: values quoted in a file); numbers are numbers or anything whose text parses as one; a date string is YYYY-MM-DD
(an impossible one is its own error) or a tenor.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from exposure.errors import TradeError
from exposure.market.schedule import CONVENTIONS, add_tenor, day_count_name, parse_tenor

COMMON_FIELDS = frozenset({"id", "type", "netting_set", "counterparty", "description"})
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MISSING = object()


# Every message names the field first (a leg's fields as ``leg.field``); TradeError adds the trade id.
_MESSAGES = {
    "unknown": "{key}: unknown field (known: {known_all})",
    "missing": "{key}: missing required field",
    "not_number": "{key}: expected a number (got {got!r})",
    "not_finite": "{key}: must be finite (got {value})",
    "not_positive": "{key}: must be > 0 (got {value:g}); the direction is set by payer/long, not the sign",
    "negative": "{key}: must be >= 0 (got {value:g})",
    "not_bool": "{key}: expected true or false (got {got!r})",
    "tenor_sign": "{key}: tenor must be positive (got '{value}')",
    "bad_date": "{key}: '{value}' is not a valid date",
    "not_date": "{key}: '{value}' is neither an ISO date (YYYY-MM-DD) nor a tenor (e.g. 6M, 5Y, -1Y)",
    "currency": "{key}: unknown currency '{value}' (market has {known})",
    "choice": "{key}: must be one of {known} (got '{value}')",
    "past": "{key}: {value} is in the past (as-of date {asof})",
}


class Fields:
    """Typed access to one raw trade dict; every problem is a TradeError naming the trade and the field.

    raw: the trade's mapping; ctx: the parse context (``market``, optional ``source`` and ``fixings``);
    known: the trade type's own field names. ``prefix`` and ``trade_id`` are set by ``sub`` for a leg.
    A ``default`` of None makes a missing field read as None.
    """

    def __init__(self, raw: dict, ctx, known, prefix: str = "", *, trade_id: str | None = None):
        self.raw, self.ctx, self.prefix = raw, ctx, prefix
        self.tid = str(raw.get("id", "?")) if trade_id is None else trade_id
        self.market = ctx.market
        self.source = getattr(ctx, "source", None)
        common = frozenset() if prefix else COMMON_FIELDS
        unknown = sorted(set(map(str, raw)) - set(known) - common)
        if unknown:
            raise self._error("unknown", unknown[0], known=", ".join(sorted(set(known))),
                              known_all=", ".join(sorted(set(known) | common)))

    # -- errors ------------------------------------------------------------------------------------------

    def error(self, problem: str, key: str | None = None) -> TradeError:
        """The TradeError for ``problem`` (about field ``key`` when given), for the caller to raise."""
        where = f"{self.prefix}{key}: " if key else ""
        return TradeError(self.tid, f"{where}{problem}", source=self.source)

    def fail(self, key: str | None, problem: str):
        raise self.error(problem, key)

    def _error(self, kind: str, key: str, **values) -> TradeError:
        text = _MESSAGES[kind].format(key=f"{self.prefix}{key}", **values)
        return TradeError(self.tid, text, source=self.source)

    # -- plain values ------------------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def get(self, key: str, default=_MISSING):
        v = self.raw.get(key)
        if v is None:
            if default is _MISSING:
                raise self._error("missing", key)
            return default
        return v

    def number(self, key: str, default=_MISSING, positive=False, nonneg=False) -> float | None:
        v = self.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:  # a quoted number, or a NumPy scalar
                v = float(str(v).strip()) if not isinstance(v, bool) else None
            except ValueError:
                v = None
            if v is None:
                raise self._error("not_number", key, got=self.raw.get(key))
        v = float(v)
        if not math.isfinite(v):
            raise self._error("not_finite", key, value=v)
        if positive and v <= 0.0:
            raise self._error("not_positive", key, value=v)
        if nonneg and v < 0.0:
            raise self._error("negative", key, value=v)
        return v

    def boolean(self, key: str, default=_MISSING) -> bool:
        v = self.get(key, default)
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):  # a quoted boolean
            return v.strip().lower() == "true"
        raise self._error("not_bool", key, got=v)

    def string(self, key: str, default=_MISSING) -> str | None:
        v = self.get(key, default)
        return None if v is None else str(v).strip()

    def choice(self, key: str, allowed, default=_MISSING) -> str:
        v = self.string(key, default)
        if v.lower() not in allowed:
            raise self._error("choice", key, value=v, known=", ".join(allowed))
        return v.lower()

    # -- conventions and dates ---------------------------------------------------------------------------

    def tenor(self, key: str, default=_MISSING) -> str:
        v = self.string(key, default)
        try:
            n, unit = parse_tenor(v)
        except ValueError as exc:
            raise self.error(str(exc), key) from exc
        if n <= 0:
            raise self._error("tenor_sign", key, value=v)
        return f"{n}{unit}"

    def day_count(self, key: str, default=_MISSING) -> str:
        v = self.string(key, default)
        try:
            return day_count_name(v)
        except ValueError as exc:
            raise self.error(str(exc), key) from exc

    def convention(self, key: str = "convention", default="modified_following") -> str:
        v = self.string(key, default)
        k = v.lower().replace(" ", "_").replace("-", "_")
        if k not in CONVENTIONS:
            self.fail(key, f"unknown business-day convention '{v}' (expected one of {', '.join(CONVENTIONS)})")
        return k

    def calendar(self, key: str = "calendar", default="WeekendsOnly"):
        """A business-day calendar by name (``exposure.market.calendars``: TARGET, US, UK, 'TARGET,UK', ...)."""
        from exposure.market.calendars import get_calendar

        v = self.string(key, default)
        try:
            return get_calendar(v)
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def date(self, key: str, default=_MISSING) -> dt.date | None:
        """An ISO date (YYYY-MM-DD, or a YAML date) or a tenor counted from the as-of date (unadjusted)."""
        v = self.get(key, default)
        if v is None:
            return None
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        s = str(v).strip()
        if _ISO.match(s):
            try:
                return dt.date.fromisoformat(s)
            except ValueError:
                raise self._error("bad_date", key, value=s) from None
        try:
            return add_tenor(self.market.asof, s.upper())
        except ValueError:
            raise self._error("not_date", key, value=s, got=v) from None

    def not_past(self, key: str, d: dt.date) -> None:
        if d < self.market.asof:
            raise self._error("past", key, value=d.isoformat(), asof=self.market.asof.isoformat())

    def start_end(self, start_key="start", end_key="maturity", tenor_key="tenor", start_default="0D"):
        """(start, end) dates: ``end_key`` or ``tenor_key`` (a length from start), end after start."""
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

    # -- market keys -------------------------------------------------------------------------------------

    def currency(self, key: str = "currency", default=_MISSING) -> str:
        c = self.string(key, default)
        if c not in self.market.curves:
            raise self._error("currency", key, value=c, known=", ".join(sorted(self.market.curves)))
        return c

    def index(self, key: str, ccy: str | None, required=False):
        """(name, index) of market.indices, or (None, None); checks the index currency against ``ccy``."""
        name = self.string(key, _MISSING if required else None)
        if name is None or name.lower() in ("none", "null", ""):
            if required:
                raise self._error("missing", key)
            return None, None
        if name not in self.market.indices:
            known = ", ".join(sorted(self.market.indices)) or "none"
            self.fail(key, f"unknown index '{name}' (market indices: {known})")
        idx = self.market.indices[name]
        if ccy is not None and idx.currency != ccy:
            self.fail(key, f"index '{name}' is in {idx.currency}, not in the leg's currency {ccy}")
        return name, idx

    # -- nested mappings ---------------------------------------------------------------------------------

    def sub(self, key: str, known) -> Fields:
        """The mapping under ``key`` (a leg), its fields named ``key.field`` in messages."""
        raw = self.get(key)
        if not isinstance(raw, dict):
            self.fail(key, "expected a mapping of leg fields")
        return Fields(raw, self.ctx, known, prefix=f"{self.prefix}{key}.", trade_id=self.tid)
