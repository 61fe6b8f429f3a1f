"""A swaption batch's prepared data along a model move (mean reversion a, Hull-White sigma): forward mode in NumPy.

``SwaptionBatch.prepare`` line by line, with (lnA, B, dlnA, dB) of the bonds (``setup_pres_model.bond_tangent``) and
the state variance's tangent (``state_variance_tangent``). The underlying coupon bond (times T_i, amounts c_i,
target) does not move without a payment lag; its Jamshidian root x* (sum_i c_i P(T0,T_i; x*) = target) moves by
the implicit-function theorem, and the strikes K_i = P(T0,T_i; x*) with it:

    dx* = -(dF/de) / (dF/dx) = sum_i c_i K_i (dlnA_i - dB_i x*) / sum_i c_i K_i B_i,   (lnA_i, B_i at (T0, T_i))
    d lnK_i = dlnA_i - dB_i x* - B_i dx*,
    d alpha = dlnA(t,T_i) - dlnA(t,T0) - d lnK_i,   d beta = dB(t,T_i) - dB(t,T0),
    d s = dB(T0,T_i) sqrt(sv) + B(T0,T_i) dsv / (2 sqrt(sv))   (sv = Var[x(T0) | x(t)] > 0; else 0),
    wgt (strike leg) = -w N sum_i c_i K_i = -w N target: it does not move (sum_i c_i K_i d lnK_i = 0 by dx*),

and the cdf coefficients of ``swaption_kernels._probability_coefficients`` (a0 = -w (alpha/s + (0.5 - e) s)/sqrt 2,
a1 = w beta / (s sqrt 2)) by the quotient rule. A physical batch's underlying swap after T0: d lnA, dB of its flows'
bonds and the fixed-phase coupons' tangents (``setup_pres_capfloor.coupon_tangent``); its amounts do not move.

The leaves are gathered by prepare's own ``entries`` / ``shared_bond_entries`` with the base coefficients deciding
the order and the shared-bond runs (the tangents ride along as extra entry columns; a block's bond tangent is its
first entry's), so they line up with prepare's float leaves. Not written here: a batch with a payment lag (the
bond times T* and the amounts kappa move with a: ``SwaptionBatch.lagged_float``) and one prepared with netting
tables (``option_tables``, a plain run's only): ``swaption_tangent`` returns None, and the caller keeps the central
differences for it.
"""

from __future__ import annotations

import numpy as np

from exposure.models.hw_options import pad_cashflows, swap_coupon_bond
from exposure.pricing.opt_common import TIME_EPS, TINY_SD, entries, first_at_or_after, pad_rows, shared_bond_entries
from exposure.risk.setup_pres_capfloor import coupon_tangent
from exposure.risk.setup_pres_model import bond_tangent, state_variance_tangent

_R2 = 0.7071067811865476


def _shared(flat: dict, lnA: str, B: str, time, group, **kw) -> tuple:
    """(entries, blocks) tangents of ``shared_bond_entries(flat, lnA, B, time, group)``: ``flat`` carries the base
    bond coefficients (they decide the order and the runs), the bonds' tangents as columns "dp", "dq" and every
    other float column as its tangent already; a block's (p, q) is the (dp, dq) of its first entry (a run shares
    its bond, so its tangent too)."""
    ent, blocks = shared_bond_entries(flat, lnA, B, time, group, **kw)
    nb = blocks["k"].shape[0]
    s = ent["row"].shape[0] // nb
    first = lambda a: np.asarray(a).reshape(nb, s)[:, 0]  # noqa: E731
    return ({k: a for k, a in ent.items() if k not in ("dp", "dq")},
            {"k": blocks["k"], "p": first(ent["dp"]), "q": first(ent["dq"])})


def _probability_tangent(c: dict) -> tuple:
    """(da0, da1) of ``swaption_kernels._probability_coefficients`` along (dalpha, dbeta, ds)."""
    from exposure.pricing.swaption_kernels import _STEP

    s, w, al, be, ds = c["s"], c["w"], c["alpha"], c["beta"], c["ds"]
    live = s > TINY_SD
    ss = np.where(live, s, 1.0)
    da0 = np.where(live, -w * (c["dalpha"] / ss - al * ds / ss**2 + (0.5 - c["e"]) * ds) * _R2,
                   -w * c["dalpha"] * _STEP)
    da1 = np.where(live, w * (c["dbeta"] / ss - be * ds / ss**2) * _R2, w * c["dbeta"] * _STEP)
    return da0, da1


