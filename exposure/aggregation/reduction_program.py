"""The traced body of the per-chunk reduction (``reduction.ChunkReducer``), for one chunk width W.

    program(vals (K_all, n_ns, W), num (K_all, W), fx (n_ccy, K_all, W), M (r, K, W) or None, lead, n_end, prm)
        -> {name: block sums (..., nb)}, plus "pfe" (the quantile input max(X,0) or max(X,0)/N, (K, n_ns, W))
           and, when asked, "X" and "coll" (K, n_ns, W)

with nb = ceil(W / B) blocks of B paths starting at path ``lead`` (paths outside [lead, n_end) are zeros).
The program is one scan over the valuation dates, so that each date's (n_ns, W) slab is collateralised,
deflated, block-summed and added to the functionals while it is in cache (4x less CPU than the same operations
on whole (K, n_ns, W) arrays, which XLA streamed through memory a dozen times; same bits). Per date: one step of
the collateral recursion (``collateral_jax.vm_step``, the NumPy recursion's operations in the same order) gives
X, F and the collateral held C; the deflated per-path amounts y = max(X,0)/N, (max(X,0) - X)/N, C/N,
max(F,0)/N, max(-F,0)/N and 1/N; their block sums by a fixed pairwise tree of elementwise adds (log2 B
levels), and for EPE and ENE the shifted sums S1 = sum (y - s) and S2 = sum (y - s)^2 (s the block's first
path); the path functionals' running sums sum_k w_fk m_k y_b(k) (date order), whose per netting set, group and
total values get the same three block sums after the scan. ``prm`` holds the numbers (CSA amounts, weights):
arguments, not constants, so that a what-if with other terms reuses the compiled program. Everything else about
the run (dates, CSA structure, terms, groups) is baked into the trace.
"""

from __future__ import annotations

import numpy as np

STAT_NAMES = ("EPE", "ENE")  # profiles with a standard error (S1, S2 and the block shift)


