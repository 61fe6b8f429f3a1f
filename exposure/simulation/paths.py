"""Path generation: Y_k = Phi_k Y_{k-1} + mu_k + L_k z_k, scanned over dates, vectorised over paths.

States come out as (n_dates + 1, dim, n_paths) with t_0 = 0 first and paths on the contiguous last axis.
The scan runs over the reporting dates (valuation and close-out) only, with the same normals whether or
not the grid has event dates; the states at event dates are then drawn from the exact Gaussian bridge
between the surrounding reporting dates with normals of their own (``exposure.simulation.bridge``), so
adding a trade with off-grid events leaves every reporting-date state and every other event's state
unchanged bit for bit.
Chunks of paths are simulated one after another with the same compiled function (every chunk padded to
a multiple of PATH_LANES paths), and every path's normals depend only on (seed, path index), so the
paths are the same whatever the chunk size.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import TYPE_CHECKING, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from exposure.errors import ConfigError
from exposure.models.cross_asset import CrossAssetModel, factor_matrix
from exposure.simulation.bridge import Bridge, bridge_states, build_bridge
from exposure.simulation.programs import compiled
from exposure.simulation.rng import chunk_normals, seed_key

if TYPE_CHECKING:
    from exposure.simulation.grid import TimeGrid


# Chunks are simulated and priced this many paths wide at a time (a multiple): XLA's CPU code evaluates
# the tail of a vectorised loop with scalar code whose last bits can differ, so a path must never land in
# a tail, whatever the chunk size, for results to be bit-identical across chunk sizes.
PATH_LANES = 64
# Path indices are folded into the keys as uint32; the last value keys the event normals' stream.
MAX_PATHS = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class Discretisation:
    """Per-step arrays of the exact scheme on the reporting dates: Phi (n, d, d), mu (n, d), L (n, d, d);
    y0 (d,); bridge: the event dates' exact bridge (None without event dates)."""

    Phi: np.ndarray
    mu: np.ndarray
    L: np.ndarray
    y0: np.ndarray
    bridge: Bridge | None = None

    @staticmethod
    def build(model: CrossAssetModel, grid: "TimeGrid") -> "Discretisation":
        """The scheme on ``grid``'s reporting dates and, if it has event dates, the bridge onto them (a grid
        without ``valuation_index``, e.g. bare times, is all reporting dates)."""
        bridge = None
        times = np.asarray(grid.times, dtype=np.float64)
        if getattr(grid, "valuation_index", None) is not None:
            times, bridge = build_bridge(model, grid)
        Phi, mu, Sigma = model.transitions(times)
        return Discretisation(Phi, mu, factor_matrix(Sigma), model.initial_state(), bridge)


@partial(jax.jit, static_argnames=("antithetic",))
def simulate_chunk(Phi, mu, L, y0, key, path_indices, antithetic: bool = False):
    """States of the paths ``path_indices``: (n_steps + 1, d, n_paths), dtype of Phi."""
    n_steps, d = mu.shape
    # Drawn in float64 and cast: the float32 opt-in then follows the same paths up to rounding, so its
    # error against float64 is measured path by path, not blurred by Monte Carlo noise.
    z = chunk_normals(key, path_indices, n_steps, d, antithetic, jnp.float64).astype(Phi.dtype)
    y_init = jnp.broadcast_to(y0[:, None], (d, path_indices.shape[0])).astype(Phi.dtype)

    def step(y, inputs):
        Phi_k, mu_k, L_k, z_k = inputs
        # A fixed-order elementwise sum, not a matmul: BLAS kernels block differently for different path
        # counts, which would make the last bits of a path depend on the chunk size.
        acc = jnp.broadcast_to(mu_k[:, None], y.shape)
        for j in range(d):
            acc = acc + Phi_k[:, j, None] * y[j][None, :]
        for j in range(d):
            acc = acc + L_k[:, j, None] * z_k[j][None, :]
        return acc, acc

    _, ys = jax.lax.scan(step, y_init, (Phi, mu, L, z))
    return jnp.concatenate([y_init[None], ys], axis=0)


