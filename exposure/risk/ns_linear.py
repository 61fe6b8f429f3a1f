"""The linear twin of ``ns_kernels``: ``LinearBatch`` with per-netting-set copies of the state, fx and equity spots
of its currencies and of its shared leaves (bmid, inv_scale, cu_b1, cu_b2), in one scan over the dates.

    V[k, u, p] = sum_b X_b,u(t_k) [H_b,u(xi) exp(-bmid x) + sum_c w_c E_c (1 + d_c)] + sum_e eq_e,u S_e,u X_e,u

with H the moment series by Horner (``_horner``: its backward pass as products with the powers of the shared
state), E_c = exp(-b1 x(s) - b2 x(t_k)) a coupon's distinct exponent and d_c its copies' first-order term (0 in
value, ``ns_kernels``). The coupons read x(s) in the copies of the (netting set, exponent) pairs of their date
(``LinearKernel.group_index``: the reverse step's arguments, not constants of its program).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.linear import COUPON_CHUNK, LinearBatch
from exposure.risk.ns_common import _zero, ns_sum, sg

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

    @staticmethod
    def group_index(kernels, pres, K: int) -> list:
        """Per batch its ``_fixing_pairs`` (NumPy; None: a batch without currencies), the step's arguments."""
        return [_fixing_pairs(p, len(k.ns_global)) if p.ccy_idx else None for k, p in zip(kernels, pres)]

    @staticmethod
    def group_values(kernels, pres, copies, n_ns: int, index: list | None = None) -> list:
        """[V_b (K, n_ns, P)]: each batch's ``netting_values`` with its pairs from index (``group_index``)."""
        index = LinearKernel.group_index(kernels, pres, 0) if index is None else index
        return [k.netting_values(p, c, n_ns, ix) for k, p, c, ix in zip(kernels, pres, copies, index)]

    def netting_values(self, pre, copies, n_ns: int, pairs=None):
        (xc, fxc, eqc, fxec), sh = copies  # view copies (n_u, n_b|n_e, K, P); sh: shared leaves' copies
        if not pre.ccy_idx:
            return jnp.zeros((xc.shape[2], n_ns, xc.shape[3]), xc.dtype)
        pairs = _fixing_pairs(pre, xc.shape[0]) if pairs is None else pairs
        v = _linear_ns(pre, xc, fxc, eqc * fxec, sh, pairs)
        if pre.ns_global == tuple(range(n_ns)):
            return v
        return ns_sum(v, pre.ns_global, n_ns)


def _linear_ns(pre, xc, fxc, eqbc, sh, pairs):
    """(K, n_u, P): ``linear._evaluate``'s netting values, column u reading copy u (module docstring); pairs:
    ``_fixing_pairs``."""
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
    # The copies a date reads arrive as the scan's per-date inputs (their cotangents stacked per date), never
    # indexed by date from the whole array inside the loop (whose backward adds a full-size cotangent per date):
    # x, X (and equity spots) at t_k, and x at the fixing date of each distinct coupon exponent (cu_b, cu_j) in
    # the copies of the netting sets whose coupons read it (``_fixing_pairs``: not every copy of every exponent).
    CH = COUPON_CHUNK
    n_cu = pre.cu_b.shape[-1]
    cq, pu, pb, pj = pairs
    x_q = xpad_c[pu, pb, pj]  # (K, Q, P)

    def step(_, inp):
        (k, mom_k, bmid_k, inv_k, ord_k, lim_k, w, cn, sgm, eq_k, uu, ub, uj, ub1, ub2,
         bmid_c, inv_c, ub1_c, ub2_c, xk_c, fxk_c, eqk_c, xq_c, qq) = inp  # xk_c, fxk_c (n_b, n_u, P); xq_c (Q, P)
        xk = xb[:, k]  # (n_b, P)
        xi = xk * inv_k[:, None]
        xi_c = xk_c * inv_c.T[:, :, None]
        n_top = jnp.where(jnp.any(jnp.abs(xi) > lim_k[:, None]), full, ord_k)
        v = _horner(mom_k, xi_c, n_top) * jnp.exp(-bmid_c.T[:, :, None] * xk_c)

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
            d = (-_zero(ub1_c[ns, u_])[:, None] * xs - ub1[u_][:, None] * _zero(xq_c[sl(qq)])
                 - _zero(ub2_c[ns, u_])[:, None] * xt - ub2[u_][:, None] * _zero(xk_c[b, ns]))
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
            for e in range(n_e):
                val = val + eq_k[e][:, None] * eqk_c[e]
        return None, (val, jnp.max(jnp.abs(xi), initial=0.0))

    bmid_c, inv_c = jnp.moveaxis(cast(sh["bmid"]), 0, 1), jnp.moveaxis(cast(sh["inv_scale"]), 0, 1)  # (K, n_u, n_b)
    ub1_c, ub2_c = jnp.moveaxis(cast(sh["cu_b1"]), 0, 1), jnp.moveaxis(cast(sh["cu_b2"]), 0, 1)  # (K, n_u, U)
    xs_in = (jnp.arange(K), mom, bmid, inv_s, jnp.asarray(pre.order_k, jnp.int32), xi_lim, cc_w, pre.cc_n,
             pre.cc_ns, eqc, pre.cc_u, pre.cu_b, pre.cu_j, cu_b1, cu_b2, bmid_c, inv_c, ub1_c, ub2_c,
             jnp.moveaxis(xc, (2, 0), (0, 2)), jnp.moveaxis(fxc, (2, 0), (0, 2)), jnp.moveaxis(eqbc, (2, 0), (0, 2)),
             x_q, cq)
    _, (vals, ratio) = jax.lax.scan(jax.checkpoint(step), None, xs_in)  # residuals: a date's inputs, not its loops
    return jnp.where(jnp.max(ratio) <= 1.0, vals, jnp.nan)


