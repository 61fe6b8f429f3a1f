"""The linear twins' backward pass in closed form (NumPy): g_x = (d leaves / d x)' a of
``setup_pres.LinearPresTwin.leaves`` at x0, per measure, netting set u's trades reading copy u of the curve part.

Forward, per batch currency j (flow f of trade tr(f) in key group g(f), view date k, coupon pair p = (k_p, i_p)):

    mom[k, n, tr]        = sum_f amt_f E[k, g(f)] z[k, g(f)]^n / n!,    E = where(alive, exp(lnA), 0)
    lnA[k, g]            = L(t_k, T_g) (+ L(t_k, Tn_g) - L(t_k, Td_g) where the group's fixing lags)
    cc_w[k_p, slot_p]    = cw_i e_p,   e_p = exp(L(tfix_i, T1_i) - L(tfix_i, T2_i) + L(t_k, Tp_i)),  i = i_p
    L(t, T)              = ln P(T') - ln P(t) + (V(t, T') - V(0, T') + V(0, t)) / 2,   T' = max(T, t),
    V(s, u)              = sum_q where(active_q, sigma_q^2 w_q(s, u), 0)                  (``hull_white``)

Backward, with a_tr = a[mom_tr] + a[mom_ns] member' (K, N+1, n_tr) of one measure:

    Q[k, f]    = sum_n a_tr[k, n, tr(f)] z[k, g(f)]^n / n!           (the same cumulative product as the forward)
    g_amt[f]   = sum_k E[k, g(f)] Q[k, f]
    g_L[c]    += amt_f E[k, g(f)] Q[k, f] at the cells of lnA[k, g(f)] (+1, and +1 / -1 for a lag), c = c(f)
    h_p        = a[cc_w][k_p, slot_p] cw_i e_p:   g_cw[i] = sum_p a_p e_p,
                 g_L[c] += h_p at (t_k, Tp_i), sum_p h_p at (tfix_i, T1_i), -sum_p h_p at (tfix_i, T2_i)
    g_lnP[c]   = sum_cells g_L[c] (W(T') - W(t)),   W: the linear interpolation weights of the pillars
    g_sigma[c] = sum_cells g_L[c] sigma_q (act w_q(t, T') - act w_q(0, T') + act w_q(0, t))

Every copy of x is x0, so E, e_p and the grids' Jacobian are computed once; the copies only split the cotangent by
netting set (the segment sums above). Equal to ``jax.vjp`` of the twin's leaves (``twin_linear_ns``: the per-row
reference) to rounding; no program is compiled.
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse as sp

from exposure.models.cross_asset import _blas
from exposure.risk.twin_common import _variance_coefficients


def interpolation_weights(times, t) -> np.ndarray:
    """(len(t), P): d ln P(0, t) / d ln P pillars of ``twin_common.static_log_discount`` (linear interpolation from
    ln P(0, 0) = 0, flat forward after the last pillar and before 0), its arithmetic on unit pillar vectors."""
    kt = np.concatenate([[0.0], np.asarray(times, np.float64)])
    t = np.asarray(t, np.float64).reshape(-1)
    P = kt.size - 1
    ky = np.vstack([np.zeros((1, P)), np.eye(P)])
    i = np.clip(np.searchsorted(kt, t, side="right"), 1, kt.size - 1)
    inner = ky[i - 1] + ((t - kt[i - 1]) / (kt[i] - kt[i - 1]))[:, None] * (ky[i] - ky[i - 1])
    after = ky[-1] + ((ky[-1] - ky[-2]) / (kt[-1] - kt[-2]))[None] * (t - kt[-1])[:, None]
    before = ((ky[1] - ky[0]) / (kt[1] - kt[0]))[None] * t[:, None]
    return np.where((t > kt[-1])[:, None], after, np.where((t < 0.0)[:, None], before, inner))


def grid_jacobian(tw, j: int):
    """(L (nt, nT), J_lnP (nt nT, P), J_sigma (nt nT, m+1)) of currency j's lnA grid (``LinearPresTwin._lnA_grid``)
    at x0: its value and its Jacobian in the pillars' ln P and the sigma pieces (module docstring)."""
    times, a, vt, lndf, sig = tw.rates[j]
    tg, Tg = tw.grids[j]
    t, T = np.broadcast_arrays(tg[:, None], Tg[None, :])
    T = np.maximum(T, t)
    jp = interpolation_weights(times, T) - interpolation_weights(times, t)

    def dv(s, u):  # d V(s, u) / d sigma_q / (2 sigma_q): the active pieces' weights
        w, act = _variance_coefficients(a, vt, s, u, False)
        return np.where(act, w, 0.0).reshape(-1, w.shape[-1])

    zero = np.zeros_like(t)
    half_w = 0.5 * (dv(t, T) - dv(zero, T) + dv(zero, t))  # L's V part = sum_q sigma_q^2 half_w_q
    value = jp @ lndf + half_w @ (sig * sig)
    return value.reshape(t.shape), jp, half_w * (2.0 * sig)[None]


