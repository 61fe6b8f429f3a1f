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

``kernel_values`` prices the batches of one kernel class together where the class has ``group_values`` (the
swaption batches: one scan per kind of term over their concatenated entries; the FX option batches: their live
cells as one array), so the reverse step's program does not grow with the number of batches (bench-1k: 4 swaption
and 2 FX option batches; the step's while loops 46 -> 24). Inside loops the copies arrive as per-iteration inputs,
never indexed from a whole copy array (whose transpose adds a full-size cotangent per iteration).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.linear import COUPON_CHUNK, LinearBatch
from exposure.pricing.opt_closed_form import black_log
from exposure.pricing.opt_common import cast_floats
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
        return self.group_values([self], [pre], [copies], n_ns)[0]

    @staticmethod
    def group_values(kernels, pres, copies, n_ns: int) -> list:
        """[V_b (K, n_ns, P)] of FX option batches b: ``_fx_values``' cells (date, column) of every chunk of
        FX_CHUNK columns holding a live option (the cells the pricer evaluates) of all the batches, gathered once
        and evaluated as one (cells, P) array: no loop, so neither the program nor the backward pass (one gather's
        transpose, not a full-size cotangent per date and chunk) grows with the dates or the batches. Each cell's
        value is the pricer's, bit for bit; the other cells are 0, as there."""
        xc = [c[0][0] for c in copies]  # (n_u, 2, K, P) per batch: x_f, x_d of the batch's pair
        dt, (K, P) = xc[0].dtype, xc[0].shape[2:]
        pres = [{k: (v if k == "n_alive" else cast_floats(v, dt)) for k, v in p.items()} for p in pres]
        u0 = np.cumsum([0] + [a.shape[0] for a in xc])  # batch b's copies at u0[b] + u
        n_pad = [p["w"].shape[0] for p in pres]
        c0 = np.cumsum([0] + n_pad)  # batch b's columns at c0[b] + column
        cells_k, cells_c, cells_u = [], [], []
        for k, p, n, c, u in zip(kernels, pres, n_pad, c0, u0):
            n_live = (np.asarray(p["n_alive"]) + FX_CHUNK - 1) // FX_CHUNK * FX_CHUNK  # (K,) columns evaluated
            kk, cc = np.nonzero(np.arange(n)[None, :] < n_live[:, None])
            cells_k.append(kk)
            cells_c.append(cc + c)
            cells_u.append(k.col_ns[cc] + u)
        kk, cc, uu = (np.concatenate(a).astype(np.int32) for a in (cells_k, cells_c, cells_u))
        cell = lambda name: jnp.concatenate([p[name] for p in pres], axis=-1)[..., kk, cc][:, None]  # noqa: E731
        st = lambda f, i: jnp.moveaxis(jnp.concatenate([c[0][f][:, i] for c in copies]), 1, 0)[kk, uu]  # noqa: E731
        ln_f = jnp.log(st(1, 0)) + cell("lnAf") - cell("Bf") * st(0, 0)
        ln_k = jnp.log(st(1, 1)) + cell("lnAd") - cell("Bd") * st(0, 1)
        w = jnp.concatenate([p["w"] for p in pres])[cc][:, None]
        v = cell("wgt") * black_log(ln_f, ln_k, cell("sd"), w)  # (cells, P)
        v = jnp.zeros((K, c0[-1], P), dt).at[kk, cc].add(v, unique_indices=True)
        out = []
        for b, k in enumerate(kernels):
            vb = jnp.take(v[:, c0[b]:c0[b + 1]], jnp.asarray(np.argsort(k.batch.order), dtype=jnp.int32), axis=1)
            out.append(ns_sum(vb, k.batch.netting_set, n_ns))
        return out


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
    # The copies a date reads arrive as the scan's per-date inputs (their cotangents stacked per date), never
    # indexed by date from the whole array inside the loop (whose backward adds a full-size cotangent per date):
    # x, X (and equity spots) at t_k, and x at the fixing date of each distinct coupon exponent (cu_b, cu_j).
    x_j = jnp.moveaxis(xpad_c[:, np.asarray(pre.cu_b), np.asarray(pre.cu_j)], 0, 1)  # (K, n_u, U, P)
    CH = COUPON_CHUNK
    n_cu = pre.cu_b.shape[-1]

    def step(_, inp):
        (k, mom_k, bmid_k, inv_k, ord_k, lim_k, w, cn, sgm, eq_k, uu, ub, uj, ub1, ub2,
         bmid_c, inv_c, ub1_c, ub2_c, xk_c, fxk_c, eqk_c, xj_c) = inp  # xk_c, fxk_c (n_b, n_u, P); xj_c (n_u, U, P)
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
            d = (-_zero(ub1_c[ns, u_])[:, None] * xs - ub1[u_][:, None] * _zero(xj_c[ns, u_])
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
             x_j)
    _, (vals, ratio) = jax.lax.scan(jax.checkpoint(step), None, xs_in)  # residuals: a date's inputs, not its loops
    return jnp.where(jnp.max(ratio) <= 1.0, vals, jnp.nan)


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


def kernel_values(kernels: dict, pres, copies: dict, n_ns: int, index: dict | None = None) -> dict:
    """{b: V_b (K, n_ns, P)} of the kernels {b: kernel}: the batches of a kernel class with ``group_values`` in one
    call (one scan per kind of term over all of them: the program does not grow with the number of batches),
    the others one by one. pres: every batch's prepared data; copies: {b: the kernel's copies}; index: {class name:
    its ``group_index``} (the reverse step's arguments; a class not in it computes its own, baked in)."""
    groups: dict = {}
    for b, k in kernels.items():
        groups.setdefault(type(k), []).append(b)
    out = {}
    for cls, bs in groups.items():
        if hasattr(cls, "group_values"):
            ix = (index or {}).get(cls.__name__)
            out.update(zip(bs, cls.group_values([kernels[b] for b in bs], [pres[b] for b in bs],
                                                [copies[b] for b in bs], n_ns,
                                                **({} if ix is None else {"index": ix}))))
        else:
            out.update({b: kernels[b].netting_values(pres[b], copies[b], n_ns) for b in bs})
    return out


def kernel_for(batch, model):
    """The copy-reading twin of ``batch`` (None: the batch is differentiated once per netting set)."""
    if type(batch) is LinearBatch:
        return LinearKernel(batch, model)
    if type(batch) is FxOptionBatch:
        return FxOptionKernel(batch, model)
    if type(batch) is SwaptionBatch:
        return SwaptionKernel(batch, model)
    return None
