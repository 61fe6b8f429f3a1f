"""Checkpoint and resume (exposure.checkpoint): a run SIGKILLed at any point and restarted with the same command
gives, bit for bit, the files of an uninterrupted run; a checkpoint of a changed run is never resumed.

Kills are placed exactly with the XPOSURE_FAILPOINT hook (a SIGKILL of the child process itself): after a
chunk's checkpoint is committed, in the middle of a chunk's journal append (a torn write), after the new state
is written but before it is renamed into place, and while results.h5 or the report is being written. The book
has a CSA set with a margin period of risk, trade-level results and the stored cube, so that every journaled
array (values, numeraire, fx, trades, states) and every consumer (collateral, streaming sums, quantile store,
cube) is exercised.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = """
netting_sets:
  NS_A:
    counterparty: CP_A
    csa: {margining: two_way, threshold_cpty: 1.0e+5, threshold_bank: 1.0e+5, mta_cpty: 1.0e+4, mta_bank: 1.0e+4,
          rounding: 1.0e+3}
  NS_C: {counterparty: CP_E}
trades:
  - {id: T1, type: FxForward, netting_set: NS_A, buy_currency: USD, buy_amount: 1.1e+7, sell_currency: EUR,
     sell_amount: 1.0e+7, maturity: 1Y}
  - {id: T2, type: FxForward, netting_set: NS_A, buy_currency: EUR, buy_amount: 0.5e+7, sell_currency: USD,
     sell_amount: 0.56e+7, maturity: 6M}
  - {id: T3, type: FxForward, netting_set: NS_C, buy_currency: USD, buy_amount: 2.2e+7, sell_currency: EUR,
     sell_amount: 2.0e+7, maturity: 1Y}
"""
N_CHUNKS = 6
SETTINGS = ["portfolio.fixings=null", "simulation.paths=96", "simulation.chunk_size=16", "simulation.grid='3M,6M,1Y'",
            "simulation.mpor=2W", "output.trade_level=true", "output.store_cube=true", "report.plots=false",
            "report.html=false", "report.limits_file=null"]


def _args(book, out, *extra):
    return ["run", f"portfolio.trades={book}", f"output.dir={out}", *SETTINGS, *extra]


def _child(book, out, *extra, failpoint=""):
    """`python -m exposure run ...` in a child process; returncode -9 when the failpoint killed it."""
    env = dict(os.environ, XPOSURE_FAILPOINT=failpoint)
    return subprocess.run([sys.executable, "-m", "exposure", *_args(book, out, *extra)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _cli(book, out, *extra):
    from exposure.cli import main

    err, so = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(so):
        rc = main(_args(book, out, *extra))
    return rc, err.getvalue()


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.dtype.str, a.shape, a.tobytes() if a.dtype.kind != "O" else repr(a.tolist())


def assert_same_run(ref, out):
    """Every file of the two run folders: CSV/YAML byte for byte, every variable, coordinate and attribute of
    results.h5 and every dataset of netting_values.h5 bit for bit (run.log differs: it has times)."""
    import h5py
    import xarray as xr

    names = sorted(os.listdir(ref))
    assert names == sorted(os.listdir(out))
    for n in names:
        a, b = os.path.join(ref, n), os.path.join(out, n)
        if n.endswith((".csv", ".yaml")):
            assert open(a, "rb").read() == open(b, "rb").read(), n
    with xr.open_dataset(os.path.join(ref, "results.h5"), engine="h5netcdf") as x, \
            xr.open_dataset(os.path.join(out, "results.h5"), engine="h5netcdf") as y:
        assert sorted(x.variables) == sorted(y.variables) and x.attrs == y.attrs
        for v in x.variables:
            assert _bits(x[v].values) == _bits(y[v].values), v
    if "netting_values.h5" not in names:  # a run without output.store_cube
        return
    with h5py.File(os.path.join(ref, "netting_values.h5")) as f, h5py.File(os.path.join(out, "netting_values.h5")) as g:
        assert sorted(f) == sorted(g)
        for k in f:
            assert _bits(f[k][()]) == _bits(g[k][()]), k
        assert {k: str(v) for k, v in f.attrs.items()} == {k: str(v) for k, v in g.attrs.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run (in a child process, as the killed ones), moved to ref/ so that the interrupted runs
    write the same output.dir (it is in config.yaml and the results' attributes)."""
    tmp = tmp_path_factory.mktemp("resume")
    book = tmp / "book.yaml"
    book.write_text(BOOK)
    r = _child(book, tmp / "run")
    assert r.returncode == 0, r.stderr
    os.rename(tmp / "run", tmp / "ref")
    return tmp, book


