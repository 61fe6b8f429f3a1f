"""Shared pieces of the option pricers: business days, grid look-ups, the sparse terms and fixed-phase coupons.

Deterministic coefficients (bond intercepts, slopes, option vols) are precomputed by each batch's
``prepare``; on a path only exp, erfc (``normal_cdf``) and multiply-adds remain. FX and equity options are
evaluated one valuation date at a time (``map_dates``, a scan over the K dates, temporaries (trades, paths)). Rate
options are sums of many terms (a zero-bond option per coupon, a bond per swap flow), most of which are
dead at a given date (expired, fixed, paid) or padding: ``entries`` lists the live (date, trade, flow)
terms once in ``prepare`` and ``accumulate`` evaluates them in chunks of CHUNK with a scatter-add into
the (K n, P) result, so the work follows the number of live terms. Terms discounted by the same bond
P(t_k, T) (trades of one currency share payment dates) are sorted together and evaluated in blocks that compute
the bond once (``shared_bond_entries`` / ``accumulate_shared``), with the same sums bit for bit. The closed
forms evaluated per term (Hull-White zero-bond option, Black) are in ``opt_closed_form``.
"""

from __future__ import annotations

import datetime as dt

import jax
import jax.numpy as jnp
import numpy as np

from exposure.market.schedule import WEEKENDS_ONLY

# Same threshold as hw_options: below it the option is worth its intrinsic value.
TINY_SD = 1e-14
# Two model times closer than this are the same date (times are whole days / 365).
TIME_EPS = 1e-10


# ---- dates ------------------------------------------------------------------------------------------
def business_day(d: dt.date) -> dt.date:
    """Modified following on the weekends-only calendar (the schedules' calendar)."""
    return WEEKENDS_ONLY.adjust(d, "modified_following")


# ---- grid look-ups (NumPy, prepare time) -------------------------------------------------------------
def first_at_or_after(times: np.ndarray, T) -> np.ndarray:
    """Index of the first valuation time >= T (to TIME_EPS), clipped to the last index; shape of T."""
    idx = np.searchsorted(np.asarray(times), np.asarray(T, dtype=np.float64) - TIME_EPS, side="left")
    return np.minimum(idx, len(times) - 1)


def pad_rows(rows, fill=0.0, width=None):
    """Stack 1-d sequences into (n, max_len), padding with ``fill`` (or each row's last value if None)."""
    m = max(1, max((len(r) for r in rows), default=1)) if width is None else width
    out = np.zeros((len(rows), m))
    for i, r in enumerate(rows):
        r = np.asarray(r, dtype=np.float64)
        out[i, : r.size] = r
        out[i, r.size :] = (r[-1] if r.size else 0.0) if fill is None else fill
    return out


# ---- traced helpers ---------------------------------------------------------------------------------
def cast_floats(tree, dtype):
    """The floating-point leaves of ``tree`` in ``dtype`` (the view's: float32 runs stay float32)."""
    def cast(a):
        a = jnp.asarray(a)
        return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a

    return jax.tree_util.tree_map(cast, tree)


def map_dates(fn, per_date, batch_size=None):
    """Apply fn(k_slice) over the leading K axis of the pytree ``per_date`` with lax.map (a scan)."""
    return jax.lax.map(fn, per_date, batch_size=batch_size)


# ---- sparse terms: only the live (date, trade, flow) entries are evaluated ---------------------------
CHUNK = 64  # entries evaluated together: temporaries are (CHUNK, paths); 16 left XLA CPU one core idle


