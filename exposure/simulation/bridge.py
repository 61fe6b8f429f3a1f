"""Exact Gaussian bridge: the model state at event dates between two simulated reporting dates.

The reporting grid (valuation and close-out dates) is simulated with its own normals exactly as without
events; an event date e in (a, b] between reporting dates a < e < b is then sampled from the exact law of
the Gaussian Markov state given both ends. With the step transitions Y_t = Phi(t,s) Y_s + mu(t,s) + eps,
eps ~ N(0, Sigma(t,s)), and l the previous sampled point (a, or the previous event in the same interval):

    Y_e = A Y_l + B Y_b + m + L z,      z ~ N(0, I) independent of everything simulated before,
    C = Sigma(e,l) Phi(b,e)' Sigma(b,l)^-            (Sigma(b,l)^- a generalised inverse)
    A = Phi(e,l) - C Phi(b,l),   B = C,   m = mu(e,l) - C mu(b,l),
    L L' = Sigma(e,l) - C Phi(b,e) Sigma(e,l)        (the conditional covariance)

Several events in one interval are bridged in date order, each from the previous sampled point to the right
end, which gives the exact joint law of all of them. Sigma(b,l) is near-singular in absolute terms (the
integrated-rate state's variance is O(tau^3) next to the short rate's O(tau)) and exactly singular with a
zero vol or a unit correlation: it is inverted on its correlation scale, D^-1/2 Sigma D^-1/2 with D its
diagonal, by an eigen-decomposition that drops eigenvalues below ``RCOND`` x the largest (any generalised
inverse gives the same conditional law, since Y_b - E[Y_b | Y_l] lies in the range of Sigma(b,l)).

The normals of event e on path p are keyed by (seed, event day number, p), from a stream separate from the
paths' own (``event_normals``), so adding or removing an event date changes nothing else. Matrices are built
in NumPy at set-up; ``bridge_states`` is one compiled program taking them as arguments, elementwise over the
contiguous path axis in a fixed order (bit-identical whatever the chunk size).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from exposure.models.cross_asset import factor_matrix

# Eigenvalues of the correlation-scaled Sigma(b,l) below RCOND x the largest are treated as zero.
RCOND = 1e-13
# fold_in data of the event-normal stream: the key of path index 2**32 - 1, which PathGenerator never uses.
EVENT_STREAM = 0xFFFF_FFFF


@dataclasses.dataclass(frozen=True)
class Bridge:
    """Bridge of n_e event dates onto a reporting simulation of n_r dates (states with t0: n_r + 1 rows).

    A, B, L: (n_e, d, d); m: (n_e, d); left, right: (n_e,) rows of the reporting states (0 = t0) of the
    left and right ends; chained: (n_e,) True where the left end is the previous event instead;
    days: (n_e,) day numbers (date ordinals) keying the normals; order: (n_r + n_e + 1,) row of each full-grid
    date in concat(reporting states, event states).
    """

    A: np.ndarray
    B: np.ndarray
    m: np.ndarray
    L: np.ndarray
    left: np.ndarray
    right: np.ndarray
    chained: np.ndarray
    days: np.ndarray
    order: np.ndarray

    @property
    def n_events(self) -> int:
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


def build_bridge(model, grid, steps=None) -> tuple[np.ndarray, Bridge | None]:
    """(reporting times (n_r,), Bridge or None without event dates) for ``grid`` (a TimeGrid whose dates are
    the reporting dates plus the event dates). steps: ``model.transitions(grid.times)`` if already computed."""
    rep = reporting_positions(grid)
    times = np.asarray(grid.times, dtype=np.float64)
    if rep.size == times.size:
        return times, None
    Phi, mu, Sigma = model.transitions(times) if steps is None else steps
    is_rep = np.zeros(times.size + 1, dtype=bool)  # rows with t0 first
    is_rep[0] = True
    is_rep[1 + rep] = True
    rep_row = np.cumsum(is_rep) - 1  # row of a reporting date among the reporting states
    n_r = rep.size
    A, B, m, L, left, right, chained, days, order = [], [], [], [], [], [], [], [], []
    step = lambda i: (Phi[i - 1], mu[i - 1], Sigma[i - 1])  # noqa: E731  (transition into row i)
    ev = 0
    for i in range(1, times.size + 1):
        if is_rep[i]:
            order.append(rep_row[i])
            continue
        b = i + 1 + int(np.argmax(is_rep[i + 1:]))  # the next reporting row (the last date is one)
        rest = step(i + 1)
        for k in range(i + 2, b + 1):
            rest = compose(step(k), rest)
        a_, b_, m_, V = bridge_coefficients(step(i), rest)
        A.append(a_), B.append(b_), m.append(m_), L.append(factor_matrix(V))
        chained.append(not is_rep[i - 1])
        left.append(rep_row[i - 1] if is_rep[i - 1] else 0)
        right.append(rep_row[b])
        days.append(grid.dates[i - 1].toordinal())
        order.append(n_r + 1 + ev)
        ev += 1
    order = [0] + order
    arr = lambda x, dt=np.float64: np.asarray(x, dtype=dt)  # noqa: E731
    return times[rep], Bridge(arr(A), arr(B), arr(m), arr(L), arr(left, np.int64), arr(right, np.int64),
                              arr(chained, bool), arr(days, np.int64), arr(order, np.int64))


def event_normals(key, days, path_indices, dim: int, antithetic: bool, dtype=jnp.float64):
    """Normals (n_e, dim, n_paths) of the event dates: z = N(0, I) from fold_in(fold_in(stream, day), p), with
    stream = fold_in(key, EVENT_STREAM); antithetic pairs 2j, 2j+1 share fold_in(., j) with opposite signs."""
    stream = jax.random.fold_in(key, EVENT_STREAM)

    def one(day, p):
        k = jax.random.fold_in(stream, day)
        if antithetic:
            z = jax.random.normal(jax.random.fold_in(k, p // 2), (dim,), dtype=dtype)
            return jnp.where(p % 2 == 0, z, -z)
        return jax.random.normal(jax.random.fold_in(k, p), (dim,), dtype=dtype)

    per_day = lambda day: jax.vmap(lambda p: one(day, p), out_axes=1)(path_indices)  # noqa: E731
    return jax.vmap(per_day)(days)


@partial(jax.jit, static_argnames=("antithetic",))
def bridge_states(states, A, B, m, L, left, right, chained, days, order, key, path_indices, antithetic: bool = False):
    """Reporting states (n_r + 1, d, P) -> states on every date (n_r + n_e + 1, d, P), dtype of states."""
    d = states.shape[1]
    # Drawn in float64 and cast, as the reporting normals (a float32 run follows the float64 paths).
    z = event_normals(key, days, path_indices, d, antithetic, jnp.float64).astype(states.dtype)

    def step(prev, inputs):
        A_k, B_k, m_k, L_k, z_k, yl, yr, ch = inputs
        y_left = jnp.where(ch, prev, yl)
        # Fixed-order elementwise sums, as in simulate_chunk: no matmul whose blocking follows the path count.
        acc = jnp.broadcast_to(m_k[:, None], yl.shape)
        for j in range(d):
            acc = acc + A_k[:, j, None] * y_left[j][None, :]
        for j in range(d):
            acc = acc + B_k[:, j, None] * yr[j][None, :]
        for j in range(d):
            acc = acc + L_k[:, j, None] * z_k[j][None, :]
        return acc, acc

    init = jnp.zeros(states.shape[1:], states.dtype)
    _, ev = jax.lax.scan(step, init, (A, B, m, L, z, states[left], states[right], chained))
    return jnp.concatenate([states, ev], axis=0)[order]
