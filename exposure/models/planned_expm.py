"""Batched matrix exponentials with the scaling-and-squaring plan fixed ahead: jax.scipy.linalg.expm's arithmetic,
one Pade degree and one number of squarings per matrix, read off the base matrices once.

    e^X = (q_m(X / 2^s)^-1 p_m(X / 2^s))^(2^s),   m = Pade degree in {3, 5, 7, 9, 13} by ||X||_1,
                                                 s = max(0, floor(log2(||X||_1 / 5.3719...)))   (float64 constants)

``jax.scipy.linalg.expm`` on a batch vmaps its ``lax.switch`` over the degrees and its ``lax.cond`` per squaring,
so every matrix computes all five approximants and all 16 squarings (a select keeps one of each); forward mode
pays the same for the tangent. With (m, s) static per matrix (``expm_plan`` at the base point) only the chosen
approximant and squarings are computed: the same operations on the same numbers at the base, so the values and
the jvp equal expm's to rounding (bit-identical where XLA fuses alike), at a fraction of the cost. The plan is the
base point's: it is for derivatives at that point (a jvp's primal), not for evaluation elsewhere.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.scipy import linalg as _jl  # the approximants expm itself uses (identical arithmetic)

# scaling-and-squaring constants of jax.scipy.linalg.expm (float64): Higham's theta_m for m = 3, 5, 7, 9 and 13
MAXNORM = 5.371920351148152
CONDS = np.array([1.495585217958292e-002, 2.539398330063230e-001, 9.504178996162932e-001, 2.097847961257068e+000])
MAX_SQUARINGS = 16  # expm's default: more squarings give NaN there, so no plan is made (callers keep expm)
_PADE = (_jl._pade3, _jl._pade5, _jl._pade7, _jl._pade9, _jl._pade13)


def expm_plan(X) -> tuple | None:
    """((degree index, squarings), ...) per matrix of X (B, n, n) as expm chooses them (float64), or None where a
    matrix needs more than MAX_SQUARINGS squarings or is not finite."""
    X = np.asarray(X, np.float64)
    l1 = np.max(np.sum(np.abs(X), axis=-2), axis=-1)  # ||X||_1: the largest column sum
    if not np.all(np.isfinite(l1)):
        return None
    with np.errstate(divide="ignore"):
        nsq = np.maximum(0.0, np.floor(np.log2(l1 / MAXNORM)))
    if np.any(nsq > MAX_SQUARINGS):
        return None
    idx = np.digitize(l1, CONDS)  # expm digitizes the unscaled norm
    return tuple(zip(idx.tolist(), nsq.astype(int).tolist()))


def planned_expm(X, plan: tuple) -> jnp.ndarray:
    """e^X (B, n, n) by ``plan`` (``expm_plan``): matrices grouped by (degree, squarings), each group batched.

    One LU solve for all groups (q_m^-1 p_m stacked): a solve per group put several batched LAPACK getrf custom
    calls in one program with no data dependence between them; XLA's CPU runtime ran them concurrently and each
    getrf's batch split (jaxlib ParallelBatchMap) waited for tasks queued on the same intra-op pool, which its
    callers filled: a deadlock on a 2-core machine (tenth session; bench-1k's plan had one group)."""
    if len(plan) != X.shape[0]:
        raise ValueError(f"planned_expm: a plan of {len(plan)} matrices for {X.shape[0]}")
    groups: dict = {}
    for i, g in enumerate(plan):
        groups.setdefault(g, []).append(i)
    Us, Vs, sizes, order = [], [], [], []
    for (idx, nsq), rows in sorted(groups.items()):
        U, V = jax.vmap(_PADE[idx])(X[np.asarray(rows)] / 2.0 ** nsq)
        Us.append(U)
        Vs.append(V)
        sizes.append((nsq, len(rows)))
        order += rows
    U, V = jnp.concatenate(Us), jnp.concatenate(Vs)
    R_all = jnp.linalg.solve(V - U, U + V)  # q_m^-1 p_m, q_m = V - U, p_m = V + U
    outs, lo = [], 0
    for nsq, k in sizes:
        R = R_all[lo:lo + k]
        lo += k
        for _ in range(nsq):
            R = jnp.matmul(R, R, precision=jax.lax.Precision.HIGHEST)
        outs.append(R)
    return jnp.concatenate(outs)[np.argsort(np.asarray(order))]
