"""Where the configuration lives: the one place that resolves conf/ (no Hydra import, so input loaders can
resolve relative paths without depending on the API layer)."""

from __future__ import annotations

import os
from pathlib import Path


def conf_dir() -> str:
    """$XPOSURE_CONF_DIR, else ./conf in the working directory, else the repository's conf/."""
    env = os.environ.get("XPOSURE_CONF_DIR")
    if env:
        return str(Path(env).resolve())
    local = Path.cwd() / "conf"
    if (local / "config.yaml").exists():
        return str(local.resolve())
    return str((Path(__file__).resolve().parent.parent.parent / "conf").resolve())
