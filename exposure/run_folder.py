"""A run folder is one run: staged in a temporary sibling folder and moved into place at the end.

    with staged_run_folder("runs/today") as stage:   # lock runs/.today.lock; stage = runs/.today.staging-XXXX
        ... write every file under stage ...
    # success: runs/today renamed to runs/.today.old-XXXX, stage renamed to runs/today, the old one deleted
    # any exception (or a kill): runs/today is untouched; the stage is deleted (a kill's stage: at the next run)

The staging folder is a sibling of the target (same filesystem, so both renames are atomic); between the two
renames the target is briefly absent, never a mixture of two runs. A second run into the same folder while
one holds the lock is refused with RunFolderBusy naming the folder. Below the API layer: no Hydra.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile

from exposure.errors import ConfigError, ExposureError


class RunFolderBusy(ExposureError):
    """Another run is writing the same output folder (its lock file is held)."""

    def __init__(self, folder: str, lock: str):
        self.folder = folder
        super().__init__(f"output.dir: another run is writing '{folder}' (lock {lock} is held); "
                         "wait for it or choose another output.dir")


def check_output_dir(out_dir: str) -> str:
    """The absolute target folder; ConfigError when it is a file, its parent cannot be created or written,
    or an existing results.h5 in it is not a file. Called by ``exposure validate`` and before a run."""
    out = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError("output.dir", f"'{out}' exists and is not a folder")
    h5 = os.path.join(out, "results.h5")
    if os.path.exists(h5) and not os.path.isfile(h5):
        raise ConfigError("output.dir", f"'{h5}' exists and is not a file")
    parent = os.path.dirname(out)
    probe = parent
    while not os.path.exists(probe):  # the first existing ancestor decides whether the folder can be created
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ConfigError("output.dir", f"cannot create '{out}': '{probe}' is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError("output.dir", f"cannot write '{out}': '{probe}' is not writable")
    if os.path.isdir(out) and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError("output.dir", f"cannot replace '{out}': its parent '{parent}' is not writable")
    return out


def _folder_mode(out: str) -> int:
    """The mode of the folder being replaced, else that of a new folder under the process's umask."""
    if os.path.isdir(out):
        return os.stat(out).st_mode & 0o7777
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o777 & ~mask


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def staged_run_folder(out_dir: str):
    """Yield a fresh staging folder next to ``out_dir``; move it to ``out_dir`` when the block succeeds."""
    from filelock import FileLock, Timeout

    out = check_output_dir(out_dir)
    parent, name = os.path.split(out)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise ConfigError("output.dir", f"cannot create '{parent}': {exc.strerror}") from exc
    lock_path = os.path.join(parent, f".{name}.lock")
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunFolderBusy(out, lock_path) from None
    try:
        for stale in glob.glob(os.path.join(glob.escape(parent), f".{glob.escape(name)}.staging-*")) + \
                glob.glob(os.path.join(glob.escape(parent), f".{glob.escape(name)}.old-*")):
            _remove(stale)  # left by a killed run; we hold the lock, so no live run owns them
        stage = tempfile.mkdtemp(prefix=f".{name}.staging-", dir=parent)
        os.chmod(stage, _folder_mode(out))  # mkdtemp's 0700 would make the run folder private
        try:
            yield stage
            old = None
            if os.path.exists(out):
                old = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
                os.rename(out, os.path.join(old, "run"))
            os.rename(stage, out)
            if old:
                _remove(old)
        finally:
            if os.path.exists(stage):
                _remove(stage)
    finally:
        lock.release()


def relocate(path: str, stage: str, out: str) -> str:
    """``path`` under ``stage`` as the same path under ``out`` (the files list of a committed run)."""
    rel = os.path.relpath(os.path.abspath(path), stage)
    return path if rel.startswith("..") else os.path.join(out, rel)
