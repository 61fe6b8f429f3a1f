"""Entries kept across processes in a cache folder: atomic writes, least-recently-used pruning, source digests.

    blob = read_entry(path)                    # bytes, or None (absent, unreadable); marks the entry used
    store_entry(path, blob, max_stored)        # atomic; keeps max_stored entries of path's kind in its folder
    digest = source_digest(root, suffixes)     # sha256 over (relative path, bytes) of the files under root

Three users: the traced programs (exposure.simulation.programs, ``.jaxexport``), the composed configs
(exposure.config.compose_cache, ``.composed.pkl``) and the frozen stored configs (exposure.config.cache,
``.config.pickle``). An entry's kind is the part of its file name after the first dot; pruning removes the least
recently used files of that kind (use = read or write, recorded as the file's mtime) beyond ``max_stored``, never
the entry just written. Every OSError is swallowed: a read-only or full cache folder costs the next process a
rebuild, never a failure, and a reader must validate what it reads (a truncated or foreign file is rebuilt).
"""

from __future__ import annotations

import hashlib
import os
import threading


def read_entry(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError:
        return None
    try:
        os.utime(path)  # its use, for the least-recently-used pruning of store_entry
    except OSError:
        pass
    return blob


def store_entry(path: str | None, blob: bytes, max_stored: int) -> None:
    if path is None:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"  # (a server's what-ifs run in threads)
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)  # atomic: a concurrent process reads the old file, the new one, or none
        _prune(os.path.dirname(path), path, max_stored)
    except OSError:
        pass


def _prune(where: str, keep: str, max_stored: int) -> None:
    kind = "." + os.path.basename(keep).split(".", 1)[-1]
    entries = []
    for e in os.scandir(where):
        if e.name.endswith(kind) and e.path != keep:
            try:
                entries.append((e.stat().st_mtime_ns, e.path))
            except OSError:  # removed meanwhile by a concurrent process
                pass
    for _, old in sorted(entries)[: max(0, len(entries) + 1 - max_stored)]:
        try:
            os.remove(old)
        except OSError:
            pass


def source_digest(root: str, suffixes: tuple = (".py",), h=None) -> str:
    """sha256 over (path relative to root, bytes) of the files under ``root`` ending in ``suffixes`` (None: all),
    in sorted order; updates and returns ``h``'s digest when given. Raises OSError when root cannot be read."""
    h = hashlib.sha256() if h is None else h
    for d, dirs, files in os.walk(root, onerror=_raise):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for name in sorted(files):
            if suffixes is not None and not name.endswith(suffixes):
                continue
            path = os.path.join(d, name)
            h.update(os.path.relpath(path, root).encode("utf-8", "surrogatepass") + b"\0")
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def _raise(err: OSError) -> None:
    raise err
