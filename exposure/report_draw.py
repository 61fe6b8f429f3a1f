"""The report child's plot runners (``exposure.report_process``): the plots one after the other while the
parent writes the results, then shared with a second forked process once the parent waits for the report
(``draw_shared``, ``draw_in_two_processes``: each plot one deterministic drawing written atomically, so the
files are those of one process)."""

from __future__ import annotations

import os
import signal


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL to this process when its parent exits (the report child killed by the run's close(): its
    helper must not go on writing into the run's folder); a parent already gone: exit now."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def job_waiting(fd: int) -> bool:
    """Whether the job pipe ``fd`` is readable now: before the job, whether it has arrived (the child's warm-up
    stops, exposure.report_process); after it, whether the parent closed the pipe: it has written the results
    and waits for the report (or is gone)."""
    import select

    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def draw_shared(idle_fd: int, jobs: list) -> None:
    """The report child's plot runner: the plots one after the other while the parent writes the results (a
    second drawing process would only slow that write down on two cores), the rest shared with a helper
    (``draw_in_two_processes``) as soon as the parent waits for the report (``idle_fd`` readable: it closed the
    job pipe, ``ReportJob.result``)."""
    todo = list(jobs)
    while todo:
        if len(todo) > 1 and job_waiting(idle_fd):
            draw_in_two_processes(todo)
            return
        todo.pop(0)[2]()


def draw_in_two_processes(jobs: list) -> None:
    """Plots drawn by two processes (exposure.report.plots.write_plots runner): a forked helper draws the later half
    of the plots while this process draws the first half (the portfolio plot, the heavier, among them) and then
    writes report.html, so that on two cores the report's drawing, its critical path once the results are
    written, takes about half as long. Each plot is one deterministic drawing written atomically, so the files
    are those of one process; plots the helper did not finish (it failed or was killed) are drawn here."""
    mine, theirs = jobs[: len(jobs) // 2], jobs[len(jobs) // 2:]
    pid = None
    if mine:
        try:
            parent = os.getpid()
            pid = os.fork()
        except OSError:
            pid = None
    if pid == 0:  # the helper: draws its plots and exits, never returns into the caller
        code = 1
        try:
            _die_with_parent(parent)
            for _, _, draw in theirs:
                draw()
            code = 0
        except BaseException:  # noqa: BLE001 - its plots are drawn by the parent instead
            pass
        finally:
            os._exit(code)
    if pid is None:
        mine, theirs = jobs, []
    try:
        for _, _, draw in mine:
            draw()
    except BaseException:
        if pid is not None:  # nothing left running that writes into the run's folder
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    if pid is not None and os.waitpid(pid, 0)[1] != 0:
        for _, _, draw in theirs:
            draw()
