"""The desk report drawn by a forked child during the write stage (exposure.report_process): the same files as a
report written in-process, complete when the command returns; a lost or failing child is handled."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL = ["simulation.paths=256", "simulation.chunk_size=256", "simulation.grid='3M,6M,1Y,2Y,5Y'"]


def _cli(out, cache, **env):
    p = subprocess.run([sys.executable, "-m", "exposure", "run", f"output.dir={out}", *SMALL], cwd=REPO,
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, XPOSURE_JAX_CACHE=str(cache), **env))
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def _files(folder: pathlib.Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_report_written_by_the_child_equals_the_in_process_report(tmp_path):
    child = _cli(tmp_path / "child", tmp_path / "cache")
    _cli(tmp_path / "here", tmp_path / "cache", XPOSURE_REPORT_PROCESS="0")
    log = (tmp_path / "child" / "run.log").read_text()
    assert "during the write stage" in log and "warning" not in log  # the child wrote it ...
    assert "during the write stage" not in (tmp_path / "here" / "run.log").read_text()  # ... and not here
    a, b = _files(tmp_path / "child"), _files(tmp_path / "here")
    report = {"summary.csv", "limits.csv", "limit_breaches.csv", "report.html"}
    assert report <= set(a) and any(k.startswith("plots/") and k.endswith(".png") for k in a)
    assert set(a) == set(b)  # complete when the command returned: nothing missing, no temporary file left
    for name in a:
        if name in ("run.log", "config.yaml", "report.html", "results.h5"):  # these name the run folder
            continue
        assert a[name] == b[name], name  # PNGs and CSVs byte for byte
    html = [x.decode().replace(str(tmp_path / "child"), "OUT") for x in (a["report.html"], b["report.html"])]
    html[1] = html[1].replace(str(tmp_path / "here"), "OUT")
    diff = [(x, y) for x, y in zip(html[0].splitlines(), html[1].splitlines()) if x != y]
    assert len(diff) <= 1 and all("report written" in x or "UTC" in x for x, _ in diff), diff[:2]
    assert "report: " in child.stdout or "report.html" in child.stdout


PROBE = r"""
import os, signal, sys, time
from exposure.report_process import ReportWorker, ReportWorkerLost, written_by
from exposure.report.settings import ReportSettings

class Log:
    def __init__(self): self.lines = []
    def stage(self, name, total=None): self.lines.append("stage " + name)
    def log(self, msg): self.lines.append(msg)

import xarray as xr
ds = xr.Dataset({"EPE": ("netting_set", [1.0])})
mode = sys.argv[1]
w = ReportWorker.start()
assert w is not None
if mode == "lost":  # killed after the job was handed over (it is still importing matplotlib then)
    job = w.submit(ds, sys.argv[2], None)
    os.kill(w.pid, signal.SIGKILL)
    log = Log()
    print(written_by(job, log) is None, "|".join(log.lines))
elif mode == "dead":  # dead before the job: submit declines it
    os.kill(w.pid, signal.SIGKILL)
    time.sleep(0.5)
    print(w.submit(ds, sys.argv[2], None) is None)
elif mode == "error":
    job = w.submit(ds, sys.argv[2], None)  # settings None: write_report fails in the child with AttributeError
    try:
        job.result()
        print("no error")
    except AttributeError as exc:
        print("raised", type(exc).__name__)
elif mode == "unused":
    t = time.perf_counter()
    w.close()
    print("closed", round(time.perf_counter() - t, 1) < 5.0, w.pid)
"""


def _probe(*args) -> str:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout.strip().splitlines()[-1]


def test_a_lost_child_leaves_the_report_to_the_caller(tmp_path):
    out = _probe("lost", str(tmp_path))
    assert out.startswith("True") and "writing it in this process" in out, out
    assert _probe("dead", str(tmp_path)) == "True"


def test_an_error_in_the_child_is_raised_in_the_caller(tmp_path):
    assert _probe("error", str(tmp_path)) == "raised AttributeError"


def test_an_unused_child_is_reaped_at_once():
    assert _probe("unused") == "closed True None"


TWO = r"""
import json, os, sys, time
from exposure.report_draw import draw_in_two_processes
me, out, mode = os.getpid(), sys.argv[1], sys.argv[2]

def job(i):
    path = os.path.join(out, f"{i}.txt")
    def draw():
        if os.getpid() != me and mode == "fail" and i == 4:
            raise RuntimeError("the helper fails on its last plot")
        if os.getpid() != me and mode == "orphan":
            open(os.path.join(out, "helper.pid"), "w").write(str(os.getpid()))
            time.sleep(60)
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    return str(i), path, draw

jobs = [job(i) for i in range(int(sys.argv[3]))]
if mode.startswith("shared"):  # the parent still writing (pipe open) or waiting for the report (closed)
    from exposure.report_draw import draw_shared
    r, w = os.pipe()
    if mode == "shared-waiting":
        os.close(w)
    draw_shared(r, jobs)
else:
    draw_in_two_processes(jobs)
print(json.dumps([int(open(p).read()) == me for _, p, _ in jobs]))
"""


def _two(tmp_path, mode, n=5):
    p = subprocess.run([sys.executable, "-c", TWO, str(tmp_path), mode, str(n)], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_plots_are_shared_with_a_helper_process_and_redrawn_when_it_fails(tmp_path):
    # the first half here (the portfolio plot first), the rest by the forked helper
    for sub in "abcde":
        (tmp_path / sub).mkdir()
    # the report child: alone while the run writes its results, shared once the run waits for the report
    assert _two(tmp_path / "d", "shared-writing") == [True] * 5
    assert _two(tmp_path / "e", "shared-waiting") == [True, True, False, False, False]
    assert _two(tmp_path / "a", "ok") == [True, True, False, False, False]
    assert _two(tmp_path / "b", "fail") == [True, True, True, True, True]  # the helper's plots redrawn here
    assert _two(tmp_path / "c", "ok", n=1) == [True]  # one plot: no helper


def test_the_plot_helper_dies_with_the_report_process(tmp_path):
    # the run kills the report child (close()): its helper must not go on writing into the run's folder
    p = subprocess.Popen([sys.executable, "-c", TWO, str(tmp_path), "orphan", "5"], cwd=REPO)
    pid_file = tmp_path / "helper.pid"
    deadline = time.monotonic() + 120
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.05)
    helper = int(pid_file.read_text())
    p.kill()
    p.wait()
    for _ in range(100):
        try:
            os.kill(helper, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(helper, signal.SIGKILL)
        raise AssertionError("the helper outlived the report process")


def test_the_warm_up_stops_where_the_job_arrives(monkeypatch):
    """The report child's warm-up (spare figures, then a throwaway drawing) asks stop() after the spares and
    before the drawing, and ends there: once the job is waiting the real plots would only wait for it."""
    import matplotlib.figure

    from exposure.report import figures, plots
    from exposure.report_draw import job_waiting

    done = []
    monkeypatch.setattr(figures, "build_spares", lambda: done.append("spares"))
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda *a, **k: done.append("drawn"))
    for n, expected in [(1, ["spares"]), (2, ["spares"]), (None, ["spares", "drawn"])]:
        asked, done[:] = [], []
        plots.warm_up(stop=lambda: asked.append(1) or len(asked) == n)
        assert done == expected and len(asked) == (n or 2), (n, done, asked)
    r, w = os.pipe()
    try:
        assert not job_waiting(r)
        os.write(w, b"x")
        assert job_waiting(r)  # the job has arrived
        os.read(r, 1)
        os.close(w)
        w = None
        assert job_waiting(r)  # the end of the pipe: nothing will come, no reason to wait either
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
