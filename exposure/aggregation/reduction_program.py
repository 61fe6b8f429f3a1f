"""The traced body of the per-chunk reduction (``reduction.ChunkReducer``), for one chunk width W.

    program(vals (K_all, n_ns, W), num (K_all, W), fx (n_ccy, K_all, W), M (r, K, W) or None, lead, n_end, prm)
        -> {"sums": (K, rows, n_ns, nb) the block sums of ``block_names``, "df": (K, nb) those of 1/N,
            "F": (4, n_f, n_ns + n_groups + 1, nb) the functionals' S0, S1, S2, s, "pfe": the quantile input
            max(X,0) or max(X,0)/N (K, n_ns, W), and when asked "X" and "coll" (K, n_ns, W)}

(``unpack`` names the rows on the host) with nb = ceil(W / B) blocks of B paths starting at path ``lead``
(paths outside [lead, n_end) are zeros). The program is a loop over tiles of TILE_ROWS netting sets, each one
scan over the valuation dates, so that a date's (TILE_ROWS, W) slab is collateralised, deflated, block-summed and
added to the functionals while it is in cache (the whole (n_ns, W) slab per date, 2 MB on bench-1k, was not:
0.97 -> 0.51 CPU s per chunk with the tiles and the split below; 4x less than the same operations on whole
(K, n_ns, W) arrays, which XLA streamed through memory a dozen times; same bits). The sets with a CSA are tiled
apart from the others (row lists ``csa_rows`` / ``plain_rows``), so the collateral recursion runs on the CSA rows
only; without a CSA X = F = V and the funding sums are the EPE / ENE sums (collateral sums 0). A tile's rows are
read and written row by row in place (``put_rows``); the last tile of a list overlaps its neighbour (its shared
rows computed twice, with the same operations, and written twice with the same bits). Per date: one step of the
collateral recursion (``collateral_jax.vm_step``, the NumPy
recursion's operations in the same order) on the tile's rows gives X, F and the collateral
held C; the deflated per-path amounts y = max(X,0)/N, (max(X,0) - X)/N, C/N, max(F,0)/N, max(-F,0)/N and 1/N;
their block sums by a fixed pairwise tree of elementwise adds (log2 B levels), and for EPE and ENE the shifted
sums S1 = sum (y - s) and S2 = sum (y - s)^2 (s the block's first path); the path functionals' running sums
sum_k w_fk m_k y_b(k) (date order), whose per netting set, group and total values (each group and the total
summed over its sets in set order, a loop over the sets) get the same three block sums after the loop.

Everything per netting set is data in ``prm`` (``reduction.program_params``): CSA amounts and flags (zero rows
for the sets without a CSA), which sets have one, collateral currencies, start balances, functional weights,
groups, and the valuation / close-out / t0 date indices. The traced program depends on the arrays' shapes (the
number of CSA sets among them) and on a few switches (any non-base collateral currency, close-out dates shared or
per set, the functionals' bases), not on the netting sets' terms: it does not grow with the number of netting sets
(no Python loop over them: the tiles are a loop, the rows data; the group sums a loop over the sets), and one
compiled program (and its persistent-cache entry) serves every book of the same shape and number of CSA sets and
any what-if on their terms. The outputs are packed (one scan output per date for the block sums) because XLA
compiles each kernel separately at a roughly fixed cost.
"""

from __future__ import annotations

STAT_NAMES = ("EPE", "ENE")  # profiles with a standard error (S1, S2 and the block shift)
STAT_PARTS = ("", "_dev", "_sq", "_shift")  # S0, S1, S2, s
TILE_ROWS = 2  # netting sets per tile of the date scan: its (rows, W) slabs stay in cache (bench-1k: 2 < 4 < 8 < 50)


def block_names(with_collateral: bool) -> tuple:
    """The rows of the program's per-date output "sums" (K, rows, n_ns, nb)."""
    names = tuple(n + p for n in STAT_NAMES for p in STAT_PARTS)
    return names + (("ExpectedCollateral", "FundingEPE", "FundingENE") if with_collateral else ())


