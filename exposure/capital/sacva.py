"""SA-CVA capital aggregation (Basel MAR50.42-50.77) from CVA and hedge sensitivities given as input.

Runs ONLY when sensitivities are supplied (``capital.sa_cva.sensitivities``: a CSV); this module does not
compute sensitivities. Per risk class and sensitivity type (delta, vega), bucket b, risk factor k:

    WS_k^CVA = RW_k s_k^CVA,  WS_k^Hdg = RW_k s_k^Hdg,  WS_k = WS_k^CVA - WS_k^Hdg
    K_b = sqrt( sum_k WS_k^2 + sum_k sum_{l != k} rho_kl WS_k WS_l + R sum_k (WS_k^Hdg)^2 ),  R = 0.01
    S_b = max(min(sum_k WS_k, K_b), -K_b)
    K   = m_CVA sqrt( sum_b K_b^2 + sum_b sum_{c != b} gamma_bc S_b S_c ),  m_CVA = 1 (configurable)
    capital = sum over (risk class, type) of K

Sign convention: s_cva is the sensitivity of the CVA as a positive cost, s_hedge that of the eligible hedges'
market value, so that a hedge offsets (MAR50.53's WS^CVA + WS^Hdg with the CVA entered as the bank's negative
value adjustment; ORE 1.8.17's StandardApproachCvaCalculator takes rw (s_cva - s_hdg) likewise).

Built in (MAR50.56-50.62; the same tables as ORE's calculator): IR delta, bucket = currency. For USD EUR GBP
AUD CAD SEK JPY and the base currency the risk factors are the tenors 1y 2y 5y 10y 30y and inflation, RW 1.11%,
0.93%, 0.74%, 0.74%, 0.74%, 1.11%, tenor correlations ``IR_TENOR_CORR``, 40% with inflation; for other
currencies the factors are ``parallel`` and ``inflation``, RW 1.58%, correlation 40%; gamma 0.5. IR vega
(ir_vol, inflation_vol; RW 100%, rho 40%, gamma 0.5). FX delta (bucket = currency, one factor, RW 11%, gamma
0.6) and FX vega (RW 100%, gamma 0.6). Other risk classes (counterparty credit spread, reference credit
spread, equity, commodity): the risk weight comes in the row (``rw``) and one intra-bucket rho / cross-bucket
gamma per class from the settings (a simplification of the detailed MAR50 tables).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections import defaultdict

from exposure.errors import ConfigError

SPECIFIED = ("USD", "EUR", "GBP", "AUD", "CAD", "SEK", "JPY")
IR_TENORS = ("1y", "2y", "5y", "10y", "30y", "inflation")
IR_OTHER_FACTORS = ("parallel", "inflation")  # currencies outside SPECIFIED (and not the base currency)
IR_RW_OTHER_CCY = 0.0158
IR_RW_SPECIFIED = (0.0111, 0.0093, 0.0074, 0.0074, 0.0074, 0.0111)
IR_TENOR_CORR = {("1y", "2y"): 0.91, ("1y", "5y"): 0.72, ("1y", "10y"): 0.55, ("1y", "30y"): 0.31,
                 ("2y", "5y"): 0.87, ("2y", "10y"): 0.72, ("2y", "30y"): 0.45, ("5y", "10y"): 0.91,
                 ("5y", "30y"): 0.68, ("10y", "30y"): 0.83}
GAMMA = {"IR": 0.5, "FX": 0.6}
HEDGING_DISALLOWANCE = 0.01
COLUMNS = ("risk_class", "type", "bucket", "risk_factor", "s_cva", "s_hedge", "rw")


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """One row: risk_class (IR, FX, CCS, RCS, EQ, CO), type (delta | vega), bucket, risk_factor, the CVA and
    hedge sensitivities (base currency per unit move), rw (None: the built-in weight)."""

    risk_class: str
    type: str
    bucket: str
    risk_factor: str
    s_cva: float
    s_hedge: float = 0.0
    rw: float | None = None


def specified(ccy: str, base_currency: str = "") -> bool:
    return ccy in SPECIFIED or ccy == base_currency


def risk_weight(s: Sensitivity, base_currency: str = "") -> float:
    if s.rw is not None:
        return s.rw
    if s.risk_class == "IR" and s.type == "delta":
        if specified(s.bucket, base_currency):
            return IR_RW_SPECIFIED[IR_TENORS.index(s.risk_factor)]
        return IR_RW_OTHER_CCY
    if s.risk_class in ("IR", "FX") and s.type == "vega":
        return 1.0
    if s.risk_class == "FX":
        return 0.11
    raise ValueError(f"SA-CVA: no built-in risk weight for {s.risk_class} {s.type} '{s.risk_factor}': give rw")


def correlation(rc: str, kind: str, a: str, b: str, rho: dict, bucket: str = "", base_currency: str = "") -> float:
    if a == b:
        return 1.0
    if rc == "IR" and kind == "delta":
        if "inflation" in (a, b) or not specified(bucket, base_currency):
            return 0.4
        return IR_TENOR_CORR.get((a, b), IR_TENOR_CORR.get((b, a), 0.0))
    if rc == "IR":
        return 0.4
    return rho.get(rc, 0.0)


def capital(sensitivities, *, m_cva: float = 1.0, base_currency: str = "", rho: dict | None = None,
            gamma: dict | None = None, r: float = HEDGING_DISALLOWANCE) -> dict:
    """{'K': total, (risk_class, type): K per class and type, ...} (see the module docstring)."""
    rho, gam = rho or {}, {**GAMMA, **(gamma or {})}
    cells: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [0.0, 0.0])))
    for s in sensitivities:
        w = risk_weight(s, base_currency)
        acc = cells[(s.risk_class, s.type)][s.bucket][s.risk_factor]
        acc[0] += w * s.s_cva
        acc[1] += w * s.s_hedge  # WS^Hdg
    out = {}
    for (rc, kind), buckets in cells.items():
        kb, sb = {}, {}
        for b, factors in buckets.items():
            keys = list(factors)
            ws = {k: factors[k][0] - factors[k][1] for k in keys}  # the hedge offsets the CVA
            var = sum(ws[k] * ws[l] * correlation(rc, kind, k, l, rho, b, base_currency) for k in keys for l in keys)
            var += r * sum(factors[k][1] ** 2 for k in keys)
            kb[b] = math.sqrt(max(var, 0.0))
            tot = sum(ws.values())
            sb[b] = max(min(tot, kb[b]), -kb[b])
        g = gam.get(rc, 0.0)
        total = sum(v * v for v in kb.values()) + sum(g * sb[b] * sb[c] for b in kb for c in kb if b != c)
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
                        (row.get("risk_factor") or "").strip(), num("s_cva"), num("s_hedge", 0.0), num("rw", None))
        if s.risk_class == "IR" and kind == "delta":
            s = dataclasses.replace(s, risk_factor=s.risk_factor.lower())
            allowed = IR_TENORS if specified(s.bucket, base_currency) else IR_OTHER_FACTORS
            if s.risk_factor not in allowed:
                raise ConfigError(f"line {line}, field 'risk_factor'", f"IR delta factor of {s.bucket} must be one of "
                                  f"{', '.join(allowed)} (got '{s.risk_factor}')", source=path)
        try:
            risk_weight(s, base_currency)
        except ValueError as exc:
            raise ConfigError(f"line {line}, field 'rw'", str(exc), source=path) from None
        out.append(s)
    return tuple(out)
