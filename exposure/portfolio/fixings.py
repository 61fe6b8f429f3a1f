"""Past index fixings from a CSV file with columns ``index,date,value`` (value as a decimal rate)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math

from exposure.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Fixings:
    values: dict  # (index, date) -> float

    def get(self, index: str, date: dt.date) -> float | None:
        return self.values.get((index, date))

    @staticmethod
    def empty() -> "Fixings":
        return Fixings({})

    @staticmethod
    def read(path: str) -> "Fixings":
        out = {}
        try:
            with open(path, newline="") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise ConfigError("portfolio.fixings", f"cannot read fixings file: {exc}", source=path) from exc
        for i, row in enumerate(rows, start=2):
            try:
                idx, d, v = row["index"].strip(), dt.date.fromisoformat(row["date"].strip()), float(row["value"])
            except (KeyError, ValueError, AttributeError) as exc:
                raise ConfigError(f"line {i}", f"expected columns index,date,value with an ISO date and a number ({exc})",
                                  source=path) from exc
            if not math.isfinite(v):
                raise ConfigError(f"line {i}", "fixing value is not finite", source=path)
            out[(idx, d)] = v
        return Fixings(out)
