"""What the copy-reading twins (``ns_kernels``, ``ns_swaption``) share: the copies' first-order term and the sum
of trade values into netting sets.

    _zero(a) = a - stop_gradient(a)           0 in value, derivative 1
    ns_sum(v, seg, n)[k, j, p] = sum_{r: seg[r] = j} v[k, r, p]   (K, n_trades, P) -> (K, n, P)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

sg = jax.lax.stop_gradient


def _zero(a):
    """a - stop_gradient(a): 0 in value, derivative 1 (a copy's first-order term)."""
    return a - sg(a)


def ns_sum(v, seg, n: int):
    """``view.netting_sum``'s values (the same additions in the same order: XLA's CPU scatter adds the trades
    of a netting set in trade order, into zeros) as one scatter-add, whose backward pass is one gather.
    ``netting_sum`` unrolls one masked gather per rank of a trade within its netting set (its transposes, a
    scatter each, were the reverse step's largest share of compiled kernels)."""
    seg = np.asarray(seg, dtype=np.int32).reshape(-1)
    return jnp.zeros((v.shape[0], n, v.shape[2]), v.dtype).at[:, jnp.asarray(seg)].add(v)