def build_program(r, W: int):
    """The function jitted by ``ChunkReducer._fn`` for width W (r: the ChunkReducer)."""
    import jax
    import jax.numpy as jnp

    from exposure.aggregation.collateral_jax import vm_step

    B, n = r.B, r.n_ns
    Wp = -(-W // B) * B
    nb = Wp // B
    vi, ci, cs = r.vi, r.ci, r.csa_idx
    csas, fx_idx = r.csas, r.fx_idx
    flags = [(c.initial_balance is None, c.margining) for c in csas]
    any_fx = any(f is not None for f in fx_idx)
    flat = [(i, b, key) for i, ts in enumerate(r.terms) for b, _, key in ts]
    n_f = len(r.names)
    rows = None if r.path_weights is None else [int(x) for x in r.path_weights.rows]
    slot = {int(j): m for m, j in enumerate(cs)}  # netting set -> its CSA position

    def at(a, i):  # a[i] along axis 0, i traced (a date of the scan)
        return jax.lax.dynamic_index_in_dim(a, i, 0, keepdims=False)

    def cell(a, i, j):  # a[i, j] of a 3-d array (..., W), either index traced
        i, j = (jnp.asarray(v, jnp.int32) for v in (i, j))
        return jax.lax.dynamic_slice(a, (i, j, jnp.int32(0)), (1, 1, a.shape[-1]))[0, 0]

    # The recursion runs on every netting set's row (terms of the sets without a CSA are zeros, their rows
    # discarded by a select): dense (n, W) slabs and no per-row stacking or gathers, which XLA's CPU backend runs
    # as many small loops. The CSA rows see the operations of the NumPy recursion in the same order.
    is_csa = np.array([j in slot for j in range(n)])[:, None]
    fx_of = [fx_idx[slot[j]] if j in slot else None for j in range(n)]

    def full_rows(a):  # (m, 1) per-CSA numbers -> (n, 1), zeros for the sets without a CSA
        return jnp.where(is_csa, a[np.array([slot.get(j, 0) for j in range(n)])], 0.0)

    def fx_rows(fx, i):  # (n, W): each set's collateral currency rate at date index i (1 for the base)
        ones = jnp.ones(fx.shape[2:], fx.dtype)
        out = jnp.broadcast_to(ones, (n,) + ones.shape)
        for f in sorted({f for f in fx_of if f is not None}):
            out = jnp.where(np.array([g == f for g in fx_of])[:, None], cell(fx, f, i)[None], out)
        return out

    def collateral_date(vals, fx, vk, ck, c_prev, step, prm):
        """One valuation date: (X, F, coll) (n, W) and the new balance C (n, W); ck: the close-out date
        index (scalar) or per set (n,), None without close-out dates."""
        Vv = at(vals, vk)
        if not csas:
            return Vv, Vv, None, c_prev
        if ck is None:
            V_co = Vv
        elif ci.ndim == 2:  # each set on its own close-out date
            V_co = jnp.stack([cell(vals, ck[j], j) if j in slot else Vv[j] for j in range(n)])
        else:
            V_co = at(vals, ck)
        if any_fx:
            fx_call = fx_rows(fx, vk)
            if ck is None:
                fx_co = fx_call
            elif ci.ndim == 2:
                one = jnp.ones(fx.shape[2:], fx.dtype)
                fx_co = jnp.stack([cell(fx, f, ck[j]) if f is not None else one for j, f in enumerate(fx_of)])
            else:
                fx_co = fx_rows(fx, ck)
        v = Vv / fx_call if any_fx else Vv
        C, _ = step(c_prev, v)
        held = C + prm["ia_n"]
        F = jnp.where(is_csa, Vv - (C * fx_call if any_fx else C), Vv)
        if any_fx:
            held = held * fx_co
        X = jnp.where(is_csa, V_co - held, Vv)
        coll = jnp.where(is_csa, held, 0.0)
        return X, F, coll, C

    def initial_balance(vals, fx, prm):  # collateral._initial_balance, the same operations
        W_ = vals.shape[-1]
        out = []
        for j, (none, margining) in enumerate(flags):
            if not none:
                out.append(jnp.broadcast_to(prm["ib"][j], (W_,)))
                continue
            if r.t0 is None:
                out.append(jnp.zeros((W_,), vals.dtype))
                continue
            v0 = vals[r.t0, cs[j]]
            if any_fx and fx_idx[j] is not None:
                v0 = v0 / fx[fx_idx[j], r.t0]
            zero = jnp.zeros_like(v0)
            h_c, h_b = prm["csa"]["h_cpty"][j, 0], prm["csa"]["h_bank"][j, 0]
            recv = jnp.maximum(v0 - h_c, 0.0) if margining != "bank_posts" else zero
            post = jnp.maximum(-v0 - h_b, 0.0) if margining != "cpty_posts" else zero
            out.append(recv - post)
        rows = {int(j): o for j, o in zip(cs, out)}
        return jnp.stack([rows[j] if j in rows else jnp.zeros((W_,), vals.dtype) for j in range(n)])

    def tree(b):  # (..., nb, B) -> (..., nb): the fixed pairwise tree inside each block
        while b.shape[-1] > 1:
            h = b.shape[-1] // 2
            b = b[..., :h] + b[..., h:]
        return b[..., 0]

    def program(vals, num, fx, M, lead, n_end, prm):
        valid = (jnp.arange(Wp) < n_end - lead).reshape(nb, B)

        def blocked(a):  # (..., W) -> (..., nb, B): paths from lead on, zeros outside [lead, n_end)
            pad = [(0, 0)] * (a.ndim - 1) + [(0, Wp + B - W)]
            s = jax.lax.dynamic_slice_in_dim(jnp.pad(a, pad), lead, Wp, axis=a.ndim - 1)
            s = s.reshape(a.shape[:-1] + (nb, B))
            return jnp.where(valid, s, 0.0)

        def stats(a):
            b = blocked(a)
            shift = b[..., :1]
            d = jnp.where(valid, b - shift, 0.0)
            return tree(b), tree(d), tree(d * d), shift[..., 0]

        # One scan over the valuation dates: each date's (n_ns, W) slab goes through collateral, deflation, block
        # sums and functionals while it is in cache (the whole-array form streamed a dozen (K, n_ns, W) arrays
        # through memory). The elementwise operations and the trees are those of the whole-array form.
        step = vm_step({k: full_rows(a) for k, a in prm["csa"].items()}) if csas else None
        if csas:
            prm = dict(prm, ia_n=full_rows(prm["ia"][:, None]))
        c_init = initial_balance(vals, fx, prm) if csas else jnp.zeros((0, W), vals.dtype)
        zero = jnp.zeros((n, W), vals.dtype)
        acc0 = tuple(zero for _ in flat)
        keyed = any(key is not None for _, _, key in flat)
        mrow = {j: q for q, j in enumerate(rows or [])}
        xs = {"vk": jnp.asarray(vi, jnp.int32), "w": prm["w"]}
        if ci is not None:
            xs["ck"] = jnp.asarray(ci, jnp.int32)
        if keyed:
            xs["M"] = jnp.moveaxis(M, 1, 0)  # (K, r, W)

        def body(carry, x):
            c_prev, acc = carry
            X, F, coll, C = collateral_date(vals, fx, x["vk"], x.get("ck"), c_prev, step, prm)
            inv = 1.0 / at(num, x["vk"])
            invb = inv[None, :]
            pos = jnp.maximum(X, 0.0)
            y = {"EPE": pos * invb, "ENE": (pos - X) * invb}
            o = {}
            for name in STAT_NAMES:
                o[name], o[name + "_dev"], o[name + "_sq"], o[name + "_shift"] = stats(y[name])
            if csas:
                y["FundingEPE"] = jnp.maximum(F, 0.0) * invb
                y["FundingENE"] = jnp.maximum(-F, 0.0) * invb
                o["ExpectedCollateral"] = tree(blocked(coll * invb))
                o["FundingEPE"] = tree(blocked(y["FundingEPE"]))
                o["FundingENE"] = tree(blocked(y["FundingENE"]))
            else:
                y["FundingEPE"], y["FundingENE"] = y["EPE"], y["ENE"]
            o["df"] = tree(blocked(inv))
            if r.pfe:
                o["pfe"] = y["EPE"] if r.pfe_discounted else pos
            if r.want_x:
                o["X"], o["coll"] = X, coll
            new = []
            if flat:  # acc_t += w y ((w m) y on keyed terms, as NumPy), in date order
                ones = jnp.ones((W,), vals.dtype)
                m_k = (jnp.stack([x["M"][mrow[j]] if j in mrow else ones for j in range(n)])
                       if keyed else None)
                for t, (_, b, key) in enumerate(flat):
                    w = x["w"][t][:, None]
                    new.append(acc[t] + ((w * m_k) * y[b] if key is not None else w * y[b]))
            return (C, tuple(new)), o

        (_, acc), out = jax.lax.scan(body, (c_init, acc0), xs)
        if flat:
            out["F"], out["F_dev"], out["F_sq"], out["F_shift"] = stats(functionals(acc))
        return out

    def functionals(acc):  # acc: per term its date sum (n, W) -> (n_f, n + n_groups + 1, W)
        Fs = []
        for i in range(n_f):
            f = None
            for t, (fi, _, _) in enumerate(flat):
                if fi == i:
                    f = acc[t] if f is None else f + acc[t]
            Fs.append(f)
        Fe = jnp.stack(Fs)  # (n_f, n, W)
        parts = [Fe]
        if r.n_groups:
            g = [None] * r.n_groups
            for j in range(n):
                gj = int(r.groups[j])
                g[gj] = Fe[:, j] if g[gj] is None else g[gj] + Fe[:, j]
            parts.append(jnp.stack([a if a is not None else jnp.zeros_like(Fe[:, 0]) for a in g], axis=1))
        tot = Fe[:, 0]
        for j in range(1, n):
            tot = tot + Fe[:, j]
        parts.append(tot[:, None])
        return jnp.concatenate(parts, axis=1)  # (n_f, n + n_groups + 1, W)

    return program
