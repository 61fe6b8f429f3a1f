"""``twin_basis``' pieces on a small function: the linear map restricted to some inputs (``restrict``: equations
whose tangent inputs are all zero left out) and the loops' grouping (``classes``) against ``jax.jacfwd``."""

import jax
import jax.numpy as jnp
import numpy as np

from exposure.risk import twin_basis


@jax.jit
def _nested(u, w):  # a pjit inside the map: its outputs read by its own equations
    return jnp.cumsum(u * w) + jnp.sin(w).sum()


def _f(a, b, c):
    """out "p" reads a and c, "q" reads b only, "r" reads a, b (a scatter of b into a's shape), c not."""
    big = jnp.zeros(6).at[jnp.array([0, 2, 2, 5])].add(b[jnp.array([0, 1, 2, 0])] ** 2)
    return {"p": _nested(jnp.exp(a), c[:4]) * 2.0, "q": jnp.log1p(b * b), "r": a[:, None] * big[None, :]}


def test_restricted_columns_equal_jacfwd():
    xs = [jnp.linspace(0.1, 0.4, 4), jnp.array([0.3, -0.2, 0.5]), jnp.linspace(-1.0, 1.0, 5)]
    y, lin = jax.linearize(_f, *xs)
    names = list(y)
    lj = jax.make_jaxpr(lambda *ts: list(lin(*ts).values()))(*xs)
    loops = twin_basis.classes(lj.jaxpr, names, [x.size for x in xs])
    reach = twin_basis._reads(lj.jaxpr, [frozenset([p]) for p in range(3)])
    assert reach == [{0, 2}, {1}, {0, 1}]  # p, q, r: the inputs their tangents read
    assert sorted(p for _, ps in loops for p in ps) == [0, 1, 2] and len(loops) >= 2

    @jax.jit
    def columns(*v):  # every loop's columns, CHUNK basis vectors at a time (7 and 5 of them: padded chunks)
        return [twin_basis._columns(twin_basis.restrict(lj.jaxpr, lj.consts, ps), [xs[p].size for p in ps], names)
                for _, ps in loops]

    jac = jax.jit(jax.jacfwd(_f, argnums=(0, 1, 2)))(*xs)
    for (_, ps), got in zip(loops, columns(*xs)):
        want = {k: np.concatenate([np.moveaxis(np.asarray(jac[k][p]), -1, 0) for p in ps]) for k in names}
        for k in names:  # outputs outside the loop's own: exactly 0
            np.testing.assert_allclose(np.asarray(got[k]), want[k], rtol=1e-14, atol=1e-14, err_msg=(k, ps))


def test_flat_rows_match_flat():
    """``flat_rows`` (a twin's g_x, leading axis n_out, cut to x0's keys) against ``flat`` (its direction): their
    product is sum over x0's leaves of <g_leaf, d_leaf>; an extra input (an extended twin's R) is left out."""
    rng = np.random.default_rng(3)
    x0 = {"curves": (np.zeros(4), np.zeros(3)), "sigma": (np.zeros(2),), "fxvol": (np.zeros(5),)}
    g = jax.tree_util.tree_map(lambda a: rng.standard_normal((6,) + a.shape), x0)
    g["R"] = rng.standard_normal((6, 2, 2))
    d = jax.tree_util.tree_map(lambda a: rng.standard_normal(a.shape), x0)
    want = sum(a @ b for a, b in zip(jax.tree_util.tree_leaves({k: g[k] for k in x0}), jax.tree_util.tree_leaves(d)))
    np.testing.assert_allclose(twin_basis.flat_rows(g, x0) @ twin_basis.flat(d), want, rtol=1e-13)
