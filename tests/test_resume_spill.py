"""Checkpoint and resume with the quantile store spilled to disk (exposure.checkpoint "state" mode): the journal
holds the aggregator's running sums and the spill's synced length, never the paths the spill already holds; a
run SIGKILLed while the spill, the snapshot or the state is written resumes bit for bit; a spill that a resume
finds cut short, changed or missing is never used: auto discards the checkpoint (run.log says why) and starts
afresh, strict/require refuse naming the file.

The memory budget is set just above the process reserve (exposure.memory) so that the store of a few thousand
paths spills and the chunks are 128 paths; the book has a CSA set and an uncollateralised one.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from exposure.memory import GB, RESERVE
from tests.test_resume import BOOK as RESUME_BOOK
from tests.test_resume import assert_same_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = RESUME_BOOK.replace("maturity: 1Y", "maturity: 2Y")  # test_resume's book, two years long (24 dates)
PATHS = 3072  # 8 x 2 sets x 25 dates x 3072 = 1.2 MB > half of the 2 MB room: spilled; chunks of 128 paths
N_CHUNKS = PATHS // 128
BUDGET = (RESERVE + 2 * 2**20) / GB
GRID = ",".join(f"{m}M" for m in range(1, 25))


def _args(book, out, *extra, paths=PATHS):
    return ["run", f"portfolio.trades={book}", f"output.dir={out}", "portfolio.fixings=null",
            f"simulation.paths={paths}", f"simulation.memory_budget_gb={BUDGET}", f"simulation.grid='{GRID}'",
            "report.plots=false", "report.html=false", "report.limits_file=null", *extra]


def _child(book, out, *extra, failpoint=""):
    env = dict(os.environ, XPOSURE_FAILPOINT=failpoint)
    return subprocess.run([sys.executable, "-m", "exposure", *_args(book, out, *extra)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _cli(book, out, *extra, paths=PATHS):
    from exposure.cli import main

    err, so = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(so):
        rc = main(_args(book, out, *extra, paths=paths))
    return rc, err.getvalue()


def _interrupted(monkeypatch, book, out, chunks, paths=PATHS):
    """Run in this process, Ctrl-C right after chunk ``chunks`` is checkpointed; the staging folder stays."""
    from exposure.checkpoint import Checkpoint

    real = Checkpoint.commit

    def commit(self, o):
        real(self, o)
        if self.state["chunks"] == chunks:
            raise KeyboardInterrupt("interrupted")

    with monkeypatch.context() as m:
        m.setattr(Checkpoint, "commit", commit)
        with pytest.raises(KeyboardInterrupt):
            _cli(book, out, paths=paths)
    stage = out.parent / f".{out.name}.staging"
    assert (stage / "checkpoint" / "state.json").exists()
    return stage


def _spill(stage):
    names = [n for n in os.listdir(stage) if n.startswith("xposure-quantiles-")]
    assert len(names) == 1, names
    return stage / names[0]


def _journal_bytes(stage):
    folder = stage / "checkpoint"
    return sum(os.path.getsize(folder / n) for n in os.listdir(folder))


def _restored(log):
    return [int(line.split("checkpoint: ")[1].split(" of")[0]) for line in log.splitlines()
            if "resumed from the checkpoint" in line]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spillresume")
    book = tmp / "book.yaml"
    book.write_text(BOOK)
    r = _child(book, tmp / "run")
    assert r.returncode == 0, r.stderr
    log = (tmp / "run" / "run.log").read_text()
    assert "quantile store spilled to disk" in log and f"checkpoint: {N_CHUNKS} chunks journaled as running sums" in log
    os.rename(tmp / "run", tmp / "ref")
    return tmp, book


def test_journal_does_not_grow_with_the_paths_the_spill_holds(tmp_path, monkeypatch):
    """Interrupted after its last chunk, a run of P and one of 2P paths: the spill doubles, the journal (every
    file of the checkpoint folder) stays the same size up to the chunk list (a few bytes per chunk)."""
    book = tmp_path / "book.yaml"
    book.write_text(BOOK)
    sizes = {}
    for paths in (PATHS, 2 * PATHS):
        stage = _interrupted(monkeypatch, book, tmp_path / f"run{paths}", paths // 128, paths=paths)
        sizes[paths] = (_journal_bytes(stage), os.path.getsize(_spill(stage)))
        assert not [n for n in os.listdir(stage / "checkpoint") if n.endswith(".bin")]  # no chunk outputs
    (j1, s1), (j2, s2) = sizes[PATHS], sizes[2 * PATHS]
    print(f"journal / spill bytes: {PATHS} paths {j1} / {s1}, {2 * PATHS} paths {j2} / {s2}")
    assert s1 == 8 * 2 * 25 * PATHS and s2 == 2 * s1  # every path's exposure, once
    assert j2 - j1 < 0.01 * (s2 - s1), sizes  # a journal copying the spill would grow by s2 - s1
    assert j2 < 0.05 * s2, sizes


@pytest.mark.parametrize("points,restored", [
    (("spill:5", "snapshot:9", "committed:13", "write:results.h5"), [4, 8, 13, N_CHUNKS]),
    pytest.param(("state:6", "journaled:11"), [5, 10], marks=pytest.mark.slow)],
    ids=["spill-snapshot-commit", "state-journaled-results"])
def test_killed_while_spilling_snapshotting_and_committing_then_resumed_bit_for_bit(reference, points, restored):
    """SIGKILL with half of chunk 5's paths appended to the spill, with half of chunk 9's snapshot written, right
    after chunk 13's commit and while results.h5 is written (after the quantiles were read from the spill);
    (slow) between chunk 6's state write and rename, after chunk 11's spill and snapshot are synced but before
    its state. Each time the same command resumes from the last commit."""
    tmp, book = reference
    out, stage = tmp / "run", tmp / ".run.staging"
    shutil.rmtree(out, ignore_errors=True)
    for point in points:
        r = _child(book, out, failpoint=point)
        assert r.returncode == -9, (point, r.stderr[-2000:])
        assert not out.exists() and (stage / "checkpoint" / "state.json").exists()
    r = _child(book, out)
    assert r.returncode == 0, r.stderr
    log = (out / "run.log").read_text()
    assert _restored(log) == restored
    assert "chunks restored" in log and "replayed" not in log
    assert_same_run(tmp / "ref", out)
    assert not [n for n in os.listdir(out) if n.startswith("xposure-quantiles-") or n == "checkpoint"]


@pytest.mark.parametrize("damage", ["truncated", pytest.param("changed", marks=pytest.mark.slow),
                                    pytest.param("missing", marks=pytest.mark.slow),
                                    pytest.param("snapshot", marks=pytest.mark.slow)])
def test_a_damaged_spill_is_detected_and_never_used(reference, tmp_path, monkeypatch, damage):
    """After 10 committed chunks the spill is cut short, a byte of its last committed chunk changed, the file
    deleted, or (slow) a byte of the snapshot changed: strict refuses naming the file (checkpoint kept), auto
    discards the checkpoint with the reason in run.log and starts afresh, giving the uninterrupted run's files."""
    ref_tmp, book = reference
    out = ref_tmp / "run"  # the reference's output.dir (it is in config.yaml and the results' attributes)
    shutil.rmtree(out, ignore_errors=True)
    stage = _interrupted(monkeypatch, book, out, 10)
    spill = _spill(stage)
    assert os.path.getsize(spill) == 10 * 128 * 8 * 2 * 25
    if damage == "truncated":
        with open(spill, "r+b") as fh:
            fh.truncate(os.path.getsize(spill) - 8)
        why = "fewer than the"
    elif damage == "changed":
        with open(spill, "r+b") as fh:
            fh.seek(os.path.getsize(spill) - 100)
            b = fh.read(1)
            fh.seek(-1, 1)
            fh.write(bytes([b[0] ^ 1]))
        why = "do not match their checksum"
    elif damage == "missing":
        os.remove(spill)
        why = "is missing"
    else:  # the running sums' snapshot changed
        snap = stage / "checkpoint" / "snapshot-10.pkl"
        data = bytearray(snap.read_bytes())
        data[len(data) // 2] ^= 1
        snap.write_bytes(bytes(data))
        why = "snapshot-10.pkl does not match its checksum"
    rc, err = _cli(book, out, "simulation.resume=strict")
    assert rc == 2 and "cannot be resumed" in err and why in err, err
    assert str(spill) in err or damage == "snapshot", err
    assert (stage / "checkpoint" / "state.json").exists() and not out.exists()
    rc, err = _cli(book, out)
    assert rc == 0, err
    log = (out / "run.log").read_text()
    assert "discarded the checkpoint" in log and why in log and "resumed from the checkpoint" not in log
    assert_same_run(ref_tmp / "ref", out)


def test_spill_file_cut_back_to_its_synced_length(tmp_path):
    """QuantileStore unit: chunks synced, a torn append after them, a new store adopting the file gives the
    quantiles of a store that saw every chunk once, bit for bit; a shorter file or changed bytes: SpillError."""
    from exposure.aggregation.quantile_store import QuantileStore, SpillError, check_spill

    rng = np.random.default_rng(7)
    n, K, P = 2, 3, 1000
    data = rng.standard_normal((K, n, P))
    q = (0.5, 0.9, 0.99)
    with QuantileStore(n, K, P, force_spill=True, spill_dir=tmp_path) as ref:
        for a in range(0, P, 300):
            ref.add(a, min(P, a + 300), data[..., a:a + 300])
        want = ref.quantiles(q, "linear")
    first = QuantileStore(n, K, P, force_spill=True, spill_dir=tmp_path)
    first.persist = True
    first.add(0, 300, data[..., :300])
    first.add(300, 600, data[..., 300:600])
    state = first.sync()
    first.add(600, 900, data[..., 600:900] + 1.0)  # written, never synced nor journaled: must be cut off
    first.close()
    assert os.path.getsize(first.path) == 900 * n * K * 8 and state["length"] == 600 * n * K * 8
    with QuantileStore(n, K, P, force_spill=True, spill_dir=tmp_path) as st:
        st.adopt(str(tmp_path), state)
        assert os.path.getsize(first.path) == state["length"]
        for a in range(600, P, 300):
            st.add(a, min(P, a + 300), data[..., a:a + 300])
        got = st.quantiles(q, "linear")
    assert got.tobytes() == want.tobytes()
    with open(first.path, "wb") as fh:  # the same length, other bytes
        fh.write(b"\0" * state["length"])
    with pytest.raises(SpillError, match="checksum"):
        check_spill(first.path, state)
    with open(first.path, "wb") as fh:
        fh.write(b"\0" * (state["length"] - 1))
    with pytest.raises(SpillError, match="fewer than"):
        check_spill(first.path, state)