def _cells(tw, j: int, t, T) -> np.ndarray:
    """Flat positions (t index nT + T index) on currency j's grid of the (broadcast) (t, T)."""
    it, iT = tw._grid_index(j, t, T)
    return it * tw.grids[j][1].size + iT


def _flow_map(tw, j: int, st: dict):
    """(K G, nt nT) sparse: lnA[k, g] of currency j's flow groups as +-1 combinations of the grid's cells."""
    K, G = st["z"].shape
    tk = tw.t[:, None]
    rows = np.arange(K * G).reshape(K, G)
    r, c, v = [rows.reshape(-1)], [_cells(tw, j, tk, st["T"][None, :]).reshape(-1)], [np.ones(K * G)]
    if st["lag"].size:
        lr = rows[:, st["lag"]].reshape(-1)
        r += [lr, lr]
        c += [_cells(tw, j, tk, st["Tn"][None, :]).reshape(-1), _cells(tw, j, tk, st["Td"][None, :]).reshape(-1)]
        v += [np.ones(lr.size), -np.ones(lr.size)]
    n_cells = tw.grids[j][0].size * tw.grids[j][1].size
    return sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(K * G, n_cells))


def _flow_parts(tw, j: int, st: dict, L):
    """(fmap, E (K, G), tay_t (K, N+1, G), tr (n_f,), W (n_j, G)) of currency j's flows at x0: what
    ``_flows_backward`` reads besides the cotangents (``prepare``)."""
    sel, inv = st["sel"], st["inv"][:-1]
    K, G = st["z"].shape
    fmap = _flow_map(tw, j, st)
    E = np.where(st["alive"], np.exp((fmap @ L.reshape(-1)).reshape(K, G)), 0.0)
    steps = np.concatenate([np.ones((K, G, 1)), st["z"][:, :, None] / np.arange(1, tw.order + 1)], axis=2)
    tay_t = np.cumprod(steps, axis=2).transpose(0, 2, 1)  # (K, N+1, G): z^n / n! as the forward's ``_taylor``
    tr = np.searchsorted(st["tr"], tw.cf.f_trade[sel])  # the flows' trades among the n_j
    W = np.zeros((st["tr"].size, G))
    np.add.at(W, (tr, inv), tw.cf.f_amount[sel])
    return fmap, E, tay_t, tr, W


# twin -> [per currency (``grid_jacobian``, ``_flow_parts`` or None)]: outside the twin (``kept.digest`` walks
# twins' attributes: a filled cache must not change a program's key)
_PARTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def prepare(tw) -> list:
    """Twin tw's cotangent-free parts of the backward pass (x0's grids, their Jacobians, the flows' E, Taylor
    factors and amounts), built once: ``stage._host_ahead`` builds them while the reverse pass runs."""
    parts = _PARTS.get(tw)
    if parts is None:
        with _blas().limit(limits=1, user_api="blas"):  # as ``linear_backward``: the same products, the same bits
            jac = [grid_jacobian(tw, j) for j in range(len(tw.cf.currencies))]
            parts = [(jac[j], None if st is None else _flow_parts(tw, j, st, jac[j][0]))
                     for j, st in enumerate(tw.flows)]
        _PARTS[tw] = parts
    return parts


DATES = 16  # view dates per block of the flows' backward: (DATES, n_j, G) temporaries


def _flows_backward(tw, j: int, st: dict, parts, a_j, c_tr, n_c: int, g_amt) -> np.ndarray:
    """Currency j's flows for the cotangents a_j (n_meas, K, N+1, n_j) of its n_j trades' moments: adds their g_amt
    (n_meas, n_f) in place, returns their g_L (n_meas, n_c, nt nT). Per date a (n_j, N+1) (N+1, G) product gives
    Q of every (trade, group); a trade's flows in one group share it, their amounts summed in W (n_j, G)."""
    sel, inv = st["sel"], st["inv"][:-1]
    K, G = st["z"].shape
    fmap, E, tay_t, tr, W = parts  # ``_flow_parts``
    copy = sp.csr_matrix((np.ones(st["tr"].size), (np.asarray(c_tr)[st["tr"]], np.arange(st["tr"].size))),
                         shape=(n_c, st["tr"].size))  # (n_c, n_j): each trade's netting-set copy
    out = np.empty((a_j.shape[0], n_c, fmap.shape[1]))
    for m, A in enumerate(a_j):
        gl, EQ = np.empty((n_c, K, G)), np.zeros(W.shape)
        for k0 in range(0, K, DATES):
            kb = slice(k0, min(k0 + DATES, K))
            M = np.matmul(A[kb].transpose(0, 2, 1), tay_t[kb]) * E[kb, None, :]  # (dates, n_j, G): E Q
            EQ += M.sum(axis=0)
            X = (M * W[None]).transpose(1, 0, 2)
            gl[:, kb] = (copy @ X.reshape(X.shape[0], -1)).reshape(n_c, -1, G)
        g_amt[m, sel] += EQ[tr, inv]
        out[m] = (fmap.T @ gl.reshape(n_c, K * G).T).T
    return out


