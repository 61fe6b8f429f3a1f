"""Exact Gaussian bridge: the model state at event dates between two simulated reporting dates.

The reporting grid (valuation and close-out dates) is simulated with its own normals exactly as without
events; the state at an event date inside (a, b), two consecutive reporting dates, is then drawn from the exact
law of the Gaussian Markov state given what is already sampled. With the step transitions
Y_t = Phi(t,s) Y_s + mu(t,s) + eps, eps ~ N(0, Sigma(t,s)), a point e sampled between its sampled neighbours
l < e < r (nothing sampled in between) is

    Y_e = A Y_l + B Y_r + m + L z,      z ~ N(0, I) independent of everything sampled before,
    C = Sigma(e,l) Phi(r,e)' Sigma(r,l)^-            (Sigma(r,l)^- a generalised inverse)
    A = Phi(e,l) - C Phi(r,l),   B = C,   m = mu(e,l) - C mu(r,l),
    L L' = Sigma(e,l) - C Phi(r,e) Sigma(e,l)        (the conditional covariance)

By the Markov property this gives the exact joint law of any set of points sampled this way. The points are
the nodes of a canonical bisection in whole days: an event day e in (a, b) is reached by halving [lo, hi],
starting from [a, b], at m = (lo + hi) // 2 until m = e, each node sampled from its bracket (lo, hi) with
normals keyed by (seed, node day, path) from a stream separate from the paths' own (``event_normals``). A
node's bracket and normals depend on its day and the reporting dates only, so an event's state is the same
whatever other event dates the grid holds: adding a trade changes neither the reporting-date states nor any
other trade's event states, bit for bit (a sequential bridge, each event from the previous one, would move
the events after an added one). The cost is about log2(days between reporting dates) nodes per event, fewer
where events share ancestors.

Sigma(r,l) is near-singular in absolute terms (the integrated-rate state's variance is O(tau^3) next to the
short rate's O(tau)) and exactly singular with a zero vol or a unit correlation: it is inverted on its
correlation scale, D^-1/2 Sigma D^-1/2 with D its diagonal, by an eigen-decomposition that drops eigenvalues
below ``RCOND`` x the largest (any generalised inverse gives the same conditional law, since Y_r - E[Y_r | Y_l]
lies in the range of Sigma(r,l)). Matrices are built in NumPy at set-up; ``bridge_states`` is one compiled
program taking them as arguments, elementwise over the contiguous path axis in a fixed order (bit-identical
whatever the chunk size).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from exposure.dates import DAYS_PER_YEAR
from exposure.models.cross_asset import factor_matrix

# Eigenvalues of the correlation-scaled Sigma(b,l) below RCOND x the largest are treated as zero.
RCOND = 1e-13
# fold_in data of the event-normal stream: the key of path index 2**32 - 1, which PathGenerator never uses.
EVENT_STREAM = 0xFFFF_FFFF


@dataclasses.dataclass(frozen=True)
class Bridge:
    """Bisection nodes bridged onto a reporting simulation of n_r dates (states with t0: n_r + 1 rows).

    Nodes are sampled in order into a buffer of rows concat(reporting states, nodes). A, B, L: (n, d, d);
    m: (n, d); left, right: (n,) buffer rows of each node's bracket ends (always earlier rows);
    days: (n,) node day numbers (date ordinals) keying the normals; order: (K + 1,) buffer row of each date of
    the full grid (t0, reporting and event dates).
    """

    A: np.ndarray
    B: np.ndarray
    m: np.ndarray
    L: np.ndarray
    left: np.ndarray
    right: np.ndarray
    days: np.ndarray
    order: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.days.shape[0])


def reporting_positions(grid) -> np.ndarray:
    """Sorted indices into ``grid.dates`` of the reporting (valuation and close-out) dates."""
    used = set(grid.valuation_index.tolist()) | set(() if grid.closeout_index is None else grid.closeout_index.tolist())
    return np.array(sorted(used), dtype=np.int64)


def compose(second, first):
    """Transition over s -> u from first (s -> t) and second (t -> u): (Phi, mu, Sigma)."""
    P2, m2, S2 = second
    P1, m1, S1 = first
    return P2 @ P1, P2 @ m1 + m2, P2 @ S1 @ P2.T + S2


def generalised_inverse(S: np.ndarray, rcond: float = RCOND) -> np.ndarray:
    """S^- with S S^- S = S for a symmetric PSD S (d, d), inverted on its correlation scale."""
    diag = np.diag(S).copy()
    scale = np.where(diag > 0.0, 1.0 / np.sqrt(np.where(diag > 0.0, diag, 1.0)), 0.0)
    R = S * scale[:, None] * scale[None, :]
    w, V = np.linalg.eigh(0.5 * (R + R.T))
    keep = w > rcond * max(float(w.max(initial=0.0)), 0.0)
    inv_w = np.where(keep, 1.0 / np.where(keep, w, 1.0), 0.0)
    return (scale[:, None] * (V * inv_w[None, :]) @ V.T) * scale[None, :]


def bridge_coefficients(first, rest):
    """(A, B, m, V): Y_e = A Y_l + B Y_b + m + N(0, V) given first = transition l -> e, rest = e -> b."""
    P_el, mu_el, S_el = first
    P_be, _, _ = rest
    P_bl, mu_bl, S_bl = compose(rest, first)
    K = S_el @ P_be.T  # Cov(Y_e, Y_b | Y_l)
    C = K @ generalised_inverse(S_bl)
    V = S_el - C @ K.T
    return P_el - C @ P_bl, C, mu_el - C @ mu_bl, 0.5 * (V + V.T)


def bisection_nodes(lo: int, hi: int, events) -> dict:
    """{node day: (bracket lo, bracket hi)} of the bisection reaching every day of ``events`` in (lo, hi)."""
    nodes: dict = {}
    for e in events:
        a, b = lo, hi
        while True:
            mid = (a + b) // 2
            nodes.setdefault(mid, (a, b))
            if mid == e:
                break
            a, b = (a, mid) if e < mid else (mid, b)
    return nodes


def build_bridge(model, grid) -> tuple[np.ndarray, Bridge | None]:
    """(reporting times (n_r,), Bridge or None without event dates) for ``grid`` (a TimeGrid whose dates are
    the reporting dates plus the event dates)."""
    rep = reporting_positions(grid)
    times = np.asarray(grid.times, dtype=np.float64)
    if rep.size == times.size:
        return times, None
    asof = grid.asof.toordinal()
    days = np.array([asof] + [d.toordinal() for d in grid.dates], dtype=np.int64)
    is_rep = np.zeros(times.size + 1, dtype=bool)  # rows with t0 first
    is_rep[0] = True
    is_rep[1 + rep] = True
    rep_days = days[is_rep]
    row = {int(d): i for i, d in enumerate(rep_days)}  # buffer row of every sampled day
    nodes: dict = {}
    for lo, hi in zip(rep_days[:-1], rep_days[1:]):
        inside = days[~is_rep][(days[~is_rep] > lo) & (days[~is_rep] < hi)]
        nodes.update(bisection_nodes(int(lo), int(hi), inside.tolist()))
    # Parents before children: a child's bracket is strictly inside its parent's.
    ordered = sorted(nodes, key=lambda d: (-(nodes[d][1] - nodes[d][0]), d))
    for k, d in enumerate(ordered):
        row[d] = rep_days.size + k
    t = lambda ds: (np.asarray(ds, dtype=np.float64) - asof) / DAYS_PER_YEAR  # noqa: E731  (model_times)
    lo_, hi_ = (np.array([nodes[d][j] for d in ordered]) for j in (0, 1))
    Phi, mu, Sigma = model.step_transitions(t(np.concatenate([lo_, ordered])), t(np.concatenate([ordered, hi_])))
    n = len(ordered)
    A, B, m, L = [], [], [], []
    for k in range(n):
        first, rest = (Phi[k], mu[k], Sigma[k]), (Phi[n + k], mu[n + k], Sigma[n + k])
        a_, b_, m_, V = bridge_coefficients(first, rest)
        A.append(a_), B.append(b_), m.append(m_), L.append(factor_matrix(V))
    arr = lambda x, dt=np.float64: np.asarray(x, dtype=dt)  # noqa: E731
    return times[rep], Bridge(arr(A), arr(B), arr(m), arr(L), arr([row[d] for d in lo_], np.int64),
                              arr([row[d] for d in hi_], np.int64), arr(ordered, np.int64),
                              arr([row[int(d)] for d in days], np.int64))


def event_normals(key, day, path_indices, dim: int, antithetic: bool, dtype=jnp.float64):
    """Normals (dim, n_paths) of the node ``day``: z = N(0, I) from fold_in(fold_in(stream, day), p), with
    stream = fold_in(key, EVENT_STREAM); antithetic pairs 2j, 2j+1 share fold_in(., j) with opposite signs."""
    k = jax.random.fold_in(jax.random.fold_in(key, EVENT_STREAM), day)

    def one(p):
        if antithetic:
            z = jax.random.normal(jax.random.fold_in(k, p // 2), (dim,), dtype=dtype)
            return jnp.where(p % 2 == 0, z, -z)
        return jax.random.normal(jax.random.fold_in(k, p), (dim,), dtype=dtype)

    return jax.vmap(one, out_axes=1)(path_indices)


@partial(jax.jit, static_argnames=("antithetic",))
def bridge_states(states, A, B, m, L, left, right, days, order, key, path_indices, antithetic: bool = False):
    """Reporting states (n_r + 1, d, P) -> states on every date of the full grid (K + 1, d, P), dtype of states."""
    n_rep, d, n_paths = states.shape
    buf = jnp.concatenate([states, jnp.zeros((days.shape[0], d, n_paths), states.dtype)])
    # Every node's normals (n, d, P) in one pass before the scan, not one draw per step inside it: the same bits
    # (each is a function of (key, day, path) alone), 0.57 -> 0.42 CPU s to compile (bundled example, loaded).
    # Drawn in float64 and cast, as the reporting normals (a float32 run follows the float64 paths).
    zs = jax.vmap(lambda day: event_normals(key, day, path_indices, d, antithetic, jnp.float64))(days)

    def step(buf, inputs):
        k, A_k, B_k, m_k, L_k, l, r, z = inputs
        z = z.astype(states.dtype)
        yl = jax.lax.dynamic_index_in_dim(buf, l, keepdims=False)
        yr = jax.lax.dynamic_index_in_dim(buf, r, keepdims=False)
        # Fixed-order elementwise sums, as in simulate_chunk: no matmul whose blocking follows the path count.
        acc = jnp.broadcast_to(m_k[:, None], yl.shape)
        for j in range(d):
            acc = acc + A_k[:, j, None] * yl[j][None, :]
        for j in range(d):
            acc = acc + B_k[:, j, None] * yr[j][None, :]
        for j in range(d):
            acc = acc + L_k[:, j, None] * z[j][None, :]
        return jax.lax.dynamic_update_index_in_dim(buf, acc, n_rep + k, 0), None

    steps = jnp.arange(days.shape[0])
    buf, _ = jax.lax.scan(step, buf, (steps, A, B, m, L, left, right, zs))
    return buf[order]
