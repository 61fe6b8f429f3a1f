"""A linear batch's prepared data along a Hull-White model move (mean reversion a, sigma pieces): forward mode.

With P_c(t, T) = exp(lnA - B x) (``models.hull_white``), on the move (da, dsigma) of theta's direction
(``setup_vols.theta_direction``: a mean reversion moves a_c and the calibrated sigma_c)

    dB   = (tau e^{-a tau} - B) da / a,                                tau = T - t
    dlnA = (dV(t,T) - dV(0,T) + dV(0,t)) / 2,   dV = sum_k [2 sigma_k dsigma_k g_k + sigma_k^2 dg_k/da da]

(g_k = ``hull_white.variance_weights``, differentiated line by line below, its small-z series included), and the
prepared leaves of ``LinearBatch.prepare`` (``linear_moments``) follow in closed form:

    z_f = (B_mid - B_f) Y / h,   dz_f = (dB_mid - dB_f) Y / h - z_f dh / h     (B_mid, h from the alive extremes)
    d mom_n = sum_f a_f e^{lnA_f} (z_f^{n-1} / (n-1)! dz_f + z_f^n / n! dlnA_f)   (one sparse product per date)
    d bmid = dB_mid,   d inv_scale = dh / Y,
    d cc_w = cc_w (dlnA1 - dlnA2 + dlnA_p),   d cc_b1 = dB1 - dB2,   d cc_b2 = dB_p   (and their distinct rows)

exact (no step), at the cost of about one ``prepare`` where the central difference (``state.batch_difference``)
takes two. Leaves no model moves here: eq_tr, eq_ns (no curve); xi_lim only picks the series order in a comparison
(its cotangent is identically 0, ``setup_pres.ORDER_ONLY``): its tangent is left at 0. The FX / equity vols and R
a mean reversion moves through the bootstraps reach a linear batch through xi_lim only. ``bond_tangent`` (on any
(t, T) too) and ``state_variance_tangent`` serve the option batches' tangents as well (``setup_pres_options``).
"""

from __future__ import annotations

import numpy as np

from exposure.dates import years as model_years
from exposure.models.hull_white import I1_SERIES, clip_pieces, hw_B
from exposure.pricing.cashflows import log_discount
from exposure.pricing.linear import LinearBatch, LinearPre
from exposure.pricing.linear_moments import (coupon_slots, flow_groups, group_coefficients, per_netting_set,
                                             taylor_terms, view_days)
from exposure.risk.state import split_leaves


def variance_weights_tangent(a, da, u1, u2, T):
    """(g, dg) of ``hull_white.variance_weights`` (g_k = int_{u1}^{u2} B(u,T)^2 du) and its derivative along a
    mean-reversion move da, the same branches (the series where z = a (u2 - u1) < 0.5)."""
    d = u2 - u1
    z, dz = a * d, da * d
    e, de = -np.expm1(-z), np.exp(-z) * dz
    small = z < 0.5
    zs = np.where(small, z, 0.0)
    poly, dpoly = np.zeros_like(zs), np.zeros_like(zs)
    for c in reversed(I1_SERIES):
        dpoly = dpoly * zs + poly
        poly = poly * zs + c
    big = z - e - 0.5 * e * e
    i1 = np.where(small, d**3 * poly, big / (a * a * a))
    di1 = np.where(small, d**3 * dpoly * dz, (dz - de - e * de) / a**3 - 3.0 * big * da / a**4)
    tau = T - u2
    b2 = -np.expm1(-a * tau) / a
    db2 = (tau * np.exp(-a * tau) - b2) * da / a
    q = e / a
    dq = de / a - q * da / a
    f = -np.expm1(-2.0 * z) / (2.0 * a)
    df = np.exp(-2.0 * z) * dz / a - f * da / a
    g = i1 + b2 * q * q + b2 * b2 * f
    dg = di1 + db2 * q * q + 2.0 * b2 * q * dq + 2.0 * b2 * db2 * f + b2 * b2 * df
    return g, dg


def _variance_tangent(p, a, da, dsig, t, T):
    """dV(t,T) = d int_t^T sigma^2 B(u,T)^2 du along (da, dsigma) (``hull_white.integrated_variance``)."""
    u1, u2, T_, sig, active = clip_pieces(p, t, T, np)
    g, dg = variance_weights_tangent(a, da, u1, u2, T_)
    return np.sum(np.where(active, 2.0 * sig * dsig * g + sig * sig * dg, 0.0), axis=-1)


