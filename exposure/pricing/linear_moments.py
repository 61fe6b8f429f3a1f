"""The NumPy side of the linear pricer's ``prepare``: flow moments, current coupons and state bounds per date.

Flow moments of currency c at date t_k over the batch's alive flows f (``exposure.pricing.linear``'s docstring):

    m_n(k) = sum_f a_f A_f(t_k) ((B_mid - B_f) s_k)^n / n!,   s_k = Y / h_k,  h_k = (B_max - B_min) / 2

as (K, N+1, n_trades) arrays, one sparse product per date over the distinct (payment, fixing) days; current
coupons (fixing T1 <= t_k < payment T2) as per-date tables of weights w and exponents ln A1 - ln A2 + ln Ap
(distinct exponents shared); and the state bound |E x_c(t_k)| + BOUND_SD sd(x_c(t_k)) that fixes each date's
series order before any path is drawn. Times in years (``exposure.dates``), days as integers since the as-of
date, amounts in the flow's currency.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from exposure.dates import days as model_days
from exposure.dates import years as model_years
from exposure.pricing.cashflows import CashFlows, log_discount
from exposure.pricing.linear_eval import COUPON_CHUNK
from exposure.pricing.view import PricingContext

BOUND_SD = 8.0  # the per-date order covers |x| up to |mean| + BOUND_SD standard deviations


def view_days(ctx: PricingContext) -> np.ndarray:
    if ctx.dates and len(ctx.dates) == len(ctx.times):
        return np.array([(d - ctx.market.asof).days for d in ctx.dates], dtype=np.int64)
    return model_days(ctx.times)


def taylor_terms(z: np.ndarray, order: int) -> np.ndarray:
    """(len(z), order+1): z^n / n!."""
    steps = np.empty((z.size, order + 1))
    steps[:, 0] = 1.0
    steps[:, 1:] = z[:, None] / np.arange(1, order + 1)[None, :]
    return np.cumprod(steps, axis=1)


def _flow_moments(ctx, cf: CashFlows, j: int, days, order: int, y: float, out=None):
    """Per-trade moments (K, N+1, n_tr), B_mid (K,) and 1/s (K,) of the flows of batch currency j; ``out``: a
    zero-filled (K, N+1, n_tr) array (view) to write the moments into (``prepare`` passes its slice of the batch's
    (K, n_ccy_b, N+1, n_tr) array: no copy of a per-currency array)."""
    K, n_tr = days.size, cf.n_trades
    mom = np.zeros((K, order + 1, n_tr)) if out is None else out
    bmid, inv_s = np.zeros(K), np.zeros(K)
    grouped = flow_groups(cf, j)
    if grouped is None:
        return mom, bmid, inv_s
    groups, W = grouped
    lnA, B = group_coefficients(lambda T: ctx.bond_coefficients(cf.currencies[j], T), groups)
    alive = days[:, None] < groups[None, :, 1]
    for k in range(K):
        a = alive[k]
        if not a.any():
            continue
        Bk = B[k]
        bmax, bmin = Bk[a].max(), Bk[a].min()
        bm, h = 0.5 * (bmax + bmin), 0.5 * (bmax - bmin)
        bmid[k], inv_s[k] = bm, h / y
        z = np.where(a, (bm - Bk) * (y / h if h > 0.0 else 0.0), 0.0)
        D = taylor_terms(z, order) * np.where(a, np.exp(lnA[k]), 0.0)[:, None]
        mom[k] = (W @ D).T
    return mom, bmid, inv_s


def flow_key_groups(cf: CashFlows, j: int):
    """(sel, groups, inverse): the indices of batch currency j's flows, their distinct (payment, dead, fixing
    num, fixing den) days (G, 4) and each flow's group (len(sel),); None if the currency has no flows."""
    sel = np.nonzero(cf.f_ccy == j)[0]
    if sel.size == 0:
        return None
    key = np.stack([cf.f_day[sel], cf.f_dead[sel], cf.f_num[sel], cf.f_den[sel]], axis=1)
    # np.unique(key, axis=0) in row order, by a lexsort of the integer columns (unique's structured sort cost
    # ~25 ms per call on bench-1k's 47,000 flows, the lexsort ~3 ms): the same groups and inverse
    perm = np.lexsort(key.T[::-1])
    ks = key[perm]
    first = np.ones(ks.shape[0], dtype=bool)
    first[1:] = (ks[1:] != ks[:-1]).any(axis=1)
    inverse = np.empty(sel.size, dtype=np.int64)
    inverse[perm] = np.cumsum(first) - 1
    return sel, ks[first], inverse


