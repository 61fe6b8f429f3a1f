"""Past index fixings: a CSV file with columns ``index,date,value`` (value as a decimal rate), or ORE's
``fixings.txt`` (``<date> <index> <value>`` per line, whitespace separated, date YYYYMMDD or YYYY-MM-DD, '#'
comments), told apart by the CSV's header line."""

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
        try:
            with open(path) as fh:
                first = next((ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")), "")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("portfolio.fixings", f"cannot read fixings file (not UTF-8 text?): {exc}",
                              source=path) from None
        try:
            return Fixings.read_ore(path) if "," not in first else Fixings._read_csv(path)
        except UnicodeDecodeError as exc:
            raise ConfigError("portfolio.fixings", f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                              source=path) from None

    @staticmethod
    def read_ore(path: str) -> "Fixings":
        """ORE's fixings.txt: ``<date> <index> <value>`` lines; a bad line is a ConfigError naming it."""
        out = {}
        with open(path) as fh:
            for i, raw in enumerate(fh, start=1):
                text = raw.split("#", 1)[0].strip()
                if not text:
                    continue
                parts = text.split()
                try:
                    if len(parts) != 3:
                        raise ValueError("expected '<date> <index> <value>'")
                    s = parts[0]
                    d = dt.date(int(s[:4]), int(s[4:6]), int(s[6:8])) if len(s) == 8 and s.isdigit() \
                        else dt.date.fromisoformat(s)
                    v = float(parts[2])
                except ValueError as exc:
                    raise ConfigError(f"line {i}", f"bad ORE fixing line {raw.strip()!r} ({exc})",
                                      source=path) from None
                if not math.isfinite(v):
                    raise ConfigError(f"line {i}", "fixing value is not finite", source=path)
                out[(parts[1], d)] = v
        return Fixings(out)

    @staticmethod
    def _read_csv(path: str) -> "Fixings":
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