def state_variance_tangent(ctx, ccy: str, da: float, dsig, s, t) -> tuple:
    """(v, dv) of ``hull_white.state_variance`` Var[x(t) | x(s)] = sum_k sigma_k^2 g_k (s, t broadcast) along da and
    dsigma: g_k = e^{-2a q} F,  F = -expm1(-2a d) / 2a  (q = t - u2, d = u2 - u1),
    dg_k = (-2 q g_k + e^{-2a q} (d e^{-2a d} - F) / a) da."""
    rm = ctx.rate_model(ccy)
    a = float(rm.params.mean_reversion)
    s, t = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(t, np.float64))
    u1, u2, t_, sig, active = clip_pieces(rm.params, s, t, np)
    q, d = t_ - u2, u2 - u1
    E, F = np.exp(-2.0 * a * q), -np.expm1(-2.0 * a * d) / (2.0 * a)
    g = E * F
    dg = (-2.0 * q * g + E * (d * np.exp(-2.0 * a * d) - F) / a) * da
    dsig = np.asarray(dsig, np.float64)
    return (np.sum(np.where(active, sig * sig * g, 0.0), axis=-1),
            np.sum(np.where(active, 2.0 * sig * dsig * g + sig * sig * dg, 0.0), axis=-1))


def bond_tangent(ctx, ccy: str, da: float, dsig, T, t=None, base: bool = True) -> tuple:
    """(lnA, B, dlnA, dB) as ``PricingContext.bond_coefficients(ccy, T, t)`` (default t: the context's times, on
    the (K, *T.shape) grid; else t and T broadcast), the tangents along da and dsigma (the currency's pieces);
    base=False: lnA is None (not computed: the costly part of the base)."""
    rm = ctx.rate_model(ccy)
    p, a = rm.params, float(rm.params.mean_reversion)
    T = np.asarray(T, np.float64)
    if t is not None:
        t, T = np.broadcast_arrays(np.asarray(t, np.float64), T)
        if T.size == 0:
            return tuple(np.zeros(T.shape) for _ in range(4))
        # each distinct (t, T) once: a complex key sorts and compares as the pair (np.unique(axis=1) is ~10x slower)
        ku, inv = np.unique(t.ravel() + 1j * np.maximum(T, t).ravel(), return_inverse=True)
        out = _bond_tangent(rm, p, a, da, dsig, ku.real.copy(), ku.imag.copy(), base)
        return tuple(None if x is None else x[inv.reshape(-1)].reshape(T.shape) for x in out)
    inv, out = bond_grid(ctx, ccy, da, dsig, T, base)
    shape = (out[2].shape[0],) + T.shape
    return tuple(None if x is None else x[:, inv].reshape(shape) for x in out)


def bond_grid(ctx, ccy: str, da: float, dsig, T, base: bool = True) -> tuple:
    """(inv (T.size,), (lnA, B, dlnA, dB) (K, U)) of ``bond_tangent`` at the context's times on T's U distinct
    values: column inv[i] is T.flat[i]'s (a caller reading a few (k, i) entries skips the (K, T.size) copies)."""
    rm = ctx.rate_model(ccy)
    p, a = rm.params, float(rm.params.mean_reversion)
    Tu, inv = np.unique(np.asarray(T, np.float64), return_inverse=True)
    t, Tg = np.broadcast_arrays(np.asarray(ctx.times, np.float64)[:, None], Tu[None, :])
    return inv.reshape(-1), _bond_tangent(rm, p, a, da, dsig, t, Tg, base)


def _from_zero(p, a: float, da: float, dsig, x):
    """dV(0, x) of ``_variance_tangent``, evaluated once per distinct x (V(0, .) is a function of one time)."""
    xu, inv = np.unique(x, return_inverse=True)
    return _variance_tangent(p, a, da, dsig, np.zeros_like(xu), xu)[inv.reshape(-1)].reshape(x.shape)


def _bond_tangent(rm, p, a: float, da: float, dsig, t, Tg, base: bool = True) -> tuple:
    t, Tg = np.broadcast_arrays(t, np.maximum(Tg, t))
    lnA, B = rm.bond_coefficients(t, Tg) if base else (None, hw_B(a, t, Tg, np))
    dsig = np.asarray(dsig, np.float64)
    dlnA = 0.5 * (_variance_tangent(p, a, da, dsig, t, Tg) - _from_zero(p, a, da, dsig, Tg)
                  + _from_zero(p, a, da, dsig, t))
    tau = Tg - t
    dB = (tau * np.exp(-a * tau) - B) * da / a
    return lnA, B, dlnA, dB


