"""The option twins' cotangents by forward mode along their inputs' basis, and the choice of form per book.

For option twin i with inputs x_i (n_i numbers: the curves' ln P pillars, Hull-White sigma pieces, FX / equity
vol pieces; ``twins``) and the pricing-data part of G (n_out rows, ``compact.CompactPres``):

    g_i[o, k] = <G_pres[o], (d leaves_i / d x_i) e_k>          (n_out, n_i),   k < n_i
    <G_pres[o], d pres / de>  (option part)  = sum_i g_i[o] . dx_i/de      (per factor: a dot product)

The columns J_i e_k come from one compiled program: a jvp of every option twin along basis vectors, vmapped over
``CHUNK`` directions, the twins side by side (direction k is e_k of each twin's own x, zero where k >= n_i: the
twins read disjoint inputs, so N = max_i n_i directions serve them all), called ceil(N / CHUNK) times with the
first direction as an argument (one program; memory: CHUNK copies of the twins' leaves at a time); each column
is contracted with G on the host (``CompactPres.dot_many``, a segment sum by netting set).

Three forms give the same numbers (to rounding, tests/test_risk_twin_reverse.py); their cost in units of one
forward direction through the option twins (a primal evaluation costs about one):

    "jvp"    one jvp per factor along its own dx/de                            2 n_f
    "basis"  the g_i above, once                                               1 + N
    "vjp"    g_i by one backward pass per output row (``twin_reverse.twin_cotangents``)   1 + ROW_COST n_out

with n_f the factors that take the option part (curve pillars, FX spots, par quotes, Hull-White sigma moves).
``choose`` takes the cheapest. On bench-1k (50 output rows, N = 36, n_f = 97 at 64 x 40): "basis".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.risk.kept import digest, kept
from exposure.risk.programs import int_arg
from exposure.risk.twins import named_leaves

# Basis directions per call of the program. Memory: CHUNK tangent copies of the option twins' leaves; on bench-1k at
# 256 x 100 CHUNK = 12 raised the AD run's peak RSS by 0.45-0.6 GiB (2.21 against 1.74 GiB warm with the per-factor
# jvp, 3.2x the plain run), CHUNK = 4 by 0.06 GiB (1.80 GiB) for most of the time saved.
CHUNK = 4
ROW_COST = 3.0  # a backward pass per output row against one forward direction (residuals, transposed scatters)


def choose(n_basis: int, n_out: int, n_factors: int | None) -> str:
    """The cheapest form (module docstring); n_factors None: every factor of the run is unknown, assume many."""
    cost = {"basis": 1.0 + n_basis, "vjp": 1.0 + ROW_COST * n_out}
    if n_factors is not None:
        cost["jvp"] = 2.0 * n_factors
    return min(cost, key=cost.get)


def sizes(x0: dict) -> dict:
    """{twin: n_i}: the number of inputs of every twin."""
    return {i: int(sum(np.size(a) for a in jax.tree_util.tree_leaves(x))) for i, x in x0.items()}


def flat(dx) -> np.ndarray:
    """A twin's direction (its x0's structure) as one vector, in the order of ``basis_cotangents``' columns."""
    leaves = [np.asarray(a, np.float64).reshape(-1) for a in jax.tree_util.tree_leaves(dx)]
    return np.concatenate(leaves) if leaves else np.zeros(0)


def _unflat(v, like):
    """v (n,) as a pytree of ``like``'s structure and shapes (jnp, inside the program)."""
    leaves, tree = jax.tree_util.tree_flatten(like)
    out, at = [], 0
    for a in leaves:
        n = int(np.size(a))
        out.append(v[at:at + n].reshape(np.shape(a)))
        at += n
    return jax.tree_util.tree_unflatten(tree, out)


def basis_cotangents(rev, twins: dict) -> dict:
    """{twin: g_i (n_out, n_i)} (module docstring) of the option twins ``twins`` of ``ReverseSetup`` rev."""
    if not twins:
        return {}
    x0 = {i: tw.x0() for i, tw in twins.items()}
    n = sizes(x0)
    N = max(n.values())
    f = lambda xs: {i: named_leaves(twins[i].leaves(x)) for i, x in xs.items()}  # noqa: E731

    def columns(xs, k0):
        def one(k):
            return jax.jvp(f, (xs,), ({i: _unflat(jax.nn.one_hot(k, n[i], dtype=jnp.float64), xs[i])
                                       for i in xs},))[1]

        return jax.vmap(one)(k0 + jnp.arange(CHUNK))

    prog, key = jax.jit(columns), digest(twins)  # ``kept``: the option twins by content
    g = {i: np.zeros((rev.n_out, n[i])) for i in twins}
    pos = None
    for k0 in range(0, N, CHUNK):
        cols = kept(prog, "ad_option_twins_basis", key, (x0, int_arg(k0)))
        if pos is None:  # the leaves' places in S["pres"], from the program's own output (no separate trace)
            pos = {i: {name: rev.offsets[i] + rev.pt.base[i][2].index(name) for name in leaves}
                   for i, leaves in cols.items()}
        for i, leaves in cols.items():
            m = min(CHUNK, n[i] - k0)
            if m <= 0:
                continue
            for name, d in leaves.items():
                g[i][:, k0:k0 + m] += rev._G_pres.dot_many(pos[i][name], np.asarray(d, np.float64)[:m])
    return g
