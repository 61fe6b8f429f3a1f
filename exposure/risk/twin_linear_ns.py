"""The linear twins' cotangents g_x for every netting set at once, per measure, in closed form.

``setup_reverse`` needs, for every output o = (m, j) (measure m of netting set j),

    g_x[o] = (d leaves / d x)' G_pres[o],     G_pres[o] = where(ns == j, a_m, 0)     (``compact``: per element)

with x = (ln P pillars, Hull-White sigma pieces per batch currency, flow amounts, coupon weights) and the leaves
mom_tr, mom_ns, cc_w of ``setup_pres.LinearPresTwin``. A trade's leaves read only x and its own flows, so with
netting set u's trades reading copy u of the curve part (ln_df, sigma) and the flows and coupons their own
amounts,

    leaves_c(x_c)[e] = leaves(x_{c(e)})[e]     c(e): the netting set of element e's trade,

one backward pass with the cotangent a_m of all netting sets at once gives d/d x_c[u] = netting set u's g_x of
ln_df and sigma, and d/d amt, d/d cw per element (each read by its own netting set's leaves only: masked by it).
That backward pass is ``twin_linear_backward.linear_backward`` (NumPy, at x0: no program); the per-row
``jax.vjp`` of the twin's leaves (``cotangents_rows``) is the reference. A G whose twin leaves are not per element,
or whose netting sets disagree with the twin's trades, takes the reference (``cotangent_layout`` returns None).
"""

from __future__ import annotations

import jax
import numpy as np

from exposure.risk.compact import ELEMENTS, ZERO
from exposure.risk.kept import digest, shapes
from exposure.risk.twin_linear_backward import linear_backward

LEAVES = ("mom_tr", "mom_ns", "cc_w")  # ``LinearPresTwin.leaves``' names, every batch (no trace to list them)
ROWS = 8  # the per-row reference (``cotangents_rows``): cotangent rows per backward pass


def _labels(tw, n_ns: int) -> np.ndarray:
    """(n_tr,): the netting set (G's index) of every trade of the twin's batch; G of one netting set: 0."""
    ns = np.asarray(tw.batch.netting_set, np.int64).reshape(-1)
    return np.zeros_like(ns) if n_ns == 1 else ns


def _expected(tw, name: str, lab: np.ndarray, shape: tuple):
    """(labels of the leaf's elements, which elements have one): the trade layout of ``LinearPresTwin.leaves``."""
    if name == "mom_tr":
        return np.broadcast_to(lab, shape), np.ones(shape, bool)
    if name == "mom_ns":
        u = np.unique(np.asarray(tw.batch.netting_set).reshape(-1), return_index=True)[1]  # first trade of each
        return np.broadcast_to(lab[u], shape), np.ones(shape, bool)
    out, has = np.full(shape, -1, np.int64), np.zeros(shape, bool)
    c = tw.coupons
    if c is not None:
        out[c["k"], c["slot"]] = lab[tw.cf.c_trade[c["i"]]]
        has[c["k"], c["slot"]] = True
    return out, has


def cotangent_layout(tw, pres, idx: dict):
    """(copies (n_c,) netting sets, c_tr (n_tr,) copy of each trade, cot {leaf: a (n_meas, ...)}) of one twin
    whose leaves ``idx`` {name: index in pres} are per element with the twin's netting sets; None otherwise."""
    lab = _labels(tw, pres.n_ns)
    cot = {}
    for name, k in idx.items():
        if pres.kind(k) == ZERO:  # read by no value: no cotangent
            continue
        if pres.kind(k) != ELEMENTS:
            return None
        a, ns = pres.per_measure(k)
        want, has = _expected(tw, name, lab, ns.shape)
        if np.any((ns != want) & (ns >= 0) & has):  # (an element no trade has, e.g. a padding slot, reads no x)
            return None
        cot[name] = a
    copies, c_tr = np.unique(lab, return_inverse=True)
    return copies, c_tr.reshape(-1), cot