def _flow_tangent(coef, cf, j, days, order: int, y: float):
    """(dmom (K, N+1, n_tr), dbmid (K,), dinv_s (K,)) of ``linear_moments._flow_moments`` (module docstring)."""
    K, n_tr = days.size, cf.n_trades
    dmom, dbmid, dinv = np.zeros((K, order + 1, n_tr)), np.zeros(K), np.zeros(K)
    grouped = None if coef is None else flow_groups(cf, j)
    if grouped is None:
        return dmom, dbmid, dinv
    groups, W = grouped
    lnA, B, dlnA, dB = group_coefficients(coef, groups)
    alive = days[:, None] < groups[None, :, 1]
    for k in range(K):
        a = alive[k]
        if not a.any():
            continue
        live = np.flatnonzero(a)
        Bk = B[k]
        hi, lo = live[np.argmax(Bk[live])], live[np.argmin(Bk[live])]
        bm, h = 0.5 * (Bk[hi] + Bk[lo]), 0.5 * (Bk[hi] - Bk[lo])
        dbm, dh = 0.5 * (dB[k, hi] + dB[k, lo]), 0.5 * (dB[k, hi] - dB[k, lo])
        dbmid[k], dinv[k] = dbm, dh / y
        if h > 0.0:
            z = np.where(a, (bm - Bk) * (y / h), 0.0)
            dz = np.where(a, (dbm - dB[k]) * (y / h) - z * (dh / h), 0.0)
        else:
            z = dz = np.zeros_like(Bk)
        terms = taylor_terms(z, order)
        E = np.where(a, np.exp(lnA[k]), 0.0)
        dD = terms * (E * dlnA[k])[:, None]
        dD[:, 1:] += terms[:, :-1] * (E * dz)[:, None]
        dmom[k] = (W @ dD).T
    return dmom, dbmid, dinv


def _coupon_tangent(move_of, ctx, cf, days, ns_local, own_fixings: bool, u):
    """{w, b1, b2 (K, C), ub1, ub2 (K, U)}: the tangents of ``linear_moments._current_coupons``' float tables,
    u (K, C) the base run's distinct-exponent rows (its int leaf cc_u); move_of(ccy): (da, dsigma), None where the
    currency's model does not move. The payment bonds stay on the (K, distinct payment times) grid (``bond_grid``):
    a date reads only its current coupons (~5% of bench-1k's (K, n_cpn) table)."""
    K = days.size
    active, counts, C, order, jfix = coupon_slots(ctx, cf, days, ns_local, own_fixings)
    out = {n: np.zeros((K, C)) for n in ("w", "b1", "b2")}
    out.update({n: np.zeros(u.shape[:1] + (1,)) for n in ("ub1", "ub2")})
    if cf.c_fix.size == 0:
        return out
    T1, T2, Tp = model_years(cf.c_start), model_years(cf.c_end), model_years(cf.c_pay)
    n = cf.c_fix.size
    base = {k: np.zeros(n) for k in ("a1", "a2", "da1", "da2", "db1", "db2")}
    col = np.zeros(n, np.int64)  # each coupon's column in the payment grids below; column 0: zeros (no move)
    grids = [[np.zeros((K, 1))] for _ in range(3)]  # (lnA, dlnA, dB) at the payment times, per currency
    width = 1
    for j, ccy in enumerate(cf.currencies):
        sel = np.nonzero(cf.c_ccy == j)[0]
        mv = move_of(ccy)
        if sel.size == 0 or mv is None:  # base["d*"] stay 0: so do these coupons' tangents
            continue
        js = jfix[sel]
        has = js >= 0
        tf = np.asarray(ctx.times, np.float64)[np.maximum(js, 0)]  # T1, T2 are read at the fixing row only
        a1, _, da1, db1 = bond_tangent(ctx, ccy, *mv, T1[sel], tf)
        a2, _, da2, db2 = bond_tangent(ctx, ccy, *mv, T2[sel], tf)
        inv, (lnA_p, _, dlnA_p, dB_p) = bond_grid(ctx, ccy, *mv, Tp[sel])
        col[sel] = width + inv
        width += lnA_p.shape[1]
        for g, x in zip(grids, (lnA_p, dlnA_p, dB_p)):
            g.append(x)
        for key, arr in (("a1", a1), ("a2", a2), ("da1", da1), ("da2", da2), ("db1", db1), ("db2", db2)):
            base[key][sel] = np.where(has, arr, 0.0)
        if (~has).any():  # the t0 state: today's curve, which no model parameter moves
            curve = ctx.model.curves[ctx.ccy_index(ccy)]
            base["a1"][sel[~has]] = log_discount(curve, T1[sel[~has]])
            base["a2"][sel[~has]] = log_discount(curve, T2[sel[~has]])
    ak, dak, dbk = (np.concatenate(g, axis=1) for g in grids)
    U = max(1, int(u.max(initial=0)) + 1) if u.size else 1
    out["ub1"], out["ub2"] = np.zeros((K, U)), np.zeros((K, U))
    for k in range(K):
        cc = order[active[k, order]]
        m = cc.size
        if m == 0:
            continue
        p = col[cc]
        w = cf.c_weight[cc] * np.exp(base["a1"][cc] - base["a2"][cc] + ak[k, p])
        out["w"][k, :m] = w * (base["da1"][cc] - base["da2"][cc] + dak[k, p])
        out["b1"][k, :m] = base["db1"][cc] - base["db2"][cc]
        out["b2"][k, :m] = dbk[k, p]
        out["ub1"][k, u[k, :m]] = out["b1"][k, :m]  # coupons sharing a row share (b1, b2), so their tangents
        out["ub2"][k, u[k, :m]] = out["b2"][k, :m]
    return out


