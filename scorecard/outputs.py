"""Atomic file writers: every file is written to ``<name>.tmp-<pid>`` in the same folder, then os.replace'd.

A reader (the API reloading a snapshot, a downstream job) therefore never sees a half-written file.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .errors import ScorecardInputError


def _tmp(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def _commit(tmp: Path, path: Path) -> str:
    os.replace(tmp, path)
    return str(path)


def atomic_write_frame(df: pd.DataFrame, path) -> str:
    """Write df as CSV or Parquet chosen by suffix (.csv / .parquet); returns the final path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            raise ValueError(f"{path}: unsupported table format (use .csv or .parquet)")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _commit(tmp, path)


def atomic_write_text(text: str, path) -> str:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(text, encoding="utf-8")
    return _commit(tmp, path)


def atomic_write_json(obj, path) -> str:
    return atomic_write_text(json.dumps(obj, indent=2, default=str, sort_keys=True, allow_nan=False), path)


def atomic_write_dataset(ds, path) -> str:
    """Write an xarray Dataset to HDF5 (h5netcdf engine)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _commit(tmp, path)


def check_output_dir(path) -> Path:
    """output.dir exists (created) and is writable, checked before any compute; else an error naming it."""
    out = Path(str(path))
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ScorecardInputError(str(out), "output.dir", f"not a writable folder ({exc.strerror or exc})") from None
    return out


@contextmanager
def run_lock(out_dir: Path):
    """An exclusive lock on <output.dir>/.scorecard.lock for the whole run: a second concurrent run into the same
    folder is refused (it would mix files of two runs); the OS releases the lock if the process dies."""
    import fcntl

    fh = open(Path(out_dir) / ".scorecard.lock", "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ScorecardInputError(str(out_dir), "output.dir", "another scorecard run is writing this folder") \
                from None
        yield
    finally:
        fh.close()