def _replayed(log):
    return [int(line.split("checkpoint: ")[1].split(" of")[0]) for line in log.splitlines()
            if "resumed from the checkpoint" in line]


def test_killed_three_times_then_resumed_is_bit_for_bit_the_uninterrupted_run(reference):
    """One run killed in the middle of chunk 3's journal append (a torn write), between writing chunk 4's state
    and renaming it into place, and while results.h5 is written; each time restarted with the same command,
    which resumes from the last committed chunk."""
    tmp, book = reference
    out, stage = tmp / "run", tmp / ".run.staging"
    for point in ("append:3", "state:4", "write:results.h5"):
        r = _child(book, out, failpoint=point)
        assert r.returncode == -9, (point, r.stderr[-2000:])
        assert not out.exists() and (stage / "checkpoint" / "state.json").exists()
    r = _child(book, out)
    assert r.returncode == 0, r.stderr
    log = (out / "run.log").read_text()
    # the torn append of chunk 3 is cut off -> 2 chunks; chunk 4's state never renamed -> 3; killed while
    # writing the results -> all replayed
    assert _replayed(log) == [2, 3, N_CHUNKS]
    assert log.count("run resumed") == 3
    assert_same_run(tmp / "ref", out)
    assert not [n for n in os.listdir(tmp) if n.startswith(".run.staging") or n.endswith(".failed.log")]
    assert "checkpoint" not in os.listdir(out)


@pytest.mark.slow
@pytest.mark.parametrize("point,replayed", [("committed:2", 2), ("journaled:5", 4), ("committed:6", 6),
                                            ("write:exposure_nettingset_NS_A.csv", 6),
                                            ("write:netting_values.h5", 6), ("write:summary.csv", 6)])
def test_killed_once_then_resumed(reference, point, replayed):
    tmp, book = reference
    out = tmp / "run"  # the reference's output.dir (it is in config.yaml and the results' attributes)
    shutil.rmtree(out, ignore_errors=True)
    r = _child(book, out, failpoint=point)
    assert r.returncode == -9, r.stderr[-2000:]
    r = _child(book, out)
    assert r.returncode == 0, r.stderr
    assert _replayed((out / "run.log").read_text()) == [replayed]
    assert_same_run(tmp / "ref", out)


def _interrupt_after(monkeypatch, chunks):
    """Ctrl-C (KeyboardInterrupt) right after chunk ``chunks`` is checkpointed, in this process."""
    from exposure.checkpoint import Checkpoint

    real = Checkpoint.commit

    def commit(self, out):
        real(self, out)
        if self.state["chunks"] == chunks:
            raise KeyboardInterrupt("interrupted")

    monkeypatch.setattr(Checkpoint, "commit", commit)


