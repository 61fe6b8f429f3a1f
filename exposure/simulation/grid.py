"""The simulation time grid: the one place that turns calendar dates into model time.

    t(d) = (d - asof).days / 365    (ACT/365F, years)

A grid is given as tenor strings relative to the as-of date (``1M,3M,6M,1Y``), as ``<n>x<tenor>``
(``120x1M`` = 1M, 2M, ..., 120M), as ISO dates, or a mix. With a margin period of risk the grid also
carries a close-out date d + MPoR for every valuation date d; the simulation runs on the sorted union and
the index arrays map valuation and close-out dates into it. A netting set with a calendar closes out on
d + MPoR rolled to its next business day (``NettingSet.close_out_date``): ``with_netting_calendars`` adds
those dates and gives each netting set its own close-out index (``set_closeout_index``); a netting set
without a calendar keeps the unadjusted d + MPoR.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np

from exposure.errors import ConfigError
from exposure.dates import add_tenor, model_times, parse_date, tenor_date, tenor_time  # noqa: F401  (re-exported)

_TENOR = re.compile(r"^\s*(\d+)\s*([DWMYdwmy])\s*$")
_REPEAT = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+[DWMYdwmy])\s*$")


def year_fraction(asof: dt.date, dates) -> np.ndarray:
    """Model time ACT/365F of each date from ``asof``; shape of ``dates`` (``exposure.dates.model_times``)."""
    return model_times(asof, dates)


def parse_grid_dates(asof: dt.date, spec, key: str = "simulation.grid") -> list[dt.date]:
    """Grid dates from a comma-separated string or a list of tenors / ``<n>x<tenor>`` / ISO dates."""
    items = [s for s in (spec.split(",") if isinstance(spec, str) else list(spec)) if str(s).strip()]
    if not items:
        raise ConfigError(key, "the grid is empty")
    dates: list[dt.date] = []
    for item in items:
        item = str(item).strip()
        rep = _REPEAT.match(item)
        if rep:
            n, step = int(rep.group(1)), rep.group(2).upper()
            num, unit = int(step[:-1]), step[-1]
            dates += [tenor_date(asof, f"{num * k}{unit}", key) for k in range(1, n + 1)]
        elif _TENOR.match(item):
            dates.append(tenor_date(asof, item.upper(), key))
        elif re.match(r"^\d{4}-\d{2}-\d{2}$", item):
            dates.append(parse_date(item, key))
        else:
            raise ConfigError(key, f"unknown grid entry '{item}' (tenor like 3M, <n>x<tenor>, or ISO date)")
    for prev, cur in zip(dates, dates[1:]):
        if cur <= prev:
            raise ConfigError(key, f"grid dates out of order or repeated: {cur.isoformat()} after {prev.isoformat()}")
    if dates[0] <= asof:
        raise ConfigError(key, f"first grid date {dates[0].isoformat()} is not after the as-of date {asof.isoformat()}")
    return dates


@dataclasses.dataclass(frozen=True)
class TimeGrid:
    """Simulation dates (without t0) and their model times; valuation/close-out indices into them.

    dates: (n,) sorted unique simulation dates. times: (n,) ACT/365F years.
    valuation_index: (k,) positions of the exposure (valuation) dates.
    closeout_index: (k,) positions of the (unadjusted) close-out dates d + MPoR, or None without an MPoR.
    set_closeout_index: (k, n_sets) position of each netting set's close-out date (rolled on its calendar),
    or None when every netting set uses ``closeout_index``.
    """

    asof: dt.date
    dates: tuple
    times: np.ndarray
    valuation_index: np.ndarray
    closeout_index: np.ndarray | None = None
    mpor: str | None = None
    set_closeout_index: np.ndarray | None = None

    @property
    def valuation_dates(self) -> list[dt.date]:
        return [self.dates[i] for i in self.valuation_index]

    @property
    def valuation_times(self) -> np.ndarray:
        return self.times[self.valuation_index]

    @property
    def steps(self) -> np.ndarray:
        """Step lengths dt_k = t_k - t_{k-1} with t_0 = 0; (n,)."""
        return np.diff(np.concatenate([[0.0], self.times]))

    def with_events(self, event_dates) -> "TimeGrid":
        """The grid with ``event_dates`` simulated too (unreported): dates after the as-of date and not after
        the last simulated date join the sorted union; valuation and close-out indices follow their dates."""
        last = self.dates[-1]
        extra = {d for d in event_dates if self.asof < d <= last} - set(self.dates)
        if not extra:
            return self
        return self._union(extra)

    def _union(self, extra, set_closeouts=None) -> "TimeGrid":
        """The grid on its dates plus ``extra``; ``set_closeouts`` (k, n_sets) dates replace set_closeout_index."""
        union = sorted(set(self.dates) | set(extra))
        pos = {d: i for i, d in enumerate(union)}
        def remap(idx):
            return None if idx is None else np.vectorize(lambda i: pos[self.dates[i]], otypes=[int])(idx)

        sets = remap(self.set_closeout_index) if set_closeouts is None else \
            np.array([[pos[d] for d in row] for row in set_closeouts], dtype=int).reshape(len(self.valuation_index), -1)
        return TimeGrid(self.asof, tuple(union), year_fraction(self.asof, union), remap(self.valuation_index),
                        remap(self.closeout_index), self.mpor, sets)

    def with_netting_calendars(self, calendars) -> "TimeGrid":
        """The grid with each netting set's own close-out dates: ``calendars`` (n_sets,) calendar names or None
        (no calendar: the unadjusted d + MPoR). d + MPoR is rolled to the next business day (following) of
        the set's calendar; the new dates join the simulation and ``set_closeout_index`` maps them. Unchanged
        without an MPoR or when no netting set has a calendar."""
        calendars = list(calendars)
        if self.closeout_index is None or not calendars or all(c is None for c in calendars):
            return self
        from exposure.market.calendars import get_calendar

        base = [self.dates[i] for i in self.closeout_index]
        cols = []
        for name in calendars:
            cal = None if name is None else get_calendar(name)
            cols.append(base if cal is None else [cal.adjust(d, "following") for d in base])
        rows = [list(r) for r in zip(*cols)]
        return self._union({d for r in rows for d in r}, rows)

    def event_dates(self) -> list[dt.date]:
        """The simulated dates that are neither valuation nor close-out dates (the portfolio's event dates)."""
        used = set(self.valuation_index.tolist()) | set(() if self.closeout_index is None else self.closeout_index.tolist())
        if self.set_closeout_index is not None:
            used |= set(self.set_closeout_index.reshape(-1).tolist())
        return [d for i, d in enumerate(self.dates) if i not in used]

    def reporting_mask(self) -> np.ndarray:
        """(n + 1,) bool over [t0] + dates: True on t0 and the valuation and close-out dates. Pricers read the
        state only there and on their own trades' event dates, so a trade's values never depend on another
        trade's event dates."""
        mask = np.zeros(len(self.dates) + 1, dtype=bool)
        mask[0] = True
        mask[1 + np.asarray(self.valuation_index, dtype=int)] = True
        if self.closeout_index is not None:
            mask[1 + np.asarray(self.closeout_index, dtype=int)] = True
        return mask

    @property
    def n_event_dates(self) -> int:
        return len(self.event_dates())

    @staticmethod
    def build(asof: dt.date, spec, mpor: str | None = None, key: str = "simulation.grid") -> "TimeGrid":
        valuation = parse_grid_dates(asof, spec, key)
        if mpor is None:
            times = year_fraction(asof, valuation)
            return TimeGrid(asof, tuple(valuation), times, np.arange(len(valuation)), None, None)
        if not _TENOR.match(str(mpor)):
            raise ConfigError("simulation.mpor", f"unknown tenor string '{mpor}' (e.g. 10D or 2W)")
        closeout = [add_tenor(d, str(mpor).strip().upper()) for d in valuation]
        union = sorted(set(valuation) | set(closeout))
        pos = {d: i for i, d in enumerate(union)}
        return TimeGrid(
            asof,
            tuple(union),
            year_fraction(asof, union),
            np.array([pos[d] for d in valuation]),
            np.array([pos[d] for d in closeout]),
            str(mpor).strip().upper(),
        )
