"""What keeps the sensitivities' compiled programs few and reusable across processes.

JAX's persistent compilation cache (``exposure/__init__``, ``XPOSURE_JAX_CACHE``) keys a program by its lowered
HLO: every value baked into it is part of the key. Three rules follow for the risk stage's programs:

  * per-run scalars (the seed) are arguments, never closed over: a closed-over Python int is an HLO constant,
    so a run with another seed would recompile the reverse pass (bench-1k: the largest program, ~100 s);
  * host arrays go to the device by ``jax.device_put`` (``device_tree``, ``device_zeros``), never by
    ``jnp.asarray`` / ``jnp.zeros``: in this JAX each of those compiles a small program per distinct shape and
    dtype (``jit(stage)``, ``jit(broadcast_in_dim)``; bench-1k's reverse pass set-up: 64 of them), where
    ``device_put`` is a copy and compiles nothing;
  * one program per run for what is repeated per factor: a jit built once (per run) and called with
    arguments of fixed shapes, never a jit of a fresh closure per factor;
  * the big programs (the reverse pass's step, the twins' vjp and jvp, the model arrays' jvp) are kept as
    executables under a key of what their traces close over (``exposure.risk.kept``): a warm run loads them
    and neither traces nor lowers them.

``compile_counter`` counts the XLA backend compilations of a block (jax.monitoring), the tests' and the
benchmark's measure of these rules.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"


def device_tree(tree):
    """tree with every leaf on the default device (a copy; no compiled program, whatever the shapes)."""
    return jax.tree_util.tree_map(lambda a: jax.device_put(np.asarray(a)) if not isinstance(a, jax.Array) else a,
                                  tree)


def device_zeros(shape, dtype=np.float64):
    """zeros of shape on the device without a per-shape ``broadcast_in_dim`` program."""
    return jax.device_put(np.zeros(shape, dtype))


def int_arg(v: int):
    """A per-run integer (the seed, a block's first path, the path count) as a traced int64 scalar argument."""
    return jax.device_put(np.int64(v))


class _Counter:
    def __init__(self):
        self.requests, self.seconds, self.cache_hits = 0, 0.0, 0

    @property
    def compiles(self) -> int:
        """XLA backend compilations: programs neither in memory nor in the persistent cache."""
        return self.requests - self.cache_hits


_ACTIVE: list = []
_REGISTERED: list = []


def _on_duration(event: str, seconds: float, **_) -> None:
    if event == BACKEND_COMPILE_EVENT:
        for c in _ACTIVE:
            c.requests += 1
            c.seconds += seconds


def _on_event(event: str, **_) -> None:
    if event == CACHE_HIT_EVENT:
        for c in _ACTIVE:
            c.cache_hits += 1


@contextlib.contextmanager
def compile_counter():
    """with compile_counter() as c: ... -> c.requests (programs not in memory: lowered, then compiled or read from
    the persistent cache), c.cache_hits (read), c.compiles (compiled: requests - hits), c.seconds (both) inside
    the block."""
    if not _REGISTERED:
        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        jax.monitoring.register_event_listener(_on_event)
        _REGISTERED.append(True)
    c = _Counter()
    _ACTIVE.append(c)
    try:
        yield c
    finally:
        _ACTIVE.remove(c)
