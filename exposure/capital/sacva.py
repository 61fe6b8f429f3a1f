"""SA-CVA capital aggregation (Basel MAR50.42-50.77) from CVA and hedge sensitivities given as input.

Runs ONLY when sensitivities are supplied (``capital.sa_cva.sensitivities``: a CSV); this module does not
compute sensitivities. Per risk class and sensitivity type (delta, vega), bucket b, risk factor k (MAR50.53):

    WS_k^CVA = RW_k s_k^CVA,  WS_k^Hdg = RW_k s_k^Hdg,  WS_k = WS_k^CVA - WS_k^Hdg
    K_b = sqrt( sum_k WS_k^2 + sum_k sum_{l != k} rho_kl WS_k WS_l + R sum_k (WS_k^Hdg)^2 ),  R = 0.01
    S_b = max(min(sum_k WS_k, K_b), -K_b)
    K   = m_CVA sqrt( sum_b K_b^2 + sum_b sum_{c != b} gamma_bc S_b S_c ),  m_CVA = 1 (configurable)
    capital = sum over (risk class, type) of K

Sign convention: s_cva is the sensitivity of the CVA as a positive cost, s_hedge that of the eligible hedges'
market value, so that a hedge offsets (MAR50.53's WS^CVA + WS^Hdg with the CVA entered as the bank's negative
value adjustment; ORE 1.8.17's StandardApproachCvaCalculator takes rw (s_cva - s_hdg) likewise).

Buckets, risk weights and correlations of every risk class (IR, FX, CCS, RCS, EQ, CO; delta and vega) are
built in from MAR50.54-50.77 (``sacva_tables``). Rows name their factor: IR the tenor (or parallel, inflation,
ir_vol, inflation_vol), FX the currency, CCS the tenor (0.5y 1y 3y 5y 10y) with ``name`` (counterparty or
index), ``quality`` (IG, HY, NR) and optionally ``group`` (names of one group are legally related); for RCS, EQ
and CO the bucket is the single risk factor (rows of one bucket add up). Overrides, departures from MAR50 that
a supervisor may set: ``rw`` per row, and per class a flat intra-bucket ``rho`` / cross-bucket ``gamma``.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections import defaultdict

from exposure.capital import sacva_tables as tb
from exposure.capital.sacva_tables import IR_OTHER_FACTORS, IR_TENORS, IR_VEGA_FACTORS, specified  # noqa: F401
from exposure.errors import ConfigError

HEDGING_DISALLOWANCE = 0.01
COLUMNS = ("risk_class", "type", "bucket", "risk_factor", "s_cva", "s_hedge", "rw", "name", "quality", "group")


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """One row: risk_class (IR, FX, CCS, RCS, EQ, CO), type (delta | vega), bucket, risk_factor, the CVA and
    hedge sensitivities (base currency per unit move), rw (None: the built-in weight); CCS: name, quality
    (IG | HY | NR), group (legal group, optional)."""

    risk_class: str
    type: str
    bucket: str
    risk_factor: str
    s_cva: float
    s_hedge: float = 0.0
    rw: float | None = None
    name: str = ""
    quality: str = ""
    group: str = ""


def risk_weight(s: Sensitivity, base_currency: str = "") -> float:
    if s.rw is not None:
        return s.rw
    return tb.risk_weight(s.risk_class, s.type, s.bucket, s.risk_factor, s.quality, base_currency)


def _factor(s: Sensitivity):
    """The risk-factor key inside the bucket (rows with the same key add up)."""
    if s.risk_class == "CCS":
        return (s.name, s.risk_factor, s.quality, s.group)
    if s.risk_class in tb.SINGLE_FACTOR:
        return ""
    return s.risk_factor


def _rho(rc: str, kind: str, bucket: str, a, b, rho: dict, base_currency: str) -> float:
    if a == b:
        return 1.0
    if rc in rho:
        return rho[rc]
    if rc == "IR":
        return tb.ir_rho(kind, bucket, a, b, base_currency)
    if rc == "CCS":
        return tb.ccs_rho(bucket, a, b)
    return 0.0  # FX, RCS, EQ, CO: one factor per bucket


def capital(sensitivities, *, m_cva: float = 1.0, base_currency: str = "", rho: dict | None = None,
            gamma: dict | None = None, r: float = HEDGING_DISALLOWANCE) -> dict:
    """{'K': total, (risk_class, type): K per class and type, ...} (see the module docstring)."""
    rho, gam = rho or {}, gamma or {}
    cells: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [0.0, 0.0])))
    for s in sensitivities:
        w = risk_weight(s, base_currency)
        acc = cells[(s.risk_class, s.type)][tb.aggregation_bucket(s.risk_class, s.bucket)][_factor(s)]
        acc[0] += w * s.s_cva
        acc[1] += w * s.s_hedge  # WS^Hdg
    out = {}
    for (rc, kind), bks in cells.items():
        kb, sb = {}, {}
        for b, factors in bks.items():
            keys = list(factors)
            ws = {k: factors[k][0] - factors[k][1] for k in keys}  # the hedge offsets the CVA
            var = sum(ws[k] * ws[l] * _rho(rc, kind, b, k, l, rho, base_currency) for k in keys for l in keys)
            var += r * sum(factors[k][1] ** 2 for k in keys)
            kb[b] = math.sqrt(max(var, 0.0))
            tot = sum(ws.values())
            sb[b] = max(min(tot, kb[b]), -kb[b])
        g = (lambda b, c: gam[rc]) if rc in gam else (lambda b, c: tb.gamma(rc, b, c))  # noqa: E731
        total = sum(v * v for v in kb.values()) + sum(g(b, c) * sb[b] * sb[c] for b in kb for c in kb if b != c)
        out[(rc, kind)] = m_cva * math.sqrt(max(total, 0.0))
    out["K"] = sum(out.values())
    return out


def read_sensitivities(path: str, base_currency: str = "") -> tuple:
    """Sensitivity rows from a CSV with columns risk_class,type,bucket,risk_factor,s_cva,s_hedge[,rw]."""
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            rows = list(reader)
    except OSError as exc:
        raise ConfigError("capital.sa_cva.sensitivities", f"cannot read: {exc}", source=path) from exc
    for h in header:
        if h not in COLUMNS:
            raise ConfigError(f"column '{h}'", f"unknown column (known: {', '.join(COLUMNS)})", source=path)
    for h in COLUMNS[:5]:
        if h not in header:
            raise ConfigError(f"column '{h}'", "required column is missing", source=path)
    out = []
    for line, row in enumerate(rows, start=2):
        def num(f, default=None):
            v = (row.get(f) or "").strip()
            if not v:
                if default is None and f == "s_cva":
                    raise ConfigError(f"line {line}, field '{f}'", "is required", source=path)
                return default
            try:
                x = float(v)
            except ValueError:
                raise ConfigError(f"line {line}, field '{f}'", f"'{v}' is not a number", source=path) from None
            if not math.isfinite(x):
                raise ConfigError(f"line {line}, field '{f}'", f"'{v}' is not finite", source=path)
            return x

        kind = (row.get("type") or "").strip().lower()
        if kind not in ("delta", "vega"):
            raise ConfigError(f"line {line}, field 'type'", f"'{kind}' is not delta or vega", source=path)
        s = Sensitivity((row.get("risk_class") or "").strip().upper(), kind, (row.get("bucket") or "").strip(),
                        (row.get("risk_factor") or "").strip(), num("s_cva"), num("s_hedge", 0.0), num("rw", None),
                        (row.get("name") or "").strip(), (row.get("quality") or "").strip().upper(),
                        (row.get("group") or "").strip())
        if s.risk_class in ("IR", "CCS"):
            s = dataclasses.replace(s, risk_factor=s.risk_factor.lower())
            if s.risk_class == "CCS":
                allowed = tb.CCS_TENORS
            elif kind == "vega":
                allowed = IR_VEGA_FACTORS
            else:
                allowed = IR_TENORS if specified(s.bucket, base_currency) else IR_OTHER_FACTORS
            if s.risk_factor not in allowed:
                raise ConfigError(f"line {line}, field 'risk_factor'", f"{s.risk_class} {kind} factor of bucket "
                                  f"{s.bucket} must be one of {', '.join(allowed)} (got '{s.risk_factor}')",
                                  source=path)
        if s.risk_class == "CCS" and not s.name:
            raise ConfigError(f"line {line}, field 'name'", "a CCS row needs the counterparty (or index) name",
                              source=path)
        try:
            risk_weight(s, base_currency)
        except ValueError as exc:
            field = "quality" if "quality" in str(exc) else "bucket" if "bucket" in str(exc) else "rw"
            raise ConfigError(f"line {line}, field '{field}'", str(exc), source=path) from None
        out.append(s)
    return tuple(out)
