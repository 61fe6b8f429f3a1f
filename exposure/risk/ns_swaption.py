"""The swaption twin of ``ns_kernels``: ``SwaptionBatch`` with per-netting-set copies, and the Jamshidian terms'
closed-form backward pass.

An option entry's term is v = w B(1 + d) erfc(a0 + a1 x_e) (``opt_swaption``: the coupon bond's share of the
Jamshidian sum, B = exp(p - q x) its block's bond, d the copies' first-order term, 0 in value; see
``ns_kernels``). Its derivatives, with E = erfc(z), E' = -2/sqrt(pi) exp(-z^2), z = a0 + a1 x_e, cotangent g
(entries x paths), are per entry sums over the paths

    d/dw = sum_p g B E,  d/dp_u = w sum_p g B E,  d/dq_u = -w sum_p g B E x_b,
    d/da0 = w sum_p g B E',  d/da1 = w sum_p g B E' x_e,  d/dx_e = w (a1 E' - q E) g B  (per path),

written out (``_bond_terms``, a jax.custom_vjp) instead of autodiff's transposed program of the expression; the
flows' terms w B (physical settlement) the same with E = 1, E' = 0.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.normal_cdf import erfc
from exposure.pricing.opt_common import CHUNK, accumulate, cast_floats
from exposure.pricing.opt_swaption import SwaptionBatch
from exposure.pricing.swaption_kernels import _flow_terms, _running_terms
from exposure.risk.ns_common import ns_sum, sg

_TWO_OVER_SQRT_PI = 1.1283791670955126


class SwaptionKernel:
    """``SwaptionBatch`` (``_physical_values`` / ``_cash_values``) with per-netting-set copies of x, X of the
    currency and of the shared bond blocks' p, q: an entry reads its trade's netting set's copy; a block's bond
    exp(p - q x), evaluated once for entries of several netting sets, takes the copies to first order."""

    shared = (("opt_bonds", "p"), ("opt_bonds", "q"), ("flow_bonds", "p"), ("flow_bonds", "q"))

    def __init__(self, batch: SwaptionBatch, model):
        self.batch = batch
        self.ns_global, local = np.unique(batch.netting_set, return_inverse=True)
        self.trade_ns = local.reshape(-1).astype(np.int32)  # local netting set of each trade
        ci = tuple(model.currencies).index(batch.currency)
        self.view_reads = (("x", (ci,)), ("fx", (ci,)))

    def separable(self, pre) -> dict:
        tr = self.ns_global[self.trade_ns]
        out = {("sign",): tr}
        for name, ent in pre.items():
            if isinstance(ent, dict) and "i" in ent and name not in ("opt_bonds", "flow_bonds"):
                for k, a in ent.items():
                    if np.issubdtype(np.asarray(a).dtype, np.floating):
                        out[(name, k)] = tr[np.asarray(ent["i"])]
        return out

    def netting_values(self, pre, copies, n_ns: int):
        (xc, fxc), sh = copies
        xc, fxc = xc[:, 0], fxc[:, 0]  # (n_u, K, P)
        pre = cast_floats(pre, xc.dtype)
        n_u, K, P = xc.shape
        n = pre["sign"].shape[0]
        x = sg(xc[0])
        flat = xc.reshape(n_u * K, P)
        tns = jnp.asarray(self.trade_ns)
        xe = lambda i, k: flat[tns[i] * K + k]  # noqa: E731  the entry's own netting set's copy at date k
        acc = _shared_ns(jnp.zeros((K * n, P), x.dtype), x, xe, tns, pre["opt"], pre["opt_bonds"],
                         sh["opt_bonds/p"], sh["opt_bonds/q"], True)
        fx_tr = jnp.moveaxis(fxc[tns], 0, 1)  # (K, n, P)
        if not self.batch.physical:
            v = acc.reshape(K, n, P) * pre["sign"][None, :, None] * fx_tr
            return ns_sum(v, self.batch.netting_set, n_ns)
        swap_ex = accumulate(jnp.zeros((n, P), x.dtype), x, pre["ex_flows"], _flow_terms())
        swap_ex = accumulate(swap_ex, x, pre["ex_run"], _running_terms(x))
        ind = (swap_ex > 0.0).astype(x.dtype)  # the exercise decision: no derivative (pathwise)
        acc = _shared_ns(acc, x, xe, tns, pre["flows"], pre["flow_bonds"], sh["flow_bonds/p"], sh["flow_bonds/q"],
                         False)
        ent = pre["run"]
        L = ent["row"].shape[0]
        chunks = jax.tree_util.tree_map(lambda a: a.reshape((L // CHUNK, CHUNK) + a.shape[1:]), ent)

        @jax.checkpoint  # as ``_shared_ns``: no (CHUNK, P) residual per chunk
        def terms(c):
            col = lambda k: c[k][:, None]  # noqa: E731
            return col("w") * jnp.exp(col("c0") + col("Bfix") * xe(c["i"], c["m"]) - col("B_e") * xe(c["i"], c["k"]))

        def body(acc, c):  # ``_running_terms`` with the copies
            return acc.at[c["row"]].add(terms(c)), None

        acc, _ = jax.lax.scan(body, acc, chunks)
        exercised = jnp.where(pre["after"][:, :, None], ind[None], 1.0)
        v = acc.reshape(K, n, P) * exercised * pre["sign"][None, :, None] * fx_tr
        return ns_sum(v, self.batch.netting_set, n_ns)


def _shared_ns(acc, x, xe, tns, ent, blocks, p_c, q_c, jamshidian: bool):
    """``opt_common.accumulate_shared`` with the entries reading copies: x of their netting set, the block's
    bond exp(p - q x) to first order in the copies of p, q and x (value: the shared bond, bit for bit)."""
    L, nb = ent["row"].shape[0], blocks["k"].shape[0]
    s, n_chunks = L // nb, L // CHUNK
    n_u = p_c.shape[0]
    chunks = jax.tree_util.tree_map(lambda a: a.reshape((n_chunks, CHUNK) + a.shape[1:]), ent)
    blks = jax.tree_util.tree_map(lambda a: a.reshape((n_chunks, CHUNK // s) + a.shape[1:]), blocks)
    cps = (jnp.moveaxis(p_c.reshape(n_u, n_chunks, CHUNK // s), 1, 0),
           jnp.moveaxis(q_c.reshape(n_u, n_chunks, CHUNK // s), 1, 0))
    pos = np.arange(CHUNK) // s  # an entry's block within its chunk

    @jax.checkpoint  # residuals: the chunk's entries (no path axis), its (CHUNK, P) terms recomputed backward
    def terms(cb):
        c, b, (pc, qc) = cb
        xb = x[b["k"]]
        bond = jnp.exp(sg(b["p"])[:, None] - sg(b["q"])[:, None] * xb)
        spread = lambda a: jnp.broadcast_to(a[:, None, :], (a.shape[0], s, a.shape[1])).reshape(CHUNK, -1)  # noqa: E731
        u = tns[c["i"]]
        x_e = xe(c["i"], b["k"][pos])
        if jamshidian:
            coef = (c["wgt"], c["a0"], c["a1"])
        else:
            coef = (c["amt"], jnp.zeros_like(c["amt"]), jnp.zeros_like(c["amt"]))
        return _bond_terms(jamshidian, *coef, pc[u, pos], qc[u, pos], x_e, spread(bond), spread(xb),
                           sg(b["q"])[pos])

    def body(acc, cb):
        return acc.at[cb[0]["row"]].add(terms(cb)), None

    acc, _ = jax.lax.scan(body, acc, (chunks, blks, cps))
    return acc


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _bond_terms(jamshidian, w, a0, a1, p_u, q_u, x_e, bond, xb, q):
    """(C, P): w B erfc(a0 + a1 x_e) (jamshidian) or w B, with B = bond (1 + d), d = (p_u - p) - (q_u - q) xb
    - q (x_e - x) the copies' first-order term (0 in value: the copies equal the shared p, q, x). Entries: w, a0,
    a1, p_u, q_u, q (C,); x_e (the entry's copy of x), bond, xb (the shared state at its block's date) (C, P).
    bond, xb and q are the shared values and carry no derivative (theirs enters through the copies p_u, q_u, x_e)."""
    v = w[:, None] * bond
    return v * erfc(a0[:, None] + a1[:, None] * x_e) if jamshidian else v


def _bond_terms_fwd(jamshidian, w, a0, a1, p_u, q_u, x_e, bond, xb, q):
    return _bond_terms(jamshidian, w, a0, a1, p_u, q_u, x_e, bond, xb, q), (w, a0, a1, x_e, bond, xb, q)


def _bond_terms_bwd(jamshidian, res, g):
    """The module docstring's derivatives (jamshidian=False: E = 1, E' = 0)."""
    w, a0, a1, x_e, bond, xb, q = res
    gb = g * bond
    if jamshidian:
        z = a0[:, None] + a1[:, None] * x_e
        t_e = gb * erfc(z)
        t_d = gb * (-_TWO_OVER_SQRT_PI * jnp.exp(-z * z))
        g_a0, g_a1 = w * jnp.sum(t_d, axis=1), w * jnp.sum(t_d * x_e, axis=1)
        g_x = w[:, None] * (a1[:, None] * t_d - q[:, None] * t_e)
    else:
        t_e = gb
        g_a0 = g_a1 = jnp.zeros_like(w)
        g_x = -(w * q)[:, None] * t_e
    s_e = jnp.sum(t_e, axis=1)
    return (s_e, g_a0, g_a1, w * s_e, -w * jnp.sum(t_e * xb, axis=1), g_x, jnp.zeros_like(bond), jnp.zeros_like(xb),
            jnp.zeros_like(q))


_bond_terms.defvjp(_bond_terms_fwd, _bond_terms_bwd)
