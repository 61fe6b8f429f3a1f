"""xposure: a JAX Monte Carlo counterparty exposure engine.

float64 is switched on at import (JAX defaults to float32); float32 is an explicit opt-in of the
simulation config whose error against float64 is measured in the benchmarks.
"""

from __future__ import annotations

import os


def _prefer_wide_vectors() -> None:
    """XLA's CPU code generator vectorises for 256-bit registers by default; on a CPU with AVX-512 the pricing
    program's elementwise transcendentals (erfc, exp of every live swaption term and coupon) run on 512-bit
    vectors instead: bench-1k's chunk program ~12% fewer CPU seconds, the same bits (lanes are independent:
    XLA allows LLVM no reassociation). Set before JAX creates its CPU client (read once, at first use); a
    ``--xla_cpu_prefer_vector_width`` already in XLA_FLAGS wins; XPOSURE_XLA_VECTOR_WIDTH=0 keeps XLA's default.
    A CPU without 512-bit registers ignores the preference."""
    flags = os.environ.get("XLA_FLAGS", "")
    width = os.environ.get("XPOSURE_XLA_VECTOR_WIDTH", "512")
    if "xla_cpu_prefer_vector_width" in flags or width == "0":
        return
    os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_prefer_vector_width={int(width)}".strip()


_prefer_wide_vectors()

import jax  # noqa: E402 - after XLA_FLAGS is set

jax.config.update("jax_enable_x64", True)


def _enable_compilation_cache() -> None:
    """JAX's persistent compilation cache makes a second CLI run start warm. XPOSURE_JAX_CACHE=0 turns it
    off (the benchmarks do, so that cold times include compilation); any other value is the directory."""
    import os

    where = os.environ.get("XPOSURE_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "xposure", "jax"))
    if where == "0":
        return
    try:
        # A subfolder of its own: JAX's size-bounded (LRU) cache needs an access-time file beside every entry, and
        # entries left by an unbounded cache (an older version of this package) would make every write fail.
        where = os.path.join(where, "xla")
        os.makedirs(where, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", where)
        # Every program is cached, however quick to compile: a run compiles a handful of programs, and the
        # default 1 s threshold left the small ones to be recompiled by every fresh process.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        jax.config.update("jax_compilation_cache_max_size", 2 * 1024**3)  # bytes, least recently used evicted
    except (OSError, AttributeError):  # read-only home, or a JAX without the option: run uncached
        pass


_enable_compilation_cache()

__version__ = "0.1.0"

__all__ = ["__version__", "compose", "run", "validate"]


def __getattr__(name: str):
    # Lazy so that `import exposure` stays cheap and Hydra is only imported by callers that compose configs.
    import importlib

    if name in ("compose", "run", "validate"):
        return getattr(importlib.import_module("exposure.api"), name)
    try:
        return importlib.import_module(f"exposure.{name}")  # exposure.api, exposure.pipeline, ...
    except ModuleNotFoundError as exc:
        if exc.name != f"exposure.{name}":
            raise
        raise AttributeError(f"module 'exposure' has no attribute '{name}'") from None
