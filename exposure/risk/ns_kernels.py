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
values (its gradient is 0 in both forms). The linear twin is in ``ns_linear``, the swaption twin in
``ns_swaption``; ``ns_common.ns_sum`` sums the trades into netting sets (one scatter, not ``view.netting_sum``'s
unrolled gathers: the same bits).

``kernel_values`` prices the batches of one kernel class together where the class has ``group_values`` (the
swaption batches: one scan per kind of term over their concatenated entries; the FX option batches: their live
cells as one array; all pairs are one batch today), so the reverse step's program does not grow with the number of
batches (bench-1k: 4 swaption and then 2 FX option batches; the step's while loops 46 -> 24). Inside loops the copies
arrive as per-iteration inputs, never indexed from a whole copy array (whose transpose adds a full-size cotangent per iteration).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from exposure.pricing.linear import LinearBatch
from exposure.pricing.opt_closed_form import black_log
from exposure.pricing.opt_common import cast_floats
from exposure.pricing.opt_fx import FX_CHUNK, FxOptionBatch
from exposure.pricing.opt_swaption import SwaptionBatch
from exposure.risk.ns_common import ns_sum
from exposure.risk.ns_linear import LinearKernel
from exposure.risk.ns_swaption import SwaptionKernel



class FxOptionKernel:
    """``FxOptionBatch`` with per-netting-set copies of x and X of the batch's currencies (``ccys``)."""

    shared = ()

    def __init__(self, batch: FxOptionBatch, model):
        self.batch = batch
        self.ns_global, local = np.unique(batch.netting_set, return_inverse=True)
        n = len(batch.ids)
        n_pad = n + (-n % FX_CHUNK)
        self.col_ns = np.zeros(n_pad, dtype=np.int32)  # local netting set of each sorted column (pad: 0)
        self.col_ns[:n] = local.reshape(-1)[batch.order]
        cur = tuple(model.currencies)
        self.used = tuple(cur.index(c) for c in batch.ccys)
        self.view_reads = (("x", self.used), ("fx", self.used))

    def separable(self, pre) -> dict:
        col = self.ns_global[self.col_ns]
        return {(k,): np.broadcast_to(col, np.shape(v)) for k, v in pre.items()
                if jnp.issubdtype(v.dtype, jnp.floating)}

    def netting_values(self, pre, copies, n_ns: int):
        return self.group_values([self], [pre], [copies], n_ns)[0]

    @staticmethod
    def group_values(kernels, pres, copies, n_ns: int) -> list:
        """[V_b (K, n_ns, P)] of FX option batches b: the live cells (date, column) of all the batches (the
        pricer's: column j - g0[g] < n_alive[k, g] of its pair g), gathered once and evaluated as one (cells, P)
        array: no loop, so neither the program nor the backward pass (one gather's transpose, not a full-size
        cotangent per date and chunk) grows with the dates, the pairs or the batches. Each cell's value is the
        pricer's, bit for bit; the other cells are 0, as there."""
        xc = [c[0][0] for c in copies]  # (n_u, U, K, P) per batch: x of the batch's currencies
        dt, (K, P) = xc[0].dtype, xc[0].shape[2:]
        pres = [{k: (cast_floats(v, dt) if jnp.issubdtype(v.dtype, jnp.floating) else v) for k, v in p.items()}
                for p in pres]
        r0 = np.cumsum([0] + [a.shape[0] * a.shape[1] for a in xc])  # batch b's (copy, currency) rows from r0[b]
        n_pad = [p["w"].shape[0] for p in pres]
        c0 = np.cumsum([0] + n_pad)  # batch b's columns at c0[b] + column
        cells_k, cells_c, cells_f, cells_d = [], [], [], []
        for k, p, n, c, r, a in zip(kernels, pres, n_pad, c0, r0, xc):
            n_alive, g0 = np.asarray(p["n_alive"]), np.asarray(p["g0"])
            cols = np.arange(n)
            g = np.searchsorted(g0, cols, side="right") - 1  # each column's pair
            kk, cc = np.nonzero((cols - g0[g])[None, :] < n_alive[:, g])
            row = r + k.col_ns[cc] * a.shape[1]  # its netting set's copy
            cells_k.append(kk)
            cells_c.append(cc + c)
            cells_f.append(row + np.asarray(p["fpos"])[cc])
            cells_d.append(row + np.asarray(p["dpos"])[cc])
        kk, cc, ff, dd = (np.concatenate(a).astype(np.int32) for a in (cells_k, cells_c, cells_f, cells_d))
        cell = lambda name: jnp.concatenate([p[name] for p in pres], axis=-1)[..., kk, cc][:, None]  # noqa: E731
        # (K, rows, P): every batch's copies, row = copy u x U + currency position
        st = lambda f: jnp.moveaxis(jnp.concatenate([c[0][f].reshape((-1,) + c[0][f].shape[2:]) for c in copies]),
                                    1, 0)  # noqa: E731
        xs, fs = st(0), st(1)
        ln_f = jnp.log(fs[kk, ff]) + cell("lnAf") - cell("Bf") * xs[kk, ff]
        ln_k = jnp.log(fs[kk, dd]) + cell("lnAd") - cell("Bd") * xs[kk, dd]
        w = jnp.concatenate([p["w"] for p in pres])[cc][:, None]
        v = cell("wgt") * black_log(ln_f, ln_k, cell("sd"), w)  # (cells, P)
        v = jnp.zeros((K, c0[-1], P), dt).at[kk, cc].add(v, unique_indices=True)
        out = []
        for b, k in enumerate(kernels):
            vb = jnp.take(v[:, c0[b]:c0[b + 1]], jnp.asarray(np.argsort(k.batch.order), dtype=jnp.int32), axis=1)
            out.append(ns_sum(vb, k.batch.netting_set, n_ns))
        return out


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
