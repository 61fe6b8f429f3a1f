"""Counter-based normals: path p's draws depend only on (seed, p), never on chunking or devices.

    z_p = N(0, I) from key_p = fold_in(PRNGKey(seed), p)            (plain)
    z_p = (-1)^p N(0, I) from fold_in(PRNGKey(seed), p // 2)         (antithetic pairs 2j, 2j+1)

Shape of a draw: (n_steps, dim). Threefry is JAX's default and is reproducible across backends.

On the CPU the threefry2x32 hash is compiled from its straight-line form (``unrolled_threefry_on_cpu``): the same
integer operations as JAX's CPU rule, so the same bits, at a tenth of the compile time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp  # noqa: F401
import numpy as np


def unrolled_threefry_on_cpu() -> bool:
    """Lower JAX's ``threefry2x32`` primitive on the CPU as on every other backend: its 20 rounds straight-line
    (constant rotations) instead of JAX's CPU rule, a ``fori_loop`` of 5 iterations whose rotation amounts are
    loop state. The rounds are the same integer operations in the same order, so every bit drawn is the same;
    what changes is XLA:CPU's work: the loop body's variable shifts over (paths, steps, factors) become about
    370 KB of optimised LLVM IR per program. Measured (loaded machine; bundled example's chunk normals, 2,560
    paths x 24 x 8): compile 1.13 -> 0.12 CPU s, run 31 -> 18 ms; simulate_chunk 1.23 -> 0.31 and bridge_states
    1.08 -> 0.49 CPU s to compile (bench-1k: 2.28 -> 0.34 and 1.30 -> 0.62). Process-wide (a lowering rule is
    JAX's global registry), which only makes other threefry users in the process compile faster. False where this
    JAX has no such rule (then JAX's own rule stays: the same bits, compiled slower). tests/test_rng_lowering.py
    checks the Random123 known answers and the normals drawn before, bit for bit."""
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as threefry

        mlir.register_lowering(threefry.threefry2x32_p, threefry._threefry2x32_lowering_rule, platform="cpu",
                               inline=False)
    except (ImportError, AttributeError, TypeError):
        return False
    return True


def seed_key(seed: int):
    """``jax.random.PRNGKey(seed)`` without running a program: with JAX's default threefry2x32 keys the raw key is
    the seed's 64 bits as two uint32 words, high word first (JAX's ``threefry_seed``: ``seed >> 32`` and ``seed &
    0xFFFFFFFF`` of the int64 seed), placed on the default device. ``PRNGKey`` itself is an eager jitted program:
    in a fresh process it is traced, lowered and looked up in the compilation cache (about 0.04 s of CPU). Any other
    key implementation or typed keys (``jax_default_prng_impl``, ``jax_enable_custom_prng``): ``PRNGKey`` itself.
    tests/test_fresh_process.py compares the two over the int64 range."""
    if (getattr(jax.config, "jax_default_prng_impl", None) != "threefry2x32"
            or getattr(jax.config, "jax_enable_custom_prng", True)):
        return jax.random.PRNGKey(seed)
    bits = np.int64(seed).view(np.uint64)  # (OverflowError outside int64, as PRNGKey)
    return jax.device_put(np.array([bits >> np.uint64(32), bits & np.uint64(0xFFFFFFFF)], dtype=np.uint32))


def path_normals(key, path_index, n_steps: int, dim: int, antithetic: bool, dtype=jnp.float64):
    """Standard normals of one path: (n_steps, dim)."""
    if antithetic:
        z = jax.random.normal(jax.random.fold_in(key, path_index // 2), (n_steps, dim), dtype=dtype)
        return jnp.where(path_index % 2 == 0, z, -z)
    return jax.random.normal(jax.random.fold_in(key, path_index), (n_steps, dim), dtype=dtype)


def chunk_normals(key, path_indices, n_steps: int, dim: int, antithetic: bool, dtype=jnp.float64):
    """Normals of a chunk laid out for the scan: (n_steps, dim, n_paths), paths contiguous."""
    # out_axes=2 writes each path's draws straight into the scan layout (no separate transpose pass).
    return jax.vmap(lambda p: path_normals(key, p, n_steps, dim, antithetic, dtype), out_axes=2)(path_indices)
