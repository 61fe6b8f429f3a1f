"""Load and validate the input tables (CSV or Parquet) before any compute.

Each table has required columns with a kind (str, int, float, bool) and a rule (positive, non-null, allowed values).
A violation raises ScorecardInputError naming the file, the column, the first bad rows (1-based data rows) and why.
Sides are normalised to +1 (firm buys) / -1 (firm sells).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ScorecardInputError

SIDES = {"buy": 1, "b": 1, "1": 1, "+1": 1, "sell": -1, "s": -1, "-1": -1}
OUTCOMES = {"filled", "rejected", "not_selected", "no_response"}

# column -> (kind, rule); rule in {None, "positive", "nonneg", "side", "outcome", "book_side"}
SCHEMAS: dict[str, dict[str, tuple[str, str | None]]] = {
    "executions": {"order_id": ("str", None), "fill_id": ("str", None), "ts_ns": ("int", None),
                   "counterparty": ("str", None), "venue": ("str", None), "instrument": ("str", None),
                   "side": ("str", "side"), "price": ("float", "positive"), "size": ("float", "positive"),
                   "order_type": ("str", None), "arrival_mid": ("float", "positive")},
    "quotes": {"ts_ns": ("int", None), "instrument": ("str", None), "bid": ("float", "positive"),
               "ask": ("float", "positive")},
    "rfq": {"rfq_id": ("str", None), "ts_ns": ("int", None), "counterparty": ("str", None),
            "instrument": ("str", None), "side": ("str", "side"), "size": ("float", "positive"),
            "mid": ("float", "positive"), "responded": ("bool", None), "outcome": ("str", "outcome")},
    "book": {"ts_ns": ("int", None), "instrument": ("str", None), "book_side": ("str", "book_side"),
             "price": ("float", "positive"), "counterparty": ("str", None)},
    "headroom": {"ts_ns": ("int", None), "counterparty": ("str", None), "headroom": ("float", None)},
    "regime": {"ts_ns": ("int", None), "vol_index": ("float", "nonneg")},
    "instruments": {"instrument": ("str", None), "adv": ("float", "positive"),
                    "daily_vol_bps": ("float", "positive")},
    "counterparties": {"counterparty": ("str", None), "pfe_limit": ("float", "positive")},
    "aliases": {"alias": ("str", None), "counterparty": ("str", None)},
}
REQUIRED_TABLES = ("executions", "quotes", "counterparties")


@dataclass
class InputTables:
    """Validated tables (None when a table was not supplied) and the file each came from."""

    tables: dict[str, pd.DataFrame | None]
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


def read_table(path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise ScorecardInputError(str(path), "file", "does not exist")
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ScorecardInputError(str(path), "file", "unsupported format (use .csv or .parquet)")


def _bad_rows(mask: np.ndarray, df: pd.DataFrame, id_col: str | None) -> str:
    idx = np.flatnonzero(mask)[:5]
    labels = [f"row {i + 1}" + (f" ({id_col}={df[id_col].iloc[i]})" if id_col else "") for i in idx]
    more = f" and {int(mask.sum()) - len(idx)} more" if mask.sum() > len(idx) else ""
    return ", ".join(labels) + more


def validate_table(name: str, df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check columns, kinds and rules; return a copy with normalised dtypes (side -> +/-1 int)."""
    schema = SCHEMAS[name]
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise ScorecardInputError(source, f"columns {missing}", f"missing (have {list(df.columns)})")
    if df.empty:
        raise ScorecardInputError(source, "rows", f"table '{name}' is empty")
    out = df.copy()
    id_col = next((c for c in ("fill_id", "rfq_id", "counterparty", "instrument") if c in df.columns), None)
    for col, (kind, rule) in schema.items():
        s = out[col]
        if s.isna().any():
            raise ScorecardInputError(source, f"column '{col}'", f"empty value at {_bad_rows(s.isna().to_numpy(), df, id_col)}")
        if kind in ("int", "float"):
            num = pd.to_numeric(s, errors="coerce")
            if num.isna().any():
                raise ScorecardInputError(source, f"column '{col}'",
                                          f"not a number at {_bad_rows(num.isna().to_numpy(), df, id_col)}")
            if not np.isfinite(num.to_numpy(float)).all():
                bad = ~np.isfinite(num.to_numpy(float))
                raise ScorecardInputError(source, f"column '{col}'", f"not finite at {_bad_rows(bad, df, id_col)}")
            out[col] = num.astype("int64" if kind == "int" else "float64")
            if rule in ("positive", "nonneg"):
                bad = (out[col] <= 0) if rule == "positive" else (out[col] < 0)
                if bad.any():
                    need = "> 0" if rule == "positive" else ">= 0"
                    raise ScorecardInputError(source, f"column '{col}'",
                                              f"must be {need} at {_bad_rows(bad.to_numpy(), df, id_col)}")
        elif kind == "bool":
            low = s.astype(str).str.strip().str.lower()
            ok = low.isin(["true", "false", "1", "0"])
            if not ok.all():
                raise ScorecardInputError(source, f"column '{col}'",
                                          f"not a boolean at {_bad_rows(~ok.to_numpy(), df, id_col)}")
            out[col] = low.isin(["true", "1"])
        else:
            out[col] = s.astype(str)
            if rule == "side":
                key = out[col].str.strip().str.lower()
                bad = ~key.isin(list(SIDES))
                if bad.any():
                    raise ScorecardInputError(source, f"column '{col}'",
                                              f"side must be buy/sell at {_bad_rows(bad.to_numpy(), df, id_col)}")
                out[col] = key.map(SIDES).astype("int64")
            elif rule in ("outcome", "book_side"):
                allowed = OUTCOMES if rule == "outcome" else {"bid", "ask"}
                bad = ~out[col].isin(allowed)
                if bad.any():
                    raise ScorecardInputError(source, f"column '{col}'",
                                              f"must be one of {sorted(allowed)} at {_bad_rows(bad.to_numpy(), df, id_col)}")
    return _table_rules(name, out, df, source, id_col)