def flow_groups(cf: CashFlows, j: int):
    """(groups (G, 4) distinct (payment, dead, fixing num, fixing den) days, W (n_tr, G) sparse amounts) of the
    flows of batch currency j, or None if it has none."""
    found = flow_key_groups(cf, j)
    if found is None:
        return None
    sel, groups, inverse = found
    W = scipy.sparse.csr_matrix((cf.f_amount[sel], (cf.f_trade[sel], inverse)), shape=(cf.n_trades, groups.shape[0]))
    W.sum_duplicates()
    return groups, W


def group_coefficients(coef, groups) -> tuple:
    """The (K, G) bond coefficients of each group, coef(T) -> a tuple of (K, len(T)) arrays linear in ln P (lnA, B,
    or with their tangents): P(t,T) P(t,Tn) / P(t,Td) = exp(lnA + lnA_n - lnA_d - (B + B_n - B_d) x), one more
    bond where a flow's fixing lags (num != den)."""
    out = tuple(np.array(a) for a in coef(model_years(groups[:, 0])))
    lag = groups[:, 2] != groups[:, 3]
    if lag.any():
        for a, n, d in zip(out, coef(model_years(groups[lag, 2])), coef(model_years(groups[lag, 3]))):
            a[:, lag] += n - d
    return out


