"""Trader / risk-manager feedback in an embedded SQLite database with an audit trail.

Tables: overrides (active flag; one active override per counterparty and field), comments, audit (who, when, what,
old/new value, comment) and score_history (for alerts). Every write opens its own connection, so the store is safe
to use from the API's worker threads; SQLite serialises the writes.
Override fields: 'class' (a band name) forces the class; 'score_adjustment' (points in [-10, 10]) shifts the score.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .errors import ScorecardInputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS overrides (id INTEGER PRIMARY KEY AUTOINCREMENT, counterparty TEXT NOT NULL,
  field TEXT NOT NULL, value TEXT NOT NULL, author TEXT NOT NULL, comment TEXT, created_at TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY AUTOINCREMENT, counterparty TEXT NOT NULL,
  author TEXT NOT NULL, comment TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, who TEXT NOT NULL,
  action TEXT NOT NULL, counterparty TEXT, field TEXT, old_value TEXT, new_value TEXT, comment TEXT);
CREATE TABLE IF NOT EXISTS score_history (ts TEXT NOT NULL, counterparty TEXT NOT NULL, score REAL NOT NULL,
  class TEXT NOT NULL);
"""
OVERRIDE_FIELDS = ("class", "score_adjustment")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class FeedbackStore:
    def __init__(self, path):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=10.0)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    @staticmethod
    def check_override(field: str, value, bands: list[str]) -> str:
        if field not in OVERRIDE_FIELDS:
            raise ScorecardInputError("feedback", f"field '{field}'", f"must be one of {list(OVERRIDE_FIELDS)}")
        if field == "class":
            if str(value) not in bands:
                raise ScorecardInputError("feedback", f"value '{value}'", f"class must be one of {bands}")
            return str(value)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ScorecardInputError("feedback", f"value '{value}'", "score_adjustment must be a number") from None
        if not -10.0 <= v <= 10.0:
            raise ScorecardInputError("feedback", f"value '{value}'", "score_adjustment must be within [-10, 10]")
        return repr(v)

    def add_override(self, counterparty: str, field: str, value, author: str, comment: str = "",
                     bands: list[str] = ("Partner", "Monitor", "Toxic", "Restrict")) -> int:
        """Record an override (deactivating the previous one for the same counterparty and field); audited."""
        val = self.check_override(field, value, list(bands))
        ts = _now()
        with closing(self._connect()) as con, con:
            old = con.execute("SELECT id, value FROM overrides WHERE counterparty=? AND field=? AND active=1",
                              (counterparty, field)).fetchone()
            if old:
                con.execute("UPDATE overrides SET active=0 WHERE id=?", (old[0],))
            cur = con.execute("INSERT INTO overrides (counterparty, field, value, author, comment, created_at, active)"
                              " VALUES (?,?,?,?,?,?,1)", (counterparty, field, val, author, comment, ts))
            con.execute("INSERT INTO audit (ts, who, action, counterparty, field, old_value, new_value, comment)"
                        " VALUES (?,?,?,?,?,?,?,?)",
                        (ts, author, "override", counterparty, field, old[1] if old else None, val, comment))
            return int(cur.lastrowid)

    def remove_override(self, override_id: int, author: str, comment: str = "") -> None:
        ts = _now()
        with closing(self._connect()) as con, con:
            row = con.execute("SELECT counterparty, field, value FROM overrides WHERE id=? AND active=1",
                              (override_id,)).fetchone()
            if row is None:
                raise ScorecardInputError("feedback", f"override id {override_id}", "no such active override")
            con.execute("UPDATE overrides SET active=0 WHERE id=?", (override_id,))
            con.execute("INSERT INTO audit (ts, who, action, counterparty, field, old_value, new_value, comment)"
                        " VALUES (?,?,?,?,?,?,?,?)", (ts, author, "remove_override", row[0], row[1], row[2], None,
                                                      comment))

    def add_comment(self, counterparty: str, author: str, comment: str) -> int:
        if not comment.strip():
            raise ScorecardInputError("feedback", "comment", "must not be empty")
        ts = _now()
        with closing(self._connect()) as con, con:
            cur = con.execute("INSERT INTO comments (counterparty, author, comment, created_at) VALUES (?,?,?,?)",
                              (counterparty, author, comment, ts))
            con.execute("INSERT INTO audit (ts, who, action, counterparty, comment) VALUES (?,?,?,?,?)",
                        (ts, author, "comment", counterparty, comment))
            return int(cur.lastrowid)

    def _frame(self, sql: str, params=()) -> pd.DataFrame:
        with closing(self._connect()) as con:
            return pd.read_sql_query(sql, con, params=params)

    def active_overrides(self) -> pd.DataFrame:
        return self._frame("SELECT * FROM overrides WHERE active=1 ORDER BY id")

    def comments(self, counterparty: str | None = None) -> pd.DataFrame:
        if counterparty is None:
            return self._frame("SELECT * FROM comments ORDER BY id")
        return self._frame("SELECT * FROM comments WHERE counterparty=? ORDER BY id", (counterparty,))

    def audit_trail(self, counterparty: str | None = None) -> pd.DataFrame:
        if counterparty is None:
            return self._frame("SELECT * FROM audit ORDER BY id")
        return self._frame("SELECT * FROM audit WHERE counterparty=? ORDER BY id", (counterparty,))

    def record_scores(self, scores: pd.DataFrame, ts: str | None = None) -> None:
        """Append (ts, counterparty, score, class) rows; scores indexed by counterparty."""
        ts = ts or _now()
        rows = [(ts, str(cp), float(r["score"]), str(r["class"])) for cp, r in scores.iterrows()]
        with closing(self._connect()) as con, con:
            con.executemany("INSERT INTO score_history (ts, counterparty, score, class) VALUES (?,?,?,?)", rows)

    def score_history(self) -> pd.DataFrame:
        return self._frame("SELECT * FROM score_history ORDER BY ts")