def expand(tw, g, copies, c_tr, n_meas: int, n_ns: int) -> dict:
    """g_x with a leading axis n_out = n_meas n_ns (``setup_reverse``'s layout) from the per-measure g of
    ``linear_backward``: copy u's ln_df / sigma are netting set copies[u]'s, amounts and weights per element."""
    def per_copy(a):  # (n_meas, n_c, p) -> (n_out, p)
        out = np.zeros((n_meas, n_ns) + a.shape[2:])
        out[:, copies] = a
        return out.reshape((n_meas * n_ns,) + a.shape[2:])

    def per_element(a, lab):  # (n_meas, n) -> (n_out, n): element e in netting set copies[lab[e]]'s rows only
        out = np.zeros((n_meas, n_ns) + a.shape[1:])
        out[:, np.asarray(copies)[lab], np.arange(a.shape[1])] = a
        return out.reshape((n_meas * n_ns,) + a.shape[1:])

    g = jax.tree_util.tree_map(np.asarray, g)
    return {"ln_df": tuple(per_copy(a) for a in g["ln_df"]), "sigma": tuple(per_copy(a) for a in g["sigma"]),
            "amt": per_element(g["amt"], c_tr[tw.cf.f_trade]), "cw": per_element(g["cw"], c_tr[tw.cf.c_trade])}


def leaf_index(rev, i, tw) -> dict:
    """{leaf name: its index in S["pres"]} of twin i's leaves (``ReverseSetup`` rev's layout)."""
    from exposure.risk.setup_pres import LinearPresTwin

    paths, out = rev.pt.base[i][2], {}
    names = LEAVES if isinstance(tw, LinearPresTwin) else shapes(tw.leaves, "twin_leaves", digest(tw), tw.x0())
    for name in names:
        pos = [k for k, p in enumerate(paths) if p == name]
        if len(pos) != 1:
            raise ValueError(f"twin leaf '{name}' found {len(pos)} times in batch {i}'s prepared data")
        out[name] = rev.offsets[i] + pos[0]
    return out


def twin_cotangents(rev, twins: dict) -> dict:
    """{batch index: g_x (the twin's x pytree, leading axis n_out)}: per twin, netting set u's trades read copy u
    of the curve part of x, so one backward pass per measure gives every netting set's g_x (module docstring,
    ``linear_backward``); a twin whose G part is not per element (a caller's dense G of several netting sets)
    takes ``cotangents_rows``."""
    pres, fast, slow = rev._G_pres, {}, {}
    for i, tw in twins.items():
        lay = cotangent_layout(tw, pres, leaf_index(rev, i, tw))
        if lay is None:
            slow[i] = tw
        else:
            fast[i] = lay
    out = cotangents_rows(rev, slow) if slow else {}
    if not fast:
        return out
    for i, (copies, c_tr, cot) in fast.items():
        g = linear_backward(twins[i], cot, c_tr, len(copies), pres.n_meas)
        out[i] = expand(twins[i], g, copies, c_tr, pres.n_meas, pres.n_ns)
    return out


def cotangents_rows(rev, twins) -> dict:
    """``twin_cotangents`` by one backward pass per output row (the dense G rows, ROWS at a time): the reference
    form."""
    if not twins:
        return {}
    cot = {i: {name: rev._G_pres.dense(k) for name, k in leaf_index(rev, i, tw).items()}
           for i, tw in twins.items()}
    x0 = {i: tw.x0() for i, tw in twins.items()}
    f = lambda xs: {i: twins[i].leaves(x) for i, x in xs.items()}  # noqa: E731

    n, B = rev.n_out, min(ROWS, rev.n_out)
    groups = -(-n // B)
    cot = jax.tree_util.tree_map(  # (groups, B, ...): rows padded with zeros (explicit shapes: empty leaves)
        lambda a: np.concatenate([a, np.zeros((groups * B - n,) + a.shape[1:])]).reshape((groups, B) + a.shape[1:]),
        cot)

    def rows(xs, c):  # rows in groups: a row's backward holds the lnA grids' cotangents (n_out ~ 100 on big books)
        _, vjp = jax.vjp(f, xs)
        return jax.lax.map(jax.vmap(lambda r: vjp(r)[0]), c)

    g = jax.jit(rows)(x0, cot)
    return jax.tree_util.tree_map(lambda a: np.asarray(a).reshape((groups * B,) + a.shape[2:])[:n], g)