def _options(batch, ctx, da, dsig, legs, t, T0) -> dict:
    """{"opt", "opt_bonds"}: the tangents of prepare's Jamshidian terms (module docstring)."""
    ccy, specs, n = batch.currency, batch.specs, len(batch.specs)
    rm = ctx.rate_model(ccy)
    bonds = [swap_coupon_bond(lg[0], lg[1], lg[2], s.fixed_rate, lg[3], lg[7], lg[5]) for s, lg in zip(specs, legs)]
    times, amts = pad_cashflows([(b[0], b[1]) for b in bonds])
    target = np.array([b[2] for b in bonds])
    xstar = rm.critical_state(T0, times, amts, target)
    strikes = rm.zero_bond(T0[:, None], times, xstar[:, None])
    lnK = np.log(strikes)
    _, B_0, dlnA_0, dB_0 = bond_tangent(ctx, ccy, da, dsig, times, t=T0[:, None], base=False)  # (n, m) at (T0, T_i)
    ck = amts * strikes
    dx = np.sum(ck * (dlnA_0 - dB_0 * xstar[:, None]), axis=1) / np.sum(ck * B_0, axis=1)
    dlnK = dlnA_0 - dB_0 * xstar[:, None] - B_0 * dx[:, None]
    payer = np.array([s.payer for s in specs])
    lnA_S, B_S, dlnA_S, dB_S = bond_tangent(ctx, ccy, da, dsig, times)  # (K, n, m)
    lnA_T, B_T, dlnA_T, dB_T = bond_tangent(ctx, ccy, da, dsig, T0)  # (K, n)
    pre_mask = t[:, None] <= T0[None, :] + (TIME_EPS if batch.physical else -TIME_EPS)
    v, dv = state_variance_tangent(ctx, ccy, da, dsig, t[:, None], T0[None, :])
    sv = np.where(pre_mask, v, 0.0)
    pos = pre_mask & (sv > 0.0)
    root = np.sqrt(np.maximum(sv, 0.0))
    dsv_root = np.where(pos, np.where(pos, dv, 0.0) / (2.0 * np.where(pos, root, 1.0)), 0.0)
    s_p = B_0[None] * root[..., None]
    ds_p = dB_0[None] * root[..., None] + B_0[None] * dsv_root[..., None]
    w = np.where(payer, -1.0, 1.0)
    alpha, beta = lnA_S - lnA_T[..., None] - lnK[None], B_S - B_T[..., None]
    dalpha, dbeta = dlnA_S - dlnA_T[..., None] - dlnK[None], dB_S - dB_T[..., None]
    coupons = entries((amts != 0.0)[None] & pre_mask[..., None], n, chunk=1, p=lnA_S, q=B_S, alpha=alpha,
                      beta=beta, s=s_p, e=0.0, w=w[None, :, None], T=times[None], g=0, dp=dlnA_S, dq=dB_S,
                      dalpha=dalpha, dbeta=dbeta, ds=ds_p)
    r = np.array([np.flatnonzero(row)[-1] for row in amts != 0.0])

    def last(a):  # the last coupon's column of a (K, n, m) array
        return np.take_along_axis(a, np.broadcast_to(r[None, :, None], a.shape[:2] + (1,)), axis=2)[..., 0]

    strike_leg = entries(pre_mask, n, chunk=1, p=lnA_T, q=B_T, alpha=last(alpha), beta=last(beta), s=last(s_p),
                         e=1.0, w=w[None, :], T=T0[None, :], g=1, dp=dlnA_T, dq=dB_T, dalpha=last(dalpha),
                         dbeta=last(dbeta), ds=last(ds_p))
    c = {k: np.concatenate([coupons[k], strike_leg[k]]) for k in coupons}
    da0, da1 = _probability_tangent(c)
    # the leaves of ``_probability_coefficients`` (a0, a1, wgt) as their tangents; p, q the base (the runs)
    flat = {"p": c["p"], "q": c["q"], "a0": da0, "a1": da1, "wgt": np.zeros_like(da0), "k": c["k"], "i": c["i"],
            "row": c["row"], "dp": c["dp"], "dq": c["dq"]}
    opt, bonds_ = _shared(flat, "p", "q", c["T"], c["g"])
    return {"opt": opt, "opt_bonds": bonds_}