def _fixing_pairs(pre, n_u: int):
    """The (netting set, coupon exponent) pairs each date's coupons read: cq (K, C) a coupon slot's pair, and
    per date and pair (K, Q) the copy u, currency and fixing date (cu_b, cu_j) of its x (pairs past a date's
    own: the zero pad date K, read by no coupon). bench-1k: Q = 145 of n_u U = 423."""
    K, n_cu = pre.cu_b.shape
    key = (np.asarray(pre.cc_ns) % n_u) * n_cu + np.asarray(pre.cc_u)  # (K, C) every slot, padding included
    uniq = [np.unique(row, return_inverse=True) for row in key]
    Q = max(len(un) for un, _ in uniq)
    cq = np.stack([inv.reshape(-1) for _, inv in uniq]).astype(np.int32)
    pu, pr = np.zeros((K, Q), np.int32), np.zeros((K, Q), np.int32)
    live = np.zeros((K, Q), bool)
    for k, (un, _) in enumerate(uniq):
        pu[k, :len(un)], pr[k, :len(un)], live[k, :len(un)] = un // n_cu, un % n_cu, True
    rows = np.arange(K)[:, None]
    pb = np.asarray(pre.cu_b)[rows, pr].astype(np.int32)
    pj = np.where(live, np.asarray(pre.cu_j)[rows, pr], K).astype(np.int32)
    return cq, pu, pb, pj


@jax.custom_vjp
def _horner(mom, xi, n_top):
    """v = sum_{n <= n_top} m_n xi^n by Horner (``linear._evaluate``'s order of operations: the same bits);
    mom (n_b, N + 1, n_u) the moments by power, xi (n_b, n_u, P) the netting sets' copies of one state (equal
    along axis 1: the backward pass reads copy 0's powers), n_top the date's order (an integer).

    The loop stops at n_top (the guarded steps above it left the accumulator as it was). Its backward pass is
    written out as two products with the powers pw_n = xi^n (n_b, N + 1, P) of the shared state:
    d/dm_n = [n <= n_top] sum_p g pw_n, d/dxi = g sum_{1 <= n <= n_top} n m_n pw_{n-1} (autodiff's transpose of
    the guarded loop kept every step's accumulator; a loop over the powers per copy cost n_u times the powers)."""
    coef = lambda n: jax.lax.dynamic_index_in_dim(mom, n, axis=1, keepdims=False)[:, :, None]  # noqa: E731
    init = jnp.broadcast_to(coef(n_top), xi.shape)
    return jax.lax.fori_loop(1, n_top + 1, lambda i, acc: acc * xi + coef(n_top - i), init)


def _horner_fwd(mom, xi, n_top):
    return _horner(mom, xi, n_top), (mom, xi, n_top)


def _horner_bwd(res, g):
    mom, xi, n_top = res
    n = jnp.arange(mom.shape[1])
    live = (n <= n_top).astype(xi.dtype)  # (N + 1,)
    x0 = xi[:, 0]  # (n_b, P): the copies' common value
    pw = jnp.cumprod(jnp.concatenate([jnp.ones_like(x0)[:, None], jnp.broadcast_to(
        x0[:, None], (x0.shape[0], mom.shape[1] - 1, x0.shape[1]))], axis=1), axis=1)  # (n_b, N + 1, P)
    gm = live[None, :, None] * jnp.einsum("bup,bnp->bnu", g, pw)
    dcoef = (live * n)[None, 1:, None] * mom[:, 1:]  # (n_b, N, n_u)
    dv = jnp.einsum("bnu,bnp->bup", dcoef, pw[:, :-1])
    return gm, g * dv, None


_horner.defvjp(_horner_fwd, _horner_bwd)
