"""The AD run's big programs kept compiled across processes: a warm run neither traces nor lowers them.

    out = kept(jitted, kind, key, args, static)     # jitted(*args, **static), through a stored executable
    key = digest(what the traced function closes over)

``exposure.simulation.programs.compiled`` stores the executable under sha256(kind, key, static arguments, argument
tree and shapes, package source digest, machine); a hit deserialises it (no trace, no lowering, no hash of a
lowered module). Everything a trace bakes in that is not an argument must be in ``key``, or a changed book or
market would run a stale program: ``digest`` hashes it by content,

    digest(x) = sha256 of a walk of x: arrays by dtype, shape and bytes; numbers, strings, dates by repr;
                tuples, lists, dicts, sets, dataclasses and objects' attributes recursively (shared and
                cyclic references by position); a batch of trades by its class, specs and netting sets
                (``chunks``' key of the plain run's pricing program); a model by its content, or by its state
                layout alone where the caller says so (``ModelLayout``: the path layer reads only that;
                ``step_key``, the reverse pass's step, whose market values all arrive through S),

and returns None for what it cannot name by content (an object whose repr shows an address): the caller then
runs the plain ``jax.jit`` (still cached by JAX's persistent cache). With the cache off the plain jit runs too,
and the numbers are the same bits either way (the stored executable is the one the jit compiles). ``shapes``
keeps a ``jax.eval_shape`` the same way (the twins' leaf names: a trace of their whole jnp code otherwise).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import types

import numpy as np

from exposure.simulation.programs import ADDRESS as _ADDRESS
from exposure.simulation.programs import batch_digest

# Attributes read by no traced function, whose values are process-specific (ids of market objects): left out of
# the walk. ``setup_pres.LinearPresTwin.amount_curves`` (ids of the curves its amounts read; the folding's).
SKIP = frozenset({"amount_curves"})


class Unkeyable(Exception):
    """Something in a program's closure that cannot be named by content."""


class ModelLayout:
    """A model seen by its state layout only (``digest``): currencies, equity names, state positions."""

    def __init__(self, model):
        n = len(model.currencies)
        self.parts = (type(model).__qualname__, tuple(model.currencies), tuple(model.equity_names), int(model.dim),
                      tuple(int(model.ir_state(c)) for c in range(n)),
                      tuple(int(model.fx_state(c)) for c in range(1, n)),
                      tuple(int(model.eq_state(e)) for e in range(len(model.equity_names))))


def _is_batch(x) -> bool:
    return hasattr(x, "specs") and hasattr(x, "netting_set") and hasattr(x, "prepare")


def _batch_digest(b) -> str:
    d = batch_digest(b)
    if d is None:
        raise Unkeyable(f"batch specs of {type(b).__qualname__}")
    return d


def _walk(x, h, seen: dict) -> None:
    up = h.update
    if x is None or isinstance(x, (bool, int, float, complex, str, bytes, np.generic, datetime.date,
                                   datetime.timedelta, enum.Enum)):
        up(f"{type(x).__name__}:{x!r};".encode())
        return
    if id(x) in seen:  # shared or cyclic: by first position
        up(f"ref{seen[id(x)][0]};".encode())
        return
    seen[id(x)] = (len(seen), x)  # x kept alive: its id stays unique during the walk
    if isinstance(x, ModelLayout):
        up(f"layout{x.parts!r};".encode())
    elif isinstance(x, np.ndarray) or type(x).__module__.startswith("jax"):
        if type(x).__module__.startswith("jax") and not hasattr(x, "__array__"):
            up(f"{type(x).__module__}.{type(x).__qualname__}:{_named(repr(x))};".encode())  # a treedef, dtype
            return
        a = np.asarray(x)
        up(f"a{a.dtype.str}{a.shape};".encode())
        if a.dtype == object:
            for v in a.reshape(-1):
                _walk(v, h, seen)
        else:
            up(_compact(a).tobytes())
    elif isinstance(x, (tuple, list)):
        up(f"{type(x).__name__}{len(x)}(".encode())
        for v in x:
            _walk(v, h, seen)
        up(b")")
    elif isinstance(x, dict):
        up(f"dict{len(x)}(".encode())
        for k, v in sorted(x.items(), key=lambda kv: repr(kv[0])):
            _walk(k, h, seen)
            _walk(v, h, seen)
        up(b")")
    elif isinstance(x, (set, frozenset)):
        up(f"set({sorted(_named(repr(v)) for v in x)!r})".encode())
    elif _is_batch(x):
        up(f"batch{_batch_digest(x)};".encode())
    elif isinstance(x, (types.FunctionType, types.MethodType)):
        f = getattr(x, "__func__", x)
        up(f"fn{f.__module__}.{f.__qualname__}(".encode())
        _walk(getattr(x, "__self__", None), h, seen)
        _walk(tuple(c.cell_contents for c in (f.__closure__ or ())), h, seen)
        _walk(f.__defaults__, h, seen)
        up(b")")
    elif isinstance(x, type):
        up(f"type{x.__module__}.{x.__qualname__};".encode())
    elif dataclasses.is_dataclass(x) or hasattr(x, "__dict__") or hasattr(type(x), "__slots__"):
        fields = dict(getattr(x, "__dict__", {}))
        for k in getattr(type(x), "__slots__", ()):
            if hasattr(x, k):
                fields[k] = getattr(x, k)
        up(f"obj{type(x).__module__}.{type(x).__qualname__}(".encode())
        for k in sorted(fields):
            if k not in SKIP and not k.startswith("__"):
                up(f"{k}=".encode())
                _walk(fields[k], h, seen)
        up(b")")
    else:
        up(f"{type(x).__module__}.{type(x).__qualname__}:{_named(repr(x))};".encode())


