"""Trader / risk-manager feedback in an embedded SQLite database with an audit trail.

Tables: overrides (at most ONE active override per counterparty, enforced by a partial unique index and written in
a BEGIN IMMEDIATE transaction, so concurrent submissions replace each other instead of stacking; optional
expires_at), comments, audit (who, when, what, old/new value, comment) and score_history (for alerts, with the
profile it was scored under). Every call opens its own connection, so the store is safe from the API's threads.
Override fields: 'class' (a band name) forces the class; 'score_adjustment' (points in [-10, 10]) shifts the score.
An override is withdrawn with remove_override (audited) or lapses at expires_at; the run shows it next to the
model's own class and score.
"""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ScorecardInputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS overrides (id INTEGER PRIMARY KEY AUTOINCREMENT, counterparty TEXT NOT NULL,
  field TEXT NOT NULL, value TEXT NOT NULL, author TEXT NOT NULL, comment TEXT, created_at TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1, expires_at TEXT);
CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY AUTOINCREMENT, counterparty TEXT NOT NULL,
  author TEXT NOT NULL, comment TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, who TEXT NOT NULL,
  action TEXT NOT NULL, counterparty TEXT, field TEXT, old_value TEXT, new_value TEXT, comment TEXT);
CREATE TABLE IF NOT EXISTS score_history (ts TEXT NOT NULL, counterparty TEXT NOT NULL, score REAL NOT NULL,
  class TEXT NOT NULL, profile TEXT);
