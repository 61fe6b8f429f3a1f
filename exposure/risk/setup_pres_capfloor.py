"""A cap / floor batch's prepared data along a model move (a, Hull-White sigma): forward mode in NumPy.

``CapFloorBatch.prepare`` line by line (``setup_pres_options`` for the formulas): the bonds' (lnA, B) and the fixing
state's variance sv = Var[x(f) | x(t_k)] and their tangents, then the same ``entries`` gathers with prepare's own
masks; the coupons in their fixed phase (``opt_common.current_coupons``) with the discrete choices (period j, the
fixing state's date m, deterministic or not) recomputed as there and the tangents of c0, Bfix, lnA_e, B_e.
"""

from __future__ import annotations

import numpy as np

from exposure.pricing.opt_common import TIME_EPS, coupon_periods, entries
from exposure.risk.setup_pres_model import bond_tangent, state_variance_tangent


def coupon_tangent(ctx, ccy, da, dsig, starts, ends, valid, fixes, pays, own_fixings: bool = True) -> dict:
    """{has, j, m, c0, Bfix, lnA_e, B_e}: ``current_coupons``' tables (its ``own_fixings``), the float ones as
    their tangents (c0: only where the fixing is read off a simulated state; lnb and F_det do not move)."""
    t, jj, s, e, fx, pay, has, m, det = coupon_periods(ctx, starts, ends, fixes, valid, pays, own_fixings)
    tm = np.minimum(t[np.maximum(m, 0)], fx)
    _, _, dlnA_s, dB_s = bond_tangent(ctx, ccy, da, dsig, s, t=tm, base=False)
    _, _, dlnA_f, dB_f = bond_tangent(ctx, ccy, da, dsig, e, t=tm, base=False)
    _, _, dlnA_e, dB_e = bond_tangent(ctx, ccy, da, dsig, pay, t=t[:, None], base=False)
    z = lambda v: np.where(has, v, 0.0)  # noqa: E731
    return {"has": has, "j": jj, "m": np.where(has & ~det, m, 0), "c0": z(np.where(det, 0.0, dlnA_s - dlnA_f)),
            "Bfix": z(np.where(det, 0.0, dB_f - dB_s)), "lnA_e": z(dlnA_e), "B_e": z(dB_e)}


def capfloor_tangent(batch, ctx, th) -> dict:
    """d/de of ``CapFloorBatch.prepare``'s leaves along theta's move th (its currency's th["a"], th["ir_vol"]), the
    same tree (integer leaves as prepare's)."""
    ccy = batch.currency
    ci = ctx.ccy_index(ccy)
    da, dsig = float(th["a"][ci]), np.asarray(th["ir_vol"][ci], np.float64)
    t = np.asarray(ctx.times, dtype=np.float64)
    rows = batch.schedule_rows(ctx.market)
    per, st, en, tau, ft, pt, valid, strike, notional = (rows[k] for k in (
        "per", "st", "en", "tau", "ft", "pt", "valid", "strike", "notional"))
    n = len(batch.specs)
    scale = 1.0 + strike[:, None] * tau
    _, _, dlnA_E, dB_E = bond_tangent(ctx, ccy, da, dsig, en, base=False)
    _, _, dlnA_S, dB_S = bond_tangent(ctx, ccy, da, dsig, st, base=False)
    _, _, dlnA_P, dB_P = bond_tangent(ctx, ccy, da, dsig, pt, base=False)
    ahead = (t[:, None, None] <= ft[None] + TIME_EPS) & (ft[None] > TIME_EPS) & valid[None]
    v, dv = state_variance_tangent(ctx, ccy, da, dsig, t[:, None, None], ft[None])
    pos = ahead & (v > 0.0)
    sv, dsv = np.where(pos, v, 0.0), np.where(pos, dv, 0.0)
    Bf = [bond_tangent(ctx, ccy, da, dsig, T, t=ft, base=False) for T in (st, en, pt)]
    (Bs, dBs), (Be, dBe), (Bp, dBp) = ((b[1], b[3]) for b in Bf)
    root = np.sqrt(sv)
    ds_p = (dBe - dBs)[None] * root + (Be - Bs)[None] * np.where(pos, dsv / (2.0 * np.where(pos, root, 1.0)), 0.0)
    dconv = ((dBs - dBe) * (Bp - Be) + (Bs - Be) * (dBp - dBe))[None] * sv + ((Bs - Be) * (Bp - Be))[None] * dsv
    zero = np.zeros(())
    opt = entries(ahead & (notional[:, None] * scale != 0.0)[None], n, alpha=dlnA_S - dlnA_E + dconv,
                  beta=dB_S - dB_E, gamma=dlnA_P, delta=dB_P, s=ds_p, w=zero, wgt=zero)
    lagged = (ft < st - TIME_EPS) | (pt > en + TIME_EPS)
    keys = ("has", "j", "m", "c0", "Bfix", "lnA_e", "B_e")
    cur = {k: np.zeros((t.size, n), dtype=(int if k in ("j", "m") else bool if k == "has" else float)) for k in keys}
    groups: dict = {}  # prepare's grouping by forwarding curve: the entries' order follows it
    for i, p in enumerate(per):
        groups.setdefault(id(p[5]), (p[5], []))[1].append(i)
    sets = [slice(None)] if not lagged.any() or st.shape[1] < 2 else [slice(0, None, 2), slice(1, None, 2)]
    parts = []
    for sl in sets:
        step, first = sl.step or 1, sl.start or 0
        for _, idx in groups.values():
            idx = np.asarray(idx)
            sub = lambda a: a[idx][:, sl]  # noqa: E731
            part = coupon_tangent(ctx, ccy, da, dsig, sub(st), sub(en), sub(valid), sub(ft), sub(pt))
            part["j"] = first + step * part["j"]
            for k in keys:
                cur[k][:, idx] = part[k]
        parts.append(entries(cur["has"], n, c0=cur["c0"], Bfix=cur["Bfix"], m=cur["m"], lnA_e=cur["lnA_e"],
                             B_e=cur["B_e"], scale=zero, w=zero, wp=zero))
    fixed = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return {"opt": opt, "fixed": fixed, "sign": np.zeros(n)}