def resolve_device(name: str):
    """'auto' -> JAX's default device (a GPU when JAX sees one), 'cpu', or 'gpu' (error if none)."""
    name = getattr(name, "value", name)
    if name == "auto":
        return jax.devices()[0]
    try:
        return jax.devices(name)[0]
    except RuntimeError as exc:
        raise ConfigError("simulation.device", f"no '{name}' device is visible to JAX ({exc})") from exc


@dataclasses.dataclass(frozen=True)
class PathGenerator:
    """Streams chunks of simulated states; every chunk is (n_steps + 1, d, chunk) on ``device``."""

    disc: Discretisation
    n_paths: int
    chunk_size: int
    seed: int
    antithetic: bool = False
    dtype: str = "float64"
    device: str = "auto"

    def __post_init__(self):
        if self.n_paths <= 0:
            raise ConfigError("simulation.paths", f"must be > 0 (got {self.n_paths})")
        if self.chunk_size <= 0:
            raise ConfigError("simulation.chunk_size", f"must be > 0 (got {self.chunk_size})")
        if self.n_paths >= MAX_PATHS - PATH_LANES:
            raise ConfigError("simulation.paths", f"must be below {MAX_PATHS - PATH_LANES} (got {self.n_paths})")

    def _arrays(self):
        dev = resolve_device(self.device)
        dt = jnp.dtype(getattr(self.dtype, "value", self.dtype))
        put = lambda a: jax.device_put(jnp.asarray(a, dtype=dt), dev)  # noqa: E731
        br = self.disc.bridge
        if br is not None:
            ints = lambda a, t=jnp.int64: jax.device_put(jnp.asarray(a, dtype=t), dev)  # noqa: E731
            br = (put(br.A), put(br.B), put(br.m), put(br.L), ints(br.left), ints(br.right), ints(br.days),
                  ints(br.order))
        return put(self.disc.Phi), put(self.disc.mu), put(self.disc.L), put(self.disc.y0), dev, br

    def ranges(self) -> list[tuple[int, int]]:
        """The (start, stop) path ranges of the chunks, in order: the unit of work (and of checkpointing and
        distribution); a chunk's paths depend only on (seed, path index), never on who simulates it."""
        size = min(self.chunk_size, self.n_paths)
        return [(start, min(start + size, self.n_paths)) for start in range(0, self.n_paths, size)]

    @property
    def width(self) -> int:
        """Simulated width of every chunk: chunk_size (at most n_paths) rounded up to PATH_LANES."""
        return -(-min(self.chunk_size, self.n_paths) // PATH_LANES) * PATH_LANES

    def chunk(self, start: int, arrays=None) -> jnp.ndarray:
        """States (n_dates + 1, d, width) on every date (reporting and event) of paths start .. start + width - 1
        (callers keep the first stop - start); arrays: ``self._arrays()`` when called in a loop (device copies
        made once)."""
        Phi, mu, L, y0, dev, br = arrays or self._arrays()
        idx = jax.device_put(np.arange(start, start + self.width, dtype=np.int64), dev)  # NumPy: no program
        key = seed_key(self.seed)  # no program to run (PRNGKey is one)
        # Two programs on purpose: the reporting states come from the very program a run without event dates
        # runs (bit-identical by construction); the bridge only reads them.
        # Through executables kept across processes (exposure.simulation.programs): a warm process loads them.
        static = {"antithetic": self.antithetic}
        states = compiled(simulate_chunk, "simulate_chunk", (Phi, mu, L, y0, key, idx), static)
        if br is None:
            return states
        return compiled(bridge_states, "bridge_states", (states, *br, key, idx), static)

    def chunks(self, pad: bool = False) -> Iterator[tuple[int, int, jnp.ndarray]]:
        """Yields (start, stop, states) with states (n_steps + 1, d, stop - start), or with ``pad`` the
        chunk's full simulated width: chunk_size rounded up to a multiple of PATH_LANES (extra paths beyond
        ``stop`` follow, so downstream jitted code keeps one shape; callers drop them)."""
        arrays = self._arrays()
        for start, stop in self.ranges():
            states = self.chunk(start, arrays)
            yield start, stop, (states if pad else states[..., : stop - start])

    def all_states(self) -> np.ndarray:
        """Every path at once, (n_steps + 1, d, n_paths) as NumPy: for tests and small runs."""
        return np.concatenate([np.asarray(s) for _, _, s in self.chunks()], axis=-1)
