"""The store that keeps every path of an (entity, date) exposure slab for exact quantiles (``quantiles``).

Data (n_entities, n_dates, n_paths), values in their own units (base currency), float64 or float32. Kept in
memory when the slab fits the memory budget, else spilled chunk by chunk to a temporary file and read back one
netting set (or a group of dates) at a time. The spill file is append-only raw bytes: chunk [start, stop) is one
C-order block (n_entities, n_dates, stop - start) at a known offset, with the CRC-32 of its bytes. So a run's
checkpoint (``exposure.checkpoint``) can name the spill's flushed length instead of copying its paths, and a
resume cuts off whatever a kill left beyond it (``check_spill``, ``QuantileStore.adopt``); an HDF5 file killed
mid-write may not reopen at all.
"""

from __future__ import annotations

import os
import tempfile
import zlib

import numpy as np

from exposure.aggregation.quantiles import DEFAULT_MEMORY_BUDGET, exposure_quantiles
from exposure.files import failpoint


class QuantileStore:
    """Every path of an (entity, date) exposure slab, kept for exact quantiles.

    Holds data of shape (n_entities, n_dates, n_paths) in ``dtype`` (float64, or float32 to halve memory and
    disk; quantiles are then those of the float32-rounded values). In memory when n_entities * n_dates *
    n_paths * itemsize <= memory_budget_bytes, else each added chunk is appended as one C-order block
    (n_entities, n_dates, p) to a temporary file (deleted on ``close`` unless ``persist``), read back per
    entity in date groups of at most the memory budget.
    The result does not depend on the mode or on the chunking: the same values reach the same order statistic.
    """

    def __init__(self, n_entities: int, n_dates: int, n_paths: int, *, dtype="float64",
                 memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET, spill_dir: str | None = None,
                 force_spill: bool = False):
        self.shape = (int(n_entities), int(n_dates), int(n_paths))
        self.dtype = np.dtype(dtype)
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.spilled = bool(force_spill) or self.nbytes > self.memory_budget_bytes
        self.path: str | None = None
        self.persist = False  # keep the spill file on close (a checkpoint names it; it deletes it when done)
        self._count = 0
        self._chunks: list[tuple[int, int, int, int]] = []  # spilled: (start, stop, byte offset, crc32)
        self._fh = None
        self._data = None
        self._held: list = []
        self._slab = False
        if self.spilled:
            fd, self.path = tempfile.mkstemp(prefix="xposure-quantiles-", suffix=".bin", dir=spill_dir)
            self._fh = os.fdopen(fd, "wb")
        else:
            self._data = np.empty(self.shape, dtype=self.dtype)

    def add(self, start: int, stop: int, data, keep: bool = False) -> None:
        """Paths [start, stop) of the slab; ``data`` is (n_dates, n_entities, stop - start) as values are.
        keep: the store may hold ``data`` itself (in memory, same dtype) instead of a copy: the caller hands
        it over and never writes to it again."""
        a = np.asarray(data)
        n, K, P = self.shape
        if a.shape != (K, n, stop - start) or start < 0 or stop > P:
            raise ValueError(f"QuantileStore.add: expected ({K}, {n}, {stop - start}) within {P} paths, got {a.shape}")
        if keep and not self.spilled and a.dtype == self.dtype:
            self._held.append((start, stop, a))  # read per entity row by row in ``rows``: no copy here
            self._count += stop - start
            return
        block = np.transpose(a, (1, 0, 2))
        if self.spilled:
            if self._chunks and start != self._chunks[-1][1] or not self._chunks and start != 0:
                raise ValueError(f"QuantileStore.add: spilled paths must arrive in order (got start {start})")
            raw = memoryview(np.ascontiguousarray(block, dtype=self.dtype)).cast("B")
            offset = self._chunks[-1][2] + self._block_bytes(*self._chunks[-1][:2]) if self._chunks else 0
            if os.environ.get("XPOSURE_FAILPOINT"):  # tests: a kill with half of this chunk on the disk
                self._fh.write(raw[:len(raw) // 2])
                self._fh.flush()
                failpoint(f"spill:{len(self._chunks) + 1}")
                self._fh.write(raw[len(raw) // 2:])
            else:
                self._fh.write(raw)
            self._chunks.append((start, stop, offset, zlib.crc32(raw)))
        else:
            self._data[:, :, start:stop] = block
            self._slab = True
        self._count += stop - start

    @property
    def complete(self) -> bool:
        return self._count == self.shape[2]

    def rows(self, entity: int, k0: int = 0, k1: int | None = None) -> np.ndarray:
        """A fresh (k1 - k0, n_paths) array: entity's dates [k0, k1) over all paths, in path order."""
        n, K, P = self.shape
        k1 = K if k1 is None else k1
        if not self.spilled:
            out = self._data[entity, k0:k1, :].copy() if self._slab else np.empty((k1 - k0, P), self.dtype)
            for start, stop, a in self._held:
                out[:, start:stop] = a[k0:k1, entity, :]
            return out
        out = np.empty((k1 - k0, P), dtype=self.dtype)
        self._fh.flush()
        size = self.dtype.itemsize
        with open(self.path, "rb") as fh:
            for start, stop, offset, _ in self._chunks:
                p = stop - start  # entity's dates k0..k1 of a chunk block are contiguous
                fh.seek(offset + (entity * K + k0) * p * size)
                part = np.fromfile(fh, dtype=self.dtype, count=(k1 - k0) * p)
                out[:, start:stop] = part.reshape(k1 - k0, p)
        return out

    def _block_bytes(self, start: int, stop: int) -> int:
        return self.shape[0] * self.shape[1] * (stop - start) * self.dtype.itemsize

    # -- checkpoints of a spilled store (exposure.checkpoint) ------------------------------------------------

    def sync(self) -> dict:
        """Flush and fsync the spill file; its state: {"file" (base name), "length" (bytes), "count" (paths),
        "chunks" [[start, stop, offset, crc32], ...]}: what ``adopt`` needs to continue it after a restart."""
        if not self.spilled:
            raise RuntimeError("QuantileStore.sync: the store is in memory (nothing spilled to sync)")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        last = self._chunks[-1] if self._chunks else None
        length = last[2] + self._block_bytes(last[0], last[1]) if last else 0
        return {"file": os.path.basename(self.path), "length": length, "count": self._count,
                "chunks": [list(c) for c in self._chunks]}

    def adopt(self, folder: str, state: dict) -> None:
        """Continue the spill file ``folder/state["file"]`` of an interrupted run: its bytes past
        state["length"] (a chunk being written when the run died) cut off, checked with ``check_spill``
        first (SpillError when it is shorter or its last chunk's bytes changed). Replaces this store's own
        (empty) spill file."""
        if not self.spilled or self._count:
            raise RuntimeError("QuantileStore.adopt: only an empty spilled store adopts a spill file")
        path = os.path.join(folder, state["file"])
        check_spill(path, state)
        if os.path.abspath(path) != os.path.abspath(self.path):
            self._fh.close()
            os.remove(self.path)
            self.path = path
            self._fh = open(path, "r+b")
        self._fh.truncate(int(state["length"]))
        self._fh.seek(int(state["length"]))
        self._chunks = [tuple(int(v) for v in c) for c in state["chunks"]]
        self._count = int(state["count"])

    def quantiles(self, quantiles, method: str = "ore", ranks=None):
        """(n_entities, n_dates, nq) exact quantiles over all paths; with ``ranks`` (m,) also the order
        statistics at those 0-based positions, (n_entities, n_dates, m), from the same pass: a pair."""
        if not self.complete:
            raise RuntimeError(f"QuantileStore holds {self._count} of {self.shape[2]} paths")
        n, K, P = self.shape
        nq = len(np.atleast_1d(quantiles))
        out = np.empty((n, K, nq), dtype=np.float64)
        m = 0 if ranks is None else np.asarray(ranks).size
        stats = np.empty((n, K, m), dtype=np.float64)
        per_group = max(1, min(K, self.memory_budget_bytes // max(1, P * self.dtype.itemsize)))

        def entity(i):
            for k0 in range(0, K, per_group):
                k1 = min(K, k0 + per_group)
                res = exposure_quantiles(self.rows(i, k0, k1), quantiles, method, overwrite=True, ranks=ranks)
                if ranks is None:
                    out[i, k0:k1] = res
                else:
                    out[i, k0:k1], stats[i, k0:k1] = res

        workers = self._workers(n, K * P * self.dtype.itemsize)
        if workers > 1:  # NumPy's copies and partitions release the GIL: one entity per thread, same values
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers, thread_name_prefix="xposure-quantiles") as pool:
                list(pool.map(entity, range(n)))
        else:
            for i in range(n):
                entity(i)
        return out if ranks is None else (out, stats)

    def _workers(self, n: int, entity_bytes: int) -> int:
        """Threads for ``quantiles``: up to 4 (and the CPUs this process may use) when the store is in memory
        and that many entities' rows fit the memory budget together; 1 otherwise."""
        if self.spilled or n < 2:
            return 1
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cpus = os.cpu_count() or 1
        return max(1, min(4, cpus, n, self.memory_budget_bytes // max(1, entity_bytes)))

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            finally:
                self._fh = None
                if self.path and os.path.exists(self.path) and not self.persist:
                    os.remove(self.path)
        self._data = None
        self._held = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


class SpillError(ValueError):
    """A spill file does not hold what a checkpoint says was flushed to it (missing, cut short, or changed)."""


def check_spill(path: str, state: dict) -> None:
    """SpillError unless ``path`` holds at least state["length"] bytes and the last journaled chunk's bytes
    still have their CRC-32 (a kill during a later write only adds bytes past the length; a shorter file or
    other bytes mean the file was truncated or overwritten outside the run). Reads one chunk, not the file."""
    length = int(state["length"])
    try:
        size = os.path.getsize(path)
    except OSError:
        raise SpillError(f"the quantile spill file {path} is missing (the checkpoint names {length} bytes)") from None
    if size < length:
        raise SpillError(f"the quantile spill file {path} has {size} bytes, fewer than the {length} its checkpoint "
                         "flushed (truncated)")
    if state["chunks"]:
        start, stop, offset, crc = (int(v) for v in state["chunks"][-1])
        with open(path, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(length - offset)
        if zlib.crc32(raw) != crc:
            raise SpillError(f"the quantile spill file {path}: the bytes of paths [{start}, {stop}) do not match "
                             "their checksum (the file was changed)")
