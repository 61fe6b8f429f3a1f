"""ORE market file lines -> quotes: ``<date> <quote key> <value>`` per line, '#' starts a comment.

    read_quotes(path, asof) -> [OreQuote(date, key, value, line)]   the quotes of ``asof`` (all without it)

Keys are upper-cased except the name of an equity or credit quote (ORE's names are case-sensitive); a bad line
is a MarketDataError naming the file and line. ``norm_tenor`` turns ORE's composite tenors into one ('1Y3M' ->
'15M'). What the quotes mean for the engine's market is ``exposure.market.ore_market``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from exposure.errors import MarketDataError
from exposure.market.schedule import add_tenor

TENOR = re.compile(r"^\d+[DWMY]$")


@dataclasses.dataclass(frozen=True)
class OreQuote:
    date: dt.date
    key: str
    value: float
    line: int


def _date(s: str) -> dt.date:
    s = s.strip()
    return dt.date(int(s[:4]), int(s[4:6]), int(s[6:8])) if len(s) == 8 and s.isdigit() else dt.date.fromisoformat(s)


_NAMED = ("EQUITY", "EQUITY_FWD", "EQUITY_OPTION", "EQUITY_DIVIDEND", "CDS", "RECOVERY_RATE")


def _key(text: str) -> str:
    """The quote key upper-cased, except the name of an equity or credit quote: ORE's names are case-sensitive
    (``EQUITY/PRICE/Lufthansa/EUR`` is the portfolio's ``Lufthansa``)."""
    parts = text.split("/")
    up = [x.upper() for x in parts]
    if up[0] in _NAMED and len(parts) > 2:
        up[2] = parts[2]
    return "/".join(up)


def read_quotes(path: str, asof: dt.date | None = None) -> list:
    """Every quote line of an ORE market file (of ``asof`` when given); '#' starts a comment."""
    out = []
    try:
        with open(path) as fh:
            lines = fh.readlines()
    except OSError as exc:
        raise MarketDataError(f"{path}: cannot read ORE market file: {exc}") from None
    for i, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.replace(",", " ").split()
        if len(parts) != 3:
            raise MarketDataError(f"{path}:{i}: expected '<date> <quote key> <value>', got {raw.strip()!r}")
        try:
            d = _date(parts[0])
        except ValueError:
            raise MarketDataError(f"{path}:{i}: bad date '{parts[0]}' (YYYYMMDD or YYYY-MM-DD)") from None
        try:
            v = float(parts[2])
        except ValueError:
            raise MarketDataError(f"{path}:{i}: bad value '{parts[2]}' of quote {parts[1]}") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise MarketDataError(f"{path}:{i}: non-finite value of quote {parts[1]}")
        if asof is None or d == asof:
            out.append(OreQuote(d, _key(parts[1]), v, i))
    return out


def norm_tenor(t: str) -> str:
    """ORE's composite tenors as one: '1Y3M' -> '15M', '1W2D' -> '9D'; a single tenor unchanged."""
    parts = re.findall(r"(\d+)([DWMY])", t.upper())
    if not parts or "".join(n + u for n, u in parts) != t.upper():
        return t
    if len(parts) == 1:
        return f"{parts[0][0]}{parts[0][1]}"
    if all(u in "MY" for _, u in parts):
        return f"{sum(int(n) * (12 if u == 'Y' else 1) for n, u in parts)}M"
    if all(u in "DW" for _, u in parts):
        return f"{sum(int(n) * (7 if u == 'W' else 1) for n, u in parts)}D"
    raise ValueError(f"bad tenor '{t}'")


def tenor_days(t: str, asof: dt.date) -> int:
    return (add_tenor(asof, t) - asof).days