def unpack(out: dict, with_collateral: bool) -> dict:
    """The program's packed outputs (host arrays) -> {name: array}: "sums" (K, rows, n_ns, nb) into its rows
    (K, n_ns, nb) and "F" (4, n_f, n_rows, nb) into F, F_dev, F_sq, F_shift (views, no copies)."""
    out = dict(out)
    sums = out.pop("sums")
    for i, name in enumerate(block_names(with_collateral)):
        out[name] = sums[:, i]
    if "F" in out:
        F = out.pop("F")
        for i, part in enumerate(STAT_PARTS):
            out["F" + part] = F[i]
    return out


def build_program(r, W: int):
    """The function jitted by ``ChunkReducer._fn`` for width W (r: the ChunkReducer; only its switches are read
    here)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from exposure.aggregation.collateral_jax import vm_step

    B = r.B
    Wp = -(-W // B) * B
    nb = Wp // B
    has_csa = bool(r.csa_idx.size)
    any_fx = any(f is not None for f in r.fx_idx)
    per_set_co = r.ci is not None and r.ci.ndim == 2
    has_t0 = r.t0 is not None
    flat = [(i, b, key is not None) for i, ts in enumerate(r.terms) for b, _, key in ts]
    keyed = any(k for _, _, k in flat)
    n_f = len(r.names)

    def at(a, i, axis=0):  # a[i] along an axis, i traced
        return jax.lax.dynamic_index_in_dim(a, i, axis, keepdims=False)

    def rows_at(a, i, rr):
        """a[i, rr] (nt, W) of a (K_all, n, W), i a scalar or (nt,): one dynamic slice per row (XLA's gather
        kernel for a[i][rr] cost more on a CPU than the rest of a date step)."""
        i = jnp.broadcast_to(i, rr.shape)
        return jnp.concatenate([jax.lax.dynamic_slice(a, (i[j], rr[j], np.int32(0)), (1, 1, a.shape[2]))[0]
                                for j in range(rr.shape[0])])

    def fx_rows(fx, i, sel):
        """(n, W): each set's collateral-currency rate at date index i (scalar, or (n,) per set); 1 for the
        base (sel 0), fx[sel - 1] otherwise."""
        f = jnp.maximum(sel - 1, 0)
        rates = fx[f, i] if jnp.ndim(i) else at(fx, i, 1)[f]
        return jnp.where((sel > 0)[:, None], rates, 1.0)

    def tree(b):  # (..., nb, B) -> (..., nb): the fixed pairwise tree inside each block
        while b.shape[-1] > 1:
            h = b.shape[-1] // 2
            b = b[..., :h] + b[..., h:]
        return b[..., 0]

    def program(vals, num, fx, M, lead, n_end, prm):
        valid = (jnp.arange(Wp) < n_end - lead).reshape(nb, B)
        n = vals.shape[1]
        K = prm["vi"].shape[0]
        zero = jnp.int32(0)

        def blocked(a):  # (..., W) -> (..., nb, B): paths from lead on, zeros outside [lead, n_end)
            pad = [(0, 0)] * (a.ndim - 1) + [(0, Wp + B - W)]
            s = jax.lax.dynamic_slice_in_dim(jnp.pad(a, pad), lead, Wp, axis=a.ndim - 1)
            return jnp.where(valid, s.reshape(a.shape[:-1] + (nb, B)), 0.0)

        def stats(a):  # [S0, S1, S2, s], each (..., nb)
            b = blocked(a)
            shift = b[..., :1]
            d = jnp.where(valid, b - shift, 0.0)
            return [tree(b), tree(d), tree(d * d), shift[..., 0]]

        c_all = initial_balance(vals, fx, prm) if has_csa else None
        inv_all = 1.0 / num[prm["vi"]]  # (K, W)
        xs = {"vk": prm["vi"], "w": prm["w"], "inv": inv_all, "k": jnp.arange(K, dtype=jnp.int32)}
        if r.ci is not None:
            xs["ck"] = prm["ci"]
        if keyed:
            xs["M"] = jnp.moveaxis(M, 1, 0)  # (K, r, W)

        def put_rows(buf, a, rr, axis, start=None):
            """buf with a's row j (along ``axis``) written at row rr[j], from ``start`` (zeros) on the other
            axes: one in-place update per row (the rows need not be contiguous)."""
            start = list(start or [zero] * buf.ndim)
            for j in range(rr.shape[0]):
                start[axis] = rr[j]
                buf = jax.lax.dynamic_update_slice(buf, jax.lax.dynamic_slice_in_dim(a, j, 1, axis), start)
            return buf

        def tile(rows_all, csa, t, bufs):
            """The date scan on the rows rows_all[i0 : i0 + nt] (i0 = min(t nt, m - nt): the last tile overlaps
            its neighbour; those rows are computed twice, the same operations, and written twice with the same
            bits). csa: the rows are the sets with a CSA (collateral recursion), else X = F = V."""
            nt = min(rows_all.shape[0], TILE_ROWS)
            i0 = jnp.minimum(t * nt, rows_all.shape[0] - nt).astype(jnp.int32)
            rr = jax.lax.dynamic_slice_in_dim(rows_all, i0, nt)
            p = {k: prm[k][rr] for k in ("is_csa", "fx_sel", "ia", "m_sel")}
            step_t = vm_step({k: a[rr] for k, a in prm["csa"].items()}) if csa else None
            c_init = c_all[rr] if csa else jnp.zeros((0, W), vals.dtype)

            def body(carry, x):
                c_prev, acc, big = carry
                vk = x["vk"]
                Vv = rows_at(vals, vk, rr)  # (nt, W)
                invb = x["inv"][None, :]
                C = c_prev
                if csa:
                    ck = x.get("ck")
                    if ck is None:
                        V_co = Vv
                    elif per_set_co:  # each set on its own close-out date
                        V_co = rows_at(vals, ck[rr], rr)
                    else:
                        V_co = rows_at(vals, ck, rr)
                    if any_fx:
                        fx_call = fx_rows(fx, vk, p["fx_sel"])
                        fx_co = fx_call if ck is None else fx_rows(fx, ck if ck.ndim == 0 else ck[rr], p["fx_sel"])
                    v = Vv / fx_call if any_fx else Vv
                    C, _ = step_t(c_prev, v)
                    held = C + p["ia"]
                    F = Vv - (C * fx_call if any_fx else C)
                    if any_fx:
                        held = held * fx_co
                    X = V_co - held
                    coll = held
                else:
                    X, coll = Vv, None
                pos = jnp.maximum(X, 0.0)
                y = {"EPE": pos * invb, "ENE": (pos - X) * invb}
                sums = []  # the rows of ``block_names``, (nt, nb) each, stacked: one output per date
                for name in STAT_NAMES:
                    sums += stats(y[name])
                if csa:
                    y["FundingEPE"] = jnp.maximum(F, 0.0) * invb
                    y["FundingENE"] = jnp.maximum(-F, 0.0) * invb
                    sums += [tree(blocked(coll * invb)), tree(blocked(y["FundingEPE"])),
                             tree(blocked(y["FundingENE"]))]
                else:  # no collateral: F = X, so the funding sums are the EPE and ENE ones
                    y["FundingEPE"], y["FundingENE"] = y["EPE"], y["ENE"]
                    if has_csa:
                        sums += [jnp.zeros_like(sums[0]), sums[0], sums[4]]
                big = dict(big)
                at_k = [x["k"], zero, zero]
                if r.pfe:
                    big["pfe"] = put_rows(big["pfe"], (y["EPE"] if r.pfe_discounted else pos)[None], rr, 1, at_k)
                if r.want_x:
                    big["X"] = put_rows(big["X"], X[None], rr, 1, at_k)
                    if has_csa:
                        big["coll"] = put_rows(big["coll"], (coll if csa else jnp.zeros_like(X))[None], rr, 1, at_k)
                new = []
                if flat:  # acc_t += w y ((w m) y on keyed terms, as NumPy), in date order
                    if keyed:
                        sel = p["m_sel"]
                        m_k = jnp.where((sel > 0)[:, None], x["M"][jnp.maximum(sel - 1, 0)], 1.0)
                    for q, (_, b, k) in enumerate(flat):
                        w = x["w"][q][rr][:, None]
                        new.append(acc[q] + ((w * m_k) * y[b] if k else w * y[b]))
                return (C, tuple(new), big), jnp.stack(sums)

            acc0 = tuple(jnp.zeros((nt, W), vals.dtype) for _ in flat)
            big = {k: v for k, v in bufs.items() if k not in ("sums", "acc")}
            (_, acc, big), sums = jax.lax.scan(body, (c_init, acc0, big), xs)
            big["sums"] = put_rows(bufs["sums"], sums, rr, 2)
            if flat:
                big["acc"] = put_rows(bufs["acc"], jnp.stack(acc), rr, 1)
            return big

        bufs = {"sums": jnp.zeros((K, len(block_names(has_csa)), n, nb), vals.dtype)}
        if flat:
            bufs["acc"] = jnp.zeros((len(flat), n, W), vals.dtype)
        for name, want in (("pfe", r.pfe), ("X", r.want_x), ("coll", r.want_x and has_csa)):
            if want:
                bufs[name] = jnp.zeros((K, n, W), vals.dtype)
        for rows_all, csa in ((prm["csa_rows"], True), (prm["plain_rows"], False)):
            m = rows_all.shape[0]
            if m:
                n_tiles = -(-m // min(m, TILE_ROWS))
                bufs = jax.lax.fori_loop(0, n_tiles, lambda t, b: tile(rows_all, csa, t, b), bufs)
        out = {"sums": bufs["sums"], "df": tree(blocked(inv_all))}
        for name in ("pfe", "X", "coll"):
            if name in bufs:
                out[name] = bufs[name]
        if r.want_x and not has_csa:
            out["coll"] = None
        if flat:
            out["F"] = jnp.stack(stats(functionals(tuple(bufs["acc"]), prm)))
        return out

    def initial_balance(vals, fx, prm):
        """collateral._initial_balance on every row (zeros for the sets without a CSA), the same operations."""
        csa = prm["csa"]
        if has_t0:
            v0 = at(vals, prm["t0"])
            if any_fx:
                v0 = v0 / fx_rows(fx, prm["t0"], prm["fx_sel"])
            recv = jnp.where(csa["a_recv"] > 0, jnp.maximum(v0 - csa["h_cpty"], 0.0), 0.0)
            post = jnp.where(csa["a_post"] > 0, jnp.maximum(-v0 - csa["h_bank"], 0.0), 0.0)
            c0 = recv - post
        else:
            c0 = jnp.zeros(vals.shape[1:], vals.dtype)
        return jnp.where(prm["is_csa"], jnp.where(prm["has_ib"], prm["ib"], c0), 0.0)

    def functionals(acc, prm):
        """acc (T of (n, W)), per term its date sum -> (n_f, n + n_groups + 1, W): per set, group and total, each
        group and the total summed over its sets in set order (a scan, one step per set)."""
        Fs = []
        for i in range(n_f):  # a functional's terms in their order (a few, fixed by the configuration)
            f = None
            for t, (fi, _, _) in enumerate(flat):
                if fi == i:
                    f = acc[t] if f is None else f + acc[t]
            Fs.append(f)
        Fe = jnp.stack(Fs)  # (n_f, n, W)

        def add(j, s):  # s (n_f, G + 1, W): set j's functionals into its group's column and the total's
            fj = at(Fe, j, 1)[:, None]  # (0 + f is f to the bit: acc, a sum from +0, is never -0)
            return jnp.where(at(prm["member"], j)[None, :, None], s + fj, s)

        s0 = jnp.zeros((n_f, prm["member"].shape[1], W), Fe.dtype)
        return jnp.concatenate([Fe, jax.lax.fori_loop(0, Fe.shape[1], add, s0)], axis=1)

    return program
