"""The linear pricer's path loop: the moment series of ``exposure.pricing.linear`` evaluated per date.

    V_out(t_k, p) = sum_c X_c exp(-B_mid x) sum_{n <= N_k} m_n(k) xi^n  +  current coupons  +  equity forwards,

xi = x / s_k (the module docstring of ``exposure.pricing.linear`` derives the series and its error bound); values
(K, n_out, P) in base currency, undiscounted. Also the loop-bound switch reverse mode needs
(``differentiable_loops``) and the state bound max_p |x| that sets the per-date order.
"""

from __future__ import annotations

import contextlib
import contextvars
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.view import netting_sum

COUPON_CHUNK = 128  # current coupons are evaluated this many at a time (work follows the live count)

_STATIC_LOOPS = contextvars.ContextVar("linear_static_loops", default=False)


def static_loops_enabled() -> bool:
    """True inside ``differentiable_loops``: every pricer with data-dependent loop bounds must use static ones."""
    return _STATIC_LOOPS.get()


@contextlib.contextmanager
def differentiable_loops():
    """Inside: batches traced with static loop bounds, which reverse mode can differentiate (exposure.risk)."""
    token = _STATIC_LOOPS.set(True)
    try:
        yield
    finally:
        _STATIC_LOOPS.reset(token)


def state_abs_max(x) -> np.ndarray:
    """max over paths of |x|: (n_ccy, K) NumPy float64 from rate states x (n_ccy, K, P)."""
    return np.asarray(_abs_max(x), dtype=np.float64)


@jax.jit
def _abs_max(x):
    return jnp.max(jnp.abs(x), axis=2)


@partial(jax.jit, static_argnames=("ccy_idx", "eq_idx", "eq_ccy_idx", "sorted_seg", "poison", "static_loops", "rows",
                                   "cu_width"))