"""
# databases written before these columns existed are migrated in place
_MIGRATIONS = (("overrides", "expires_at", "TEXT"), ("score_history", "profile", "TEXT"),
               ("score_history", "limit_multiplier", "REAL"), ("score_history", "adverse_selection_bps", "REAL"),
               ("score_history", "adverse_selection_bps_se", "REAL"))
_UNIQUE = "CREATE UNIQUE INDEX IF NOT EXISTS one_active_override ON overrides(counterparty) WHERE active=1"
OVERRIDE_FIELDS = ("class", "score_adjustment")
_AUDIT = ("INSERT INTO audit (ts, who, action, counterparty, field, old_value, new_value, comment) "
          "VALUES (?,?,?,?,?,?,?,?)")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class FeedbackStore:
    def __init__(self, path):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._tx() as con:
            for statement in SCHEMA.split(";"):  # executescript would commit the open transaction
                if statement.strip():
                    con.execute(statement)
            for table, col, kind in _MIGRATIONS:
                cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                if col not in cols:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {col} {kind}")
            # an older store may hold several active overrides per counterparty: keep the newest, audited
            dups = con.execute("SELECT id, counterparty FROM overrides o WHERE active=1 AND id < "
                               "(SELECT MAX(id) FROM overrides p WHERE p.counterparty=o.counterparty AND p.active=1)"
                               ).fetchall()
            for oid, cp in dups:
                con.execute("UPDATE overrides SET active=0 WHERE id=?", (oid,))
                con.execute(_AUDIT, (_now(), "system", "deactivate_duplicate", cp, None, str(oid), None,
                                     "one active override per counterparty"))
            con.execute(_UNIQUE)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    @contextmanager
    def _tx(self):
        """One write transaction taken with BEGIN IMMEDIATE: its reads and writes are serialised against every
        other writer (a deferred transaction would read, then race another writer to the write lock)."""
        with closing(self._connect()) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @staticmethod
    def check_override(field: str, value, bands: list[str]) -> str:
        if field not in OVERRIDE_FIELDS:
            raise ScorecardInputError("feedback", f"field '{str(field)[:50]}'",
                                      f"must be one of {list(OVERRIDE_FIELDS)}")
        if field == "class":
            if str(value) not in bands:
                raise ScorecardInputError("feedback", f"value '{str(value)[:50]}'", f"class must be one of {bands}")
            return str(value)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ScorecardInputError("feedback", f"value '{str(value)[:50]}'",
                                      "score_adjustment must be a number") from None
        if not (math.isfinite(v) and -10.0 <= v <= 10.0):
            raise ScorecardInputError("feedback", f"value '{str(value)[:50]}'",
                                      "score_adjustment must be within [-10, 10]")
        return repr(v)

    def add_override(self, counterparty: str, field: str, value, author: str, comment: str = "",
                     bands=("Partner", "Monitor", "Toxic", "Restrict"), expires_in_days: float | None = None,
                     now: datetime | None = None) -> int:
        """Record an override, replacing the counterparty's active one (whatever its field) in the same
        transaction; audited. expires_in_days: it lapses after that many days (None: never)."""
        val = self.check_override(field, value, list(bands))
        when = now or datetime.now(timezone.utc)
        exp = None
        if expires_in_days is not None:
            d = float(expires_in_days)
            if not (math.isfinite(d) and d > 0):
                raise ScorecardInputError("feedback", "expires_in_days", f"must be > 0, got {expires_in_days}")
            exp = (when + timedelta(days=d)).isoformat(timespec="microseconds")
        ts = when.isoformat(timespec="microseconds")
        with self._tx() as con:
            old = con.execute("SELECT id, field, value FROM overrides WHERE counterparty=? AND active=1",
                              (counterparty,)).fetchone()
            if old:
                con.execute("UPDATE overrides SET active=0 WHERE id=?", (old[0],))
            cur = con.execute("INSERT INTO overrides (counterparty, field, value, author, comment, created_at, active,"
                              " expires_at) VALUES (?,?,?,?,?,?,1,?)",
                              (counterparty, field, val, author, comment, ts, exp))
            con.execute(_AUDIT, (ts, author, "override", counterparty, field,
                                 f"{old[1]}={old[2]}" if old else None, val, comment))
            return int(cur.lastrowid)

    def has_active(self, override_id: int) -> bool:
        with closing(self._connect()) as con:
            return con.execute("SELECT 1 FROM overrides WHERE id=? AND active=1", (int(override_id),)).fetchone() \
                is not None

    def remove_override(self, override_id: int, author: str, comment: str = "") -> None:
        """Withdraw an active override (audited as remove_override)."""
        ts = _now()
        with self._tx() as con:
            row = con.execute("SELECT counterparty, field, value FROM overrides WHERE id=? AND active=1",
                              (int(override_id),)).fetchone()
            if row is None:
                raise ScorecardInputError("feedback", f"override id {override_id}", "no such active override")
            con.execute("UPDATE overrides SET active=0 WHERE id=?", (int(override_id),))
            con.execute(_AUDIT, (ts, author, "remove_override", row[0], row[1], row[2], None, comment))

    def add_comment(self, counterparty: str, author: str, comment: str) -> int:
        if not comment.strip():
            raise ScorecardInputError("feedback", "comment", "must not be empty")
        ts = _now()
        with self._tx() as con:
            cur = con.execute("INSERT INTO comments (counterparty, author, comment, created_at) VALUES (?,?,?,?)",
                              (counterparty, author, comment, ts))
            con.execute(_AUDIT, (ts, author, "comment", counterparty, None, None, None, comment))
            return int(cur.lastrowid)

    def _frame(self, sql: str, params=()) -> pd.DataFrame:
        with closing(self._connect()) as con:
            return pd.read_sql_query(sql, con, params=params)

    def active_overrides(self, now: str | None = None) -> pd.DataFrame:
        """Active, unexpired overrides (one per counterparty), oldest first."""
        now = now or _now()
        return self._frame("SELECT * FROM overrides WHERE active=1 AND (expires_at IS NULL OR expires_at > ?) "
                           "ORDER BY id", (now,))

    def comments(self, counterparty: str | None = None) -> pd.DataFrame:
        if counterparty is None:
            return self._frame("SELECT * FROM comments ORDER BY id")
        return self._frame("SELECT * FROM comments WHERE counterparty=? ORDER BY id", (counterparty,))

    def audit_trail(self, counterparty: str | None = None) -> pd.DataFrame:
        if counterparty is None:
            return self._frame("SELECT * FROM audit ORDER BY id")
        return self._frame("SELECT * FROM audit WHERE counterparty=? ORDER BY id", (counterparty,))

    def record_scores(self, scores: pd.DataFrame, ts: str | None = None, profile: str | None = None) -> None:
        """Append (ts, counterparty, score, class, profile) rows; scores indexed by counterparty."""
        ts = ts or _now()
        def opt(r, k):
            v = r.get(k)
            return float(v) if v is not None and pd.notna(v) and np.isfinite(float(v)) else None

        rows = [(ts, str(cp), float(r["score"]), str(r["class"]), profile, opt(r, "limit_multiplier"),
                 opt(r, "adverse_selection_bps"), opt(r, "adverse_selection_bps_se")) for cp, r in scores.iterrows()]
        with self._tx() as con:
            con.executemany("INSERT INTO score_history (ts, counterparty, score, class, profile, limit_multiplier, "
                            "adverse_selection_bps, adverse_selection_bps_se) VALUES (?,?,?,?,?,?,?,?)", rows)

    def last_state(self, profile: str) -> pd.DataFrame:
        """The latest recorded row per counterparty under a profile (index counterparty)."""
        h = self.score_history(profile)
        if h.empty:
            return pd.DataFrame()
        return h.sort_values("ts", kind="stable").groupby("counterparty").tail(1).set_index("counterparty")

    def score_history(self, profile: str | None = None) -> pd.DataFrame:
        """Earlier scores; with a profile, only those scored under it (scores of two profiles are not comparable)."""
        if profile is None:
            return self._frame("SELECT * FROM score_history ORDER BY ts")
        return self._frame("SELECT * FROM score_history WHERE profile=? ORDER BY ts", (profile,))
