"""A run's stored executables read and loaded on a background thread while its set-up runs.

    ahead = load_ahead(hint)      # at the start of a run: the programs the last run with this hint used
    ...                           # set-up; exposure.simulation.programs takes loaded executables from here
    ahead.finish()                # at its end: waits for the thread, records this run's programs for the next

A fresh process loads each compiled program it needs from the cache folder (exposure.simulation.programs): on
XLA:CPU ``deserialize_executable`` links the object code on XLA's own threads with the GIL released (0.35 s of CPU
for the bundled example's pricing program, 0.08 s for the 6-trade book's), but only once the set-up has built the
arguments that key the program. The key is not known earlier; what is known is which programs the last run of the
same configuration (``hint``: the config without output.dir, exposure.api) used. Their files are listed in the
cache folder (``<sha256(hint)>.ahead.json``, exposure.disk_cache: least recently used removed) and loaded here in
the order the run uses them, while the main thread calibrates and prepares the trades on the other core.

Nothing is trusted beyond what ``programs`` itself would do: an executable is handed over only for the exact file
path that ``programs`` computes from the full key (trades, shapes, versions, source digest, machine), and it is
the one ``programs._load`` reads from that file; a changed book or source makes other paths, which are never
asked for, and the list is rewritten at the end of the run. With the cache off, no hint or an unreadable list,
nothing is loaded ahead and the run loads as before.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import threading

from exposure import disk_cache

MAX_STORED = 256  # lists kept per cache folder (one per configuration run), least recently used removed
MAX_LISTED = 32  # programs listed per configuration: a run uses a handful, an AD run (risk.method=ad) about 17


class Ahead:
    """The executables being loaded for this run (path -> Future) and the paths the run used."""

    def __init__(self, list_path: str | None, listed: list[str]):
        self.list_path, self.listed = list_path, listed
        self.futures = {p: concurrent.futures.Future() for p in listed}
        self.used: list[str] = []
        self.owner = threading.get_ident()  # the run's thread: another thread's programs are not this run's
        self._stop = threading.Event()
        self._thread = None

    def start(self, load) -> None:
        if not self.futures:
            return
        work = list(self.futures.items())  # (take() removes what the run asks for meanwhile)
        self._thread = threading.Thread(target=self._work, args=(work, load), name="xposure-load-ahead", daemon=True)
        self._thread.start()

    def _work(self, work, load) -> None:
        for path, fut in work:
            if self._stop.is_set() or not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(load(path))
            except BaseException as exc:  # noqa: BLE001 - the caller then reads the file itself
                fut.set_exception(exc)

    def take(self, path: str):
        """The executable loaded ahead from ``path`` (waits for it), or None: not listed, failed or cancelled."""
        fut = self.futures.pop(path, None)
        if fut is None:
            return None
        if fut.cancel():  # not started yet: the caller loads it now (no waiting for the thread)
            return None
        try:
            return fut.result()
        except Exception:  # noqa: BLE001
            return None

    def note(self, path: str) -> None:
        if path not in self.used:
            self.used.append(path)

    def finish(self) -> None:
        """Stop loading (what is left is not needed), wait for the thread, record the programs used."""
        self._stop.set()
        for fut in self.futures.values():
            fut.cancel()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.futures = {}
        used = self.used[:MAX_LISTED]
        if self.list_path is not None and used and used != self.listed:
            disk_cache.store_entry(self.list_path, json.dumps(used).encode(), MAX_STORED)


def list_path(where: str | None, hint: str) -> str | None:
    if where is None:
        return None
    return os.path.join(where, hashlib.sha256(hint.encode("utf-8", "surrogatepass")).hexdigest() + ".ahead.json")


def read_list(path: str | None) -> list[str]:
    """The listed programs' paths: those in the list's own folder only (a foreign or corrupt list loads nothing)."""
    blob = disk_cache.read_entry(path)
    if blob is None:
        return []
    try:
        listed = json.loads(blob.decode())
    except (UnicodeDecodeError, ValueError):
        return []
    where = os.path.dirname(path)
    if not isinstance(listed, list):
        return []
    return [p for p in listed[:MAX_LISTED] if isinstance(p, str) and os.path.dirname(p) == where
            and p.endswith(".xlaexe") and os.path.exists(p)]