def _table_rules(name, out, df, source, id_col):
    """Cross-column rules of a single table."""
    if name == "quotes":
        bad = (out["bid"] > out["ask"]).to_numpy()
        if bad.any():
            raise ScorecardInputError(source, "columns bid/ask", f"bid > ask at {_bad_rows(bad, df, id_col)}")
    if name == "executions":
        dup = out["fill_id"].duplicated().to_numpy()
        if dup.any():
            raise ScorecardInputError(source, "column 'fill_id'", f"duplicate id at {_bad_rows(dup, df, id_col)}")
    if name == "rfq" and "response_ms" in out.columns:
        rt = pd.to_numeric(out["response_ms"], errors="coerce")
        bad = (out["responded"] & ~(rt >= 0)).to_numpy()
        if bad.any():
            raise ScorecardInputError(source, "column 'response_ms'",
                                      f"responded quote without a valid response time at {_bad_rows(bad, df, id_col)}")
        out["response_ms"] = rt
    if name in ("counterparties",) and out["counterparty"].duplicated().any():
        dup = out["counterparty"].duplicated().to_numpy()
        raise ScorecardInputError(source, "column 'counterparty'", f"duplicate id at {_bad_rows(dup, df, id_col)}")
    return out


def load_inputs(paths: dict[str, str | None]) -> InputTables:
    """Read and validate every table given a name -> path map; required tables must be present."""
    for name in REQUIRED_TABLES:
        if not paths.get(name):
            raise ScorecardInputError("data config", f"data.{name}", "required input file not given")
    tables, sources = {}, {}
    for name in SCHEMAS:
        p = paths.get(name)
        if not p:
            tables[name] = None
            continue
        tables[name] = validate_table(name, read_table(p), str(p))
        sources[name] = str(p)
    return InputTables(tables, sources)


def resolve_paths(data_cfg) -> dict[str, str | None]:
    """Explicit data.<table> paths win; otherwise <data.dir>/<table>.{parquet,csv} when it exists."""
    out = {}
    for name in SCHEMAS:
        p = getattr(data_cfg, name, None)
        if not p and data_cfg.dir:
            for ext in (".parquet", ".csv"):
                cand = Path(data_cfg.dir) / f"{name}{ext}"
                if cand.exists():
                    p = str(cand)
                    break
        out[name] = p
    return out
