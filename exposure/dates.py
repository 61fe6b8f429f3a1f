"""Dates and model time: the bottom module every layer may import (it imports nothing of the package but
its errors).

    model time  t(d) = (d - asof).days / DAYS_PER_YEAR     (ACT/365F years; DAYS_PER_YEAR = 365)
    tenors      '<n>D|W|M|Y' (sign allowed); d + tenor in calendar days / months / years, month ends clipped
                (31 Jan + 1M = 28 Feb, as QuantLib's Date + Period)

Business-day calendars, day counts and coupon schedules build on these in ``exposure.market.schedule``.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import re

import numpy as np

from exposure.errors import ConfigError

DAYS_PER_YEAR = 365.0
_TENOR = re.compile(r"^\s*([+-]?\d+)\s*([DWMY])\s*$", re.IGNORECASE)


def years(days):
    """Model time of a day count from the as-of date: days / 365 (array or scalar)."""
    return np.asarray(days, dtype=np.float64) / DAYS_PER_YEAR if np.ndim(days) else float(days) / DAYS_PER_YEAR


def days(t) -> np.ndarray:
    """Whole days of a model time (rounded): the inverse of ``years`` on day-count times."""
    return np.rint(np.asarray(t, dtype=np.float64) * DAYS_PER_YEAR).astype(np.int64)


def model_time(asof: dt.date, d: dt.date) -> float:
    """t(d) = (d - asof).days / 365."""
    return (d - asof).days / DAYS_PER_YEAR


def model_times(asof: dt.date, dates) -> np.ndarray:
    """Model time of each date; shape (len(dates),)."""
    return np.array([(d - asof).days / DAYS_PER_YEAR for d in dates], dtype=np.float64)


def parse_tenor(tenor: str) -> tuple[int, str]:
    """'3M' -> (3, 'M'); units D, W, M, Y (case-insensitive, optional sign). ValueError names bad strings."""
    m = _TENOR.match(str(tenor))
    if m is None:
        raise ValueError(f"bad tenor '{tenor}': expected <integer><D|W|M|Y>, e.g. '3M' or '10Y'")
    return int(m.group(1)), m.group(2).upper()


def add_months(d: dt.date, months: int) -> dt.date:
    """d + months, the day clipped to the target month's length."""
    y, m0 = divmod(d.year * 12 + (d.month - 1) + months, 12)
    return dt.date(y, m0 + 1, min(d.day, _cal.monthrange(y, m0 + 1)[1]))


def shift(d: dt.date, n: int, unit: str) -> dt.date:
    """d + n units (D, W, M or Y) in calendar arithmetic."""
    if unit == "D":
        return d + dt.timedelta(days=n)
    if unit == "W":
        return d + dt.timedelta(weeks=n)
    if unit == "M":
        return add_months(d, n)
    return add_months(d, 12 * n)


def add_tenor(d: dt.date, tenor: str) -> dt.date:
    """Calendar-day arithmetic d + tenor (no business-day adjustment); month ends clip: 31Jan+1M = 28Feb."""
    n, unit = parse_tenor(tenor)
    return shift(d, n, unit)


def parse_date(text, key: str) -> dt.date:
    """An ISO date (YYYY-MM-DD); ConfigError naming ``key`` otherwise."""
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise ConfigError(key, f"'{text}' is not an ISO date (YYYY-MM-DD)") from exc


def tenor_date(asof: dt.date, tenor: str, key: str) -> dt.date:
    """asof + tenor (unadjusted, month ends clipped); ConfigError naming ``key`` for a bad tenor string."""
    if not re.match(r"^\s*\d+\s*[DWMYdwmy]\s*$", str(tenor)):
        raise ConfigError(key, f"unknown tenor string '{tenor}' (expected <n>D, <n>W, <n>M or <n>Y)")
    return add_tenor(asof, str(tenor).strip().upper())


def tenor_time(asof: dt.date, tenor: str, key: str) -> float:
    """Model time of asof + tenor."""
    return model_time(asof, tenor_date(asof, tenor, key))
