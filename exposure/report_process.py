"""The desk report written by a forked child process, overlapping the run (the CLI's ``exposure run``).

    worker = ReportWorker.start()          # fork now: the child imports matplotlib & co. while the run goes on
    ...
    job = worker.submit(ds, stage, settings, folder_label)   # ds pickled to the child, which writes the report
    ... write results.h5 and the CSVs meanwhile ...
    files = job.result()                   # waits; the child's exception re-raised here
    worker.close()                         # an unused child exits; always call it (idempotent)

Why a process: a fresh ``exposure run`` of a small book spends about a quarter of its wall time in the report
(importing matplotlib, drawing and encoding the PNGs), all of it Python holding the GIL, so a thread would only
interleave. A child forked at the start imports the report's modules on the other core while the parent imports
and compiles, and draws the report while the parent writes results.h5 and the CSVs. It receives the same Dataset
(pickled) that ``write_report`` would have been given in-process, so its files are the same.

Forking is only safe before the parent starts threads (JAX's runtime, BLAS pools), hence ``start()`` at the top
of the CLI command, and only where ``os.fork`` exists (Linux, and macOS where forking a process that has loaded
system frameworks is unsafe, so POSIX Linux only). ``submit`` returns None when no child is usable (not started,
already used, or dead): the caller then writes the report itself. A child that dies while writing makes
``result()`` raise ``ReportWorkerLost``, and the caller writes the report in-process instead.
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
import struct
import sys

from exposure.report_draw import draw_shared, job_waiting

_LEN = struct.Struct("<Q")


def _jax_started() -> bool:
    """Whether JAX's runtime (and its threads) has started in this process: then no fork (JAX warns, and a child
    could inherit a lock held by one of its threads). Unknown (another JAX version): assumed started."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends)
    except (ImportError, AttributeError):
        return True


class ReportWorkerLost(RuntimeError):
    """The report child exited without an answer (killed, out of memory): the report must be written here."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, n: int) -> bytes | None:
    parts, got = [], 0
    while got < n:
        b = os.read(fd, min(n - got, 1 << 20))
        if not b:
            return None
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def _send(fd: int, obj) -> None:
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(fd, _LEN.pack(len(blob)) + blob)


def _receive(fd: int):
    head = _read_exact(fd, _LEN.size)
    if head is None:
        return None
    blob = _read_exact(fd, _LEN.unpack(head)[0])
    return None if blob is None else pickle.loads(blob)


def _child(jobs: int, answers: int) -> None:
    """The child's whole life: import, wait for one job (or EOF: nothing to do), write the report, answer."""
    import time

    t_fork = time.monotonic()
    try:
        from exposure.report.plots import warm_up
        from exposure.report.write import write_report

        import exposure.report.html  # noqa: F401 - imported before the job arrives, not on the critical path

        # matplotlib's first drawing while the parent still computes; cut short once the job is there
        warm_up(stop=functools.partial(job_waiting, jobs))
        t_ready = time.monotonic()
        job = _receive(jobs)
        if job is None:
            return
        t_job = time.monotonic()
        ds, out_dir, settings, folder_label = job
        try:
            answer = ("ok", write_report(ds, out_dir, settings, None, folder_label=folder_label,
                                         plot_runner=functools.partial(draw_shared, jobs)))
        except Exception as exc:  # noqa: BLE001 - re-raised in the parent, as if written there
            try:
                pickle.dumps(exc)
                answer = ("error", exc)
            except Exception:  # noqa: BLE001
                answer = ("error", RuntimeError(f"report: {type(exc).__name__}: {exc}"))
        # When the child was ready and how long it drew (CLOCK_MONOTONIC is one clock for both processes): the
        # parent logs them, so run.log shows whether the report waited for the child's imports or its drawing.
        _send(answers, answer + ((t_fork, t_ready, t_job, time.monotonic()),))
    except BaseException:  # noqa: BLE001 - Ctrl-C, a broken pipe: the parent falls back (ReportWorkerLost)
        pass


class ReportJob:
    def __init__(self, worker: ReportWorker):
        self._worker, self.pid = worker, worker.pid
        self.times = None  # the child's (start, ready, job received, done) on CLOCK_MONOTONIC

    def result(self) -> list:
        """The files written (as write_report returns them); the child's exception is raised here."""
        w = self._worker
        if w._jobs is not None:  # the child's signal that this process now waits (draw_shared)
            os.close(w._jobs)
            w._jobs = None
        try:
            answer = _receive(w._answers)
        except OSError:
            answer = None
        w._answered = answer is not None
        w.close()
        if answer is None:
            raise ReportWorkerLost("the report process exited without writing the report")
        kind, value, self.times = answer
        if kind == "error":
            raise value
        return value

    def timing(self) -> str:
        """'ready X s after the fork, drew Y s (Z s idle)' from the child's clock, '' before result()."""
        if not self.times:
            return ""
        start, ready, job, done = self.times
        return f"; ready {ready - start:.2f} s after its start, idle {job - ready:.2f} s, drew {done - job:.2f} s"


class ReportWorker:
    """One forked child that writes one report (see the module docstring)."""

    def __init__(self, pid: int, jobs: int, answers: int):
        self.pid, self._jobs, self._answers = pid, jobs, answers
        self._used = False
        self._answered = False

    @classmethod
    def start(cls) -> ReportWorker | None:
        """Fork the child now; None where forking is not offered (not Linux) or fails."""
        if not sys.platform.startswith("linux") or not hasattr(os, "fork") or _jax_started():
            return None
        try:
            job_r, job_w = os.pipe()
            ans_r, ans_w = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            for fd in (job_r, job_w, ans_r, ans_w):
                os.close(fd)
            return None
        if pid == 0:  # child: never returns into the caller's code, never runs its atexit handlers
            code = 0
            try:
                os.close(job_w)
                os.close(ans_r)
                _child(job_r, ans_w)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(job_r)
        os.close(ans_w)
        return cls(pid, job_w, ans_r)

    def submit(self, ds, out_dir: str, settings, folder_label: str | None = None) -> ReportJob | None:
        """Hand the report of ``ds`` to the child; None when it cannot take it (the caller writes it)."""
        if self._used or self.pid is None:
            return None
        self._used = True
        try:
            _send(self._jobs, (ds, out_dir, settings, folder_label))
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            self.close()
            return None
        return ReportJob(self)

    def close(self) -> None:
        """Reap the child: one that answered is exiting; any other (unused, still importing or writing for a run
        that failed meanwhile) is killed first, so that nothing writes into the run's folder after this."""
        if self.pid is not None and not self._answered:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        for name in ("_jobs", "_answers"):
            fd = getattr(self, name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, None)
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None

    def __del__(self):  # a worker dropped without close(): no zombie, no child waiting forever
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def written_by(job: ReportJob | None, progress) -> list | None:
    """The files of a report handed to the worker (progress logs its stage as write_report would), or None when
    there is no job or the worker was lost: the caller then writes the report itself."""
    if job is None:
        return None
    if progress is not None:
        progress.stage("report")
    try:
        files = job.result()
    except ReportWorkerLost as exc:
        if progress is not None:
            progress.log(f"warning: {exc}; writing it in this process")
        return None
    if progress is not None:
        progress.log(f"report: {len(files)} files (drawn by process {job.pid} during the write stage{job.timing()})")
    return files
