"""Checkpoints of a run: every completed chunk of paths journaled in its staging folder, so that a run killed
at any moment and restarted with the same command resumes where it stopped and gives, bit for bit, the results
of an uninterrupted run. Two modes, chosen in ``begin`` from the run's aggregator (the same config gives the
same mode):

"state" mode, when the aggregator's state is compact (``aggregation.snapshot``: its PFE quantile store spilled
to disk or absent, no stored cube, no dynamic IM): the spill already holds every completed path's exposure, so
the journal holds only the running sums and the spill's length.

    stage/xposure-quantiles-*.bin    the quantile spill (``aggregation.quantiles``): append-only, CRC-32 per chunk
    stage/checkpoint/snapshot-<k>.pkl  the aggregator's running sums after chunk k (pickled float64 arrays)
    stage/checkpoint/state.json      the commit point: chunks done, the snapshot's name and SHA-256, the spill's
                                     synced length and last chunk (offset, CRC-32)

Commit of chunk k: flush and fsync the spill (written while the chunk was aggregated), write the snapshot to a
temporary name, fsync, rename, then state.json (temporary name, fsync, rename: atomic), then delete the previous
snapshot. A resume (``open_checkpoint``) checks the snapshot's SHA-256 and the spill (at least the synced
length, the last synced chunk's CRC: a kill only ever leaves bytes past it, the chunks before are never
rewritten), cuts the spill back to its length and restores the sums; a spill cut short, changed or missing
is never used: auto discards the checkpoint (saying why in run.log) and starts afresh, strict and require
refuse with ResumeRefused naming the file. Disk: the spill (which the run needs anyway) + a snapshot of a size
fixed by netting sets x dates (no path data).

"replay" mode, otherwise (the store or cube keeps paths in memory):

    stage/checkpoint/<array>.bin     the chunks' ChunkOutput arrays (values, numeraire, fx[, trades][, states]),
                                     raw bytes in C order and the arrays' dtype, appended in chunk order
    stage/checkpoint/state.json      the commit point: chunks done, each journal's byte length, array shapes

Commit of chunk i: append its arrays to the journals, fsync them, then write state.json to a temporary name,
fsync and rename it (atomic). A kill at any moment leaves a state.json naming a prefix of complete chunks;
journal bytes past the recorded lengths (a chunk being written) are cut off at the resume. The resume replays
the journaled chunks through the run's own consumer (checks, aggregator, stored cube) in the same order and
then computes the chunks after them, so every streaming sum, quantile store and cube receives the same values
in the same order as in an uninterrupted run: the same bits, with no aggregator state to serialise. Cost: one
sequential append of the chunk outputs per chunk (nothing earlier is rewritten), disk = 8 x paths x simulated
dates x (netting sets + 1 + currencies [+ trades] [+ states]) bytes, deleted when the run is committed; and at
a resume the aggregation of the journaled chunks again (no simulation or pricing).

Both modes: stage/checkpoint/manifest.json (what the run is, ``exposure.manifest``, and its chunk layout;
written once). The t0 trade prices are not journaled: the run computes them on the host from the same set-up
(``pricing.today``), resumed or not.

Resume modes (``simulation.resume``) and the choice between resuming and starting afresh:
``exposure.checkpoint_resume``.
``simulation.checkpoint: false`` journals nothing. Test hook: XPOSURE_FAILPOINT=<name> SIGKILLs the process
at that point (``failpoint``: append:k, spill:k (the k-th append to the quantile spill, half written),
snapshot:k (half written), journaled:k, state:k, committed:k, write:<file name>), so that tests place kills
exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np

from exposure.checkpoint_state import commit_state, load_snapshot
from exposure.files import failpoint, fsync_path  # noqa: F401  (failpoint: re-exported)

FOLDER = "checkpoint"
_ARRAYS = ("values", "numeraire", "fx", "trades", "states")


def write_json_atomic(path: str, obj, point: str = "") -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    if point:
        failpoint(point)
    os.replace(tmp, path)
    fsync_path(os.path.dirname(path))


class Checkpoint:
    """The checkpoint of one run in ``stage`` (``open_checkpoint`` decides resume or fresh start)."""

    def __init__(self, stage: str, manifest: dict, state: dict | None):
        self.stage = stage
        self.dir = os.path.join(stage, FOLDER)
        self.manifest = manifest
        self.state = state  # the committed state of a checkpoint being resumed, else None
        self._files: dict = {}
        self.discarded = ""  # what a discarded checkpoint of another run differed in (auto), for run.log
        self._agg = None
        self._seconds = 0.0  # time spent committing, for run.log

    @property
    def needs_outputs(self) -> bool:
        """commit needs the chunk outputs' arrays (replay mode), after ``begin``."""
        return (self.state or {}).get("mode", "replay") == "replay"

    @property
    def resuming(self) -> bool:
        return self.state is not None and self.state.get("chunks", 0) > 0

    def begin(self, layout, consume, states: bool, agg=None) -> int:
        """Check the chunk layout [(start, stop), ...], bring the run to its last checkpointed chunk and return
        how many there were: the job's first chunk to compute. ``agg`` (the run's ExposureAggregator): when its
        state is compact (``aggregation.snapshot``: quantile store spilled or absent, no paths in memory) the
        checkpoint journals that state and the spill's length ("state" mode) and restores it here; otherwise
        ("replay" mode) it journals the chunk outputs and replays them through ``consume`` (ChunkOutput -> None)."""
        from exposure.aggregation.snapshot import compact, keep_spill
        from exposure.chunks import ChunkOutput

        layout = [[int(a), int(b)] for a, b in layout]
        self._states = bool(states)
        self._agg = agg
        mode = "state" if agg is not None and compact(agg) else "replay"
        if mode == "state":
            keep_spill(agg)  # the spill outlives a failed attempt: the resume continues it
        if self.manifest.get("layout") != layout:  # the manifest (built from the same config) names the layout
            raise RuntimeError(f"checkpoint layout {self.manifest.get('layout')} is not the run's {layout}")
        if self.state is None:
            write_json_atomic(os.path.join(self.dir, "manifest.json"), self.manifest)
            self.state = {"chunks": 0, "mode": mode, "lengths": {}, "shapes": {}}
            return 0
        st = self.state
        if st.get("mode", "replay") != mode:
            raise RuntimeError(f"the checkpoint was taken in {st.get('mode', 'replay')} mode, this run needs {mode}")
        if mode == "state":
            from exposure.aggregation.snapshot import restore

            restore(agg, load_snapshot(self.dir, st), self.stage)
            return int(st["chunks"])
        for name, length in st["lengths"].items():  # cut a chunk that was being appended when the run died
            with open(os.path.join(self.dir, name + ".bin"), "r+b") as fh:
                fh.truncate(length)
        handles = {n: open(os.path.join(self.dir, n + ".bin"), "rb") for n in st["lengths"]}
        try:
            for start, stop in layout[:st["chunks"]]:
                arr = {}
                for n, fh in handles.items():
                    prefix, dtype = tuple(st["shapes"][n][0]), np.dtype(st["shapes"][n][1])
                    count = int(np.prod(prefix, dtype=np.int64)) * (stop - start)
                    arr[n] = np.fromfile(fh, dtype=dtype, count=count).reshape(prefix + (stop - start,))
                consume(ChunkOutput(start, stop, arr["values"], arr["numeraire"], arr["fx"], arr.get("trades"),
                                    arr.get("states"), None))
        finally:
            for fh in handles.values():
                fh.close()
        return int(st["chunks"])

    def commit(self, out) -> None:
        """Journal the ChunkOutput ``out`` (the next chunk in order) and make it the last checkpointed chunk."""
        t0 = time.perf_counter()
        st = self.state
        k = st["chunks"]
        if st["mode"] == "state":
            commit_state(self, k)
            self._seconds += time.perf_counter() - t0
            return
        names = [n for n in _ARRAYS if getattr(out, n) is not None and (n != "states" or self._states)]
        for n in names:
            a = np.ascontiguousarray(getattr(out, n))
            if n not in self._files:
                self._files[n] = open(os.path.join(self.dir, n + ".bin"), "ab")
                st["shapes"].setdefault(n, [list(a.shape[:-1]), a.dtype.str])
            self._files[n].write(memoryview(a).cast("B"))  # the raw bytes, without a copy
            if n == names[0] and os.environ.get("XPOSURE_FAILPOINT"):  # tests: a torn append
                self._files[n].flush()
                failpoint(f"append:{k + 1}")
        for n in names:
            fh = self._files[n]
            fh.flush()
            os.fsync(fh.fileno())
            st["lengths"][n] = fh.tell()
        failpoint(f"journaled:{k + 1}")
        st["chunks"] = k + 1
        write_json_atomic(os.path.join(self.dir, "state.json"), st, point=f"state:{k + 1}")
        failpoint(f"committed:{k + 1}")
        self._seconds += time.perf_counter() - t0

    def summary(self) -> str:
        st = self.state or {"chunks": 0, "lengths": {}}
        if st.get("mode") == "state":
            spill = st.get("spill") or {"length": 0}
            return (f"checkpoint: {st['chunks']} chunks journaled as running sums "
                    f"({st.get('snapshot_bytes', 0) / 2**20:.3g} MB) + the quantile spill's length "
                    f"({spill['length'] / 2**20:.3g} MB flushed, not copied), "
                    f"{self._seconds:.3f} s spent committing in this process")
        return (f"checkpoint: {st['chunks']} chunks journaled, {sum(st['lengths'].values()) / 2**20:.3g} MB, "
                f"{self._seconds:.3f} s spent committing in this process")

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files = {}

    def discard(self) -> None:
        """Delete the checkpoint and the quantile spill it kept (the run's results are complete): neither
        reaches the run folder."""
        self.close()
        spill = (self.state or {}).get("spill")
        store = getattr(getattr(getattr(self, "_agg", None), "_ns_acc", None), "store", None)
        for name in {spill["file"] if spill else None, os.path.basename(store.path) if store and store.path else None}:
            if name and os.path.exists(os.path.join(self.stage, name)):
                os.remove(os.path.join(self.stage, name))
        shutil.rmtree(self.dir, ignore_errors=True)


class NoCheckpoint:
    """Stands in when checkpoints are off: computes every chunk, journals nothing."""

    resuming = False
    discarded = ""
    needs_outputs = False

    def begin(self, layout, consume, states: bool, agg=None) -> int:
        return 0

    def commit(self, out) -> None:
        pass

    def summary(self) -> str:
        return "checkpoint: off (simulation.checkpoint=false)"

    def close(self) -> None:
        pass

    def discard(self) -> None:
        pass
