"""The collateral and sums of ``reverse_ns``' shared reverse pass, differentiated once per measure.

    f[m, j] = sum_p mask_p sum_k w^m_{j,k} y^m_{k,j,p},  y from X, F = collateralise(V, fx_ns[j]) / num_ns[j]

with netting set j reading its own copies fx_ns[j], num_ns[j] of the fx rates and the numeraire (equal to the
shared ones): the copies' cotangents of one backward pass per measure are the outputs' own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.aggregation.collateral_jax import collateralise
from exposure.risk.reverse import BASIS

sg = jax.lax.stop_gradient


def _functionals(V, fx_ns, num_ns, w, static, mask, measures, smooth):
    """f (n_meas, n_ns) with netting set j reading its own copies fx_ns[j], num_ns[j] (n_ns, ...) of the fx
    rates and the numeraire (equal to the shared ones): one vjp per measure separates the netting sets."""
    X, F = collateralise(static.layout, V, None, smooth, fx_ns=fx_ns)
    inv = 1.0 / jnp.moveaxis(num_ns[:, static.layout.vi], 0, 1)  # (K_val, n_ns, P)
    pos = jnp.maximum(X, 0.0)
    y = {"EPE": pos * inv, "ENE": (pos - X) * inv,
         "FundingEPE": jnp.maximum(F, 0.0) * inv, "FundingENE": jnp.maximum(-F, 0.0) * inv}
    out = []
    for m in measures:
        per_path = jnp.sum(w[m].T[:, :, None] * y[BASIS[m]], axis=0)
        out.append(jnp.sum(per_path * mask[None, :], axis=-1))
    return jnp.stack(out)


def functional_cotangents(V, fx, num, w, static, mask, measures, smooth):
    """(f (n_meas, n_ns), ct_V (n_meas, K, n_ns, P), ct_fx (n_out, n_ccy, K, P), ct_num (n_out, K, P),
    g_w {m: (n_out, n_ns, K_val)}): f = ``_functionals`` and, for every output o = (m, j) = m n_ns + j, the
    cotangents d f_o / d(fx, num, w); ct_V[m] = sum_j d f_(m,j) / dV (column j is output (m, j)'s alone).

    One backward per measure, not per output: netting set j reads its own copies of fx and the numeraire, so
    the copies' cotangents are the outputs' own; w[m]'s row j is output (m, j)'s."""
    n_ns, n_meas = static.n_ns, len(measures)
    n_out = n_meas * n_ns
    o_m, o_j = np.divmod(np.arange(n_out), n_ns)
    fx_ns = jnp.broadcast_to(sg(fx)[None], (n_ns,) + fx.shape)
    num_ns = jnp.broadcast_to(sg(num)[None], (n_ns,) + num.shape)
    f, vjp_h = jax.vjp(lambda V_, fx_, num_, w_: _functionals(V_, fx_, num_, w_, static, mask, measures, smooth),
                       V, fx_ns, num_ns, w)
    basis = jnp.repeat(jnp.eye(n_meas, dtype=f.dtype)[:, :, None], n_ns, axis=2)  # (n_meas, n_meas, n_ns)
    ct_V, ct_fx, ct_num, g_wm = _per_measure(vjp_h, basis)  # (n_meas, K, n_ns, P); (n_meas, n_ns, ...)
    g_w = {}
    for q, m in enumerate(measures):
        own = (o_m == q)[:, None] & (np.arange(n_ns)[None, :] == o_j[:, None])  # (n_out, n_ns)
        g_w[m] = jnp.where(jnp.asarray(own)[:, :, None], g_wm[m][q][None], 0.0)
    return f, ct_V, ct_fx.reshape((n_out,) + fx.shape), ct_num.reshape((n_out,) + num.shape), g_w


def _per_measure(fn, ct):
    """fn over ct's leading (measure) axis: vmapped, or with one measure called once (a vmap of size 1 still
    gives every gather and scatter of the kernels' backward a batch axis: 4% of the step's MLIR on bench-1k)."""
    if ct.shape[0] != 1:
        return jax.vmap(fn)(ct)
    return jax.tree_util.tree_map(lambda a: a[None], fn(ct[0]))
