"""Pricers that read per-netting-set copies of what all their trades share, for ``reverse_ns``.

A batch's netting values V[k, j, p] = sum_{r in j} v_r(view, pre) read the view (x, fx, eq of the path) and a few
pricing arrays shared by trades of several netting sets (linear: B_mid, 1/s per date and currency, the distinct
coupon exponents b1, b2; swaptions: the bond blocks p, q of ``opt_common.shared_bond_entries``). A reverse pass
with cotangent c[k, j, p] then returns d/dview = sum_j (...): the netting sets are mixed. Here the same values are
computed with netting set u's trades reading copy u of every shared input (``copies``: arrays (n_u, ...) equal to
the shared one), so that one reverse pass gives d <c, V> / d copy_u = the gradient of netting set u's part alone:
n_ns cotangents cost one pass.

The values are the batch's own, bit for bit: the same operations on the same numbers, the copies read where the
original broadcasts the shared array. Where the original evaluates an expensive shared term once (a distinct
coupon exponent E = exp(-b1 x(s) - b2 x(t_k)) or a bond block exp(p - q x), shared by several netting sets) the
copy enters to first order, E (1 + d), d = -(b1_u - b1) x(s) - b1 (x_u(s) - x(s)) - ..., d = 0 in value (so
E (1 + d) = E exactly) with the exact first derivative.

Each kernel states ``separable``: for every other float leaf of ``prepare``'s output, the netting set each
element belongs to (its gradient from the shared pass is masked with it); a leaf not listed must not reach the
values (its gradient is 0 in both forms). The swaption twin is in ``ns_swaption``; ``ns_common.ns_sum`` sums
the trades into netting sets (one scatter, not ``view.netting_sum``'s unrolled gathers: the same bits).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.linear import COUPON_CHUNK, LinearBatch
from exposure.pricing.opt_common import black_log, cast_floats
from exposure.pricing.opt_fx import FX_CHUNK, FxOptionBatch
from exposure.pricing.opt_swaption import SwaptionBatch
from exposure.risk.ns_common import _zero, ns_sum, sg
from exposure.risk.ns_swaption import SwaptionKernel



class FxOptionKernel:
    """``FxOptionBatch`` with per-netting-set copies of x_f, x_d, X_f, X_d (``_fx_values``, static loops)."""

    shared = ()

    def __init__(self, batch: FxOptionBatch, model):
        self.batch = batch
        self.ns_global, local = np.unique(batch.netting_set, return_inverse=True)
        n = len(batch.ids)
        n_pad = n + (-n % FX_CHUNK)
        self.col_ns = np.zeros(n_pad, dtype=np.int32)  # local netting set of each sorted column (pad: 0)
        self.col_ns[:n] = local.reshape(-1)[batch.order]
        cur = tuple(model.currencies)
        self.fi, self.di = cur.index(batch.foreign), cur.index(batch.domestic)
        self.view_reads = (("x", (self.fi, self.di)), ("fx", (self.fi, self.di)))

    def separable(self, pre) -> dict:
        col = self.ns_global[self.col_ns]
        return {(k,): np.broadcast_to(col, np.shape(v)) for k, v in pre.items() if k != "n_alive"}

    def netting_values(self, pre, copies, n_ns: int):
        (xc, fxc), _ = copies  # (n_u, 2, K, P) each
        pre = cast_floats(pre, xc.dtype)
        yc = jnp.log(fxc)
        per_date = {k: pre[k] for k in ("lnAf", "Bf", "lnAd", "Bd", "sd", "wgt", "n_alive")}
        per_date.update(xf=jnp.moveaxis(xc[:, 0], 1, 0), xd=jnp.moveaxis(xc[:, 1], 1, 0),
                        yf=jnp.moveaxis(yc[:, 0], 1, 0), yd=jnp.moveaxis(yc[:, 1], 1, 0))  # (K, n_u, P)
        n_pad, P, CH = pre["w"].shape[0], xc.shape[-1], FX_CHUNK
        col_ns = jnp.asarray(self.col_ns)

        def one_date(_, c):
            def chunk(j, out):
                sl = lambda a: jax.lax.dynamic_slice_in_dim(a, j * CH, CH)[:, None]  # noqa: E731
                u = jax.lax.dynamic_slice_in_dim(col_ns, j * CH, CH)
                ln_f = c["yf"][u] + sl(c["lnAf"]) - sl(c["Bf"]) * c["xf"][u]
                ln_k = c["yd"][u] + sl(c["lnAd"]) - sl(c["Bd"]) * c["xd"][u]
                v = sl(c["wgt"]) * black_log(ln_f, ln_k, sl(c["sd"]), sl(pre["w"]))
                return jax.lax.dynamic_update_slice_in_dim(out, v, j * CH, axis=0)

            n_chunks = (c["n_alive"] + CH - 1) // CH
            out = jnp.zeros((n_pad, P), xc.dtype)
            out = jax.lax.fori_loop(0, n_pad // CH, lambda j, o: jnp.where(j < n_chunks, chunk(j, o), o), out)
            return None, out

        v = jax.lax.scan(one_date, None, per_date)[1]
        v = jnp.take(v, jnp.asarray(np.argsort(self.batch.order), dtype=jnp.int32), axis=1)
        return ns_sum(v, self.batch.netting_set, n_ns)


class LinearKernel:
    """``LinearBatch.netting_values`` (``linear._evaluate`` with static loops, poisoned) with per-netting-set
    copies of x, X (and equity spots) of the batch's currencies and of bmid, inv_scale, cu_b1, cu_b2."""

    shared = (("bmid",), ("inv_scale",), ("cu_b1",), ("cu_b2",))

    def __init__(self, batch: LinearBatch, model):
        self.batch = batch
        self.model = model
        self.ns_global = None  # from pre (``prepare`` decides the batch's netting sets)

    def bind(self, pre):
        self.ns_global = np.asarray(pre.ns_global, dtype=np.int64)
        self.view_reads = (("x", tuple(pre.ccy_idx)), ("fx", tuple(pre.ccy_idx)), ("eq", tuple(pre.eq_idx)),
                           ("fx", tuple(pre.eq_ccy_idx)))
        return self

    def separable(self, pre) -> dict:
        g = self.ns_global
        n_u = g.size
        cc = g[np.asarray(pre.cc_ns) % n_u]
        return {("mom_ns",): np.broadcast_to(g, np.shape(pre.mom_ns)),
                ("eq_ns",): np.broadcast_to(g, np.shape(pre.eq_ns)), ("cc_w",): cc}

    def netting_values(self, pre, copies, n_ns: int):
        (xc, fxc, eqc, fxec), sh = copies  # view copies (n_u, n_b|n_e, K, P); sh: shared leaves' copies
        if not pre.ccy_idx:
            return jnp.zeros((xc.shape[2], n_ns, xc.shape[3]), xc.dtype)
        v = _linear_ns(pre, xc, fxc, eqc * fxec, sh)
        if pre.ns_global == tuple(range(n_ns)):
            return v
        return ns_sum(v, pre.ns_global, n_ns)


