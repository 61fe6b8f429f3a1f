"""``twin_reverse.twin_cotangents`` on toy twins: each twin's backward passes run over its live rows only (rows
whose cotangent is 0 on all its leaves, the netting sets without its trades, have g_x = 0 exactly; a twin with none
runs no pass), against g_x[o] = J' G[o] with J = ``jax.jacrev`` of the leaves (every row, dense). Rows: 11 (more
than ROWS: two groups, the last padded). Broken on purpose (the live rows' g_x placed one row down) it fails."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from exposure.risk.compact import CompactPres
from exposure.risk.twin_reverse import twin_cotangents


class _Twin:
    def __init__(self, k):
        self.k = k

    def x0(self):
        return {"u": jnp.linspace(0.1, 0.5, 3) * self.k, "v": (jnp.array([0.3, -0.2]),)}

    def leaves(self, x):
        u, v = x["u"], x["v"][0]
        return {"a": jnp.outer(jnp.sin(u), v) + self.k, "b": jnp.exp(u * v.sum())}


def test_live_rows_equal_dense_jacobian():
    from jax.flatten_util import ravel_pytree

    n = 11
    twins = {0: _Twin(1.0), 1: _Twin(2.0), 2: _Twin(3.0)}
    live = {0: [0, 3, 4, 9], 1: list(range(n)), 2: []}  # twin 2: no live row
    rng = np.random.default_rng(2)
    dense, base = [], {}
    for i, tw in twins.items():
        shp = {k: np.shape(a) for k, a in tw.leaves(tw.x0()).items()}
        base[i] = (None, None, [f"[0]['{k}']" for k in shp])  # the leaves' names as ``named_leaves`` gives them
        for k, s in shp.items():
            G = np.zeros((n,) + s)
            G[live[i]] = rng.standard_normal((len(live[i]),) + s)
            dense.append(G)
    offsets = np.cumsum([0] + [len(b[2]) for b in base.values()])
    rev = SimpleNamespace(pt=SimpleNamespace(base=base), offsets=offsets, n_out=n, _G_pres=CompactPres.of(dense, n))
    got = twin_cotangents(rev, twins)
    for i, tw in twins.items():
        flat0, unravel = ravel_pytree(tw.x0())
        J = jax.jacrev(lambda v: tw.leaves(unravel(v)))(flat0)
        want = sum(dense[offsets[i] + j].reshape(n, -1) @ np.asarray(J[k]).reshape(-1, flat0.size)
                   for j, k in enumerate(("a", "b")))
        g = np.concatenate([np.asarray(a).reshape(n, -1) for a in jax.tree_util.tree_leaves(got[i])], axis=1)
        assert jax.tree_util.tree_structure(got[i]) == jax.tree_util.tree_structure(tw.x0())
        np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-14 * np.abs(want).max(initial=1.0))
        dead = [o for o in range(n) if o not in live[i]]
        assert not np.any(g[dead]) and np.all(np.any(g[live[i]] != 0, axis=1))