def _compact(a: np.ndarray) -> np.ndarray:
    """a's bytes to hash: a large integer array (a plan's per-element netting sets, tens of MB on bench-1k) in the
    smallest integer type that holds its values (lossless; its dtype is hashed beside it), else a itself."""
    if a.size > 4096 and a.dtype.kind in "iu" and a.dtype.itemsize > 1:
        lo, hi = int(a.min()), int(a.max())
        for t in (np.int8, np.int16, np.int32):
            if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
                return np.ascontiguousarray(a, dtype=t) if np.dtype(t).itemsize < a.dtype.itemsize else a
    return np.ascontiguousarray(a)


def _named(text: str) -> str:
    if _ADDRESS.search(text):
        raise Unkeyable(text[:200])
    return text


def digest(*parts) -> str | None:
    """sha256 of ``parts`` by content (module docstring), or None where something cannot be named by content."""
    h = hashlib.sha256()
    try:
        _walk(parts, h, {})
    except Unkeyable:
        return None
    return h.hexdigest()


def kept(jitted, kind: str, key, args: tuple, static: dict | None = None):
    """``jitted(*args, **static)``; through the stored executable of (kind, key, argument shapes) where ``key``
    (``digest`` of the closure) is not None and the persistent cache is on."""
    if key is None:
        return jitted(*args, **(static or {}))
    from exposure.simulation.programs import compiled

    return compiled(jitted, kind, args, static, key=key)


def step_key(static, plan, *rest):
    """``digest`` of what the reverse pass's step (``reverse_ns``) closes over: ``Static`` with its model as a state
    layout (the path layer reads states by position; the model's values reach it through S), the ``Plan``'s
    owners, masks and layouts and its kernels' static parts (their batch and model are the Static's), ``rest``
    (block, antithetic, measures, smoothing) and whether the loops are traced static (``differentiable_loops``)."""
    from exposure.pricing.linear import static_loops_enabled

    st = dataclasses.replace(static, model=ModelLayout(static.model))
    kernels = [None if k is None else (type(k).__qualname__, {a: v for a, v in vars(k).items()
                                                              if a not in ("batch", "model")})
               for k in plan.kernels]
    return digest(st, plan.names, plan.mask, plan.shared, plan.layout, kernels, rest, static_loops_enabled())


def shapes(fn, kind: str, key, *args):
    """``jax.eval_shape(fn, *args)`` (the output's structure, shapes and dtypes), kept beside the executables under
    (kind, key, the arguments' tree and shapes): a warm run does not trace ``fn`` to learn its leaves' names."""
    import pickle

    import jax

    from exposure import disk_cache
    from exposure.simulation import programs

    where = programs._cache_dir()
    if key is None or where is None:
        return jax.eval_shape(fn, *args)
    leaves, treedef = jax.tree_util.tree_flatten(args)
    avals = tuple((np.shape(x), str(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype),
                   bool(getattr(x, "weak_type", False)) or not hasattr(x, "dtype")) for x in leaves)
    path = programs._path(where, kind, (key, str(treedef), avals))[: -len(".xlaexe")] + ".shapes"
    blob = disk_cache.read_entry(path)
    if blob is not None:
        try:
            return pickle.loads(blob)
        except Exception:  # noqa: BLE001 - a truncated or foreign file is rebuilt, never trusted
            pass
    out = jax.eval_shape(fn, *args)
    try:
        disk_cache.store_entry(path, pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL), programs.MAX_STORED)
    except Exception:  # noqa: BLE001 - what cannot be pickled is traced again next time
        pass
    return out