def _linear_ns(pre, xc, fxc, eqbc, sh):
    """(K, n_u, P): ``linear._evaluate``'s netting values, column u reading copy u (module docstring)."""
    dt = xc.dtype
    n_u, nb, K, P = xc.shape
    cast = lambda a: jnp.asarray(a, dt)  # noqa: E731
    mom = cast(pre.mom_ns)
    full = mom.shape[2] - 1
    inv_s, bmid = sg(cast(pre.inv_scale)), sg(cast(pre.bmid))  # shared: their gradient goes to the copies
    cu_b1, cu_b2 = sg(cast(pre.cu_b1)), sg(cast(pre.cu_b2))
    xi_lim, cc_w, eqc = cast(pre.xi_lim), cast(pre.cc_w), cast(pre.eq_ns)
    n_e = eqbc.shape[1]
    xb = sg(xc[0])  # (n_b, K, P): the shared state (every copy equals it)
    xpad = jnp.concatenate([xb, jnp.zeros((nb, 1, P), dt)], axis=1)
    xpad_c = jnp.concatenate([xc, jnp.zeros((n_u, nb, 1, P), dt)], axis=2)  # (n_u, n_b, K+1, P)
    CH = COUPON_CHUNK
    n_cu = pre.cu_b.shape[-1]

    def step(_, inp):
        (k, mom_k, bmid_k, inv_k, ord_k, lim_k, w, cn, sgm, eq_k, uu, ub, uj, ub1, ub2,
         bmid_c, inv_c, ub1_c, ub2_c) = inp
        xk = xb[:, k]  # (n_b, P)
        xk_c = jnp.moveaxis(xc[:, :, k], 0, 1)  # (n_b, n_u, P)
        fxk_c = jnp.moveaxis(fxc[:, :, k], 0, 1)
        xi = xk * inv_k[:, None]
        xi_c = xk_c * inv_c.T[:, :, None]
        n_top = jnp.where(jnp.any(jnp.abs(xi) > lim_k[:, None]), full, ord_k)
        coef = lambda n: jax.lax.dynamic_index_in_dim(mom_k, n, axis=1, keepdims=False)[:, :, None]  # noqa: E731
        init = jnp.broadcast_to(coef(n_top), (nb, n_u, P))
        v = jax.lax.fori_loop(1, full + 1, lambda i, acc: jnp.where(i <= n_top, acc * xi_c + coef(n_top - i), acc),
                              init)
        v = v * jnp.exp(-bmid_c.T[:, :, None] * xk_c)

        ex = jnp.exp(-ub1[:, None] * xpad[ub, uj] - ub2[:, None] * xk[ub])  # (U, P), shared

        def chunk(i, acc):
            sl = lambda a: jax.lax.dynamic_slice_in_dim(a, i * CH, CH)  # noqa: E731
            u_ = sl(uu)
            e = jnp.broadcast_to(ex[0][None, :], (CH, P))
            for r in range(1, n_cu):
                e = jnp.where(u_[:, None] == r, ex[r][None, :], e)
            seg = sl(sgm)
            ns = seg % n_u  # the coupon's local netting set (its segment is b n_u + ns)
            b, j = ub[u_], uj[u_]
            xs, xt = xpad[b, j], xk[b]  # (CH, P)
            d = (-_zero(ub1_c[ns, u_])[:, None] * xs - ub1[u_][:, None] * _zero(xpad_c[ns, b, j])
                 - _zero(ub2_c[ns, u_])[:, None] * xt - ub2[u_][:, None] * _zero(xpad_c[ns, b, k]))
            cv = sl(w)[:, None] * (e * (1.0 + d))
            return acc + jax.ops.segment_sum(cv, seg, num_segments=nb * n_u, indices_are_sorted=True)

        n_chunks = (cn + CH - 1) // CH
        cpn = jax.lax.fori_loop(0, -(-w.shape[0] // CH), lambda i, acc: jnp.where(i < n_chunks, chunk(i, acc), acc),
                                jnp.zeros((nb * n_u, P), dt))
        v = v + cpn.reshape(nb, n_u, P)
        val = v[0] * fxk_c[0]
        for j in range(1, nb):
            val = val + v[j] * fxk_c[j]
        if n_e:
            eqk_c = jnp.moveaxis(eqbc[:, :, k], 0, 1)  # (n_e, n_u, P)
            for e in range(n_e):
                val = val + eq_k[e][:, None] * eqk_c[e]
        return None, (val, jnp.max(jnp.abs(xi), initial=0.0))

    bmid_c, inv_c = jnp.moveaxis(cast(sh["bmid"]), 0, 1), jnp.moveaxis(cast(sh["inv_scale"]), 0, 1)  # (K, n_u, n_b)
    ub1_c, ub2_c = jnp.moveaxis(cast(sh["cu_b1"]), 0, 1), jnp.moveaxis(cast(sh["cu_b2"]), 0, 1)  # (K, n_u, U)
    xs_in = (jnp.arange(K), mom, bmid, inv_s, jnp.asarray(pre.order_k, jnp.int32), xi_lim, cc_w, pre.cc_n,
             pre.cc_ns, eqc, pre.cc_u, pre.cu_b, pre.cu_j, cu_b1, cu_b2, bmid_c, inv_c, ub1_c, ub2_c)
    _, (vals, ratio) = jax.lax.scan(jax.checkpoint(step), None, xs_in)  # residuals: a date's inputs, not its loops
    return jnp.where(jnp.max(ratio) <= 1.0, vals, jnp.nan)


def kernel_for(batch, model):
    """The copy-reading twin of ``batch`` (None: the batch is differentiated once per netting set)."""
    if type(batch) is LinearBatch:
        return LinearKernel(batch, model)
    if type(batch) is FxOptionBatch:
        return FxOptionKernel(batch, model)
    if type(batch) is SwaptionBatch:
        return SwaptionKernel(batch, model)
    return None
