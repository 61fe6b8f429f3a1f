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

from exposure import disk_cache

MAX_STORED = 256
_SUFFIX = ".composed.pkl"


def _folder() -> str | None:
    import jax  # imported by the exposure package already; its cache folder is this cache's root

    where = jax.config.jax_compilation_cache_dir
    return os.path.join(where, "composed") if where else None


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
        disk_cache.source_digest(conf, None, h)
        disk_cache.source_digest(os.path.dirname(os.path.abspath(__file__)), (".py",), h)
    except OSError:
        return None
    return os.path.join(where, h.hexdigest() + _SUFFIX)


def load(path: str | None):
    """The DictConfig stored at ``path``, or None (absent, unreadable, not a DictConfig)."""
    blob = disk_cache.read_entry(path)
    if blob is None:
        return None
    try:
        cfg = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - a truncated or foreign file is composed again, never trusted
        return None
    from omegaconf import DictConfig

    return cfg if isinstance(cfg, DictConfig) else None


def store(path: str | None, cfg) -> None:
    """Keep ``cfg`` at ``path`` (atomically); a read-only or full cache folder only costs the next run a compose."""
    try:
        blob = pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    disk_cache.store_entry(path, blob, MAX_STORED)
