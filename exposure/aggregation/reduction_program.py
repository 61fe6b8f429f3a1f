"""The traced body of the per-chunk reduction (``reduction.ChunkReducer``), for one chunk width W.

    program(vals (K_all, n_ns, W), num (K_all, W), fx (n_ccy, K_all, W), M (r, K, W) or None, lead, n_end, prm)
        -> {name: block sums (..., nb)}, plus "pfe" (the quantile input max(X,0) or max(X,0)/N, (K, n_ns, W))
           and, when asked, "X" and "coll" (K, n_ns, W)

with nb = ceil(W / B) blocks of B paths starting at path ``lead`` (paths outside [lead, n_end) are zeros).
In order: the collateral recursion (``collateral_jax.vm_scan``, the NumPy recursion's operations in the same
order) gives X, F and the collateral held C; the deflated per-path amounts y = max(X,0)/N, (max(X,0) - X)/N,
C/N, max(F,0)/N, max(-F,0)/N and 1/N; the path functionals sum_k w_fk m_k y_b(k) (a date scan in date order)
per netting set, counterparty group and total; then every amount's block sum by a fixed pairwise tree of
elementwise adds (log2 B levels), and for EPE, ENE and the functionals the shifted sums S1 = sum (y - s) and
S2 = sum (y - s)^2 (s the block's first path). ``prm`` holds the numbers (CSA amounts, weights): arguments, not
constants, so that a what-if with other terms reuses the compiled program. Everything else about the run
(dates, CSA structure, terms, groups) is baked into the trace.
"""

from __future__ import annotations

import numpy as np

STAT_NAMES = ("EPE", "ENE")  # profiles with a standard error (S1, S2 and the block shift)


def build_program(r, W: int):
    """The function jitted by ``ChunkReducer._fn`` for width W (r: the ChunkReducer)."""
    import jax
    import jax.numpy as jnp

    from exposure.aggregation.collateral_jax import vm_scan

    B, K, n = r.B, r.K, r.n_ns
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

    def dates(a, idx):  # a[idx] along axis 0: a static slice when idx is evenly spaced (no gather)
        idx = np.asarray(idx)
        if idx.size > 1 and np.all(np.diff(idx) == idx[1] - idx[0]) and idx[1] > idx[0]:
            return a[int(idx[0]) : int(idx[-1]) + 1 : int(idx[1] - idx[0])]
        if idx.size == 1:
            return a[int(idx[0]) : int(idx[0]) + 1]
        return a[idx]

    def at_closeout(a, sets):  # a (K_all, m, W), column c of set sets[c] -> (K, len(sets), W)
        if ci.ndim == 2:
            return jnp.stack([dates(a[:, c], ci[:, j]) for c, j in enumerate(sets)], axis=1)
        return dates(a, ci)

    def per_set(csa_rows, other):  # (K, n, W): the CSA sets' rows, the others' from ``other``
        return jnp.stack([csa_rows[:, slot[j]] if j in slot else other[:, j] for j in range(n)], axis=1)

    def collateralise(vals, fx, prm):
        Vv = dates(vals, vi)
        if not csas:
            return Vv, Vv, None
        V_call = jnp.stack([Vv[:, j] for j in cs], axis=1)
        V_co = at_closeout(jnp.stack([vals[:, j] for j in cs], axis=1), cs) if ci is not None else V_call
        if any_fx:
            ones = jnp.ones(vals.shape[:1] + vals.shape[2:], vals.dtype)
            full = jnp.stack([ones if f is None else fx[f] for f in fx_idx], axis=1)  # (K_all, m, W)
            fx_call = dates(full, vi)
            fx_co = at_closeout(full, cs) if ci is not None else fx_call
        v = V_call / fx_call if any_fx else V_call
        c0 = initial_balance(vals, full if any_fx else None, prm)
        C = vm_scan(v, c0, prm["csa"])
        held = C + prm["ia"][None, :, None]
        F = per_set(V_call - (C * fx_call if any_fx else C), Vv)
        if any_fx:
            held = held * fx_co
        X = per_set(V_co - held, Vv)
        coll = per_set(held, jnp.zeros_like(Vv))
        return X, F, coll

    def initial_balance(vals, full, prm):  # collateral._initial_balance, the same operations
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
            if full is not None:
                v0 = v0 / full[r.t0, j]
            zero = jnp.zeros_like(v0)
            h_c, h_b = prm["csa"]["h_cpty"][j, 0], prm["csa"]["h_bank"][j, 0]
            recv = jnp.maximum(v0 - h_c, 0.0) if margining != "bank_posts" else zero
            post = jnp.maximum(-v0 - h_b, 0.0) if margining != "cpty_posts" else zero
            out.append(recv - post)
        return jnp.stack(out)

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

        X, F, coll = collateralise(vals, fx, prm)
        inv = 1.0 / dates(num, vi)
        invb = inv[:, None, :]
        pos = jnp.maximum(X, 0.0)
        y = {"EPE": pos * invb, "ENE": (pos - X) * invb}
        out = {}
        for name in STAT_NAMES:
            out[name], out[name + "_dev"], out[name + "_sq"], out[name + "_shift"] = stats(y[name])
        if csas:
            y["FundingEPE"] = jnp.maximum(F, 0.0) * invb
            y["FundingENE"] = jnp.maximum(-F, 0.0) * invb
            out["ExpectedCollateral"] = tree(blocked(coll * invb))
            out["FundingEPE"] = tree(blocked(y["FundingEPE"]))
            out["FundingENE"] = tree(blocked(y["FundingENE"]))
        else:
            y["FundingEPE"], y["FundingENE"] = y["EPE"], y["ENE"]
        out["df"] = tree(blocked(inv))
        if flat:
            out["F"], out["F_dev"], out["F_sq"], out["F_shift"] = stats(functionals(y, M, prm["w"]))
        if r.pfe:
            out["pfe"] = y["EPE"] if r.pfe_discounted else pos
        if r.want_x:
            out["X"], out["coll"] = X, coll
        return out

    def functionals(y, M, wk):  # wk (K, T, n): the date weights of every term
        bases = sorted({b for _, b, _ in flat})
        keyed = any(key is not None for _, _, key in flat)
        xs = tuple(y[b] for b in bases) + (wk,)
        if keyed:  # per-path factors on the stochastic rows, 1 elsewhere: (K, n, W)
            mrow = {j: r for r, j in enumerate(rows)}
            ones = jnp.ones((K, W), y["EPE"].dtype)
            xs = xs + (jnp.stack([M[mrow[j]] if j in mrow else ones for j in range(n)], axis=1),)

        def step(acc, x):  # one date, in date order: acc_t += w y ((w m) y on keyed terms, as NumPy)
            new = []
            for t, (_, b, key) in enumerate(flat):
                w = x[len(bases)][t][:, None]
                yb = x[bases.index(b)]
                new.append(acc[t] + ((w * x[-1]) * yb if key is not None else w * yb))
            return tuple(new), None

        zero = jnp.zeros((n, W), y["EPE"].dtype)
        acc, _ = jax.lax.scan(step, tuple(zero for _ in flat), xs)
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
