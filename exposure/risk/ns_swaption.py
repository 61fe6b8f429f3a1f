"""The swaption twin of ``ns_kernels``: ``SwaptionBatch`` with per-netting-set copies, and the Jamshidian terms'
closed-form backward pass.

An option entry's term is v = w B(1 + d) erfc(a0 + a1 x_e) (``opt_swaption``: the coupon bond's share of the
Jamshidian sum, B = exp(p - q x) its block's bond, d the copies' first-order term, 0 in value; see
``ns_kernels``). Its derivatives, with E = erfc(z), E' = -2/sqrt(pi) exp(-z^2), z = a0 + a1 x_e, cotangent g
(entries x paths), are per entry sums over the paths

    d/dw = sum_p g B E,  d/dp_u = w sum_p g B E,  d/dq_u = -w sum_p g B E x_b,
    d/da0 = w sum_p g B E',  d/da1 = w sum_p g B E' x_e,  d/dx_e = w (a1 E' - q E) g B  (per path),

written out (``_bond_terms``, a jax.custom_vjp) instead of autodiff's transposed program of the expression (E and
E' from one exponential, ``normal_cdf._parts``); the flows' terms w B (physical settlement) the same with E = 1,
E' = 0. The scans take GROUP_CHUNK entries per iteration, the tail padded with zero-weight entries into an extra
row of the accumulator that is dropped: every row receives its own terms in their order (the same bits as CHUNK).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.normal_cdf import _parts, erfc
from exposure.pricing.opt_common import CHUNK, accumulate, cast_floats
from exposure.pricing.opt_swaption import SwaptionBatch
from exposure.pricing.swaption_kernels import _flow_terms, _running_terms
from exposure.risk.ns_common import ns_sum, sg

_TWO_OVER_SQRT_PI = 1.1283791670955126
# Entries per iteration of the reverse step's scans (``_chunked``): each iteration of XLA's CPU while loop costs
# some microseconds per thunk, forward and backward; at CHUNK bench-1k's blocks ran 1,990 + 1,157 + 515 of them
# (8 CHUNK: about 8% less CPU per block). Temporaries stay small, (GROUP_CHUNK, P).
GROUP_CHUNK = 8 * CHUNK


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
        return self.group_values([self], [pre], [copies], n_ns)[0]

    @staticmethod
    def group_index(kernels, pres, K: int) -> dict:
        """The index arrays of ``group_values``' scans (NumPy, from the batches' integer data and shapes alone):
        {"opt": ``_shared_index``, and for physical batches "flows", "run" (``_running_index``)}. The reverse step
        takes them as arguments (``reverse_ns.Plan.args``), not as constants baked into its program."""
        ns = [np.shape(p["sign"])[0] for p in pres]
        row0 = np.cumsum([0] + [K * n for n in ns])
        c0 = np.cumsum([0] + [len(k.ns_global) * K for k in kernels])
        lay = [(row0[b], b * K, c0[b], np.asarray(k.trade_ns, np.int64), K) for b, k in enumerate(kernels)]
        pad = int(row0[-1])
        out = {"opt": _shared_index([(lay[b], p["opt"], p["opt_bonds"], len(k.ns_global))
                                     for b, (k, p) in enumerate(zip(kernels, pres))], pad)}
        phys = [b for b, k in enumerate(kernels) if k.batch.physical]
        if phys:
            out["flows"] = _shared_index([(lay[b], pres[b]["flows"], pres[b]["flow_bonds"],
                                           len(kernels[b].ns_global)) for b in phys], pad)
            out["run"] = _running_index([(lay[b], pres[b]["run"]) for b in phys], pad)
        return out

    @staticmethod
    def group_values(kernels, pres, copies, n_ns: int, index: dict | None = None) -> list:
        """[V_b (K, n_ns, P)] of swaption batches b (``SwaptionKernel``s of one model): each kind of term (option
        entries, swap flows, running coupons, the exercise values) of all the batches in one scan over their
        entries, concatenated in batch order, so that the program does not grow with the number of batches.
        A batch's entries are whole chunks and its rows its own (offset), so every row receives its terms in its
        batch's order: the values are each batch's alone, bit for bit. index: ``group_index`` (traced arguments;
        None: computed here, then constants of the program)."""
        xcs = [c[0][0][:, 0] for c in copies]  # (n_u, K, P) per batch
        dt = xcs[0].dtype
        pres = [_cast(p, dt) for p in pres]
        K, P = xcs[0].shape[1:]
        ns = [p["sign"].shape[0] for p in pres]
        row0 = np.cumsum([0] + [K * n for n in ns])  # batch b's rows of the accumulator: row0[b] + k n_b + i
        xs = jnp.concatenate([sg(xc[0]) for xc in xcs])  # batch b's shared state at rows b K + k
        xcat = jnp.concatenate([xc.reshape(-1, P) for xc in xcs])  # copy u: rows c0[b] + u K + k (``group_index``)
        ix = SwaptionKernel.group_index(kernels, pres, K) if index is None else index
        acc = jnp.zeros((row0[-1], P), dt)
        acc = _shared_group(acc, xs, xcat, [(p["opt"], p["opt_bonds"], c[1]["opt_bonds/p"], c[1]["opt_bonds/q"])
                                            for p, c in zip(pres, copies)], True, ix["opt"])
        phys = [b for b, k in enumerate(kernels) if k.batch.physical]
        ind = None
        if phys:
            ex0 = dict(zip(phys, np.cumsum([0] + [ns[b] for b in phys])))  # batch b's exercise rows: ex0[b] + i
            moved = lambda name, b, **off: {**pres[b][name], **{f: np.asarray(pres[b][name][f]) + o  # noqa: E731
                                                              for f, o in off.items()}}
            cat = lambda parts: {f: (np.concatenate if isinstance(parts[0][f], np.ndarray) else jnp.concatenate)(  # noqa: E731
                [q[f] for q in parts]) for f in parts[0]}
            swap_ex = accumulate(jnp.zeros((sum(ns[b] for b in phys), P), dt), xs,
                                 cat([moved("ex_flows", b, row=ex0[b], k=b * K) for b in phys]), _flow_terms())
            swap_ex = accumulate(swap_ex, xs, cat([moved("ex_run", b, row=ex0[b], k=b * K, m=b * K) for b in phys]),
                                 _running_terms(xs))
            ind = (swap_ex > 0.0).astype(dt)  # the exercise decision: no derivative (pathwise)
            acc = _shared_group(acc, xs, xcat, [(pres[b]["flows"], pres[b]["flow_bonds"],
                                                 copies[b][1]["flow_bonds/p"], copies[b][1]["flow_bonds/q"])
                                                for b in phys], False, ix["flows"])
            acc = _running_group(acc, xcat, [pres[b]["run"] for b in phys], ix["run"])
        out = []
        for b, k in enumerate(kernels):
            fx_tr = jnp.moveaxis(copies[b][0][1][:, 0][jnp.asarray(k.trade_ns)], 0, 1)  # (K, n, P)
            v = acc[row0[b]:row0[b + 1]].reshape(K, ns[b], P) * pres[b]["sign"][None, :, None] * fx_tr
            if k.batch.physical:
                v = v * jnp.where(pres[b]["after"][:, :, None], ind[ex0[b]:ex0[b] + ns[b]][None], 1.0)
            out.append(ns_sum(v, k.batch.netting_set, n_ns))
        return out


def _cast(tree, dtype):
    """``cast_floats`` of the float leaves; the integer ones (the entries' indices) stay NumPy (read at trace time)."""
    return jax.tree_util.tree_map(lambda a: a if isinstance(a, np.ndarray) and not np.issubdtype(a.dtype, np.floating)
                                  else cast_floats(a, dtype), tree)


def _running_index(parts, pad_row: int) -> dict:
    """{"em", "ek", "row"} (n_chunks, GROUP_CHUNK) of ``_running_group``: each entry's copy of x at its fixing and
    its date, its accumulator row; the tail padded (row ``pad_row``, ``_chunked``). parts [(layout, run entries)]."""
    e_m, e_k, rows = [], [], []
    for (r0, _, c0, tns, K), e in parts:
        u = tns[np.asarray(e["i"])] * K + c0
        e_m.append(u + np.asarray(e["m"]))
        e_k.append(u + np.asarray(e["k"]))
        rows.append(np.asarray(e["row"]) + r0)
    return _chunked({"em": np.concatenate(e_m), "ek": np.concatenate(e_k), "row": np.concatenate(rows)}, pad_row)


def _chunked(ix: dict, pad_row: int) -> dict:
    """NumPy index arrays (L,) padded to whole GROUP_CHUNKs (``row`` with ``pad_row``, the others 0) and cut into
    (n_chunks, GROUP_CHUNK)."""
    L = ix["row"].shape[0]
    n = -(-L // GROUP_CHUNK)
    pad = n * GROUP_CHUNK - L
    return {k: np.concatenate([a, np.full(pad, pad_row if k == "row" else 0, a.dtype)]).reshape(n, GROUP_CHUNK)
            for k, a in ix.items()}


def _float_chunks(ent: dict, n_chunks: int, per: int) -> dict:
    """Float entries (L, ...) padded with zeros to n_chunks x per entries and cut into (n_chunks, per, ...)."""
    def cut(a):
        a = jnp.concatenate([a, jnp.zeros((n_chunks * per - a.shape[0],) + a.shape[1:], a.dtype)])
        return a.reshape((n_chunks, per) + a.shape[1:])
    return jax.tree_util.tree_map(cut, ent)


def _running_group(acc, xcat, parts, ix):
    """acc[row] += w exp(c0 + Bfix x_u(t_m) - B_e x_u(t_k)) (``opt_swaption._running_terms``) with the entries
    reading their netting set's copy u of x: parts [run entries], ix ``_running_index``; one scan over them all."""
    ent = {f: jnp.concatenate([e[f] for e in parts]) for f in ("w", "c0", "Bfix", "B_e")}
    chunks = dict(_float_chunks(ent, *ix["row"].shape), em=ix["em"], ek=ix["ek"], row=ix["row"])

    @jax.checkpoint  # as ``_shared_group``: no (GROUP_CHUNK, P) residual per chunk
    def terms(c):
        col = lambda k: c[k][:, None]  # noqa: E731
        return col("w") * jnp.exp(col("c0") + col("Bfix") * xcat[c["em"]] - col("B_e") * xcat[c["ek"]])

    def body(acc, c):
        return acc.at[c["row"]].add(terms(c)), None

    return _unpadded(jax.lax.scan(body, _with_pad_row(acc), chunks)[0])


def _with_pad_row(acc):
    return jnp.concatenate([acc, jnp.zeros((1,) + acc.shape[1:], acc.dtype)])


def _unpadded(acc):
    return acc[:-1]


def _shared_index(parts, pad_row: int) -> dict:
    """The index arrays of ``_shared_group``: {"row", "ex" (n_chunks, GROUP_CHUNK): an entry's accumulator row and
    its copy of x at its block's date (padded, ``_chunked``); "ec" (L,): its copy of its block's p, q; "bx"
    (n_chunks, GROUP_CHUNK / s): a block's shared state row}. parts: [((row0, x0, c0, trade_ns, K), entries,
    blocks, n_u)]. Blocks of s_b entries are cut to the parts' least s (the same bond, evaluated once per smaller
    block: the same bits)."""
    s = min(p[1]["row"].shape[0] // p[2]["k"].shape[0] for p in parts)
    rows, e_x, e_c, b_x = [], [], [], []
    n_c = 0
    for (r0, x0, c0, tns, K), ent, blk, n_u in parts:
        L, nb = ent["row"].shape[0], blk["k"].shape[0]
        s_b = L // nb
        own = np.arange(L) // s_b  # an entry's block
        u = tns[np.asarray(ent["i"])]
        k_blk = np.asarray(blk["k"])
        rows.append(np.asarray(ent["row"]) + r0)
        e_x.append(c0 + u * K + k_blk[own])  # the entry's copy of x at its block's date
        e_c.append(n_c + u * nb + own)  # its copy of its block's p, q
        n_c += n_u * nb
        b_x.append(x0 + np.repeat(k_blk, s_b // s))
    out = _chunked({"row": np.concatenate(rows), "ex": np.concatenate(e_x)}, pad_row)
    bx = np.concatenate(b_x)
    n = out["row"].shape[0]
    out["bx"] = np.concatenate([bx, np.zeros(n * GROUP_CHUNK // s - bx.size, bx.dtype)]).reshape(n, GROUP_CHUNK // s)
    out["ec"] = np.concatenate(e_c)
    return out


def _shared_group(acc, xs, xcat, parts, jamshidian: bool, ix):
    """``opt_common.accumulate_shared`` over several batches' entries with the entries reading copies: x of their
    netting set, the block's bond exp(p - q x) to first order in the copies of p, q and x (value: the shared bond,
    bit for bit). parts: [(entries, blocks, p copies (n_u, nb), q copies)]; ix their ``_shared_index``; xs, xcat
    the batches' shared states and copies (``group_values``)."""
    (n_chunks, C), s = ix["row"].shape, ix["row"].shape[1] // ix["bx"].shape[1]  # C: the index's chunk width
    coef, p_b, q_b, q_e, flat_p, flat_q = ([] for _ in range(6))
    for ent, blk, p_c, q_c in parts:
        L, nb = ent["row"].shape[0], blk["k"].shape[0]
        s_b = L // nb
        p_b.append(jnp.repeat(sg(blk["p"]), s_b // s))
        q_b.append(jnp.repeat(sg(blk["q"]), s_b // s))
        q_e.append(jnp.repeat(sg(blk["q"]), s_b))
        coef.append((ent["wgt"], ent["a0"], ent["a1"]) if jamshidian else (ent["amt"],))
        flat_p.append(p_c.reshape(-1))
        flat_q.append(q_c.reshape(-1))
    ent = {"q": jnp.concatenate(q_e), "pc": jnp.concatenate(flat_p)[ix["ec"]], "qc": jnp.concatenate(flat_q)[ix["ec"]],
           "coef": tuple(jnp.concatenate(c) for c in zip(*coef))}
    chunks = dict(_float_chunks(ent, n_chunks, C), row=ix["row"], ex=ix["ex"])
    blks = dict(_float_chunks({"p": jnp.concatenate(p_b), "q": jnp.concatenate(q_b)}, n_chunks, C // s),
                x=ix["bx"])

    @jax.checkpoint  # residuals: the chunk's entries (no path axis), its (GROUP_CHUNK, P) terms recomputed backward
    def terms(cb):
        c, b = cb
        xb = xs[b["x"]]
        bond = jnp.exp(b["p"][:, None] - b["q"][:, None] * xb)
        spread = lambda a: jnp.broadcast_to(a[:, None, :], (a.shape[0], s, a.shape[1])).reshape(C, -1)  # noqa: E731
        w = c["coef"][0]
        a0, a1 = c["coef"][1:] if jamshidian else (jnp.zeros_like(w), jnp.zeros_like(w))
        return _bond_terms(jamshidian, w, a0, a1, c["pc"], c["qc"], xcat[c["ex"]], spread(bond), spread(xb), c["q"])

    def body(acc, cb):
        return acc.at[cb[0]["row"]].add(terms(cb)), None

    return _unpadded(jax.lax.scan(body, _with_pad_row(acc), (chunks, blks))[0])


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
        e, ez = _parts(a0[:, None] + a1[:, None] * x_e)  # erfc(z) and exp(-z^2) from one exponential
        t_e = gb * e
        t_d = gb * (-_TWO_OVER_SQRT_PI * ez)
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
