"""Traced programs kept across processes, so that a fresh run neither traces nor lowers what an earlier one did.

    program = exported(fn, key, *example_args)      # then program(*args) with args shaped like example_args

JAX's persistent compilation cache skips XLA's backend compile, but it is keyed by the lowered module, so every
fresh process still traces the Python function and lowers it to StableHLO first (for the chunk pricer of the
bundled example that is most of a warm run). Here the traced and lowered program is serialised with
``jax.export`` next to the compilation cache, under a key of everything the trace bakes in:

    key = sha256(caller's key, argument tree structure (static fields included), argument shapes and dtypes,
                 backend platform, jax and package versions, sha256 of the package's source files)

The source digest makes an edited pricer (same data layout, different code: a development checkout, a patched
install) a miss, never a stale program. The caller's key must name what the function closes over (e.g. the trades by content and the model's layout);
array arguments are inputs, never baked in. A later process with the same key deserialises the module and only
wraps it (``jax.jit(exported.call)``), whose compilation the persistent cache then serves. With the cache off
(``XPOSURE_JAX_CACHE=0``) or when serialisation fails, the plain ``jax.jit(fn)`` is used: the same numbers, bit
for bit (the exported module is the one ``jit`` would compile).
"""

from __future__ import annotations

import functools
import hashlib
import os

import jax

from exposure import disk_cache

# Stored programs kept per cache folder, least recently used removed beyond it: every new portfolio (and every
# distinct what-if trade set, exposure.whatif) stores one (tens of KB), and a long-lived server must not fill the disk.
MAX_STORED = 256


def _cache_dir() -> str | None:
    where = jax.config.jax_compilation_cache_dir
    return os.path.join(where, "exported") if where else None


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """The exposure package's .py sources (exposure.disk_cache.source_digest): a few ms once per process."""
    return disk_cache.source_digest(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def exported(fn, key, *example_args):
    """A callable equivalent to ``jax.jit(fn)`` for arguments shaped like ``example_args``."""
    leaves, treedef = jax.tree_util.tree_flatten(example_args)
    where = _cache_dir()
    if where is None:
        return jax.jit(fn)
    from exposure import __version__

    avals = [(tuple(x.shape), str(x.dtype)) for x in leaves]
    text = repr((key, str(treedef), avals, jax.default_backend(), jax.__version__, __version__,
                 source_digest()))
    path = os.path.join(where, hashlib.sha256(text.encode()).hexdigest() + ".jaxexport")

    def flat(*xs):
        return fn(*jax.tree_util.tree_unflatten(treedef, xs))

    try:
        exp = _load(path)
        if exp is None:
            specs = [jax.ShapeDtypeStruct(s, d) for s, d in avals]
            exp = jax.export.export(jax.jit(flat))(*specs)
            _store(path, exp.serialize())
    except Exception:  # noqa: BLE001 - a program JAX cannot export still runs, only uncached
        return jax.jit(fn)
    call = jax.jit(exp.call)
    return lambda *args: call(*jax.tree_util.tree_leaves(args))


def _load(path: str):
    blob = disk_cache.read_entry(path)
    if blob is None:
        return None
    try:
        return jax.export.deserialize(bytearray(blob))
    except Exception:  # noqa: BLE001 - a truncated or foreign file is rebuilt, never trusted
        return None


def _store(path: str, blob: bytes) -> None:
    disk_cache.store_entry(path, blob, MAX_STORED)  # a read-only cache only costs the next run its tracing