def test_changed_inputs_are_never_resumed(reference, tmp_path, monkeypatch):
    """A run interrupted after 2 chunks (its checkpoint kept), then: a changed seed or trades file with
    simulation.resume=strict is refused naming what changed, the checkpoint kept; the same inputs with other
    report settings (output-only) and resume=require resume it; auto (the default) discards a changed run's
    checkpoint, says so in run.log and starts afresh; require without a checkpoint is refused."""
    _, book0 = reference
    book = tmp_path / "book.yaml"
    shutil.copy(book0, book)
    out, stage = tmp_path / "run", tmp_path / ".run.staging"
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt) as info:
        _cli(book, out)
    assert f"checkpoint kept in {stage}" in " ".join(info.value.__notes__)
    monkeypatch.undo()
    state = (stage / "checkpoint" / "state.json").read_bytes()

    rc, err = _cli(book, out, "simulation.seed=7", "simulation.resume=strict")
    assert rc == 2 and "simulation.resume" in err and "config simulation.seed: 42 -> 7" in err, err
    book.write_text(BOOK.replace("1.1e+7", "1.2e+7"))
    rc, err = _cli(book, out, "simulation.resume=strict")
    assert rc == 2 and f"file {book} changed" in err and "Traceback" not in err, err
    assert (stage / "checkpoint" / "state.json").read_bytes() == state and not out.exists()

    shutil.copy(book0, book)
    rc, err = _cli(book, out, "report.pfe_quantile=0.95", "simulation.resume=require")
    assert rc == 0, err
    assert _replayed((out / "run.log").read_text()) == [2] and not stage.exists()

    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        _cli(book, out)
    monkeypatch.undo()
    book.write_text(BOOK.replace("1.1e+7", "1.2e+7"))
    rc, err = _cli(book, out)  # auto: the changed book's run starts afresh
    assert rc == 0, err
    log = (out / "run.log").read_text()
    assert "discarded the checkpoint of a different run" in log and f"file {book} changed" in log
    assert "resumed from the checkpoint" not in log and not stage.exists()

    rc, err = _cli(book, tmp_path / "other", "simulation.resume=require")
    assert rc == 2 and "require: no checkpoint to resume" in err, err
    rc, err = _cli(book, tmp_path / "other", "simulation.resume=sometimes")
    assert rc == 2 and err.startswith("error: simulation.resume: must be one of auto, strict, require, never"), err


def test_manifest_names_what_changed_and_ignores_output_only_keys(tmp_path, monkeypatch):
    from exposure import manifest as m

    book = tmp_path / "b.yaml"
    book.write_text("a")
    cfg = {"portfolio": {"trades": str(book)}, "simulation": {"seed": 1, "resume": "auto"},
           "output": {"dir": "x", "quantiles": [0.9]}, "report": {"plots": True}}
    base = m.run_manifest(cfg)
    assert base["files"] == {str(book): m.file_digest(str(book))}
    same = m.run_manifest({**cfg, "output": {"dir": "elsewhere", "quantiles": [0.9]}, "report": {"plots": False},
                           "simulation": {"seed": 1, "resume": "strict"}})
    assert m.differences(base, same) == []
    other = m.run_manifest({**cfg, "output": {"dir": "x", "quantiles": [0.95]}})
    assert m.differences(base, other) == ["config output.quantiles: [0.9] -> [0.95]"]
    book.write_text("b")
    assert m.differences(base, m.run_manifest(cfg)) == [f"file {book} changed"]
    monkeypatch.setattr(m, "code_digest", lambda: "other")
    assert "the code (exposure package or jax/numpy version) changed" in m.differences(base, m.run_manifest(cfg))
    assert "chunk layout changed" in m.differences(dict(base, layout=[[0, 8]]), dict(base, layout=[[0, 4], [4, 8]]))[0]


@pytest.mark.slow
def test_killed_from_outside_at_random_moments_then_resumed(reference):
    """SIGKILL sent from outside (no failpoint) at a seeded random delay after the run's log shows it simulating,
    aggregating and writing: wherever the run happens to be then (pricing, committing, writing a file); then
    the same command to the end gives the uninterrupted run's files."""
    import random
    import signal

    tmp, book = reference
    out, log = tmp / "run", tmp / ".run.staging" / "run.log"
    shutil.rmtree(out, ignore_errors=True)
    rng = random.Random(20261206)
    landed = []
    # delays short against what is left of the run after each marker (a warm run ends its 96 paths, measures and
    # files within a few tenths of a second): a kill after the end lands nowhere, then the next marker is tried
    # on a fresh folder
    for marker, most in (("stage paths: 32/96", 0.1), ("stage measures started", 0.1), ("stage write started", 0.2)):
        proc = subprocess.Popen([sys.executable, "-m", "exposure", *_args(book, out)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline:
            text = log.read_text() if log.exists() else ""
            if marker in text.split("run resumed")[-1]:  # this attempt's part of the log
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, most))
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        landed.append(proc.returncode == -9 and not out.exists())
        if out.exists() and not landed[-1] and marker != "stage write started":
            shutil.rmtree(out)  # finished before the kill: try the next moment on a fresh run
        elif out.exists():
            break
    if not out.exists():
        r = _child(book, out)
        assert r.returncode == 0, r.stderr
    assert_same_run(tmp / "ref", out)
    assert any(landed)
    assert "resumed from the checkpoint" in (out / "run.log").read_text()
