"""Run progress: a rich progress bar with ETA on a terminal, and a timestamped ``run.log`` in the run folder.

The pipeline calls ``stage(name, total)`` when a stage starts (``total`` units of work for a stage that
advances, e.g. paths of the path-chunk loop) and ``advance(n)`` as units complete. The bar is shown only when
stderr is a terminal and the environment variable CI is unset or false (so CI logs and pipes stay quiet); the
log file is written whatever the terminal.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time


def bar_wanted(stream=None, env=None) -> bool:
    """True on an interactive terminal outside CI (CI=true/1/yes switches the bar off)."""
    stream = sys.stderr if stream is None else stream
    env = os.environ if env is None else env
    if str(env.get("CI", "")).strip().lower() not in ("", "0", "false", "no"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class RunProgress:
    """Progress reporter of one run: ``stage``/``advance``/``log``; a context manager that closes the bar and
    records success or the error in the log."""

    def __init__(self, log_path: str | None = None, show_bar: bool | None = None, console=None,
                 append: bool = False):
        self.log_path = log_path
        self.show_bar = bar_wanted() if show_bar is None else bool(show_bar)
        self._console = console
        self._bar = None
        self._task = None
        self._stage = None
        self._t0 = self._ts = time.perf_counter()
        self._done = 0
        self._total = None
        if log_path:
            os.makedirs(os.path.dirname(os.path.abspath(log_path)) or ".", exist_ok=True)
            with open(log_path, "a" if append else "w") as fh:  # append: a resumed run keeps the earlier log
                fh.write(f"{self._now()} run {'resumed' if append else 'started'} (pid {os.getpid()})\n")

    @classmethod
    def for_run(cls, out_dir: str, show_bar: bool | None = None, console=None) -> "RunProgress":
        return cls(os.path.join(str(out_dir), "run.log"), show_bar=show_bar, console=console)

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"

    def log(self, message: str) -> None:
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(f"{self._now()} {message}\n")

    def _end_stage(self) -> None:
        if self._stage is not None:
            self.log(f"stage {self._stage} done in {time.perf_counter() - self._ts:.2f} s")

    def stage(self, name: str, total: int | None = None) -> None:
        self._end_stage()
        self._stage, self._ts, self._done, self._total = name, time.perf_counter(), 0, total
        self.log(f"stage {name} started" + (f" ({total} units)" if total else ""))
        if not self.show_bar:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            console = self._console or Console(file=sys.stderr)
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn(), console=console,
                                 transient=False)
            self._bar.start()
        elif self._task is not None:  # the finished stage stays on screen as a full bar with its time
            self._bar.update(self._task, completed=self._bar.tasks[-1].total)
            self._bar.stop_task(self._task)
        # a stage without units is one unit, completed when the next stage starts
        self._task = self._bar.add_task(name, total=total or 1)

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self._total:
            self.log(f"stage {self._stage}: {self._done}/{self._total}")
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def close(self, error: BaseException | None = None) -> None:
        self._end_stage()
        self._stage = None
        if self._bar is not None:
            if self._task is not None and error is None:
                self._bar.update(self._task, completed=self._bar.tasks[-1].total)
            self._bar.stop()
            self._bar, self._task = None, None
        total = time.perf_counter() - self._t0
        self.log(f"run failed after {total:.2f} s: {type(error).__name__}: {error}" if error is not None
                 else f"run finished in {total:.2f} s")

    def __enter__(self) -> "RunProgress":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(exc)
