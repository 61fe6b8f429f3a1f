"""In-memory snapshot of the latest scorecard for the HTTP service, reloaded atomically.

A Snapshot is immutable; SnapshotStore.reload() builds a complete new one from <output.dir>/snapshot.json (one file,
written atomically by the run) and only then swaps the reference under a lock. Readers take the reference once
per request and never see a half-loaded state.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .aliases import name_key
from .errors import ScorecardInputError


@dataclass(frozen=True)
class Snapshot:
    version: int
    computed_at: str
    loaded_at: str
    profile: str
    scorecard: pd.DataFrame  # index counterparty
    records: dict  # counterparty -> JSON-ready dict of its scorecard row
    metrics: dict  # counterparty -> list of metric dicts (value, se, lo, hi, n, unit)
    alerts: list
    aliases: dict  # name key -> counterparty id
    bands: list
    encoded: dict  # pre-encoded JSON bodies: "scorecard", "alerts", "cp:<id>"

    def resolve(self, name: str) -> str | None:
        if name in self.records:
            return name
        cp = self.aliases.get(name_key(name))
        return cp if cp in self.records else None


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (dict, list)):  # nested values never come from a run: dropped rather than echoed
        return None
    return v


def load_snapshot(path, version: int = 0) -> Snapshot:
    path = Path(path)
    if not path.exists():
        raise ScorecardInputError(str(path), "file", "no scorecard snapshot (run `scorecard run` first)")
    try:
        return _parse_snapshot(path, version)
    except ScorecardInputError:
        raise
    except Exception as exc:  # any shape the run never writes (the fuzz tests try them): one clear error
        raise ScorecardInputError(str(path), "content", f"not a scorecard snapshot ({type(exc).__name__}: "
                                  f"{str(exc)[:200]})") from None


def _parse_snapshot(path: Path, version: int) -> Snapshot:
    raw = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    if not isinstance(raw, dict) or not isinstance(raw.get("scorecard"), list):
        raise KeyError("scorecard")
    sc = pd.DataFrame(raw["scorecard"])
    if sc.empty or not {"counterparty", "score", "class", "rank"} <= set(sc.columns):
        raise KeyError("scorecard rows need counterparty, score, class, rank")
    sc["counterparty"] = sc["counterparty"].map(_as_id)
    if sc["counterparty"].duplicated().any():
        raise ValueError("duplicate counterparty rows")
    for c in list(raw.get("float_columns") or []) + ["score"]:
        if isinstance(c, str) and c in sc:
            sc[c] = pd.to_numeric(sc[c], errors="coerce").astype(float)
    sc["class"] = sc["class"].map(_as_id)
    sc = sc.set_index("counterparty")
    records = {cp: {k: _clean(v) for k, v in row.items()} | {"counterparty": cp}
               for cp, row in zip(sc.index, sc.to_dict(orient="records"))}
    metrics: dict[str, list] = {}
    for m in raw.get("metrics") or []:
        metrics.setdefault(_as_id(m["counterparty"]), []).append(
            {str(k): _clean(v) for k, v in dict(m).items() if k != "counterparty"})
    man = raw.get("manifest") or {}
    if not isinstance(man, dict):
        raise TypeError("manifest is not an object")
    computed_at, profile = str(man.get("computed_at", "")), str(man.get("profile", ""))
    alerts = list(raw.get("alerts") or [])
    bands = [b for b in (man.get("bands") or []) if isinstance(b, dict) and isinstance(b.get("name"), str)]
    aliases = {str(k): str(v) for k, v in dict(raw.get("aliases") or {}).items()}
    return Snapshot(version=version, computed_at=computed_at, loaded_at=datetime.now(timezone.utc).isoformat(),
                    profile=profile, scorecard=sc, records=records, metrics=metrics, alerts=alerts,
                    aliases=aliases, bands=bands,
                    encoded=_encode(version, computed_at, profile, records, metrics, alerts))


def _no_constant(c):
    raise ValueError(f"bare {c} is not JSON")


def _as_id(v) -> str:
    if not isinstance(v, str) or not v:
        raise TypeError(f"counterparty/class must be a non-empty string, got {v!r}"[:100])
    return v


def _encode(version, computed_at, profile, records, metrics, alerts) -> dict[str, bytes]:
    """JSON bodies of the read endpoints, built once per snapshot (strict JSON: NaN already mapped to null)."""
    dump = lambda o: json.dumps(o, allow_nan=False).encode()  # noqa: E731
    rows = sorted(records.values(), key=lambda r: (r["score"] is None, r["score"] or 0.0))
    enc = {"scorecard": dump({"computed_at": computed_at, "profile": profile, "version": version,
                              "counterparties": rows}),
           "alerts": dump({"computed_at": computed_at, "alerts": alerts})}
    for cp, rec in records.items():
        contrib = {k[8:]: v for k, v in rec.items() if k.startswith("contrib_") and v is not None}
        enc["cp:" + cp] = dump({"counterparty": cp, "score": rec["score"], "class": rec["class"],
                                "rank": rec["rank"], "contributions": contrib, "record": rec,
                                "metrics": metrics.get(cp, []), "computed_at": computed_at})
    return enc


class SnapshotStore:
    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._snap = load_snapshot(self.path, 1)

    def get(self) -> Snapshot:
        return self._snap  # a single reference read: atomic under the GIL

    def reload(self) -> Snapshot:
        """Load the new snapshot fully (outside the lock), then swap; a failed load keeps the old one."""
        with self._lock:
            version = self._snap.version + 1
        new = load_snapshot(self.path, version)
        with self._lock:
            if new.version <= self._snap.version:  # a concurrent reload won: keep versions monotonic
                new = load_snapshot(self.path, self._snap.version + 1)
            self._snap = new
        return new
