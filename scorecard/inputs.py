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
    """Read a .csv (UTF-8, comma-separated, header row) or .parquet file. Any problem (missing, empty, binary,
    UTF-16, malformed rows, corrupt Parquet) is one ScorecardInputError naming the file and, where the reader
    knows it, the line or byte; never a raw pandas/pyarrow traceback."""
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise ScorecardInputError(src, "file", "does not exist")
    if not path.is_file():
        raise ScorecardInputError(src, "file", "is not a regular file")
    if path.suffix == ".csv":
        return _read_csv(path)
    if path.suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid/OSError/ArrowTypeError...: all mean unreadable
            raise ScorecardInputError(src, "file", f"not a readable Parquet file ({type(exc).__name__}: "
                                      f"{str(exc)[:200]})") from None
    raise ScorecardInputError(src, "file", "unsupported format (use .csv or .parquet)")


def _read_csv(path: Path) -> pd.DataFrame:
    src = str(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise ScorecardInputError(src, "file", "is empty (expected a header row and data rows)")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ScorecardInputError(src, "encoding", "is UTF-16; save it as UTF-8 CSV")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ScorecardInputError(src, f"byte {nul}", "NUL byte: a binary file, not a CSV text file")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScorecardInputError(src, f"line {line} (byte {exc.start})", "not UTF-8 text") from None
    import io

    try:
        df = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ScorecardInputError(src, "file", "has no columns (empty or blank header)") from None
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:
        # pandas' message names the line ("Expected 11 fields in line 5, saw 12"): keep it, drop the traceback
        raise ScorecardInputError(src, "content", f"malformed CSV: {str(exc).strip()[:300]}") from None
    dup = [c for c in df.columns if "." in str(c) and str(c).rsplit(".", 1)[0] in df.columns]
    if dup:
        raise ScorecardInputError(src, f"columns {dup}", "duplicate column names in the header")
    return df


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
            if kind == "int":
                vals = num.to_numpy(float)
                bad = (np.abs(vals) >= 2.0**63) | (vals != np.round(vals))
                if bad.any():
                    raise ScorecardInputError(source, f"column '{col}'",
                                              f"not a 64-bit integer at {_bad_rows(bad, df, id_col)}")
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
    if name == "rfq":
        # empty where the dealer did not respond, so not in the generic schema; required where it did
        for col, need in (("response_ms", "a response time >= 0"), ("quote_price", "a quote price > 0")):
            if col not in out.columns:
                raise ScorecardInputError(source, f"columns ['{col}']", f"missing (have {list(df.columns)})")
            v = pd.to_numeric(out[col], errors="coerce")
            ok = (v >= 0) if col == "response_ms" else (v > 0)
            bad = (out["responded"] & ~(ok & np.isfinite(v.to_numpy(float)))).to_numpy()
            if bad.any():
                raise ScorecardInputError(source, f"column '{col}'",
                                          f"responded quote without {need} at {_bad_rows(bad, df, id_col)}")
            out[col] = v.where(out["responded"])
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
    """Explicit data.<table> paths win; otherwise <data.dir>/<table>.{parquet,csv} when it exists.
    A data.dir that is not an existing folder is an error naming it; so is a configuration with no data at all."""
    d = getattr(data_cfg, "dir", None)
    if d:
        p = Path(str(d))
        if not p.exists():
            raise ScorecardInputError(str(p), "data.dir", "no such folder (check the path; synthetic data is only "
                                      "used with data.synthetic.enabled=true)")
        if not p.is_dir():
            raise ScorecardInputError(str(p), "data.dir", "is a file, not a folder")
    out = {}
    for name in SCHEMAS:
        p = getattr(data_cfg, name, None)
        if not p and d:
            for ext in (".parquet", ".csv"):
                cand = Path(d) / f"{name}{ext}"
                if cand.exists():
                    p = str(cand)
                    break
        out[name] = p
    if not any(out.values()):
        where = f"folder {d} holds none of {[n + '.csv|.parquet' for n in REQUIRED_TABLES]}" if d else \
            "no data.dir or data.<table> given"
        raise ScorecardInputError("data config", "data", f"no input data: {where} "
                                  "(synthetic data only with data.synthetic.enabled=true)")
    return out
