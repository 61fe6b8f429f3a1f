"""A trade list as CSV: one row per trade, one column per trade field (``examples/portfolio/README.md``).

The header names the fields: ``id``, ``type`` (required) and any field of any trade type; a leg field of a
cross-currency swap is ``pay_leg.currency``, ``receive_leg.fixed_rate`` ...; ``amortisation.type`` /
``amortisation.amount`` for an amortising swap. An empty cell is an absent field (its default applies). A cell
whose text is a number is read as one (except ``id``, ``netting_set``, ``counterparty``, ``description``,
``name``); booleans are ``true``/``false``. Each row becomes the same mapping a YAML trade entry is, so every
check and message is the YAML loader's. A row with more cells than the header, or a header without ``id`` and
``type``, is a ConfigError naming the file and line.
"""

from __future__ import annotations

import csv

from exposure.errors import ConfigError

_TEXT = {"id", "netting_set", "counterparty", "description", "name"}


def _cell(key: str, text: str):
    if key.split(".")[-1] in _TEXT:
        return text
    try:
        v = float(text)
    except ValueError:
        return text
    return int(v) if v.is_integer() and "." not in text and "e" not in text.lower() else v


def read_trades_csv(path: str) -> list:
    """[raw trade mapping] per data row of the CSV file at ``path`` (comment lines start with '#')."""
    try:
        with open(path, newline="") as fh:
            lines = [ln for ln in fh if not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("portfolio.trades", f"cannot read (not a UTF-8 text file?): {exc}", source=path) from None
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    if "id" not in header or "type" not in header:
        raise ConfigError("header", "a trades CSV needs 'id' and 'type' columns", source=path)
    if len(set(header)) != len(header):
        raise ConfigError("header", "duplicate column names", source=path)
    out = []
    for n, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header):
            raise ConfigError(f"line {n}", f"{len(row)} cells for {len(header)} columns", source=path)
        raw: dict = {}
        for key, text in zip(header, row):
            text = text.strip()
            if not text:
                continue
            parts = key.split(".")
            node = raw
            for p in parts[:-1]:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"line {n}", f"column '{key}' nests under a plain field", source=path)
            node[parts[-1]] = _cell(key, text)
        out.append(raw)
    return out