def _evaluate(mom, bmid, inv_s, order_k, xi_lim, cc_w, cc_b1, cc_b2, cc_j, cc_b, cc_n, cu, seg, eqc, x, fx, eq,
              ccy_idx, eq_idx, eq_ccy_idx, sorted_seg, poison, static_loops=False, acc=None, rows=(), cu_width=()):
    """(K, n_out, P) values with the series of date k truncated at order_k[k] (at the full order where a
    path has |xi| > xi_lim); with ``poison`` (traced callers, who cannot be stopped by an exception) all
    NaN if |xi| > 1 on some path. Every operation is elementwise over paths, in a fixed order. With
    ``static_loops`` (``differentiable_loops``: reverse-mode sensitivities) the loops have static trip counts
    and mask what the dynamic ones skip: the same values, bit for bit, at the cost of the full order. With ``acc``
    (K, n_all, P): returns acc with output row u added to row ``rows[u]`` date by date inside the scan (the
    poisoning decided before it from the same |xi|)."""
    dt = x.dtype
    K, P = x.shape[1], x.shape[2]
    n_out, nb = mom.shape[-1], len(ccy_idx)
    cast = lambda a: jnp.asarray(a, dt)  # noqa: E731
    mom = cast(mom)
    full = mom.shape[2] - 1
    bmid, inv_s, xi_lim, cc_w, cc_b1, cc_b2, eqc = map(cast, (bmid, inv_s, xi_lim, cc_w, cc_b1, cc_b2, eqc))
    cc_u, cu_b, cu_j, cu_b1, cu_b2 = cu
    cu_b1, cu_b2 = cast(cu_b1), cast(cu_b2)
    n_u = cu_b.shape[-1]
    cidx = jnp.asarray(ccy_idx, jnp.int32)
    # the batch's currencies' rows are read per date from x and fx themselves: copies (n_b, K, P) of them (and of
    # x with a t0 row appended) were three passes over the chunk's states (bench-1k: 0.05-0.1 CPU s per chunk)
    ci = np.asarray(ccy_idx, np.int32)

    def x_at(b, j):
        """x of the batch's currencies b at view dates j (K: the t0 state, x = 0), both (S,) ints: (S, P)."""
        v = x[cidx[b], jnp.minimum(j, K - 1)]
        return jnp.where((j < K)[:, None], v, jnp.zeros((), dt))
    if eq_idx:
        eqb = eq[jnp.asarray(eq_idx, jnp.int32)] * fx[jnp.asarray(eq_ccy_idx, jnp.int32)]  # (n_e, K, P)
    else:
        eqb = jnp.zeros((0, K, P), dt)
    CH = COUPON_CHUNK
    slots = None
    if sorted_seg and not static_loops and len(cu_width) == nb:
        slots = _coupon_slots(cc_w, cc_n, seg, cc_u, cu, cu_width, n_out, K, dt)
    off = np.concatenate([[0], np.cumsum(np.asarray(cu_width, dtype=np.int64))]) if slots is not None else None
    slot_ccy = np.repeat(np.arange(nb), cu_width) if slots is not None else None

    def step(carry, inp):
        k, mom_k, bmid_k, inv_k, ord_k, lim_k, w, b1, b2, cj, cb, cn, sg, eq_k, uu, ub, uj, ub1, ub2, slot_k = inp
        xk = jax.lax.dynamic_index_in_dim(x, k, axis=1, keepdims=False)[ci]  # (n_b, P)
        fxk = jax.lax.dynamic_index_in_dim(fx, k, axis=1, keepdims=False)[ci]
        xi = xk * inv_k[:, None]
        n_top = jnp.where(jnp.any(jnp.abs(xi) > lim_k[:, None]), full, ord_k)
        coef = lambda n: jax.lax.dynamic_index_in_dim(mom_k, n, axis=1, keepdims=False)[:, :, None]  # noqa: E731

        def horner(i, acc):  # sum_n m_n xi^n from n = n_top down
            return acc * xi[:, None, :] + coef(n_top - i)

        if static_loops:  # reverse mode needs static trip counts: every order, the ones above n_top masked
            init = jnp.broadcast_to(coef(n_top), (nb, n_out, P))
            v = jax.lax.fori_loop(1, full + 1, lambda i, acc: jnp.where(i <= n_top, horner(i, acc), acc), init)
        else:
            v = _horner_fused(mom_k, n_top, xi)
        v = v * jnp.exp(-bmid_k[:, None] * xk)[:, None, :]  # (n_b, n_out, P)

        # exp(-b1 x(s) - b2 x(t_k)) once per distinct exponent of the date (``_distinct_exponents``), picked per
        # coupon by selects (XLA's CPU gather cost as much as the exps): the same values as one exp per coupon
        ex = None if slots is not None else jnp.exp(-ub1[:, None] * x_at(ub, uj) - ub2[:, None] * xk[ub])  # (U, P)

        def chunk(i, acc):  # exact current coupons, CH at a time, only as many chunks as there are coupons
            sl = lambda a: jax.lax.dynamic_slice_in_dim(a, i * CH, CH)  # noqa: E731
            u_ = sl(uu)[:, None]
            e = jnp.broadcast_to(ex[0][None, :], (CH, P))
            for r in range(1, n_u):
                e = jnp.where(u_ == r, ex[r][None, :], e)
            cv = sl(w)[:, None] * e
            return acc + jax.ops.segment_sum(cv, sl(sg), num_segments=nb * n_out, indices_are_sorted=sorted_seg)

        n_chunks = (cn + CH - 1) // CH
        if slots is not None:  # per (netting row, distinct exponent of its currency) weight sums, in row order
            wk, sb1, sb2, sj = slot_k
            ex = jnp.exp(-sb1[:, None] * x_at(slot_ccy, sj) - sb2[:, None] * xk[slot_ccy])  # (S, P)
            rows_j = []
            for j in range(nb):
                vj = v[j]
                if off[j + 1] > off[j]:
                    c = wk[:, off[j], None] * ex[off[j]][None, :]
                    for r in range(int(off[j]) + 1, int(off[j + 1])):
                        c = c + wk[:, r, None] * ex[r][None, :]
                    vj = vj + c
                rows_j.append(vj)
        else:
            if static_loops:  # the same sums, every chunk slot visited and the empty ones masked
                cpn = jax.lax.fori_loop(0, -(-w.shape[0] // CH),
                                        lambda i, acc: jnp.where(i < n_chunks, chunk(i, acc), acc),
                                        jnp.zeros((nb * n_out, P), dt))
            else:
                cpn = jax.lax.fori_loop(0, n_chunks, chunk, jnp.zeros((nb * n_out, P), dt))
            v = v + cpn.reshape(nb, n_out, P)
            rows_j = [v[j] for j in range(nb)]
        val = rows_j[0] * fxk[0][None, :]
        for j in range(1, nb):  # in a fixed order: XLA's reduce over this axis changed the last bit with P
            val = val + rows_j[j] * fxk[j][None, :]
        if eq_idx:  # term by term, not a matrix product (its blocking would depend on P)
            eqk = jax.lax.dynamic_index_in_dim(eqb, k, axis=1, keepdims=False)  # (n_e, P)
            for e in range(len(eq_idx)):
                val = val + eq_k[e][:, None] * eqk[e][None, :]
        if acc is not None:  # the date's netting-set rows, added where ``acc + netting_sum(vals)`` adds them
            val = jnp.where(ok, val, jnp.nan) if poison else val
            tile = jax.lax.dynamic_index_in_dim(carry, k, axis=0, keepdims=False) + netting_sum(
                val[None], rows, carry.shape[1])[0]
            return jax.lax.dynamic_update_index_in_dim(carry, tile, k, axis=0), None
        return None, (val, jnp.max(jnp.abs(xi), initial=0.0) if poison else jnp.zeros((), dt))

    xs_in = (jnp.arange(K), mom, bmid, inv_s, jnp.asarray(order_k, jnp.int32), xi_lim, cc_w, cc_b1, cc_b2, cc_j,
             cc_b, cc_n, seg, eqc, cc_u, cu_b, cu_j, cu_b1, cu_b2, slots)
    if acc is not None:
        # max over dates of max |xi| (the scan's per-date ratio): the same products, so the same decision
        ok = jnp.max(jnp.abs(x[cidx] * inv_s.T[:, :, None]), initial=0.0) <= 1.0 if poison else True
        return jax.lax.scan(step, acc, xs_in)[0]
    _, (vals, ratio) = jax.lax.scan(step, None, xs_in)
    return jnp.where(jnp.max(ratio) <= 1.0, vals, jnp.nan) if poison else vals



# Horner steps fused per pass over the accumulator. The loop is memory-bound on the (n_b, n_out, P) accumulator
# (bench-1k: 3 x 47 x P, orders 4-24): 28 evaluates every order up to 24 in one pass (4 took up to 7) at the cost of
# up to 27 leading steps on exact zeros (the same bits); linear batch 0.61 -> 0.51 CPU s per 5,120-path chunk
HORNER_GROUP = 28


def _horner_fused(mom_k, n_top, xi):
    """(n_b, n_out, P): sum_{n <= n_top} m_n xi^n by Horner from mom_k (n_b, N+1, n_out), HORNER_GROUP orders per
    loop iteration so that XLA fuses them into one pass over the paths with the accumulator in registers (one
    iteration per order wrote and re-read the (n_b, n_out, P) accumulator once per order: bench-1k's linear
    batches were memory-bound). The coefficients above n_top are set to 0 and the accumulator starts at 0, so it
    stays exactly 0 (0 xi + 0, xi finite) until order n_top, from where the operations are the loop's: the same
    values. The trip count follows n_top (ceil((n_top + 1) / HORNER_GROUP) iterations)."""
    G = HORNER_GROUP
    n_b, n1, n_out = mom_k.shape
    width = G * -(-n1 // G)
    live = jnp.arange(width) <= n_top
    c = jnp.pad(mom_k, ((0, 0), (0, width - n1), (0, 0)))
    c = jnp.where(live[None, :, None], c, jnp.zeros((), mom_k.dtype))  # (n_b, width, n_out)
    x = xi[:, None, :]
    n_groups = (n_top + G) // G

    def group(i, acc):  # orders g G + G - 1 down to g G, g = n_groups - 1 - i
        cg = jax.lax.dynamic_slice_in_dim(c, (n_groups - 1 - i) * G, G, axis=1)
        for r in range(G - 1, -1, -1):
            acc = acc * x + cg[:, r, :, None]
        return acc

    return jax.lax.fori_loop(0, n_groups, group, jnp.zeros((n_b, n_out, xi.shape[-1]), mom_k.dtype))


def _coupon_slots(cc_w, cc_n, seg, cc_u, cu, widths, n_out: int, K: int, dt):
    """The netting rows' current coupons as weight sums per distinct exponent, once per chunk:

        sum_{c in row} w_c E_u(c) = sum_u W[row, u] E_u,   W[row, u] = sum_{c in row, u(c) = u} w_c,

    with each currency's distinct exponents in ``widths[j]`` fixed slots (the per-date rows of ``cu`` of that
    currency, in their order; a slot a date does not use has W = 0 and exponent 0). Returns W (K, n_out, S),
    b1, b2 (K, S) and the view date of each slot's fixing state (K, S) (K: the t0 state), S = sum(widths).
    Replaces a select chain and a scatter per live coupon and path by a few products per row (bench-1k: ~450
    live coupons, 2-4 exponents per currency and date); the sums of the weights round differently (<= 1e-14 of
    a netting set's value), the same on every path whatever the chunk."""
    cc_u, cu_b, cu_j, cu_b1, cu_b2 = cu
    C, U, nb = cc_w.shape[1], cu_b.shape[1], len(widths)
    live = jnp.arange(C)[None, :] < cc_n[:, None]
    n_rows = jnp.max(jnp.where(live, cc_u, -1), axis=1, initial=-1) + 1  # distinct exponents of each date
    valid = jnp.arange(U)[None, :] < n_rows[:, None]
    start = jnp.stack([jnp.sum(valid & (cu_b < j), axis=1) for j in range(nb)], axis=1)  # (K, nb) first row
    count = jnp.stack([jnp.sum(valid & (cu_b == j), axis=1) for j in range(nb)], axis=1)
    off = np.concatenate([[0], np.cumsum(np.asarray(widths, dtype=np.int64))])
    b_c = seg // n_out  # padding: row 0, w = 0
    slot_c = jnp.asarray(off[:-1], jnp.int32)[b_c] + cc_u - jnp.take_along_axis(start, b_c, axis=1)
    kk = jnp.broadcast_to(jnp.arange(K)[:, None], cc_w.shape)
    W = jnp.zeros((K, n_out, int(off[-1])), dt).at[kk, seg % n_out, slot_c].add(cc_w)
    ccy = np.repeat(np.arange(nb), widths)  # each slot's currency and rank within it
    r = np.arange(int(off[-1])) - off[ccy]
    ok = r[None, :] < count[:, ccy]
    row = jnp.minimum(start[:, ccy] + r[None, :], U - 1)
    pick = lambda a, fill: jnp.where(ok, jnp.take_along_axis(a, row, axis=1), fill)  # noqa: E731
    return W, pick(jnp.asarray(cu_b1, dt), 0.0), pick(jnp.asarray(cu_b2, dt), 0.0), pick(cu_j, K)
