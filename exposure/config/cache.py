"""Frozen configs kept across processes, so that a fresh ``exposure whatif`` skips OmegaConf's schema merge.

    cfg = cached_config(parts, build, text)     # build() -> ConfigNode, called on a miss only

Merging a stored config.yaml with the schema and freezing it costs a fresh process about 0.2 s of CPU (OmegaConf
load, structured merge, to_container); unpickling the frozen ConfigNode about 1 ms. The entry is keyed by

    key = sha256(parts, package version, OmegaConf version, source of exposure/config/*.py,
                 exposure/confignode.py and exposure/api.py)

``parts`` names every input of ``build`` (the config.yaml text, the overrides, the run folder): an edited
config.yaml, another override or a changed schema is a miss, never a stale hit. A config whose text holds an
interpolation (``${...}``, which may read the environment when frozen) is never cached. Entries live beside the
stored programs (the JAX cache folder; exposure.disk_cache: least recently used removed beyond MAX_STORED); with the cache off (``XPOSURE_JAX_CACHE=0``), a read-only or a corrupt entry, ``build()`` runs
as before. The result is the same ConfigNode either way (its plain values, str Enums, tuples and YAML text).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle

from exposure import disk_cache
from exposure.confignode import ConfigNode

SUFFIX = ".config.pickle"
MAX_STORED = 256  # entries kept (a few KB each), least recently used removed beyond it


def cached_config(parts: tuple, build, text: bytes | str = b""):
    """build() (a ConfigNode), or the one an earlier process built for the same ``parts`` (see module doc);
    ``text``: the YAML the config comes from (an interpolation in it turns the cache off)."""
    where = _where()
    marker = b"${" if isinstance(text, bytes) else "${"
    if where is None or marker in text:
        return build()
    path = os.path.join(where, hashlib.sha256(repr((parts, _fingerprint())).encode()).hexdigest() + SUFFIX)
    cfg = _load(path)
    if cfg is not None:
        return cfg
    cfg = build()
    try:
        blob = pickle.dumps(cfg)
    except (pickle.PicklingError, TypeError, AttributeError):
        return cfg
    disk_cache.store_entry(path, blob, MAX_STORED)  # atomic; a read-only cache folder only costs the merge
    return cfg


def _where() -> str | None:
    import jax

    xla = jax.config.jax_compilation_cache_dir  # set by exposure/__init__ unless XPOSURE_JAX_CACHE=0
    return os.path.join(xla, "configs") if xla else None


def _load(path: str):
    blob = disk_cache.read_entry(path)
    if blob is None:
        return None
    try:
        cfg = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - a truncated or foreign file is rebuilt, never trusted
        return None
    return cfg if isinstance(cfg, ConfigNode) else None


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    """The version and source of what turns a config.yaml into a frozen config (read once per process)."""
    import omegaconf

    from exposure import __version__

    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg_dir = os.path.join(pkg, "config")
    files = sorted(os.path.join(cfg_dir, f) for f in os.listdir(cfg_dir) if f.endswith(".py"))
    h = hashlib.sha256(repr((__version__, omegaconf.__version__)).encode())
    for f in files + [os.path.join(pkg, "confignode.py"), os.path.join(pkg, "api.py")]:
        with open(f, "rb") as fh:
            h.update(f.encode() + b"\0" + fh.read())
    return h.hexdigest()