def _coupons_backward(tw, Ls: list, a_cc, c_tr, n_c: int, g_cw, g_grid: list) -> None:
    """The coupons' cc_w: adds g_cw (n_meas, n_cw) and every currency's g_L (n_meas, n_c, nt nT) in place."""
    cf, c = tw.cf, tw.coupons
    i, k, slot = c["i"], c["k"], c["slot"]
    n = cf.c_fix.size
    c_cp = np.asarray(c_tr)[cf.c_trade]  # the copy of every coupon
    cell1, cell2, cellk = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(i.size, np.int64)
    lnA1, lnA2, lnAk = np.zeros(n), np.zeros(n), np.zeros(i.size)
    own, own_p = [], []
    for j, L in enumerate(Ls):
        sel, p = np.flatnonzero(cf.c_ccy == j), np.flatnonzero(cf.c_ccy[i] == j)
        own.append(sel)
        own_p.append(p)
        cell1[sel] = _cells(tw, j, c["tfix"][sel], c["T1"][sel])
        cell2[sel] = _cells(tw, j, c["tfix"][sel], c["T2"][sel])
        cellk[p] = _cells(tw, j, tw.t[k[p]], c["Tp"][i[p]])
        flat = L.reshape(-1)
        lnA1[sel], lnA2[sel], lnAk[p] = flat[cell1[sel]], flat[cell2[sel]], flat[cellk[p]]
    e = np.exp(lnA1[i] - lnA2[i] + lnAk)
    vals = np.asarray(cf.c_weight, np.float64)[i] * e
    for m, A in enumerate(a_cc):  # A (K, C)
        a = A[k, slot]
        g_cw[m] += np.bincount(i, a * e, minlength=n)
        h = a * vals
        H = np.bincount(i, h, minlength=n)
        for j, (sel, p) in enumerate(zip(own, own_p)):
            nc = g_grid[j].shape[2]
            size = n_c * nc
            gl = (np.bincount(c_cp[i[p]] * nc + cellk[p], h[p], minlength=size)
                  + np.bincount(c_cp[sel] * nc + cell1[sel], H[sel], minlength=size)
                  - np.bincount(c_cp[sel] * nc + cell2[sel], H[sel], minlength=size))
            g_grid[j][m] += gl.reshape(n_c, nc)


def linear_backward(tw, cot: dict, c_tr, n_c: int, n_meas: int) -> dict:
    """g of x per measure, x's curve part per copy: {ln_df: per currency (n_meas, n_c, P), sigma: (n_meas, n_c,
    m+1), amt (n_meas, n_f), cw (n_meas, n_cw)} for the cotangents ``cot`` {leaf: a (n_meas, *leaf shape)} of
    ``LinearPresTwin.leaves`` (an absent leaf: 0), trade tr reading copy c_tr[tr] (module docstring)."""
    # one BLAS thread: OpenBLAS's threads only wait on each other over these small products (a busy machine: 30x
    # the CPU time), as in ``cross_asset._van_loan``
    with _blas().limit(limits=1, user_api="blas"):
        return _linear_backward(tw, cot, c_tr, n_c, n_meas)


def _linear_backward(tw, cot: dict, c_tr, n_c: int, n_meas: int) -> dict:
    cf = tw.cf
    parts = prepare(tw)
    jac = [jp for jp, _ in parts]
    g_grid = [np.zeros((n_meas, n_c, L.size)) for L, _, _ in jac]
    g_amt, g_cw = np.zeros((n_meas, cf.f_amount.size)), np.zeros((n_meas, cf.c_weight.size))
    ns_of = np.argmax(tw.member, axis=1)  # mom_ns = mom_tr @ member: trade tr adds to column ns_of[tr] only
    for j, st in enumerate(tw.flows):
        if st is None or not ("mom_tr" in cot or "mom_ns" in cot):
            continue
        a_j = np.zeros((n_meas, tw.K, tw.order + 1, st["tr"].size))
        if "mom_tr" in cot:
            a_j += np.asarray(cot["mom_tr"], np.float64)[:, :, j][..., st["tr"]]
        if "mom_ns" in cot:
            a_j += np.asarray(cot["mom_ns"], np.float64)[:, :, j][..., ns_of[st["tr"]]]
        g_grid[j] += _flows_backward(tw, j, st, parts[j][1], a_j, c_tr, n_c, g_amt)
    if tw.coupons is not None and "cc_w" in cot:
        _coupons_backward(tw, [L for L, _, _ in jac], np.asarray(cot["cc_w"], np.float64), c_tr, n_c, g_cw, g_grid)
    return {"ln_df": tuple(g @ jp for g, (_, jp, _) in zip(g_grid, jac)),
            "sigma": tuple(g @ js for g, (_, _, js) in zip(g_grid, jac)), "amt": g_amt, "cw": g_cw}