def coupon_slots(ctx, cf: CashFlows, days, ns_local, own_fixings: bool):
    """(active (K, n_cpn), counts (K,), C, packing order (n_cpn,), jfix (n_cpn,)) of ``_current_coupons``: which
    coupons are current at each date, the packed width, their order within a date, the view date of each fixing
    state (-1: none, the t0 state)."""
    K = days.size
    active = (cf.c_fix[None, :] <= days[:, None]) & (days[:, None] < cf.c_pay[None, :])
    counts = active.sum(axis=1) if cf.c_fix.size else np.zeros(K, dtype=np.int64)
    C = COUPON_CHUNK * max(1, -(-int(counts.max(initial=0)) // COUPON_CHUNK))
    if cf.c_fix.size == 0:
        return active, counts, C, np.zeros(0, np.int64), np.zeros(0, np.int64)
    # The last readable view date <= the fixing date (an event date of another trade is never read: see
    # PricingContext.readable), so these values do not depend on the rest of the portfolio.
    rd = np.arange(K) if ctx.readable is None else np.flatnonzero(ctx.readable)
    pos = np.searchsorted(days[rd], cf.c_fix, side="right") - 1
    jfix = np.where(pos >= 0, rd[np.maximum(pos, 0)], -1)
    if own_fixings:  # the batch's fixing dates are its own event dates: read the state simulated there
        hit = np.searchsorted(days, cf.c_fix, side="right") - 1
        exact = (hit >= 0) & (days[np.maximum(hit, 0)] == cf.c_fix)
        jfix = np.where(exact, hit, jfix)
    order = np.lexsort((cf.c_trade, ns_local[cf.c_trade], cf.c_ccy))  # packing order within a date
    return active, counts, C, order, jfix


def _current_coupons(ctx, cf: CashFlows, days, ns_local, n_u: int, own_fixings: bool = False):
    """The coupons in their fixed phase at each date, packed (see ``LinearPre``); ``own_fixings``: the
    coupons' fixing dates are the batch's event dates (read the state there when the view has it)."""
    K, n_tr = days.size, cf.n_trades
    active, counts, C, order, jfix = coupon_slots(ctx, cf, days, ns_local, own_fixings)
    out = {n: np.zeros((K, C)) for n in ("w", "b1", "b2")}
    out.update({n: np.zeros((K, C), dtype=np.int32) for n in ("j", "b", "tr", "ns")})
    out["n"] = counts.astype(np.int32)
    if cf.c_fix.size == 0:
        return _distinct_exponents(out)
    T1, T2, Tp = model_years(cf.c_start), model_years(cf.c_end), model_years(cf.c_pay)
    n = cf.c_fix.size
    lnA1, B1, lnA2, B2 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    # P(t_k, Tp) of a current coupon is read at its active dates only: per currency the (K, U) grid of its
    # distinct T1, T2, Tp (``PricingContext.bond_grid``), the grids side by side, and each coupon's Tp column in
    # them (no (K, n) tables of which each coupon reads a few dates)
    grids_a, grids_b, pcol, off = [], [], np.zeros(n, dtype=np.int64), 0
    for j, ccy in enumerate(cf.currencies):
        sel = np.nonzero(cf.c_ccy == j)[0]
        if sel.size == 0:
            continue
        # one grid for T1, T2 and Tp (elementwise in T, evaluated once per distinct time: a coupon's T2 is the next
        # one's T1, and Tp = T2 without a payment lag)
        m = sel.size
        ga, gb, col = ctx.bond_grid(ccy, np.concatenate([T1[sel], T2[sel], Tp[sel]]))
        c1, c2 = col[:m], col[m:2 * m]
        pcol[sel] = col[2 * m:] + off
        grids_a.append(ga)
        grids_b.append(gb)
        off += ga.shape[1]
        js = jfix[sel]
        has = js >= 0
        rows = np.maximum(js, 0)
        lnA1[sel] = np.where(has, ga[rows, c1], 0.0)
        lnA2[sel] = np.where(has, ga[rows, c2], 0.0)
        B1[sel] = np.where(has, gb[rows, c1], 0.0)
        B2[sel] = np.where(has, gb[rows, c2], 0.0)
        if (~has).any():  # no view date on or before the fixing: the t0 state (x = 0)
            curve = ctx.model.curves[ctx.ccy_index(ccy)]
            lnA1[sel[~has]] = log_discount(curve, T1[sel[~has]])
            lnA2[sel[~has]] = log_discount(curve, T2[sel[~has]])
    grid_a, grid_b = np.concatenate(grids_a, axis=1), np.concatenate(grids_b, axis=1)
    # every (date, coupon) of the packed tables at once: row-major over active[:, order] is each date's coupons in
    # packing order, slot their position within the date
    ks, cols = np.nonzero(active[:, order])
    cc = order[cols]
    slot = np.arange(ks.size) - np.repeat(np.cumsum(counts) - counts, counts)
    out["w"][ks, slot] = cf.c_weight[cc] * np.exp(lnA1[cc] - lnA2[cc] + grid_a[ks, pcol[cc]])
    out["b1"][ks, slot] = B1[cc] - B2[cc]
    out["b2"][ks, slot] = grid_b[ks, pcol[cc]]
    out["j"][ks, slot] = np.where(jfix[cc] >= 0, jfix[cc], K)
    out["b"][ks, slot] = cf.c_ccy[cc]
    out["tr"][ks, slot] = cf.c_ccy[cc] * n_tr + cf.c_trade[cc]
    out["ns"][ks, slot] = cf.c_ccy[cc] * n_u + ns_local[cf.c_trade[cc]]
    return _distinct_exponents(out)


def _distinct_exponents(out: dict) -> dict:
    """Coupons of a date with the same (currency, fixing state, b1, b2) have the same exp(-b1 x(s) - b2 x(t_k)):
    bench-1k's swaps have 56x more live coupons than distinct exponents. Adds the per-date table ``ub``, ``uj``,
    ``ub1``, ``ub2`` (K, U) of the distinct ones, sorted per date as ``np.unique(rows, axis=0)`` sorts them, and
    ``u`` (K, C), each coupon's row in it (padding: row 0)."""
    K, C = out["w"].shape
    ks, slot = np.nonzero(np.arange(C)[None, :] < out["n"][:, None])
    cols = (out["b"][ks, slot].astype(np.float64), out["j"][ks, slot].astype(np.float64), out["b1"][ks, slot],
            out["b2"][ks, slot])
    # one lexsort over (date, b, j, b1, b2) of all dates = each date's np.unique(axis=0), in date order
    perm = np.lexsort(cols[::-1] + (ks,))
    first = np.ones(ks.size, dtype=bool)
    first[1:] = ks[perm][1:] != ks[perm][:-1]
    for c in cols:
        first[1:] |= c[perm][1:] != c[perm][:-1]
    gid = np.cumsum(first) - 1  # the distinct row of each sorted coupon, numbered over all dates
    uk = ks[perm][first]  # the date of each distinct row
    n_u = np.bincount(uk, minlength=K)
    ustart = np.cumsum(n_u) - n_u
    U = max(1, int(n_u.max(initial=0)))
    out["u"] = np.zeros((K, C), dtype=np.int32)
    out["u"][ks[perm], slot[perm]] = gid - ustart[ks[perm]]
    out.update({n: np.zeros((K, U), dtype=np.int32) for n in ("ub", "uj")})
    out.update({n: np.zeros((K, U)) for n in ("ub1", "ub2")})
    urow = np.arange(uk.size) - ustart[uk]
    sel = perm[first]
    out["ub"][uk, urow] = cols[0][sel].astype(np.int32)
    out["uj"][uk, urow] = cols[1][sel].astype(np.int32)
    out["ub1"][uk, urow], out["ub2"][uk, urow] = cols[2][sel], cols[3][sel]
    return out


def exponent_widths(cc: dict, nb: int) -> tuple:
    """Per batch currency the most distinct coupon exponents (rows of ``_distinct_exponents``) one date has."""
    live = np.arange(cc["u"].shape[1])[None, :] < cc["n"][:, None]
    n_rows = np.where(live, cc["u"], -1).max(axis=1, initial=-1) + 1
    valid = np.arange(cc["ub"].shape[1])[None, :] < n_rows[:, None]
    return tuple(int((valid & (cc["ub"] == j)).sum(axis=1).max(initial=0)) for j in range(nb))


def per_netting_set(a: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(..., n_ns_b) = a (..., n_trades) @ member as one 2-D product (NumPy's stacked matmul of a 4-D array runs
    about 60x slower: 3.4 s against 0.05 s CPU for bench-1k's moments)."""
    return (a.reshape(-1, a.shape[-1]) @ member).reshape(a.shape[:-1] + member.shape[1:])


def _state_bound(ctx: PricingContext, currencies) -> np.ndarray:
    """(K, n_b): |E x_c(t_k)| + BOUND_SD sd(x_c(t_k)) under the model, from x_c(0) = 0.

    sd from the Hull-White state variance; the mean of a non-base x_c is its quanto drift,
    -int_0^t e^{-a (t-u)} rho sigma_c sigma_Xc du, bounded by |rho| max sigma_c max sigma_Xc (1 - e^{-a t}) / a."""
    model = ctx.model
    t = np.asarray(ctx.times, dtype=np.float64)
    out = np.zeros((t.size, len(currencies)))
    names = model.factor_names
    for j, ccy in enumerate(currencies):
        c = model.currencies.index(ccy)
        rm = model.rate_model(c)
        sd = np.sqrt(np.maximum(rm.state_variance(np.zeros_like(t), t), 0.0))
        mean = np.zeros_like(t)
        if c:
            rho = abs(float(model.correlation[names.index(f"IR:{ccy}"), names.index(f"FX:{ccy}")]))
            mean = rm.quanto_drift_bound(t, rho * float(np.max(model.fx_vol[c - 1].values)))
        out[:, j] = mean + BOUND_SD * sd
    return out
