"""A run folder is one run: staged and moved into place, locked against a concurrent run, never a mixture.

- a rerun with fewer netting sets leaves no CSV of the first run;
- a crash while writing (a writer raising, at several stages) leaves the previous folder byte for byte, its log in
  run.failed.log (named in the error) and its staging folder kept for a resume (all chunks were checkpointed);
  a staging folder left by a killed run (or an older version's) is removed by the next run;
- the folder is replaced by one atomic exchange (renameat2) where the platform has it;
- a second run while the folder's lock is held is refused (exit 2, one line naming the folder).
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from exposure.cli import main

BOOK3 = """
netting_sets:
  NS_A: {counterparty: CP_A}
  NS_B: {counterparty: CP_A}
  NS_C: {counterparty: CP_E}
trades:
  - {id: T1, type: FxForward, netting_set: NS_A, buy_currency: USD, buy_amount: 1.1e+7, sell_currency: EUR,
     sell_amount: 1.0e+7, maturity: 1Y}
  - {id: T2, type: FxForward, netting_set: NS_B, buy_currency: EUR, buy_amount: 1.0e+7, sell_currency: USD,
     sell_amount: 1.1e+7, maturity: 1Y}
  - {id: T3, type: FxForward, netting_set: NS_C, buy_currency: USD, buy_amount: 2.2e+7, sell_currency: EUR,
     sell_amount: 2.0e+7, maturity: 1Y}
