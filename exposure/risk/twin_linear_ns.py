"""The linear twins' cotangents g_x for every netting set in one backward pass per measure.

``setup_reverse`` needs, for every output o = (m, j) (measure m of netting set j),

    g_x[o] = (d leaves / d x)' G_pres[o],     G_pres[o] = where(ns == j, a_m, 0)     (``compact``: per element)

with x = (ln P pillars, Hull-White sigma pieces per batch currency, flow amounts, coupon weights) and the leaves
mom_tr, mom_ns, cc_w of ``setup_pres.LinearPresTwin``. A trade's leaves read only x and its own flows, so the
leaves are computed here with netting set u's trades reading copy u of the curve part (ln_df, sigma: the lnA
grids evaluated per copy, n_c copies of a small vector), the flows and coupons reading their own amounts:

    leaves_c(x_c)[e] = leaves(x_{c(e)})[e]     c(e): the netting set of element e's trade

equal to ``leaves(x)`` in value (the same operations on the same numbers) when every copy is x. One vjp with
the cotangent a_m of all netting sets at once then gives d/d x_c[u] = netting set u's g_x of ln_df and sigma
(n_meas backward passes instead of n_out), and d/d amt, d/d cw per element (each read by its own netting set's
leaves only: masked by it). A G whose twin leaves are not per element, or whose netting sets disagree with the
twin's trades, is left to the caller (``cotangent_layout`` returns None).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.risk.compact import ELEMENTS, ZERO
from exposure.risk.setup_pres import _taylor, trade_columns

LEAVES = ("mom_tr", "mom_ns", "cc_w")


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


def _grid_index(tw, j, t, T):
    t, T = np.broadcast_arrays(np.asarray(t, np.float64), np.asarray(T, np.float64))
    return np.searchsorted(tw.grids[j][0], t), np.searchsorted(tw.grids[j][1], T)


def leaves_ns(tw, x, c_tr) -> dict:
    """``LinearPresTwin.leaves`` with trade tr reading copy c_tr[tr] of x["ln_df"][j], x["sigma"][j] ((n_c, ...)
    each) and its own amounts x["amt"], coupon weights x["cw"] (module docstring)."""
    cf, t = tw.cf, tw.t
    grids = [jax.vmap(lambda l, s, j=j: tw._lnA_grid({"ln_df": {j: l}, "sigma": {j: s}}, j))(
        x["ln_df"][j], x["sigma"][j]) for j in range(len(cf.currencies))]  # (n_c, t_all, T_all)
    moms = []
    for j, st in enumerate(tw.flows):
        if st is None:
            moms.append(jnp.zeros((tw.K, tw.order + 1, tw.n_tr)))
            continue
        g_c = grids[j]
        lnA = g_c[(slice(None),) + _grid_index(tw, j, t[:, None], st["T"][None, :])]  # (n_c, K, G)
        if st["lag"].size:
            lnA = lnA.at[:, :, st["lag"]].add(g_c[(slice(None),) + _grid_index(tw, j, t[:, None], st["Tn"][None, :])]
                                              - g_c[(slice(None),) + _grid_index(tw, j, t[:, None], st["Td"][None, :])])
        E = jnp.where(st["alive"][None], jnp.exp(lnA), 0.0)
        amt = jnp.append(x["amt"][st["sel"]], 0.0)[st["row"]]  # (n_j, R): the trades with flows in currency j
        g = st["inv"][st["row"]]
        cr = np.broadcast_to(np.asarray(c_tr)[st["tr"]][:, None], g.shape)

        @jax.checkpoint  # the backward recomputes a date's (n_tr, R, N+1) terms: no residuals of every date
        def one_date(args, amt=amt, g=g, cr=cr):
            z_k, e_k = args  # e_k (n_c, G)
            tay = _taylor(z_k, tw.order)
            return jnp.einsum("tr,trn->nt", amt * e_k[cr, g], tay[g])

        moms.append(trade_columns(jax.lax.map(one_date, (jnp.asarray(st["z"]), jnp.moveaxis(E, 1, 0))), st["col"]))
    mom_tr = jnp.stack(moms, axis=1)
    out = {"mom_tr": mom_tr, "mom_ns": mom_tr @ tw.member}
    c = tw.coupons
    if c is None:
        out["cc_w"] = jnp.zeros((tw.K, 128))
        return out
    n = cf.c_fix.size
    c_cp = np.asarray(c_tr)[cf.c_trade]  # the copy of every coupon
    i, k = c["i"], c["k"]
    lnA1, lnA2, lnAk = jnp.zeros(n), jnp.zeros(n), jnp.zeros(i.size)
    for j in range(len(cf.currencies)):
        sel = np.nonzero(cf.c_ccy == j)[0]
        if sel.size == 0:
            continue
        lnA1 = lnA1.at[sel].set(grids[j][(c_cp[sel],) + _grid_index(tw, j, c["tfix"][sel], c["T1"][sel])])
        lnA2 = lnA2.at[sel].set(grids[j][(c_cp[sel],) + _grid_index(tw, j, c["tfix"][sel], c["T2"][sel])])
        p = np.nonzero(cf.c_ccy[i] == j)[0]  # the (date, coupon) pairs of currency j
        lnAk = lnAk.at[p].set(grids[j][(c_cp[i[p]],) + _grid_index(tw, j, t[k[p]], c["Tp"][i[p]])])
    vals = x["cw"][i] * jnp.exp(lnA1[i] - lnA2[i] + lnAk)
    out["cc_w"] = jnp.zeros((tw.K, c["C"])).at[k, c["slot"]].set(vals)
    return out


def copies_x0(tw, n_c: int) -> dict:
    """The twin's x0 with n_c copies of every ln_df and sigma vector (the vjp's inputs)."""
    x0 = tw.x0()
    rep = lambda a: jnp.broadcast_to(a[None], (n_c,) + a.shape)  # noqa: E731
    return dict(x0, ln_df=tuple(rep(a) for a in x0["ln_df"]), sigma=tuple(rep(a) for a in x0["sigma"]))


def expand(tw, g, copies, c_tr, n_meas: int, n_ns: int) -> dict:
    """g_x with a leading axis n_out = n_meas n_ns (``setup_reverse``'s layout) from the per-measure g of
    ``leaves_ns``'s inputs: copy u's ln_df / sigma are netting set copies[u]'s, amounts and weights per element."""
    def per_copy(a):  # (n_meas, n_c, p) -> (n_out, p)
        out = np.zeros((n_meas, n_ns) + a.shape[2:])
        out[:, copies] = a
        return out.reshape((n_meas * n_ns,) + a.shape[2:])

    def per_element(a, lab):  # (n_meas, n) -> (n_out, n)
        out = np.zeros((n_meas, n_ns) + a.shape[1:])
        for u, j in enumerate(copies):
            out[:, j] = np.where(lab[None] == u, a, 0.0)
        return out.reshape((n_meas * n_ns,) + a.shape[1:])

    g = jax.tree_util.tree_map(np.asarray, g)
    return {"ln_df": tuple(per_copy(a) for a in g["ln_df"]), "sigma": tuple(per_copy(a) for a in g["sigma"]),
            "amt": per_element(g["amt"], c_tr[tw.cf.f_trade]), "cw": per_element(g["cw"], c_tr[tw.cf.c_trade])}