def linear_model_tangent(batch: LinearBatch, ctx, th: dict, ints) -> list:
    """d/de of the float leaves of ``batch.prepare(ctx)`` (in ``state.split_leaves``'s order) along theta's move th
    (``setup_vols.theta_direction``: th["a"] (n_ccy,), th["ir_vol"] per currency; the model's other parts reach
    the batch only through xi_lim, module docstring). ints: the base run's integer leaves of the batch ((index,
    array, name) of ``state.split_leaves``; cc_u, the coupons' distinct-exponent rows, is read from them)."""
    cf = batch.cashflows(ctx.market)
    days = view_days(ctx)
    K, n_tr, nb = days.size, len(batch.ids), len(cf.currencies)
    ns_global, ns_local = np.unique(batch.netting_set, return_inverse=True)
    ns_local = ns_local.reshape(-1)
    member = np.zeros((n_tr, ns_global.size))
    member[np.arange(n_tr), ns_local] = 1.0

    def move_of(ccy):  # (da, dsigma); None where the currency's model does not move: its leaves' tangents are 0
        ci = ctx.ccy_index(ccy)
        da, dsig = float(th["a"][ci]), np.asarray(th["ir_vol"][ci], np.float64)
        return (da, dsig) if da or np.any(dsig) else None

    dmom = np.zeros((K, nb, batch.order + 1, n_tr))
    dmom_ns = np.zeros((K, nb, batch.order + 1, ns_global.size))
    dbmid, dinv = np.zeros((K, nb)), np.zeros((K, nb))
    for j, ccy in enumerate(cf.currencies):
        mv = move_of(ccy)
        if mv is None:  # this currency's model does not move: its moments' tangents are 0
            continue
        coef = (lambda T, mv=mv, ccy=ccy: bond_tangent(ctx, ccy, *mv, T))
        mom, dbmid[:, j], dinv[:, j] = _flow_tangent(coef, cf, j, days, batch.order, batch.series_range)
        dmom_ns[:, j] = per_netting_set(mom, member)  # on the contiguous array: no copy of the strided slice
        dmom[:, j] = mom
    u = next(a for _, a, name in ints if name.endswith("cc_u"))
    cc = _coupon_tangent(move_of, ctx, cf, days, ns_local, batch.exact_fixings, np.asarray(u))
    ne = len(cf.equities)
    none = np.zeros(0, np.int32)
    d = LinearPre(mom_tr=dmom, mom_ns=dmom_ns, bmid=dbmid, inv_scale=dinv, order_k=none,
                  xi_lim=np.zeros((K, nb)), cc_w=cc["w"], cc_b1=cc["b1"], cc_b2=cc["b2"], cc_j=none, cc_b=none,
                  cc_n=none, cc_tr=none, cc_ns=none, cc_u=none, cu_b=none, cu_j=none, cu_b1=cc["ub1"],
                  cu_b2=cc["ub2"], eq_tr=np.zeros((K, ne, n_tr)), eq_ns=np.zeros((K, ne, ns_global.size)))
    return split_leaves([d])[0]


def model_only(factor) -> bool:
    """The factor moves the model and not the market (``setup_vols.moved_market`` keeps it): the tangent applies."""
    from exposure.risk.setup_vols import VOL_TYPES

    return factor.factor_type not in VOL_TYPES
