"""Resuming a run from its checkpoint (``exposure.checkpoint``): the resume settings, ``open_checkpoint``
(resume the staging folder's checkpoint or start afresh) and ``keep_stage`` (whether a failed run's stage
stays for a resume).

Resume modes (``simulation.resume``), for the checkpoint found in the staging folder: auto (default: resume a
checkpoint of the same run; discard one of a changed run, saying what changed in run.log, and start afresh),
strict (resume the same run, refuse a changed one with ResumeRefused naming the differences), require (as
strict, and refuse to start without a checkpoint), never (discard any checkpoint, start afresh).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

from exposure.checkpoint import FOLDER, Checkpoint, NoCheckpoint
from exposure.checkpoint_state import unusable
from exposure.errors import ConfigError, ExposureError

RESUME_MODES = ("auto", "strict", "require", "never")


class ResumeRefused(ConfigError):
    """The staging folder holds a checkpoint of a different run (or none where one is required)."""


@dataclasses.dataclass(frozen=True)
class CheckpointSettings:
    enabled: bool = True
    resume: str = "auto"


def checkpoint_settings(cfg) -> CheckpointSettings:
    sc = cfg.simulation
    mode = str(getattr(getattr(sc, "resume", "auto"), "value", getattr(sc, "resume", "auto")))
    if mode not in RESUME_MODES:
        raise ConfigError("simulation.resume", f"must be one of {', '.join(RESUME_MODES)} (got {mode!r})")
    return CheckpointSettings(bool(getattr(sc, "checkpoint", True)), mode)


def _read_json(path: str):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def open_checkpoint(stage: str, manifest: dict, settings: CheckpointSettings):
    """The checkpoint of the run described by ``manifest`` in ``stage``: resume a committed checkpoint of the
    same run (auto, require), or wipe the stage and start afresh; ResumeRefused for a checkpoint of a changed
    run (auto, require) or none at all (require). Files of the interrupted attempt other than the checkpoint
    and run.log are deleted: every output is written again."""
    from exposure.manifest import differences

    folder = os.path.join(stage, FOLDER)
    old = _read_json(os.path.join(folder, "manifest.json"))
    state = _read_json(os.path.join(folder, "state.json"))
    found = old is not None and state is not None and state.get("chunks", 0) > 0
    diff = differences(old, manifest) if found and settings.resume != "never" else []
    discarded = ""
    if diff and settings.resume == "auto":
        discarded = f"discarded the checkpoint of a different run in {stage}: {'; '.join(diff[:5])}"
        found = False
    unchecked = not found or diff or settings.resume == "never"  # nothing to resume, or a refusal comes first
    broken = "" if unchecked else unusable(os.path.join(stage, FOLDER), stage, state)
    if broken:
        if settings.resume != "auto":
            raise ResumeRefused("simulation.resume", f"the checkpoint in {stage} cannot be resumed: {broken}; use "
                                "simulation.resume=never (or auto) to discard it and start afresh")
        discarded = f"discarded the checkpoint in {stage}, it cannot be resumed: {broken}; starting afresh"
        found = False
    if settings.resume != "never" and found:
        if diff:
            raise ResumeRefused("simulation.resume", f"the staging folder {stage} holds the checkpoint of a "
                                f"different run ({'; '.join(diff[:5])}{'; ...' if len(diff) > 5 else ''}): "
                                "rerun the same command as before to resume it, or use simulation.resume=never "
                                "to discard it and start afresh")
        keep = (FOLDER, "run.log", (state.get("spill") or {}).get("file"))
        for name in os.listdir(stage):
            if name not in keep:
                p = os.path.join(stage, name)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
        for name in os.listdir(folder):  # temporary files of an interrupted commit, a superseded snapshot
            if name.endswith(".tmp") or name.startswith("snapshot-") and name != state.get("snapshot"):
                os.remove(os.path.join(folder, name))
        ck = Checkpoint(stage, old, state)
    else:
        if settings.resume == "require":
            raise ResumeRefused("simulation.resume", f"require: no checkpoint to resume in {stage}")
        for name in os.listdir(stage):
            p = os.path.join(stage, name)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
        if not settings.enabled:
            ck = NoCheckpoint()
            ck.discarded = discarded
            return ck
        os.mkdir(folder)
        ck = Checkpoint(stage, manifest, None)
    ck.discarded = discarded
    return ck


def keep_stage(stage: str, exc: BaseException) -> bool:
    """Whether a failed run's stage stays for a resume: it holds a committed chunk and the error is not one of
    the inputs (an ExposureError would recur), or the stage is another run's checkpoint (ResumeRefused)."""
    if isinstance(exc, ResumeRefused):
        return True
    if isinstance(exc, ExposureError):
        return False
    state = _read_json(os.path.join(stage, FOLDER, "state.json"))
    return bool(state and state.get("chunks", 0) > 0)