def _underlying(batch, ctx, da, dsig, legs, t, T0) -> dict:
    """The tangents of ``SwaptionBatch._underlying``'s leaves (no payment lag: the flows' amounts do not move)."""
    from exposure.pricing.swaption_exercised import _merge

    ccy, specs, n = batch.currency, batch.specs, len(batch.specs)
    flows, kinds, deads = [], [], []
    for s, (_, fixed_t, fixed_acc, fs, _, b, _, fp) in zip(specs, legs):
        u = 1.0 if s.payer else -1.0
        pt, pa = _merge(np.concatenate([fixed_t, fp]),
                        np.concatenate([-s.fixed_rate * fixed_acc, -np.ones_like(fp)]) * u * s.notional)
        flows.append((np.concatenate([pt, fs]), np.concatenate([pa, b * u * s.notional])))
        kinds.append(np.concatenate([np.ones_like(pt), np.zeros_like(fs)]))
        deads.append(np.concatenate([pt, fs]))
    U = pad_rows([f[0] for f in flows], fill=None)
    aU = pad_rows([f[1] for f in flows], fill=0.0)
    is_pay = pad_rows(kinds, fill=1.0) > 0.5
    D = pad_rows(deads, fill=None)
    lnA_U, B_U, dlnA_U, dB_U = bond_tangent(ctx, ccy, da, dsig, U)
    tk = t[:, None, None]
    alive = np.where(is_pay[None], U[None] > tk + TIME_EPS, D[None] >= tk - TIME_EPS) & (aU != 0.0)[None]
    after = t[:, None] > T0[None, :] + TIME_EPS
    starts = pad_rows([lg[3] for lg in legs], fill=None)
    ends = pad_rows([lg[4] for lg in legs], fill=None)
    pays = pad_rows([lg[7] for lg in legs], fill=None)
    valid = pad_rows([np.ones_like(lg[3]) for lg in legs], fill=0.0) > 0.5
    e_idx = first_at_or_after(t, T0)
    at_ex = np.arange(t.size)[:, None] == e_idx[None, :]
    on_or_after = t[:, None] >= T0[None, :] - TIME_EPS
    zero = np.zeros(())
    # no payment lag (the caller's condition): one set of periods, whatever their forwarding curve (it sets
    # only the deterministic parts, which do not move)
    cur = coupon_tangent(ctx, ccy, da, dsig, starts, ends, valid, starts, pays, own_fixings=False)
    run = dict(c0=cur["c0"] + cur["lnA_e"], Bfix=cur["Bfix"], m=cur["m"], B_e=cur["B_e"], w=zero)
    runs = entries(cur["has"] & after, n, **run)
    ex_run = entries(cur["has"] & at_ex & on_or_after, n, **run)
    ex_flows = entries(alive & (at_ex & on_or_after)[..., None], n, lnA=dlnA_U, B=dB_U, amt=zero)
    for e in (ex_flows, ex_run):
        e["row"] = e["i"]
    flat = entries(alive & after[..., None], n, chunk=1, lnA=lnA_U, B=B_U, amt=0.0, T=U[None],
                   g=(~is_pay).astype(np.int64)[None], dp=dlnA_U, dq=dB_U)
    fl, fb = _shared({k: v for k, v in flat.items() if k not in ("T", "g")}, "lnA", "B", flat["T"], flat["g"],
                     entry_cost=0.5)
    return {"flows": fl, "flow_bonds": fb, "run": runs, "ex_flows": ex_flows, "ex_run": ex_run, "after": after}


def swaption_tangent(batch, ctx, th) -> dict | None:
    """d/de of ``SwaptionBatch.prepare``'s leaves along theta's move th (its currency's th["a"], th["ir_vol"]), the
    same tree (integer leaves as prepare's); None for a batch with a payment lag or netting tables (not written)."""
    if ctx.option_tables:
        return None
    legs = batch.legs(ctx.market)
    if any(np.any(lg[7] > lg[4] + TIME_EPS) for lg in legs):
        return None
    ci = ctx.ccy_index(batch.currency)
    da, dsig = float(th["a"][ci]), np.asarray(th["ir_vol"][ci], np.float64)
    t = np.asarray(ctx.times, dtype=np.float64)
    T0 = np.array([lg[0] for lg in legs])
    pre = _options(batch, ctx, da, dsig, legs, t, T0)
    pre["sign"] = np.zeros(len(batch.specs))
    if batch.physical:
        pre.update(_underlying(batch, ctx, da, dsig, legs, t, T0))
    return pre