"""
TINY = ["portfolio.fixings=null", "simulation.paths=8", "simulation.chunk_size=8", "simulation.grid='6M,1Y'",
        "report.plots=false", "report.html=false", "report.limits_file=null"]


def _run(book, out, *extra):
    err, so = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(so):
        rc = main(["run", f"portfolio.trades={book}", f"output.dir={out}", *TINY, *extra])
    return rc, err.getvalue()


def _snapshot(folder):
    return {os.path.relpath(os.path.join(d, f), folder): open(os.path.join(d, f), "rb").read()
            for d, _, fs in os.walk(folder) for f in fs}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runfolder")
    book = tmp / "book3.yaml"
    book.write_text(BOOK3)
    out = tmp / "run"
    rc, err = _run(book, out)
    assert rc == 0, err
    return tmp, book, out


def test_rerun_with_fewer_netting_sets_leaves_no_stale_file(first_run, tmp_path):
    tmp, book, out = first_run
    target = tmp_path / "run"
    rc, err = _run(book, target)
    assert rc == 0, err
    assert (target / "exposure_nettingset_NS_C.csv").exists()
    two = tmp_path / "book2.yaml"
    two.write_text(BOOK3.replace("  NS_C: {counterparty: CP_E}\n", "").split("  - {id: T3")[0])
    rc, err = _run(two, target)
    assert rc == 0, err
    names = os.listdir(target)
    assert "exposure_nettingset_NS_A.csv" in names and "exposure_nettingset_NS_C.csv" not in names
    assert "run.log" in names and "results.h5" in names
    assert sorted(os.listdir(tmp_path)) == sorted(["book2.yaml", "run", ".run.lock"])
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o777 & ~mask  # not mkdtemp's private 0700


@pytest.mark.parametrize("victim", ["exposure.results_csv.write_ore_csv", "exposure.results.write_results",
                                    "exposure.report.write.write_summary_csv",
                                    "exposure.aggregation.values_cube.NettingValuesCube.save"])
def test_crash_mid_write_leaves_previous_run_untouched(first_run, monkeypatch, victim):
    tmp, book, out = first_run
    before = _snapshot(out)
    mod, _, name = victim.rpartition(".")
    import importlib

    try:
        target = importlib.import_module(mod)
    except ModuleNotFoundError:
        pkg, _, cls = mod.rpartition(".")
        target = getattr(importlib.import_module(pkg), cls)

    def boom(*a, **k):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(target, name, boom)
    rc, err = _run(book, out, "output.store_cube=true")
    assert rc == 2 and err.startswith("error: ") and "simulated" in err and "Traceback" not in err
    assert _snapshot(out) == before
    assert f"run log: {tmp / 'run.failed.log'}" in err and "run failed" in (tmp / "run.failed.log").read_text()
    assert "checkpoint kept in" in err and (tmp / ".run.staging" / "checkpoint" / "state.json").exists()
    assert not [n for n in os.listdir(tmp) if ".staging-" in n or ".old" in n]
    monkeypatch.undo()  # the same command again: resumed from the checkpoint, no failed log left
    rc, err = _run(book, out, "output.store_cube=true")
    assert rc == 0, err
    assert "resumed from the checkpoint: 1 of 1 chunks replayed" in (out / "run.log").read_text()
    assert not [n for n in os.listdir(tmp) if ".staging" in n or ".old" in n or n.endswith(".failed.log")]
    assert "checkpoint" not in os.listdir(out)


def test_stale_staging_folder_of_a_killed_run_is_removed(first_run):
    tmp, book, out = first_run
    stale = tmp / ".run.staging-killed"  # an older version's name
    stale.mkdir()
    (stale / "results.h5").write_text("half")
    stage = tmp / ".run.staging"  # killed before its first checkpoint: nothing to resume
    stage.mkdir()
    (stage / "results.h5.tmp-1").write_text("half")
    rc, err = _run(book, out)
    assert rc == 0, err
    assert not stale.exists() and not stage.exists()
    assert "results.h5.tmp-1" not in os.listdir(out)


def test_concurrent_run_into_the_same_folder_is_refused(first_run):
    from filelock import FileLock

    tmp, book, out = first_run
    before = _snapshot(out)
    with FileLock(str(tmp / ".run.lock")):
        rc, err = _run(book, out)
    assert rc == 2
    assert err.startswith("error: ") and str(out) in err and "another run" in err and "Traceback" not in err
    assert _snapshot(out) == before


def test_hostile_ids_end_to_end(tmp_path):
    """Netting sets 'NS/1' and 'NS_1' write two files; a trade id with a comma, quote and newline stays one cell."""
    import csv

    book = tmp_path / "hostile.yaml"
    book.write_text(BOOK3.replace("NS_A", "'NS/1'").replace("NS_B", "NS_1").replace("id: T1", 'id: "T,1 \\"x\\"\\nz"'))
    rc, err = _run(book, tmp_path / "run")
    assert rc == 0, err
    names = os.listdir(tmp_path / "run")
    assert len([n for n in names if n.startswith("exposure_nettingset_")]) == 3
    with open(tmp_path / "run" / "npv.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["TradeId", "NPV"] and [r[0] for r in rows[1:]] == ['T,1 "x"\nz', "T2", "T3"]


@pytest.mark.parametrize("stage", ["setup", "paths", pytest.param("measures", marks=pytest.mark.slow), "write",
                                   pytest.param("report", marks=pytest.mark.slow)])
def test_interrupt_at_every_stage_leaves_previous_run(first_run, monkeypatch, stage):
    """A KeyboardInterrupt (what SIGINT/SIGTERM handlers raise) as each stage starts: the old folder stays byte for
    byte, no staging folder is left."""
    from exposure.report.progress import RunProgress

    tmp, book, out = first_run
    before = _snapshot(out)
    real = RunProgress.stage

    def stage_then_stop(self, name, total=None):
        real(self, name, total)
        if name == stage:
            raise KeyboardInterrupt(f"killed at {name}")

    monkeypatch.setattr(RunProgress, "stage", stage_then_stop)
    with pytest.raises(KeyboardInterrupt) as info:
        _run(book, out)
    assert _snapshot(out) == before
    assert not [n for n in os.listdir(tmp) if ".staging-" in n or ".old" in n]
    # the stage is kept for a resume once a chunk is checkpointed (after "paths"), else deleted
    kept = stage in ("measures", "write", "report")
    assert (tmp / ".run.staging").exists() == kept
    assert ("checkpoint kept in" in " ".join(getattr(info.value, "__notes__", []))) == kept
    monkeypatch.undo()
    rc, err = _run(book, out)
    assert rc == 0, err
    assert ("resumed from the checkpoint" in (out / "run.log").read_text()) == kept
    assert not (tmp / ".run.staging").exists()


@pytest.mark.slow
def test_sigkill_mid_run_leaves_previous_run_and_next_run_cleans_up(first_run):
    """A real SIGKILL of `exposure run` in a child process once its staging folder has files."""
    import signal
    import subprocess
    import sys
    import time

    tmp, book, out = first_run
    before = _snapshot(out)
    args = [sys.executable, "-m", "exposure", "run", f"portfolio.trades={book}", f"output.dir={out}", *TINY,
            "simulation.paths=20000", "simulation.chunk_size=500"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            stage = tmp / ".run.staging"
            if stage.exists() and [n for n in os.listdir(stage) if n != "checkpoint"]:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _snapshot(out) == before
    rc, err = _run(book, out)
    assert rc == 0, err
    assert not [n for n in os.listdir(tmp) if ".staging" in n or ".old" in n]


def test_aggregate_is_staged_and_locked_too(first_run, tmp_path):
    """`exposure aggregate` writes RUN_DIR/aggregate as one run: a crash keeps the previous one; the lock refuses a
    concurrent aggregation."""
    from filelock import FileLock

    tmp, book, out = first_run
    run = tmp_path / "cube"
    rc, err = _run(book, run, "output.store_cube=true")
    assert rc == 0, err
    agg = lambda *extra: _cli(["aggregate", str(run), *extra])  # noqa: E731
    rc, err = agg("output.quantiles=[0.9]", "report.pfe_quantile=0.9")
    assert rc == 0, err
    before = _snapshot(run / "aggregate")
    with FileLock(str(run / ".aggregate.lock")):
        rc, err = agg("output.quantiles=[0.8]", "report.pfe_quantile=0.8")
    assert rc == 2 and "another run" in err
    rc, err = agg("output.quantiles=[1.5]")
    assert rc == 2 and "output.quantiles[0]" in err
    assert _snapshot(run / "aggregate") == before
    assert not [n for n in os.listdir(run) if ".staging" in n]


def _cli(args):
    err, so = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(so):
        rc = main(args)
    return rc, err.getvalue()


def test_folder_replaced_by_one_atomic_exchange(tmp_path, monkeypatch):
    """renameat2(RENAME_EXCHANGE) swaps two folders in one step; without it (other platforms) two renames."""
    from exposure import run_folder

    a, b = tmp_path / "new", tmp_path / "run"
    a.mkdir()
    b.mkdir()
    (a / "f").write_text("new")
    (b / "f").write_text("old")
    if not run_folder.exchange(str(a), str(b)):
        pytest.skip("no renameat2 RENAME_EXCHANGE here")
    assert (b / "f").read_text() == "new" and (a / "f").read_text() == "old"
    calls = []
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", lambda *x: (calls.append(x), real_rename(*x)))
    run_folder.replace_folder(str(b), str(a))  # a is the run folder again, in one exchange: no rename at all
    assert (a / "f").read_text() == "new" and not b.exists() and calls == []
    monkeypatch.setattr(run_folder, "exchange", lambda *x: False)  # the fallback
    c = tmp_path / "c"
    c.mkdir()
    (c / "f").write_text("c")
    run_folder.replace_folder(str(c), str(a))
    assert (a / "f").read_text() == "c" and not c.exists() and len(calls) == 2
    assert sorted(os.listdir(tmp_path)) == ["new"]


def test_busy_message_names_the_holder(first_run):
    """A second run while the first holds the lock: refused, naming the holder's pid and host."""
    import socket

    from exposure.run_folder import RunFolderBusy, staged_run_folder

    tmp, book, out = first_run
    with staged_run_folder(str(tmp / "busy")):
        with pytest.raises(RunFolderBusy, match=f"pid {os.getpid()} on {socket.gethostname()}"):
            with staged_run_folder(str(tmp / "busy")):
                pass
