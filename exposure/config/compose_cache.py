"""Composed configs kept across processes: a fresh ``exposure run`` with the same conf/ and overrides skips Hydra.

Hydra's compose (reading and merging conf/, validating against the schemas) costs a fresh process about 0.3 s of
CPU plus Hydra's import, for a result that only depends on

    key = sha256(config name, overrides in order, every file under conf/ (relative path and bytes), the schema
                 modules' sources (exposure/config/*.py), package, hydra-core, omegaconf and Python versions)

except one override: ``output.dir=PATH``, different for every book a user runs, is left out of the key and set on the
unpickled config, where PATH is a plain path Hydra reads as that very string (letters, digits, ``_ . / -``, at
least one ``/``; anything else, or two output.dir overrides, stays in the key and goes through Hydra).

The composed DictConfig (typed by the schema dataclasses, struct flag and all) is pickled under that key next to
JAX's compilation cache (``XPOSURE_JAX_CACHE``; ``0`` turns this off with it) and unpickled by the next process
(about 3 ms): the same object, so the same ``freeze``, config.yaml and numbers. Only successful composes are kept
(an invalid override is reported by Hydra every time); an unreadable or foreign entry is composed again. The folder
keeps the MAX_STORED most recently used entries (tens of KB each).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys

MAX_STORED = 256
_SUFFIX = ".composed.pkl"


def _folder() -> str | None:
    import jax  # imported by the exposure package already; its cache folder is this cache's root

    where = jax.config.jax_compilation_cache_dir
    return os.path.join(where, "composed") if where else None


def _tree_digest(h, root: str, suffixes: tuple | None = None) -> None:
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            if suffixes is not None and not f.endswith(suffixes):
                continue
            p = os.path.join(d, f)
            h.update(os.path.relpath(p, root).encode("utf-8", "surrogatepass") + b"\0")
            with open(p, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())


_PLAIN_DIR = re.compile(r"output\.dir=([A-Za-z0-9_./-]*/[A-Za-z0-9_./-]*)")


def split_output_dir(overrides) -> tuple[list, str | None]:
    """(the other overrides, PATH) for one plain ``output.dir=PATH`` override; (overrides, None) otherwise."""
    overrides = list(overrides or [])
    hits = [i for i, o in enumerate(overrides) if _PLAIN_DIR.fullmatch(o)]
    if len(hits) != 1 or sum(o.lstrip("+~").startswith("output.dir") for o in overrides) != 1:
        return overrides, None
    return overrides[: hits[0]] + overrides[hits[0] + 1:], overrides[hits[0]].split("=", 1)[1]


def entry_path(conf: str, config_name: str, overrides) -> str | None:
    """The cache file of this compose, or None when the cache is off or conf/ cannot be read."""
    where = _folder()
    if where is None:
        return None
    from importlib.metadata import version

    from exposure import __version__

    h = hashlib.sha256(repr((config_name, list(overrides or []), __version__, version("hydra-core"),
                             version("omegaconf"), sys.version)).encode())
    try:
        _tree_digest(h, conf)
        _tree_digest(h, os.path.dirname(os.path.abspath(__file__)), (".py",))
    except OSError:
        return None
    return os.path.join(where, h.hexdigest() + _SUFFIX)


def load(path: str | None):
    """The DictConfig stored at ``path``, or None (absent, unreadable, not a DictConfig)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            cfg = pickle.load(fh)
        os.utime(path)  # its use, for the least-recently-used pruning
    except Exception:  # noqa: BLE001 - a truncated or foreign file is composed again, never trusted
        return None
    from omegaconf import DictConfig

    return cfg if isinstance(cfg, DictConfig) else None


def store(path: str | None, cfg) -> None:
    """Keep ``cfg`` at ``path`` (atomically); a read-only or full cache folder only costs the next run a compose."""
    if path is None:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            pickle.dump(cfg, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        _prune(os.path.dirname(path), keep=path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass


def _prune(where: str, keep: str) -> None:
    entries = []
    for e in os.scandir(where):
        if e.name.endswith(_SUFFIX) and e.path != keep:
            try:
                entries.append((e.stat().st_mtime_ns, e.path))
            except OSError:
                pass
    for _, old in sorted(entries)[: max(0, len(entries) + 1 - MAX_STORED)]:
        try:
            os.remove(old)
        except OSError:
            pass
