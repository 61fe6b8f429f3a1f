"""File names from ids and CSV text: the two things every writer of a run folder shares (no stage imports).

    safe_file_stem("NS_1")   -> "NS_1"                     (letters, digits, '.', '_', '-': kept as is)
    safe_file_stem("NS/1")   -> "NS_1~3c2b8e0d55a1"        (sanitised, then '~' + 12 hex digits of sha256(id))
    csv_text(header, rows)   -> RFC 4180 text (a comma, quote or newline in an id is quoted, not a new column)

A kept stem contains no '~' and a changed one always does, with the hash of the whole id: two different ids
never give the same stem (up to a 48-bit hash collision), a path separator or newline never reaches a file name,
and a stem is at most MAX_STEM + 13 characters whatever the id's length. ``file_stems`` makes the stems of
the ids sharing a folder unique case-insensitively as well, and avoids Windows' reserved device names.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re

MAX_STEM = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_file_stem(ident) -> str:
    """A file-name stem unique to ``ident``: the id itself when it is short and made of [A-Za-z0-9._-] only
    (and not '.'/'..'-like), else its sanitised prefix + '~' + sha256 prefix."""
    s = str(ident)
    clean = _UNSAFE.sub("_", s)[:MAX_STEM]
    if clean == s and s and not s.startswith("."):
        return s
    return _hashed(s)


# Names Windows reserves whatever the extension; a stem equal to one (any case) gets the hash form.
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10)}


def file_stems(idents) -> dict:
    """{id: stem} for the ids that share one folder, unique even on a case-insensitive file system (macOS,
    Windows): ids whose safe stems differ only in case (``NS_A``, ``ns_a``), and stems that are reserved
    device names, take the hash form, whose sha256 of the exact id keeps them apart."""
    idents = [str(i) for i in idents]
    stems = {i: safe_file_stem(i) for i in idents}
    folded: dict = {}
    for i, st in stems.items():
        folded.setdefault(st.casefold(), []).append(i)
    for group in folded.values():
        if len(group) > 1 or group[0].casefold() in _RESERVED:
            for i in group:
                stems[i] = _hashed(i)
    return stems


def _hashed(s: str) -> str:
    clean = _UNSAFE.sub("_", s)[:MAX_STEM]
    return f"{clean.lstrip('.')}~{hashlib.sha256(s.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def write_csv_rows(fh, header, rows) -> None:
    """Stream ``header`` and ``rows`` (iterables of cells; str() of each) to the open text file ``fh`` as CSV,
    '\n' line ends; rows consumed one by one."""
    w = csv.writer(fh, lineterminator="\n")
    # with '\n' line ends the csv module quotes a cell with '\n' or ',' but not one with a lone '\r', which a
    # reader would take for a line end: such a row is written fully quoted
    quoted = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for r in _rows(header, rows):
        (quoted if any("\r" in c for c in r) else w).writerow(r)


def _rows(header, rows):
    yield [str(h) for h in header]
    for r in rows:
        yield [str(c) for c in r]


def csv_text(header, rows) -> str:
    """The CSV text of ``header`` and ``rows`` (as write_csv_rows)."""
    buf = io.StringIO()
    write_csv_rows(buf, header, rows)
    return buf.getvalue()


def fsync_path(path: str) -> None:
    """Flush a written file (or a folder's entries) to the disk: before a rename puts it in place, so a power
    cut keeps the old bytes or the new ones, never a mixture."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def failpoint(name: str) -> None:
    """SIGKILL this process when XPOSURE_FAILPOINT names this point (tests place kills with it); a no-op otherwise."""
    if os.environ.get("XPOSURE_FAILPOINT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def write_netcdf(ds, path: str) -> None:
    """``ds.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)`` for a Dataset of in-memory arrays, the same file.

    xarray's to_netcdf asks dask which scheduler is active (to close the file between writes of dask chunks)
    and so imports dask.distributed, 0.1-0.3 s of every fresh ``exposure run``; a Dataset without chunked
    variables is written without that question: by ``exposure.h5_direct`` (h5py, the same layout and bytes as
    read back) where it can, else through the same h5netcdf store. One with chunks goes through to_netcdf."""
    if any(v.chunks is not None for v in ds.variables.values()):
        ds.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)
        return
    from xarray.backends import H5NetCDFStore, writers
    from xarray.backends.locks import HDF5_LOCK

    # to_netcdf's own checks of variable names and attribute types, where this xarray has them
    for check, args in (("_validate_dataset_names", (ds,)), ("_validate_attrs", (ds, "h5netcdf", True))):
        if hasattr(writers, check):
            getattr(writers, check)(*args)
    from exposure.h5_direct import write_h5_direct

    if write_h5_direct(ds, path):  # the same file through h5py, ~10x faster; else (rare layouts) h5netcdf's
        return
    store = H5NetCDFStore.open(path, mode="w", invalid_netcdf=True, lock=HDF5_LOCK)
    try:
        ds.dump_to_store(store)
    finally:
        store.close()
