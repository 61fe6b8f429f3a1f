"""Compiled programs kept across processes, so that a fresh run neither traces, lowers nor hashes what an earlier
one compiled: it loads the executable.

    program = exported(fn, key, *example_args)      # then program(*args) with args shaped like example_args
    out = compiled(jitted, key, args, static)       # jitted(*args, **static) through a kept executable

JAX's persistent compilation cache skips XLA's backend compile, but it is keyed by the lowered module, so every
fresh process still traces the Python function, lowers it to StableHLO and hashes it first (for the bundled example
that was most of a warm run's first chunk). Here the compiled executable itself is serialised
(``jax.experimental.serialize_executable``) next to the compilation cache, under a key of everything the trace bakes
in and of what the machine code depends on:

    key = sha256(caller's key, static arguments, argument tree structure, argument shapes, dtypes and weak types,
                 backend platform, jax/jaxlib and package versions, sha256 of the package's source files,
                 the host CPU's model and feature flags, XLA_FLAGS)

The source digest makes an edited function (same data layout, different code: a development checkout, a patched
install) a miss, never a stale program. The caller's key must name what the function closes over (e.g. the trades
by content and the model's layout); array arguments are inputs, never baked in. A later process with the same key
deserialises the executable and calls it: no trace, no lowering. With the cache off (``XPOSURE_JAX_CACHE=0``) or
when serialisation fails, the plain ``jax.jit`` is used: the same numbers, bit for bit (the stored executable is
the one ``jit`` compiles). The entries are the user's own cache folder's pickles of (executable bytes, argument
tree, output tree); a file that does not load is rebuilt, never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import re
import threading

import jax
import numpy as np

from exposure import disk_cache

# Stored programs kept per cache folder, least recently used removed beyond it: every new portfolio (and every
# distinct what-if trade set, exposure.whatif) stores one (tens of KB to a few MB), and a long-lived server must not
# fill the disk.
MAX_STORED = 256
_LOADED: dict = {}  # executables loaded or compiled by compiled() in this process
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # a repr that names an object by its memory address
_BATCHES: dict = {}  # id(batch) -> (batch, digest): hashing 1,000 trades' specs costs ~0.2 s, once per process
_MAX_BATCHES = 256


def batch_digest(b) -> str | None:
    """sha256 of a batch of trades by content: its class, its specs' repr, its netting sets and what is set at load
    time beside the specs (order, series_range, currency, ids); None where the specs' repr shows an address (not
    nameable across processes). Once per batch object: the memo holds the batch, so its id is not reused."""
    hit = _BATCHES.get(id(b))
    if hit is not None and hit[0] is b:
        return hit[1]
    text = repr(b.specs)
    if ADDRESS.search(text):
        return None
    h = hashlib.sha256()
    h.update(f"{type(b).__module__}.{type(b).__qualname__}".encode())
    h.update(text.encode())
    h.update(np.asarray(b.netting_set).tobytes())
    for k in ("order", "series_range", "currency", "ids"):
        if hasattr(b, k):
            h.update(repr(getattr(b, k)).encode())
    d = h.hexdigest()
    while len(_BATCHES) >= _MAX_BATCHES:
        _BATCHES.pop(next(iter(_BATCHES)))
    _BATCHES[id(b)] = (b, d)
    return d
_MAX_LOADED = 32


def _cache_dir() -> str | None:
    where = jax.config.jax_compilation_cache_dir
    return os.path.join(where, "exported") if where else None


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """The exposure package's .py sources (exposure.disk_cache.source_digest): a few ms once per process."""
    return disk_cache.source_digest(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(maxsize=1)
def _machine() -> str:
    """What the machine code depends on beyond JAX's versions: the CPU's model and features, XLA's flags."""
    text = os.environ.get("XLA_FLAGS", "")
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        text += "".join(next((ln for ln in lines if ln.startswith(k)), "") for k in ("model name", "flags", "Features"))
    except OSError:
        import platform

        text += platform.processor() + platform.machine()
    return hashlib.sha256(text.encode()).hexdigest()


def _path(where: str, kind: str, key) -> str:
    import jaxlib

    from exposure import __version__

    text = repr((key, jax.default_backend(), jax.__version__, jaxlib.__version__, __version__,
                 source_digest(), _machine()))
    return os.path.join(where, f"{hashlib.sha256(text.encode()).hexdigest()}.{kind}.xlaexe")


def _avals(leaves) -> tuple:
    return tuple((tuple(np.shape(x)), str(x.dtype), bool(getattr(x, "weak_type", False))) for x in leaves)


def _compile_uncached(lowered):
    """``lowered.compile()`` bypassing JAX's persistent cache, or None where that cannot be arranged. An executable
    that JAX itself loaded from its cache serialises incompletely on XLA:CPU (jax 0.10: smaller bytes whose kernels
    are missing when loaded: "Function ... not found"), so only a genuinely compiled one is stored."""
    try:
        from jax._src import compilation_cache as cc

        with cc._cache_initialized_mutex:
            if not _BYPASS:  # the first of the compilations in flight (threads of a service) saves JAX's state ...
                _BYPASS.append((cc._cache_checked, cc._cache_used))
            _BYPASS.append(None)
            cc._cache_checked, cc._cache_used = True, False
    except (ImportError, AttributeError):
        return None
    try:
        return lowered.compile()
    finally:
        with cc._cache_initialized_mutex:
            _BYPASS.pop()
            if len(_BYPASS) == 1:  # ... and the last one restores it
                cc._cache_checked, cc._cache_used = _BYPASS.pop()


# JAX's cache state saved while compilations bypass it, then one entry per compilation in flight: two overlapping
# ones (threads) restoring their own saved state would leave the cache off for the rest of the process.
_BYPASS: list = []


def _executable(lower, path: str):
    """(executable, loaded): the stored executable at ``path`` (loaded ahead where a run started that,
    exposure.simulation.programs_ahead), or one compiled now (stored when it was compiled here, not loaded from
    JAX's cache)."""
    ahead = _AHEAD[0] if _AHEAD and _AHEAD[0].owner == threading.get_ident() else None
    if ahead is not None:
        ahead.note(path)
    exe = ahead.take(path) if ahead is not None else None
    exe = exe if exe is not None else _load(path)
    if exe is not None:
        return exe, True
    lowered = lower()
    exe = _compile_uncached(lowered)
    if exe is None:
        return lowered.compile(), False
    try:
        from jax.experimental import serialize_executable

        _store(path, pickle.dumps(serialize_executable.serialize(exe), protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - a program that cannot be serialised still runs, only uncached
        pass
    return exe, False


class _Checked:
    """A loaded executable whose first call is waited for: one that fails to run (a stored entry this XLA cannot
    execute) is removed from the cache folder and replaced by ``fallback`` (the plain jit), so the run goes on with
    the same numbers."""

    def __init__(self, exe, path: str, fallback):
        self.exe, self.path, self.fallback, self.checked = exe, path, fallback, False

    def __call__(self, *args):
        if self.checked:
            return self.exe(*args)
        try:
            out = jax.block_until_ready(self.exe(*args))
        except Exception:  # noqa: BLE001
            try:
                os.remove(self.path)
            except OSError:
                pass
            self.exe = self.fallback
            out = self.exe(*args)
        self.checked = True
        return out


def _runnable(lower, path: str, fallback):
    exe, loaded = _executable(lower, path)
    return _Checked(exe, path, fallback) if loaded else exe


def exported(fn, key, *example_args):
    """A callable equivalent to ``jax.jit(fn)`` for arguments shaped like ``example_args``."""
    leaves, treedef = jax.tree_util.tree_flatten(example_args)
    where = _cache_dir()
    if where is None:
        return jax.jit(fn)
    avals = _avals(leaves)
    path = _path(where, "pricing", (key, str(treedef), avals))

    def flat(*xs):
        return fn(*jax.tree_util.tree_unflatten(treedef, xs))

    specs = [jax.ShapeDtypeStruct(x.shape, x.dtype, weak_type=w) for x, (_, _, w) in zip(leaves, avals)]
    try:
        exe = _runnable(lambda: jax.jit(flat).lower(*specs), path, jax.jit(flat))
    except Exception:  # noqa: BLE001 - what cannot be lowered ahead of time still runs through jit
        return jax.jit(fn)
    return lambda *args: exe(*jax.tree_util.tree_leaves(args))


def compiled(jitted, kind: str, args: tuple, static: dict | None = None, key=None):
    """``jitted(*args, **static)`` (a ``jax.jit`` function, ``static`` its static keyword arguments) through an
    executable kept in the cache folder (and in this process); ``kind`` names the function in the file name,
    ``key`` (where not None) what its trace closes over (``exposure.risk.kept``)."""
    static = static or {}
    where = _cache_dir()
    if where is None:
        return jitted(*args, **static)
    leaves, treedef = jax.tree_util.tree_flatten(args)
    if any(isinstance(x, jax.core.Tracer) for x in leaves):  # called inside a trace (AD, vmap): plain jit
        return jitted(*args, **static)
    key = (kind, tuple(sorted(static.items())), str(treedef), _avals(leaves)) + (() if key is None else (key,))
    exe = _LOADED.get(key)
    if exe is None:
        exe = _runnable(lambda: jitted.lower(*args, **static), _path(where, kind, key),
                        lambda *a: jitted(*a, **static))
        if len(_LOADED) >= _MAX_LOADED:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = exe
    return exe(*args)


_AHEAD: list = []  # the run's programs_ahead.Ahead while one is in progress (at most one)


def load_ahead(hint: str | None):
    """Start loading, on a background thread, the executables that the last run with the same ``hint`` used
    (exposure.simulation.programs_ahead); returns the ``Ahead`` to ``finish()`` at the run's end, or None (cache
    off, no hint, or another run of this process already loading ahead)."""
    from exposure.simulation import programs_ahead

    where = _cache_dir()
    if where is None or hint is None or _AHEAD:
        return None
    path = programs_ahead.list_path(where, hint)
    ahead = programs_ahead.Ahead(path, programs_ahead.read_list(path))
    _AHEAD.append(ahead)
    ahead.start(_load)
    return ahead


def finish_ahead(ahead) -> None:
    """End the run's loading ahead (``load_ahead``'s result, None allowed) and record its programs."""
    if ahead is None:
        return
    try:
        ahead.finish()
    finally:
        if _AHEAD and _AHEAD[0] is ahead:
            _AHEAD.clear()


@functools.lru_cache(maxsize=1)
def _kernels_ready() -> None:
    """JAX fills in LAPACK's kernel table when it first lowers a linear-algebra op on the CPU (and before it runs a
    deserialised ``jax.export`` module); a loaded executable that calls one (eigh, solve, expm's LU) before anything
    was lowered in this process would call through empty pointers (a segmentation fault): filled in first."""
    try:
        from jax._src.lax import linalg

        linalg.initialize_lapack()
    except Exception:  # noqa: BLE001 - a JAX without it: its loaded executables cannot need it
        pass


def _load(path: str):
    blob = disk_cache.read_entry(path)
    if blob is None:
        return None
    _kernels_ready()
    try:
        from jax.experimental import serialize_executable

        payload, in_tree, out_tree = pickle.loads(blob)
        return serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
    except Exception:  # noqa: BLE001 - a truncated or foreign file is rebuilt, never trusted
        return None


def _store(path: str, blob: bytes) -> None:
    disk_cache.store_entry(path, blob, MAX_STORED)  # a read-only cache only costs the next run its compilation