def entries(mask, n_trades: int, chunk: int = CHUNK, **coefs) -> dict:
    """Flatten the True cells of ``mask`` (K, n[, m]) into entry arrays padded to a multiple of ``chunk``.

    Every coefficient broadcasts against ``mask``; the result has, per entry, ``k`` (date), ``i``
    (trade), ``row`` = k n + i (the output row) and the coefficients. Padding entries are all zero (a
    zero weight must make a term vanish)."""
    mask = np.asarray(mask, dtype=bool)
    idx = np.nonzero(mask)
    L = idx[0].size
    Lp = chunk * max(1, -(-L // chunk))
    out = {}
    for name, arr in coefs.items():
        a = np.broadcast_to(np.asarray(arr), mask.shape)[idx]
        out[name] = np.concatenate([a, np.zeros(Lp - L, dtype=a.dtype)])
    k, i = idx[0], idx[1]
    out["k"] = np.concatenate([k, np.zeros(Lp - L, dtype=k.dtype)]).astype(np.int32)
    out["i"] = np.concatenate([i, np.zeros(Lp - L, dtype=i.dtype)]).astype(np.int32)
    out["row"] = out["k"] * np.int32(n_trades) + out["i"]
    return out


def accumulate(acc, x_all, ent, fn, chunk: int = CHUNK, scale=None):
    """acc[row_e] += fn(x_all[k_e], entry chunk) [* scale[k_e]] for every entry e: a scan over chunks of ``chunk``.

    acc: (K' n, P) (any number of rows); x_all: (K, P) the currency's state; fn(x (C, P), c) -> (C, P); scale
    (K, P) or None: each term times its date's row (FX rates; the terms go straight into a base-currency total)."""
    L = ent["row"].shape[0]
    chunks = jax.tree_util.tree_map(lambda a: a.reshape((L // chunk, chunk) + a.shape[1:]), ent)

    def body(acc, c):
        v = fn(x_all[c["k"]], c)
        return acc.at[c["row"]].add(v if scale is None else v * scale[c["k"]]), None

    acc, _ = jax.lax.scan(body, acc, chunks)
    return acc


# ---- sparse terms sharing their zero bonds ------------------------------------------------------------
# Trades of one currency repeat payment dates, so many entries of a date discount with the same bond
# P(t_k, T) = exp(lnA - B x): bench-1k's swaptions have 11x more (date, trade, coupon) entries than distinct
# (date, T). Entries sorted by (date, T) form runs sharing one bond; each run is padded to whole blocks of
# ``s`` entries, and a block evaluates its bond (and reads its state) once and broadcasts it to its s entries.
# A broadcast, not a gather: XLA's CPU gather from a table of bonds cost as much as the exps it saved.
BOND_BLOCKS = (1, 2, 4, 8)


def shared_bond_entries(flat: dict, lnA: str, B: str, time, group=None, chunk: int = CHUNK,
                        entry_cost: float = 2.0):
    """(entries, blocks) from unpadded entries ``flat`` (``entries(..., chunk=1)`` output, or several
    concatenated): the bond coefficients ``flat[lnA]``, ``flat[B]`` and the date move to per-block arrays
    {"k", "p", "q"} of shape (L_pad / s,), entries keep the rest, (L_pad,), L_pad a multiple of ``chunk``.

    Entries are reordered by (date, group, time) (``time`` (L,): the bond's maturity; ``group`` (L,) ints,
    default 0): each output row must still receive its terms in the original order, so that the scatter-adds
    give the same sums bit for bit; where that order would change (a row whose times are not increasing within
    a group), the original order is kept. The block size s is the one of ``BOND_BLOCKS`` with the least
    estimated work (padded entries x entry_cost + blocks, in exps). Padding entries are all zero (weight 0)."""
    L = flat["row"].shape[0]
    k = np.asarray(flat["k"])
    p, q = np.asarray(flat[lnA], dtype=np.float64), np.asarray(flat[B], dtype=np.float64)
    g = np.zeros(L, dtype=np.int64) if group is None else np.asarray(group)
    order = np.lexsort((np.asarray(time, dtype=np.float64), g, k))  # stable: ties keep the original order
    rows = np.asarray(flat["row"])[order]
    by_row = np.lexsort((order, rows))  # sorted positions, grouped by row, in the original order
    if np.any((rows[by_row][1:] == rows[by_row][:-1]) & (np.diff(by_row) < 0)):
        order = np.arange(L)
    ks, ps, qs = k[order], p[order], q[order]
    new = np.r_[True, (ks[1:] != ks[:-1]) | (ps[1:] != ps[:-1]) | (qs[1:] != qs[:-1])] if L else np.zeros(0, bool)
    start = np.flatnonzero(new)
    length = np.diff(np.r_[start, L])
    best = None
    for s in BOND_BLOCKS:
        if chunk % s:
            continue
        nb = -(-length // s)  # blocks per run
        n_blk = max(1, -(-int(nb.sum()) * s // chunk)) * chunk // s
        cost = n_blk * s * entry_cost + n_blk
        if best is None or cost < best[0]:
            best = (cost, s, nb, n_blk)
    _, s, nb, n_blk = best
    run = np.repeat(np.arange(start.size), nb)  # run of each real block
    j = np.arange(run.size) - np.repeat(np.cumsum(nb) - nb, nb)  # block index within its run
    pos = start[run][:, None] + j[:, None] * s + np.arange(s)[None, :]  # (blocks, s) positions in ``order``
    real = np.zeros((n_blk, s), dtype=bool)
    real[:run.size] = pos < (start + length)[run][:, None]
    src = np.zeros((n_blk, s), dtype=np.int64)
    src[:run.size] = np.where(real[:run.size], pos, 0)
    take, real = order[src.reshape(-1)], real.reshape(-1)
    ent = {}
    for name, a in flat.items():
        if name in (lnA, B):
            continue
        a = np.asarray(a)
        ent[name] = np.where(real, a[take], np.zeros((), a.dtype)).astype(a.dtype)
    blocks = {"k": np.zeros(n_blk, np.int32), "p": np.zeros(n_blk), "q": np.zeros(n_blk)}
    first = start[run]
    blocks["k"][:run.size], blocks["p"][:run.size], blocks["q"][:run.size] = ks[first], ps[first], qs[first]
    return ent, blocks


def accumulate_shared(acc, x_all, ent, blocks, fn, chunk: int = CHUNK, scale=None):
    """acc[row_e] += fn(x_all[k_e], bond_e, entry chunk) [* scale[k_e]] for every entry e, bond_e = exp(p - q
    x_all[k]) of its block (``shared_bond_entries``): a scan over chunks, one exp and one state row per block,
    broadcast to the block's entries. Shapes and ``scale`` as ``accumulate``."""
    L, nb = ent["row"].shape[0], blocks["k"].shape[0]
    s, n_chunks = L // nb, L // chunk
    chunks = jax.tree_util.tree_map(lambda a: a.reshape((n_chunks, chunk) + a.shape[1:]), ent)
    blks = jax.tree_util.tree_map(lambda a: a.reshape((n_chunks, chunk // s) + a.shape[1:]), blocks)

    def body(acc, cb):
        c, b = cb
        xb = x_all[b["k"]]  # (chunk / s, P)
        bond = jnp.exp(b["p"][:, None] - b["q"][:, None] * xb)
        spread = lambda a: jnp.broadcast_to(a[:, None, :], (a.shape[0], s, a.shape[1])).reshape(chunk, -1)  # noqa: E731
        v = fn(spread(xb), spread(bond), c)
        return acc.at[c["row"]].add(v if scale is None else v * spread(scale[b["k"]])), None

    acc, _ = jax.lax.scan(body, acc, (chunks, blks))
    return acc


# ---- deterministic helpers (prepare time, NumPy) -------------------------------------------------------
# Set-up runs in NumPy: every eager or jitted JAX call at prepare time compiles its own XLA program (a
# hundred of them cost a fresh process about 10 s), and these are elementwise formulas over small arrays.
def log_discount_np(curve, t) -> np.ndarray:
    return curve.log_discount_np(t)


def basis_np(discount, forward, start, end) -> np.ndarray:
    """hw_options.basis_factor in NumPy: [P_f(0,s)/P_f(0,e)] / [P_d(0,s)/P_d(0,e)]; exactly 1 on one curve."""
    if forward is discount:
        return np.ones(np.broadcast_shapes(np.shape(start), np.shape(end)))
    return np.exp(log_discount_np(forward, start) - log_discount_np(forward, end)
                  - log_discount_np(discount, start) + log_discount_np(discount, end))


def variance_between_np(vol, s, t) -> np.ndarray:
    """w(t) - w(s) of a BlackVolCurve, NumPy in and out."""
    return vol.variance_between_np(s, t)


# ---- floating coupons fixed before the valuation date (NumPy, prepare time) ---------------------------
def coupon_periods(ctx, starts, ends, fixes, valid, pays, own_fixings: bool) -> tuple:
    """(t, jj, s, e, fx, pay, has, m, det), (K, n) each but t (K,): the coupon period j in its fixed phase at t_k
    (the last valid period with f_j < t_k), its start, end, fixing and payment times (pay = e without ``pays``),
    ``has`` (t_k before its payment), m the last view date that reads its fixing state and ``det`` (fixed today or
    unreadable: deterministic). The discrete choices that ``current_coupons`` and its tangents share."""
    t = np.asarray(ctx.times, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    n = starts.shape[0]
    thresh = np.maximum(t - TIME_EPS, 2.0 * TIME_EPS)
    j = np.empty((t.size, n), dtype=int)
    for i in range(n):
        j[:, i] = np.searchsorted(fixes[i][valid[i]], thresh, side="left") - 1
    jj = np.maximum(j, 0)
    cols = np.arange(n)[None, :]
    s, e, fx = starts[cols, jj], ends[cols, jj], fixes[cols, jj]
    pay = e if pays is None else np.asarray(pays, dtype=np.float64)[cols, jj]
    has = (j >= 0) & (t[:, None] < pay - TIME_EPS) & valid[cols, jj]
    m = ctx.last_readable(fx, own=np.full(fx.shape, own_fixings))  # last readable view date <= f_j
    return t, jj, s, e, fx, pay, has, m, (fx <= TIME_EPS) | (m < 0)


def current_coupons(ctx, ccy: str, fwd_curve, starts, ends, valid, fixing_factor=None, fixing_times=None,
                    own_fixings=False, pays=None) -> dict:
    """The floating period in its fixed phase at each valuation date and the coefficients of its fixing.

    starts, ends, valid: (n, m) accrual periods (increasing, not overlapping in their fixed phases; ``valid``
    False on padding); ``fixing_times`` (n, m) the fixing dates f_j <= s_j (default: the starts, no fixing
    lag). Below, with a lag, read f_j for s_j where it decides the phase or the fixing state; the forward is
    always the one of the accrual period [s_j, e_j]. For each (k, i) the period j with s_j < t_k < e_j, or
    with s_j <= 0 (fixed on or before the as-of date) and t_k < e_j (a coupon paid on t_k is no longer in
    the value at t_k). Its fixing factor F = 1 + tau L is

      * s_j <= 0: ``fixing_factor[i, j]`` (1 + tau x the fixing from the fixings file) where finite, else
        P_f(0, s_j) / P_f(0, e_j) from today's forwarding curve;
      * s_j > 0: the forward for [s_j, e_j] seen from the state at s, the last readable view date on or
        before s_j (``PricingContext.last_readable``; with ``own_fixings`` the fixings are the trade's own
        event dates and s = s_j when simulated; the t0 state, i.e. today's curve, if there is none), the convention of
        ``exposure.pricing.linear``: F = b_j P(s, s_j) / P(s, e_j) = exp(c0 + Bfix x(s)) with b_j the
        deterministic basis of ``hw_options.basis_factor``. Exact when s_j is a valuation date; otherwise
        the fixing's conditional expectation under the payment-date forward measure, so linear payoffs
        keep their martingale property (a caplet's optionality over (s, s_j] is lost).

    With ``pays`` (n, m) payment times p_j >= e_j (a payment lag), read p_j for e_j where it ends the fixed
    phase and discounts the coupon; the forward stays the one of [s_j, e_j].

    Returns (K, n) arrays: has (bool), j (period index), m (date index of the fixing state), c0, Bfix and
    lnA_e, B_e of the bond P(t_k, p_j) that discounts the coupon to t_k; all zero where ``has`` is False.
    """
    curve = ctx.model.curves[ctx.ccy_index(ccy)]
    starts = np.asarray(starts, dtype=np.float64)
    fixes = starts if fixing_times is None else np.asarray(fixing_times, dtype=np.float64)
    t, jj, s, e, fx, pay, has, m, det = coupon_periods(ctx, starts, ends, fixes, valid, pays, own_fixings)
    cols = np.arange(starts.shape[0])[None, :]
    ff = np.full(s.shape, np.nan) if fixing_factor is None else np.asarray(fixing_factor, dtype=np.float64)[cols, jj]
    curve_ff = np.exp(log_discount_np(fwd_curve, s) - log_discount_np(fwd_curve, e))
    f_det = np.where(np.isfinite(ff) & (fx <= TIME_EPS), ff, curve_ff)
    m = np.maximum(m, 0)
    tm = np.minimum(t[m], fx)
    lnb = np.log(basis_np(curve, fwd_curve, s, e))
    lnA_s, B_s = ctx.bond_coefficients(ccy, s, t=tm)
    lnA_f, B_f = ctx.bond_coefficients(ccy, e, t=tm)
    c0 = np.where(det, np.log(np.where(f_det > 0.0, f_det, 1.0)), lnb + lnA_s - lnA_f)
    bfix = np.where(det, 0.0, B_f - B_s)
    lnA_e, B_e = ctx.bond_coefficients(ccy, pay, t=t[:, None])
    z = lambda v: np.where(has, v, 0.0)  # noqa: E731
    return {"has": has, "j": jj, "m": np.where(has & ~det, m, 0), "c0": z(c0), "Bfix": z(bfix),
            "lnA_e": z(lnA_e), "B_e": z(B_e)}
