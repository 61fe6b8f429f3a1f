"""The prepared pricing data of a linear batch as a jnp function of the curves and Hull-White vols; its tangent.

    lnA_c(t, T) = ln P_c(0,T) - ln P_c(0,t) + (V_c(t,T) - V_c(0,T) + V_c(0,t)) / 2           (``models.hull_white``)
    mom[k, n, tr] = sum_{f of tr} a_f E_f(k) z_f(k)^n / n!,
    E_f(k)        = exp(lnA(t_k, T_f) + lnA(t_k, Tn_f) - lnA(t_k, Td_f))
    cc_w[k, r]    = w_i exp(lnA(s_i, T1_i) - lnA(s_i, T2_i) + lnA(t_k, Tp_i))      (coupon i in slot r of date k)

as ``pricing.linear.LinearBatch.prepare`` builds mom_tr, mom_ns (= mom_tr per netting set) and cc_w, with
x = (ln P_c(0, t_i) at the pillars of each batch currency's discount curve (the model's t0 curve), the
currency's Hull-White sigma pieces, the flow amounts a_f and coupon weights w_i). The series argument z_f(k)
(B only: the mean reversion) and every integer leaf stay the base run's. dpres = J x . dx/de by jax.jvp:

    dx/de = (d ln P_i / de of a moved pillar, dsigma/de of the calibration (implicit-function theorem),
             da/de, dw/de)

the amounts' move (a basis D(T1)/D(T2) of an index's own curve, an FRA's D(T2)/D(T1), a compounded overnight
coupon's t0 forward) is the central difference of the cash-flow tables at the moved markets (a few exp of
curve values per flow, no bonds). The other float leaves: bmid, inv_scale, cc_b1, cc_b2 (B only), eq_tr, eq_ns
(no curve) do not move; xi_lim only picks the series order in a comparison (its cotangent is identically 0),
so its tangent is left at 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.dates import years as model_years
from exposure.models.hull_white import HullWhiteParams, log_bond_intercept
from exposure.pricing.linear import LinearBatch
from exposure.pricing.linear_moments import view_days, flow_key_groups
from exposure.risk.twin_common import StaticTimesCurve

MOVED = ("mom_tr", "mom_ns", "cc_w")
ORDER_ONLY = ("xi_lim",)  # read by the path program in a comparison only: a zero cotangent, its tangent left at 0


def amount_curves(batch: LinearBatch, market) -> set:
    """ids of the curves the batch's cash-flow amounts read (``cashflows._Builder``): a floating leg's or FRA's
    forwarding and discount curves where they differ (the basis D = P_f / P_d; on one curve D = 1 whatever the
    curve), and the forwarding curve of an overnight coupon accruing over the as-of date (its t0 forward)."""
    from exposure.pricing.linear_specs import FloatLeg, FraLeg

    out = set()
    for spec in batch.specs:
        for leg in spec.legs:
            if not isinstance(leg, (FloatLeg, FraLeg)):
                continue
            fwd, disc = market.forward_curve(leg.index, leg.currency), market.curves[leg.currency]
            if fwd is not disc:
                out.update((id(fwd), id(disc)))
            if isinstance(leg, FloatLeg) and leg.overnight and any(p is not None for p in leg.past):
                out.add(id(fwd))
    return out


def _taylor(z, order: int):
    """(len(z), order+1): z^n / n! (``linear_moments.taylor_terms`` in jnp)."""
    steps = jnp.concatenate([jnp.ones((z.shape[0], 1)), z[:, None] / jnp.arange(1, order + 1)[None, :]], axis=1)
    return jnp.cumprod(steps, axis=1)


def trade_columns(m, col):
    """(..., n_tr) from the (..., n_j) values of the trades with flows in a currency: zero for the others."""
    if m.shape[-1] == col.size and np.array_equal(col, np.arange(col.size)):  # every trade has flows there
        return m
    return jnp.concatenate([m, jnp.zeros(m.shape[:-1] + (1,), m.dtype)], axis=-1)[..., col]


class LinearPresTwin:
    """One linear batch's mom_tr, mom_ns, cc_w as jnp functions of x (module docstring), static parts from the
    base run's context ``ctx`` and cash flows."""

    def __init__(self, batch: LinearBatch, ctx):
        cf = batch.cashflows(ctx.market)
        self.batch, self.cf = batch, cf
        self.t = np.asarray(ctx.times, np.float64)
        days = view_days(ctx)
        K, n_tr, order, y = days.size, len(batch.ids), batch.order, batch.series_range
        self.K, self.n_tr, self.order = K, n_tr, order
        ns_global, ns_local = np.unique(batch.netting_set, return_inverse=True)
        ns_local = ns_local.reshape(-1)
        self.member = np.zeros((n_tr, ns_global.size))
        self.member[np.arange(n_tr), ns_local] = 1.0
        model = ctx.model
        self.rates = []  # per batch currency: (curve times, a, vol_times, base ln P pillars, base sigma)
        for c in cf.currencies:
            i = model.currencies.index(c)
            hw, curve = model.hw[i], model.curves[i]
            self.rates.append((np.asarray(curve.times, np.float64), float(hw.mean_reversion),
                               np.asarray(hw.vol_times, np.float64), np.asarray(curve.log_dfs, np.float64),
                               np.asarray(hw.vol_values, np.float64)))
        self.flows = [self._flow_static(ctx, j, days, y) for j in range(len(cf.currencies))]
        self.coupons = self._coupon_static(ctx, days, ns_local)
        self.grids = [self._grid_static(j) for j in range(len(cf.currencies))]
        self.amount_curves = amount_curves(batch, ctx.market)

    def _grid_static(self, j):
        """(t_all, T_all): every (t, T) the leaves of currency j read lnA at, as one grid (one program, not one
        per use: the compiled size follows the number of lnA evaluations)."""
        ts, Ts = [self.t], []
        st = self.flows[j]
        if st is not None:
            Ts += [st["T"], st["Tn"], st["Td"]]
        c = self.coupons
        if c is not None:
            sel = self.cf.c_ccy == j
            ts.append(c["tfix"][sel])
            Ts += [c["T1"][sel], c["T2"][sel], c["Tp"][sel]]
        return np.unique(np.concatenate(ts)), np.unique(np.concatenate(Ts + [np.zeros(1)]))

    # -- static structure (NumPy, once) --------------------------------------------------------------------
    def _flow_static(self, ctx, j, days, y):
        cf = self.cf
        found = flow_key_groups(cf, j)
        if found is None:
            return None
        sel, groups, inverse = found
        _, B = ctx.bond_coefficients(cf.currencies[j], model_years(groups[:, 0]))
        lag = groups[:, 2] != groups[:, 3]
        if lag.any():
            B = B.copy()
            B[:, lag] += ctx.bond_coefficients(cf.currencies[j], model_years(groups[lag, 2]))[1] - \
                ctx.bond_coefficients(cf.currencies[j], model_years(groups[lag, 3]))[1]
        alive = days[:, None] < groups[None, :, 1]
        z = np.zeros_like(B)
        for k in range(days.size):  # the series argument of ``linear_moments._flow_moments`` (B only)
            a = alive[k]
            if a.any():
                bmax, bmin = B[k][a].max(), B[k][a].min()
                bm, h = 0.5 * (bmax + bmin), 0.5 * (bmax - bmin)
                z[k] = np.where(a, (bm - B[k]) * (y / h if h > 0.0 else 0.0), 0.0)
        # rows of each trade side by side, (n_j, R) padded with group 0 and no amount: the sum over a trade's flows
        # is then a gather and a reduction (no scatter, which XLA's CPU backend runs element by element). Only the
        # n_j trades with flows in currency j have rows (a batch holds every linear trade, most in one or two
        # currencies); ``col`` (n_tr,) places them among the batch's trades (n_j: a zero column).
        trade = cf.f_trade[sel]
        tr_j, local = np.unique(trade, return_inverse=True)
        local = local.reshape(-1)
        rank = np.zeros(sel.size, dtype=np.int64)
        seen: dict = {}
        for r, tr in enumerate(trade):
            rank[r] = seen.get(int(tr), 0)
            seen[int(tr)] = rank[r] + 1
        R = int(rank.max(initial=-1)) + 1
        row = np.full((tr_j.size, max(R, 1)), sel.size, dtype=np.int64)  # sel.size: the padding row
        row[local, rank] = np.arange(sel.size)
        col = np.full(self.n_tr, tr_j.size, dtype=np.int64)
        col[tr_j] = np.arange(tr_j.size)
        return {"sel": sel, "inv": np.append(inverse, 0), "row": row, "tr": tr_j, "col": col,
                "T": model_years(groups[:, 0]),
                "lag": np.flatnonzero(lag),
                "Tn": model_years(groups[lag, 2]), "Td": model_years(groups[lag, 3]), "alive": alive, "z": z}

    def _coupon_static(self, ctx, days, ns_local):
        cf, K = self.cf, days.size
        if cf.c_fix.size == 0:
            return None
        active = (cf.c_fix[None, :] <= days[:, None]) & (days[:, None] < cf.c_pay[None, :])
        rd = np.arange(K) if ctx.readable is None else np.flatnonzero(ctx.readable)
        pos = np.searchsorted(days[rd], cf.c_fix, side="right") - 1
        jfix = np.where(pos >= 0, rd[np.maximum(pos, 0)], -1)
        if self.batch.exact_fixings:
            hit = np.searchsorted(days, cf.c_fix, side="right") - 1
            exact = (hit >= 0) & (days[np.maximum(hit, 0)] == cf.c_fix)
            jfix = np.where(exact, hit, jfix)
        order = np.lexsort((cf.c_trade, ns_local[cf.c_trade], cf.c_ccy))
        kk, slot, ii = [], [], []
        for k in range(K):
            cc = order[active[k, order]]
            kk.append(np.full(cc.size, k))
            slot.append(np.arange(cc.size))
            ii.append(cc)
        counts = active.sum(axis=1)
        C = 128 * max(1, -(-int(counts.max(initial=0)) // 128))  # linear.COUPON_CHUNK packing
        tfix = np.where(jfix >= 0, self.t[np.maximum(jfix, 0)], 0.0)  # lnA(0, T) = ln P(0, T): no view date
        return {"k": np.concatenate(kk), "slot": np.concatenate(slot), "i": np.concatenate(ii), "C": C,
                "tfix": tfix, "T1": model_years(cf.c_start), "T2": model_years(cf.c_end),
                "Tp": model_years(cf.c_pay)}

    # -- the jnp map x -> leaves -----------------------------------------------------------------------------
    def x0(self) -> dict:
        put = lambda a: jax.device_put(np.asarray(a))  # noqa: E731  (``programs``: no per-shape program)
        return {"ln_df": tuple(put(r[3]) for r in self.rates), "sigma": tuple(put(r[4]) for r in self.rates),
                "amt": put(self.cf.f_amount), "cw": put(self.cf.c_weight)}

    def _lnA_grid(self, x, j):
        """lnA(t, T) of currency j on its grid (t_all, T_all), T clamped to t (``HullWhiteRateModel``)."""
        times, a, vt, _, _ = self.rates[j]
        t, T = np.broadcast_arrays(self.grids[j][0][:, None], self.grids[j][1][None, :])
        p = HullWhiteParams(a, vt, x["sigma"][j])
        return log_bond_intercept(p, StaticTimesCurve(times, x["ln_df"][j]), t, np.maximum(T, t), xp=jnp)

    def _grid_index(self, j, t, T) -> tuple:
        """The (t, T) (broadcast) positions on currency j's grid of ``_lnA_grid``."""
        t, T = np.broadcast_arrays(np.asarray(t, np.float64), np.asarray(T, np.float64))
        return np.searchsorted(self.grids[j][0], t), np.searchsorted(self.grids[j][1], T)

    def leaves(self, x, c_tr=None) -> dict:
        """{mom_tr (K, n_b, N+1, n_tr), mom_ns (K, n_b, N+1, n_ns_b), cc_w (K, C)} at x. With c_tr (n_tr,) trade tr
        reads copy c_tr[tr] of x["ln_df"][j], x["sigma"][j] (leading axis n_c: the form ``twin_linear_backward``
        differentiates in closed form), its own amounts and coupon weights either way:
        leaves(x_c, c_tr)[e] = leaves(x_{c_tr(e)})[e]."""
        cf, t = self.cf, self.t
        if c_tr is None:  # one copy: the grids get a copy axis of 1
            grids = [self._lnA_grid(x, j)[None] for j in range(len(cf.currencies))]
            c_tr = np.zeros(self.n_tr, np.int64)
        else:  # (n_c, t_all, T_all) per currency
            grids = [jax.vmap(lambda l, s, j=j: self._lnA_grid({"ln_df": {j: l}, "sigma": {j: s}}, j))(
                x["ln_df"][j], x["sigma"][j]) for j in range(len(cf.currencies))]
        at = lambda j, cp, t_, T_: grids[j][(cp,) + self._grid_index(j, t_, T_)]  # noqa: E731
        every = slice(None)
        moms = []
        for j, st in enumerate(self.flows):
            if st is None:
                moms.append(jnp.zeros((self.K, self.order + 1, self.n_tr)))
                continue
            lnA = at(j, every, t[:, None], st["T"][None, :])  # (n_c, K, G)
            if st["lag"].size:
                lnA = lnA.at[:, :, st["lag"]].add(at(j, every, t[:, None], st["Tn"][None, :])
                                                  - at(j, every, t[:, None], st["Td"][None, :]))
            E = jnp.where(st["alive"][None], jnp.exp(lnA), 0.0)
            amt = jnp.append(x["amt"][st["sel"]], 0.0)[st["row"]]  # (n_j, R): the trades with flows in currency j
            g = st["inv"][st["row"]]  # (n_j, R) group of each row
            cr = np.broadcast_to(np.asarray(c_tr)[st["tr"]][:, None], g.shape)  # its trade's copy

            @jax.checkpoint  # a backward recomputes a date's (n_tr, R, N+1) terms: no residuals of every date
            def one_date(args, amt=amt, g=g, cr=cr):
                z_k, e_k = args  # e_k (n_c, G)
                tay = _taylor(z_k, self.order)  # (G, N+1)
                return jnp.einsum("tr,trn->nt", amt * e_k[cr, g], tay[g])  # (N+1, n_j)

            moms.append(trade_columns(jax.lax.map(one_date, (jnp.asarray(st["z"]), jnp.moveaxis(E, 1, 0))), st["col"]))
        mom_tr = jnp.stack(moms, axis=1)
        out = {"mom_tr": mom_tr, "mom_ns": mom_tr @ self.member}
        c = self.coupons
        if c is None:
            out["cc_w"] = jnp.zeros((self.K, 128))
            return out
        n = cf.c_fix.size
        c_cp = np.asarray(c_tr)[cf.c_trade]  # the copy of every coupon
        i, k = c["i"], c["k"]
        lnA1, lnA2, lnAk = jnp.zeros(n), jnp.zeros(n), jnp.zeros(i.size)
        for j in range(len(cf.currencies)):
            sel = np.nonzero(cf.c_ccy == j)[0]
            if sel.size == 0:
                continue
            lnA1 = lnA1.at[sel].set(at(j, c_cp[sel], c["tfix"][sel], c["T1"][sel]))
            lnA2 = lnA2.at[sel].set(at(j, c_cp[sel], c["tfix"][sel], c["T2"][sel]))
            p = np.nonzero(cf.c_ccy[i] == j)[0]  # the (date, coupon) pairs of currency j
            lnAk = lnAk.at[p].set(at(j, c_cp[i[p]], t[k[p]], c["Tp"][i[p]]))
        vals = x["cw"][i] * jnp.exp(lnA1[i] - lnA2[i] + lnAk)
        out["cc_w"] = jnp.zeros((self.K, c["C"])).at[k, c["slot"]].set(vals)
        return out
