"""The "state" mode of a run's checkpoint (``exposure.checkpoint``): the aggregator's running sums journaled per
chunk next to the quantile spill's synced length, instead of the chunk outputs.

    commit_state(ck, k)              chunk k + 1 committed: spill fsync'd, snapshot-<k+1>.pkl, then state.json
    load_snapshot(folder, state)     the snapshot state.json names, checked against its SHA-256
    unusable(folder, stage, state)   '' or why a state-mode checkpoint cannot be resumed (spill or snapshot)
"""

from __future__ import annotations

import hashlib
import os
import pickle

from exposure.files import failpoint, fsync_path


def commit_state(ck, k: int) -> None:
    """State mode, chunk k + 1: the spill flushed and fsync'd, then the aggregator's running sums in
    snapshot-<k+1>.pkl (temporary name, fsync, rename), then state.json naming both (the commit point);
    the previous snapshot deleted last."""
    from exposure.aggregation.snapshot import snapshot
    from exposure.checkpoint import write_json_atomic

    snap = snapshot(ck._agg)  # syncs the spill
    if k == 0:  # the spill file's directory entry, so that a power cut cannot lose the file itself
        fsync_path(ck.stage)
    data = pickle.dumps(snap, protocol=pickle.HIGHEST_PROTOCOL)
    name = f"snapshot-{k + 1}.pkl"
    path = os.path.join(ck.dir, name)
    with open(path + ".tmp", "wb") as fh:
        if os.environ.get("XPOSURE_FAILPOINT"):  # tests: a kill with half of the snapshot written
            fh.write(data[:len(data) // 2])
            fh.flush()
            failpoint(f"snapshot:{k + 1}")
            fh.write(data[len(data) // 2:])
        else:
            fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(path + ".tmp", path)
    failpoint(f"journaled:{k + 1}")
    st = ck.state
    old = st.get("snapshot")
    spill = snap["spill"]
    st.update(chunks=k + 1, snapshot=name, snapshot_sha256=hashlib.sha256(data).hexdigest(),
              snapshot_bytes=len(data),
              spill=None if spill is None else {"file": spill["file"], "length": spill["length"],
                                                "chunks": spill["chunks"][-1:]})
    write_json_atomic(os.path.join(ck.dir, "state.json"), st, point=f"state:{k + 1}")
    if old and old != name:
        os.remove(os.path.join(ck.dir, old))
    failpoint(f"committed:{k + 1}")


def load_snapshot(folder: str, state: dict) -> dict:
    with open(os.path.join(folder, state["snapshot"]), "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != state["snapshot_sha256"]:
        raise ValueError(f"{state['snapshot']} does not match its checksum in state.json")
    return pickle.loads(data)  # written by this run's own commit (checksummed above): trusted


def unusable(folder: str, stage: str, state: dict) -> str:
    """'' when a state-mode checkpoint's snapshot and quantile spill hold what state.json says, else what is
    wrong (a replay-mode checkpoint's journals are cut back to their lengths at the resume)."""
    from exposure.aggregation.quantile_store import SpillError, check_spill

    if state.get("mode", "replay") != "state":
        return ""
    try:
        load_snapshot(folder, state)
        if state.get("spill"):
            check_spill(os.path.join(stage, state["spill"]["file"]), state["spill"])
    except SpillError as exc:
        return str(exc)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        return f"its snapshot cannot be read ({type(exc).__name__}: {exc})"
    return ""
