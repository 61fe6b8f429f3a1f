"""Report settings: the PFE quantile the desk reads, counterparty PFE limits (by tenor bucket), outputs.

A limit is ``LimitSpec(counterparty, bucket, limit)``: the counterparty's PFE at ``pfe_quantile`` must stay
<= ``limit`` (base currency) at every exposure date d of the bucket. Buckets are tenor ranges from the as-of
date: ``all``; ``A-B`` for asof + A < d <= asof + B (``0-1Y``, ``1Y-5Y``; a bare number is years); ``A+`` for
d > asof + A (``5Y+``). The as-of date itself belongs to every bucket that starts at 0.

Limits come from the config node (``report.limits``: ``{CP_A: 5.0e6, CP_B: {0-1Y: 2.0e6, 1Y-5Y: 4.0e6}}``)
and/or a CSV file (``report.limits_file``, columns ``Counterparty,Bucket,Limit``; Bucket empty = ``all``);
config entries replace same (counterparty, bucket) rows of the file. Nothing here imports Hydra.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re

from exposure.errors import ConfigError

_TENOR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([DWMY]?)\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Bucket:
    """Tenor range (lo, hi] in (years, months, days) offsets from the as-of date; hi None = open-ended."""

    label: str
    lo: tuple  # (months, days)
    hi: tuple | None


@dataclasses.dataclass(frozen=True)
class LimitSpec:
    counterparty: str
    bucket: Bucket
    limit: float  # base currency, > 0


@dataclasses.dataclass(frozen=True)
class ReportSettings:
    enabled: bool = True
    pfe_quantile: float = 0.99
    limits: tuple = ()  # LimitSpec, in file/config order
    plots: bool = True
    html: bool = True
    limits_source: str = ""  # where the limits came from, for the report's metadata


def _offset(text: str, key: str) -> tuple:
    """'5Y' -> (60, 0) months/days; '18M' -> (18, 0); '2W' -> (0, 14); '10D' -> (0, 10); '1.5' -> (18, 0)."""
    m = _TENOR.match(str(text))
    if not m:
        raise ConfigError(key, f"cannot read tenor '{text}' (use e.g. 0, 6M, 1Y, 5Y)")
    n, unit = float(m.group(1)), (m.group(2) or "Y").upper()
    if unit == "D" or unit == "W":
        if n != int(n):
            raise ConfigError(key, f"tenor '{text}': days and weeks must be whole")
        return (0, int(n) * (7 if unit == "W" else 1))
    months = n * (12 if unit == "Y" else 1)
    if abs(months - round(months)) > 1e-9:
        raise ConfigError(key, f"tenor '{text}' is not a whole number of months")
    return (int(round(months)), 0)


def parse_bucket(text, key: str) -> Bucket:
    """'all' | 'A-B' | 'A+' (A, B tenors) -> Bucket; raises ConfigError naming ``key`` otherwise."""
    label = "all" if text is None or str(text).strip() in ("", "all", "*") else str(text).strip()
    if label == "all":
        return Bucket("all", (0, 0), None)
    if label.endswith("+"):
        return Bucket(label, _offset(label[:-1], key), None)
    parts = label.split("-")
    if len(parts) != 2:
        raise ConfigError(key, f"cannot read tenor bucket '{label}' (use all, 0-1Y, 1Y-5Y or 5Y+)")
    lo, hi = _offset(parts[0], key), _offset(parts[1], key)
    if (lo[0] * 31 + lo[1]) >= (hi[0] * 31 + hi[1]):
        raise ConfigError(key, f"tenor bucket '{label}': the start must be before the end")
    return Bucket(label, lo, hi)


def _amount(value, key: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"limit must be a number (got {value!r})") from None
    if not math.isfinite(x) or x <= 0:
        raise ConfigError(key, f"limit must be a finite amount > 0 (got {value!r})")
    return x


def read_limits_csv(path: str, key: str = "report.limits_file") -> list:
    """Rows ``Counterparty,Bucket,Limit`` (header required; Bucket may be empty or the column absent); one row per
    (counterparty, bucket): a second is an error naming both lines."""
    from exposure.portfolio.loader import resolve_input

    real = resolve_input(str(path), key)
    out, first = [], {}
    with open(real, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        for need in ("counterparty", "limit"):
            if need not in cols:
                raise ConfigError(key, f"column '{need.capitalize()}' missing (columns: {reader.fieldnames})",
                                  source=real)
        for i, row in enumerate(reader, start=2):
            where = f"{key} line {i}"
            try:
                cp = (row.get(cols["counterparty"]) or "").strip()
                if not cp:
                    raise ConfigError(where, "empty Counterparty")
                bucket = parse_bucket(row.get(cols["bucket"]) if "bucket" in cols else None, where)
                if (cp, bucket.label) in first:  # two limits for one bucket: which one the desk meant is unknown
                    raise ConfigError(where, f"second limit for {cp} {bucket.label} (the first is on line "
                                             f"{first[cp, bucket.label]})")
                first[cp, bucket.label] = i
                out.append(LimitSpec(cp, bucket, _amount(row.get(cols["limit"]), where)))
            except ConfigError as exc:  # name the file as well as the line
                raise ConfigError(exc.key, exc.problem, source=real) from None
    return out


def _limits_from_mapping(node, key: str = "report.limits") -> list:
    out = []
    for cp in list(node.keys()) if node is not None else []:
        value = node[cp]
        if hasattr(value, "keys"):
            for b in value.keys():
                out.append(LimitSpec(str(cp), parse_bucket(b, f"{key}.{cp}.{b}"), _amount(value[b], f"{key}.{cp}.{b}")))
        else:
            out.append(LimitSpec(str(cp), parse_bucket("all", f"{key}.{cp}"), _amount(value, f"{key}.{cp}")))
    return out


def merge_limits(*groups) -> tuple:
    """Later groups replace earlier entries of the same (counterparty, bucket label)."""
    merged: dict = {}
    for group in groups:
        for spec in group:
            merged[(spec.counterparty, spec.bucket.label)] = spec
    return tuple(merged.values())


def report_settings(cfg) -> ReportSettings:
    """ReportSettings from a config with a ``report`` node (attributes read with getattr; absent = defaults)
    and its ``output.quantiles``; raises ConfigError before any compute when the quantile is not computed.
    report.pfe_quantile null (or absent): 0.99 when computed, else the highest of output.quantiles."""
    node = getattr(cfg, "report", None)
    d = ReportSettings()
    quants = [float(x) for x in (getattr(getattr(cfg, "output", None), "quantiles", None) or [])]
    q = getattr(node, "pfe_quantile", None) if node is not None else None
    if q is None:
        q = d.pfe_quantile if not quants or any(abs(x - d.pfe_quantile) < 1e-12 for x in quants) else max(quants)
    elif quants and not any(abs(x - float(q)) < 1e-12 for x in quants):
        raise ConfigError("report.pfe_quantile", f"{q} is not one of output.quantiles {quants}")
    if node is None:
        return dataclasses.replace(d, pfe_quantile=float(q))
    path = getattr(node, "limits_file", None)
    from_file = read_limits_csv(path) if path else []
    from_cfg = _limits_from_mapping(getattr(node, "limits", None))
    source = ", ".join(s for s in (str(path) if path else "", "report.limits" if from_cfg else "") if s)
    return ReportSettings(enabled=bool(getattr(node, "enabled", True)), pfe_quantile=float(q),
                          limits=merge_limits(from_file, from_cfg), plots=bool(getattr(node, "plots", True)),
                          html=bool(getattr(node, "html", True)), limits_source=source or "none")
