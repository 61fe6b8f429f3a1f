"""European swaptions under the currency's Hull-White model, on paths.

Before expiry (t_k <= T0): Jamshidian. The underlying at T0 is written as a coupon bond with
``hw_options.swap_coupon_bond`` (fixed coupons K tau_i, the notional at T_n, and, with a forwarding
index, the deterministic-basis coupons -(b_j - 1) at the float resets); the critical state x* solving
sum_i c_i P(T0,T_i; x*) = target is per trade and path-independent (``jamshidian_critical_state``, once in
``prepare``), and the value on a path is sum_i c_i ZBO(t_k; T0, T_i, K_i = P(T0,T_i; x*)) given x(t_k),
a put per coupon for a payer and a call for a receiver. Every option is exercised on the same event
{x(T0) beyond x*}, so the strike legs share one probability: with w = -1 (payer) / +1 (receiver),

    V = sum_i c_i w P(t,T_i) N(w h_i) - w P(t,T0) N(w (h_r - s_r)) sum_i c_i K_i,
    h_i = ln[P(t,T_i) / (K_i P(t,T0))] / s_i + s_i/2,   s_i = B(T0,T_i) sqrt(Var[x(T0) | x(t)]),

h_r, s_r of the last coupon (h_i - s_i is the same for every i): one exponential and one normal cdf per
coupon instead of two of each (live terms only), and the bond P(t,T_i) once per block of terms sharing it
(``opt_common.shared_bond_entries``: bench-1k's swaption terms repeat each (date, T) 11 times). A cash settled
swaption is valued with the same formula before expiry (the physical value: the par-yield annuity of cash
settlement is not modelled, as QuantLib's Jamshidian engine, which refuses it).

Payment lag (``payment_lag`` of both legs): fixed coupons sit at their payment dates; a float coupon fixed at s
on [s, e] and paid at p is worth b P(s,p)/P(s,e) at s, which in Hull-White is kappa P(s,T*) with B(s,T*) =
B(s,p) - B(s,e) and the same T* from every t <= s (``lagged_float``): so before its fixing the coupon's index part
is the zero bond kappa P(t,T*), exactly (payment-lag convexity included), and the coupon bond and the exercised
swap keep their form with kappa at T* in place of b at s and -1 at p in place of -1 at e.

Netting values (``add_netting_values``, the plain run's chunk program; prepared with ``PricingContext.option_tables``):
before expiry a netting set's option terms of one date are one smooth function of x(t_k), tabulated once per run on
fixed nodes and interpolated per path (``opt_tables``: within 1e-13 of the netting set's gross weight by an a priori
bound; the terms next to an expiry, where the erfc is a near-step in x, keep the formula above); a physical batch's
other terms and its exercised swap go straight into (date, netting set) rows, a netting set's flows at one payment
date as one term weighted by the trades' exercise indicators (``swaption_exercised``). Trade values, t0 prices and
the AD twins use the formula on every path. Path kernels: ``swaption_kernels``.

At and after expiry:
  * cash settled: 0 from the expiry date on (the cash settlement is paid at expiry, and a payment on a
    valuation date is no longer in that date's value, as for linear trades);
  * physically settled: on the paths where the holder exercised, the underlying swap
        V_swap(t) = sum_{pay T_i > t} a_i P(t, T_i) + sum_{s_j >= t} b_j P(t, s_j) + F_j P(t, e_j)
    with a_i the fixed coupons (-K tau_i for the payer) and -1 at each float end, +b_j at each float start
    (so a float period not yet fixed is worth b_j P(t,s_j) - P(t,e_j)), and the float coupon in its fixed
    phase (s_j < t < e_j) paying F_j = 1 + tau L_j observed as in ``opt_common.current_coupons`` (the
    convention of the linear pricer). At t_k = T0 the value is max(V_swap(T0), 0). The holder exercises
    where V_swap(t_e) > 0 (the holder's swap: payer for a payer swaption), t_e the expiry if it is a
    valuation date, else the first valuation date after it: an approximation on the grid, as in ORE,
    exact when the expiry is on it. The decision is the holder's whether we are long or short; a short
    position is worth minus the long one. Cash flows paid on a valuation date are not in its value.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.dates import model_times
from exposure.errors import TradeError
from exposure.market.schedule import year_fraction
from exposure.models.hw_options import pad_cashflows, swap_coupon_bond
from exposure.pricing.linear_eval import static_loops_enabled
from exposure.pricing.opt_common import (
    TIME_EPS,
    basis_np,
    current_coupons,
    entries,
    first_at_or_after,
    pad_rows,
    shared_bond_entries,
)
from exposure.pricing.opt_tables import add_tables, build_tables, check_range, netting_entries, split_terms, table_part
from exposure.pricing.swaption_kernels import (_cash_values, _jamshidian_shared, _physical_values,
                                               _probability_coefficients)
from exposure.pricing.swaption_exercised import (NETTING_ROW_KEYS, _merge, add_direct,
                                                 add_netting_values as add_exercised, netting_rows)
from exposure.pricing.today_swaption import swaption_today
from exposure.pricing.view import TradeBatch


class SwaptionBatch(TradeBatch):
    """Swaptions in one currency with one settlement type; specs from ``options.parse_swaption``."""

    table_keys = ("tab", "opt_direct", "opt_direct_bonds") + NETTING_ROW_KEYS  # ``_tables``, ``netting_rows``

    def __init__(self, specs, netting_index):
        super().__init__(specs, netting_index)
        self.currency = specs[0].currency
        self.physical = specs[0].settlement == "physical"

    def event_dates(self) -> tuple:
        """The exercise (expiry) dates."""
        return tuple(s.expiry for s in self.specs)

    # -- deterministic set-up -------------------------------------------------------------------------
    def legs(self, market):
        """Per trade: T0, fixed (payment times, accruals), float (starts, ends), basis b_j, forwarding curve,
        float payment times (model times)."""
        out, asof, curves = [], market.asof, {}
        for i, s in enumerate(self.specs):
            fd, gd = s.fixed_dates, s.float_dates
            fixed_t = model_times(asof, s.fixed_payment_dates or fd[1:])  # market.time of each date
            fixed_acc = np.array([year_fraction(a, b, s.fixed_day_count) for a, b in zip(fd[:-1], fd[1:])])
            float_t = model_times(asof, gd)
            fs, fe = float_t[:-1], float_t[1:]
            fp = model_times(asof, s.float_payment_dates) if s.float_payment_dates else fe
            fwd = market.forward_curve(s.float_index, s.currency)
            disc = market.curves[s.currency]
            curves.setdefault((id(disc), id(fwd)), (disc, fwd, []))[2].append(i)
            out.append([market.time(s.expiry), fixed_t, fixed_acc, fs, fe, None, fwd, fp])
        for disc, fwd, idx in curves.values():  # b_j of every period on one pair of curves at once (elementwise)
            b = basis_np(disc, fwd, np.concatenate([out[i][3] for i in idx]), np.concatenate([out[i][4] for i in idx]))
            for i, bi in zip(idx, np.split(b, np.cumsum([out[i][3].size for i in idx])[:-1])):
                out[i][5] = bi
        return [tuple(lg) for lg in out]

    @staticmethod
    def lagged_float(rm, fs, fe, fp, b):
        """A float coupon fixed at s on [s, e] and paid at p >= e as one bond: at s it is worth
        b P(s,p)/P(s,e) = kappa P(s,T*) with B(s,T*) = B(s,p) - B(s,e) (T* in [s, p]; B(t,T) = (F(T) - F(t))/E(t)
        in Hull-White, so F(T*) = F(s) + F(p) - F(e) and the same T* holds from every t), kappa =
        b exp(lnA(s,p) - lnA(s,e) - lnA(s,T*)): before s the coupon's index part is the bond kappa P(t,T*),
        exactly (its payment-lag convexity included). Without a lag T* = s, kappa = b. Returns (T*, kappa)."""
        if not np.any(fp > fe + TIME_EPS):  # no lag: the bond flows b at s (set-up cost only where lagged)
            return fs, b
        target = rm.bond_coefficients(fs, fp)[1] - rm.bond_coefficients(fs, fe)[1]
        lo, hi = fs.copy(), fp.copy()
        for _ in range(200):  # bisection: B(s, .) is increasing
            mid = 0.5 * (lo + hi)
            below = rm.bond_coefficients(fs, mid)[1] < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        tstar = np.where(fp > fe + TIME_EPS, 0.5 * (lo + hi), fs)
        ln = lambda T: rm.bond_coefficients(fs, T)[0]  # noqa: E731
        kappa = np.where(fp > fe + TIME_EPS, b * np.exp(ln(fp) - ln(fe) - ln(tstar)), b)
        return tstar, kappa

    def prepare(self, ctx):
        specs, ccy = self.specs, self.currency
        rm = ctx.rate_model(ccy)
        t = np.asarray(ctx.times, dtype=np.float64)
        legs = self.legs(ctx.market)
        T0 = np.array([lg[0] for lg in legs])
        # a float coupon paid at p: index part kappa at T*, -1 at p (``lagged_float``; T* = s, kappa = b without a lag)
        lagged = [self.lagged_float(rm, lg[3], lg[4], lg[7], lg[5]) for lg in legs]
        bonds = [swap_coupon_bond(lg[0], lg[1], lg[2], s.fixed_rate, ts, lg[7], kp)
                 for s, lg, (ts, kp) in zip(specs, legs, lagged)]
        times, amts = pad_cashflows([(b[0], b[1]) for b in bonds])
        target = np.array([b[2] for b in bonds])
        xstar = rm.critical_state(T0, times, amts, target)
        strikes = rm.zero_bond(T0[:, None], times, xstar[:, None])
        resid = np.abs(np.sum(amts * strikes, axis=1) - target)
        for i in np.flatnonzero(~np.isfinite(xstar) | ~(resid <= 1e-9 * np.maximum(1.0, np.abs(target)))):
            raise TradeError(specs[i].id, "no Jamshidian critical rate (the underlying coupon bond is not "
                                          "monotone in the short rate): check fixed_rate and the schedules")
        lnK = np.log(strikes)
        notional = np.array([s.notional for s in specs])
        sign = np.array([1.0 if s.long else -1.0 for s in specs])
        payer = np.array([s.payer for s in specs])

        lnA_S, B_S = ctx.bond_coefficients(ccy, times)  # (K, n, m)
        lnA_T, B_T = ctx.bond_coefficients(ccy, T0)  # (K, n)
        # Cash settlement is paid at T0, so the option counts up to T0 exclusive; physical up to T0 inclusive
        # (max(V_swap(T0), 0), the same as the exercised swap).
        pre_mask = t[:, None] <= T0[None, :] + (TIME_EPS if self.physical else -TIME_EPS)
        sv = np.where(pre_mask, rm.state_variance(t[:, None], T0[None, :]), 0.0)
        s_p = rm.bond_coefficients(T0[:, None], times)[1][None] * np.sqrt(np.maximum(sv, 0.0))[..., None]
        n = len(specs)
        w = np.where(payer, -1.0, 1.0)
        alpha, beta = lnA_S - lnA_T[..., None] - lnK[None], B_S - B_T[..., None]
        coupons = entries((amts != 0.0)[None] & pre_mask[..., None], n, chunk=1, p=lnA_S, q=B_S, alpha=alpha,
                          beta=beta, s=s_p, e=0.0, w=w[None, :, None],
                          wgt=(w[:, None] * notional[:, None] * amts)[None], T=times[None], g=0)
        # The strike legs of all coupons share one probability, Q^{T0}(exercise): one term per (date, trade)
        # on P(t, T0), its probability read off the last coupon (the largest s, the best conditioned).
        r = np.array([np.flatnonzero(row)[-1] for row in amts != 0.0])
        last = lambda a: np.take_along_axis(a, np.broadcast_to(r[None, :, None], a.shape[:2] + (1,)), axis=2)[..., 0]  # noqa: E731
        strike_leg = entries(pre_mask, n, chunk=1, p=lnA_T, q=B_T, alpha=last(alpha), beta=last(beta), s=last(s_p),
                             e=1.0, w=w[None, :], wgt=(-w * notional * np.sum(amts * strikes, axis=1))[None, :],
                             T=T0[None, :], g=1)
        flat = _probability_coefficients({k: np.concatenate([coupons[k], strike_leg[k]]) for k in coupons})
        tables = self._tables(ctx, flat, sign) if ctx.option_tables else None
        # the coupon terms of a row before its strike term, coupons by maturity: the order of the sums kept
        opt, opt_bonds = shared_bond_entries(flat, "p", "q", flat.pop("T"), flat.pop("g"))
        pre = {"opt": opt, "opt_bonds": opt_bonds, "sign": sign}
        if tables is not None:
            pre.update(tables)
        if self.physical:
            pre.update(swap := self._underlying(ctx, legs, lagged, specs, t, T0, notional, payer))
            if tables is not None:  # the exercised swap straight into netting rows (``swaption_exercised``)
                pre.update(netting_rows(pre.pop("flat_flows"), swap["run"], sign, self.netting_set,
                                        np.unique(self.netting_set)))
            pre.pop("flat_flows", None)
        return jax.device_put(pre)  # every leaf in one transfer (jnp.asarray compiled a program per shape)

    def _tables(self, ctx, flat, sign):
        """{"tab": the netting tables of the pre-expiry terms whose bound passes (``opt_tables``), "opt_direct",
        "opt_direct_bonds": the other terms as ``opt``} or None (nothing tabulated); used by ``add_netting_values``
        only (trade values, t0 prices and the AD twins keep ``opt``)."""
        tabulate, L = split_terms(ctx, self.currency, flat, len(self.specs))
        tab = build_tables(flat, tabulate, L, sign, self.netting_set, np.unique(self.netting_set),
                           ctx.ccy_index(self.currency))
        if tab is None:
            return None
        keep = ~tabulate
        if not keep.any():  # one entry at weight 0: the direct part keeps its shapes
            keep[0] = True
        direct = {k: np.asarray(a)[keep] for k, a in flat.items()}
        direct["wgt"] = np.where(tabulate[keep], 0.0, direct["wgt"])
        # per netting set: the tables' rows (cash), or beside the exercised swap's terms (``swaption_exercised``)
        opt, bonds = netting_entries(direct, sign, self.netting_set, np.unique(self.netting_set), direct["k"])
        return {"tab": tab, "opt_direct": opt, "opt_direct_bonds": bonds}

    def _underlying(self, ctx, legs, lagged, specs, t, T0, notional, payer):
        """Entries of the holder's underlying swap after T0, and of its value at the exercise date."""
        ccy, n = self.currency, len(specs)
        flows, kinds, deads = [], [], []
        for s, (t0, fixed_t, fixed_acc, fs, fe, b, _, fp), (ts, kp) in zip(specs, legs, lagged):
            u = 1.0 if s.payer else -1.0
            pt, pa = _merge(np.concatenate([fixed_t, fp]),
                            np.concatenate([-s.fixed_rate * fixed_acc, -np.ones_like(fp)]) * u * s.notional)
            # the index part of a float coupon: kappa P(t, T*) until its fixing at s (T* = s without a lag)
            flows.append((np.concatenate([pt, ts]), np.concatenate([pa, kp * u * s.notional])))
            kinds.append(np.concatenate([np.ones_like(pt), np.zeros_like(fs)]))  # 1: a payment, 0: a float start
            deads.append(np.concatenate([pt, fs]))
        U = pad_rows([f[0] for f in flows], fill=None)
        aU = pad_rows([f[1] for f in flows], fill=0.0)
        is_pay = pad_rows(kinds, fill=1.0) > 0.5
        D = pad_rows(deads, fill=None)
        lnA_U, B_U = ctx.bond_coefficients(ccy, U)
        tk = t[:, None, None]
        alive = np.where(is_pay[None], U[None] > tk + TIME_EPS, D[None] >= tk - TIME_EPS) & (aU != 0.0)[None]
        after = t[:, None] > T0[None, :] + TIME_EPS  # (K, n): the option itself covers t_k <= T0
        starts = pad_rows([lg[3] for lg in legs], fill=None)
        ends = pad_rows([lg[4] for lg in legs], fill=None)
        valid = pad_rows([np.ones_like(lg[3]) for lg in legs], fill=0.0) > 0.5
        groups: dict = {}  # one call per distinct forwarding curve
        pays = pad_rows([lg[7] for lg in legs], fill=None)
        for i, lg in enumerate(legs):
            groups.setdefault(id(lg[6]), (lg[6], []))[1].append(i)
        u = (np.where(payer, 1.0, -1.0) * notional)[None, :]
        e_idx = first_at_or_after(t, T0)
        at_ex = np.arange(t.size)[:, None] == e_idx[None, :]  # (K, n)
        on_or_after = t[:, None] >= T0[None, :] - TIME_EPS
        # With a payment lag a coupon is still unpaid when the next one fixes: their fixed phases [s_j, p_j)
        # overlap, so even and odd periods are collected separately (each set alone does not overlap).
        lag = bool(np.any(pays > ends + TIME_EPS)) and starts.shape[1] > 1
        runs, ex_runs = [], []
        for sl in ([slice(0, None, 2), slice(1, None, 2)] if lag else [slice(None)]):
            cur = {k: np.zeros((t.size, n), dtype=(int if k in ("j", "m") else bool if k == "has" else float))
                   for k in ("has", "j", "m", "c0", "Bfix", "lnA_e", "B_e")}
            for fwd, idx in groups.values():
                idx = np.asarray(idx)
                part = current_coupons(ctx, ccy, fwd, starts[idx][:, sl], ends[idx][:, sl], valid[idx][:, sl],
                                       pays=pays[idx][:, sl])
                for k in cur:
                    cur[k][:, idx] = part[k]
            run = dict(c0=cur["c0"] + cur["lnA_e"], Bfix=cur["Bfix"], m=cur["m"], B_e=cur["B_e"], w=u)
            runs.append(entries(cur["has"] & after, n, **run))
            ex_runs.append(entries(cur["has"] & at_ex & on_or_after, n, **run))
        cat = lambda parts: {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}  # noqa: E731
        ex_flows = entries(alive & (at_ex & on_or_after)[..., None], n, lnA=lnA_U, B=B_U, amt=aU[None])
        ex_run = cat(ex_runs)
        for e in (ex_flows, ex_run):  # accumulate per trade (rows i) at its exercise date
            e["row"] = e["i"]
        # a row's flows in their order (payments, then float starts, each by time): the sums kept bit for bit
        flat = entries(alive & after[..., None], n, chunk=1, lnA=lnA_U, B=B_U, amt=aU[None], T=U[None],
                       g=(~is_pay).astype(np.int64)[None])
        flows, flow_bonds = shared_bond_entries({k: v for k, v in flat.items() if k not in ("T", "g")}, "lnA", "B",
                                                flat["T"], flat["g"], entry_cost=0.5)
        return {"flows": flows, "flow_bonds": flow_bonds, "run": cat(runs), "ex_flows": ex_flows, "ex_run": ex_run,
                "after": after, "flat_flows": flat}

    # -- path values ----------------------------------------------------------------------------------
    def values(self, pre, view):
        ci = view.ccy_index(self.currency)
        if self.physical:
            return _physical_values(pre, view.x[ci], view.fx[ci])
        return _cash_values(pre, view.x[ci], view.fx[ci])

    today_values = swaption_today  # (n,) t0 values on the host from the t0 prepared data (``pricing.today``)

    def add_netting_values(self, pre, view, n_netting_sets: int, acc=None, tables: list | None = None):
        """acc (K, n_netting_sets, P) or None (zeros) + the batch's netting values: with tables (a plain run's
        prepare, ``PricingContext.option_tables``) the tabulated pre-expiry terms by their netting tables
        (``opt_tables``, within 1e-13 of each netting set's gross weight) and the rest as ``values``; with a list
        ``tables`` their ``table_part`` goes there instead (``chunks.netting_total``: one loop for all batches)."""
        K, P, ci = view.x.shape[1], view.x.shape[2], view.ccy_index(self.currency)
        acc = jnp.zeros((K, n_netting_sets, P), view.x.dtype) if acc is None else acc
        part = self.table_part(pre)
        if part is None:
            return acc + self.netting_values(pre, view, n_netting_sets)
        x, fx, ns = jnp.asarray(view.x[ci]), jnp.asarray(view.fx[ci]), np.unique(self.netting_set)
        if self.physical:  # the direct terms and the exercised swap straight into the total's rows
            acc = add_exercised(acc, pre, x, fx, ns)
        else:  # the direct terms straight into the total's rows too
            acc = add_direct(acc, pre, x, fx, ns)
        if tables is None:
            return add_tables(acc, view.x, view.fx, [part])
        return tables.append(part) or acc

    def table_part(self, pre):
        """The batch's ``opt_tables.table_part``, or None where it prices directly (no tables, or static loops)."""
        ok = "tab" in pre and not static_loops_enabled()
        return table_part(pre["tab"], np.unique(self.netting_set), _jamshidian_shared) if ok else None

    def check_range(self, pre, x_abs_max) -> None:
        """OptionTableRangeError if a path's rate state left the netting tables' interval (``opt_tables``)."""
        check_range(pre.get("tab"), x_abs_max, repr(self))
