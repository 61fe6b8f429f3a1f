"""The prepared pricing data of a swaption batch (``pricing.opt_swaption.SwaptionBatch.prepare``) as a jnp
function of the curves and the currency's Hull-White sigma pieces (x of ``twin_common``):

    b_j      = P_f(0,s_j) P_d(0,e_j) / (P_f(0,e_j) P_d(0,s_j))        (1 exactly on one curve)
    kappa_j  = b_j exp(lnA(s_j,p_j) - lnA(s_j,e_j) - lnA(s_j,T*_j))   (b_j without a payment lag; T* static)
    c_i      = the coupon bond of ``hw_options.swap_coupon_bond`` (its merge of flows on one date is a static
               scatter-add), target = sum of kappa at T0
    x*       : sum_i c_i exp(lnA(T0,T_i) - B(T0,T_i) x*) = target       (NumPy value, tangent by the IFT)
    ln K_i   = lnA(T0,T_i) - B(T0,T_i) x*,  s_i(k) = B(T0,T_i) sqrt(Var[x(T0)|x(t_k)])
    opt      : a0, a1, wgt of ``_probability_coefficients`` on alpha = lnA(t_k,T_i) - lnA(t_k,T0) - ln K_i
    opt_bonds: p = lnA(t_k, T) of each block
  physical settlement: flows, flow_bonds, ex_flows, run, ex_run of the holder's swap (``twin_swaption_physical``)

Moved leaves (``leaves``): opt/{a0, a1, wgt}, opt_bonds/p, and when physical flows/amt, flow_bonds/p,
ex_flows/{amt, lnA}, run/c0, ex_run/c0. Every other float leaf (sign, the B's, Bfix, B_e, w) reads only the
mean reversion, times and trade terms: it does not move with x. The discrete structure (which terms are live,
their order, the blocks sharing a bond, the fixing dates read) is the base run's; the constructor checks that
it reproduces the batch's own entries.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from exposure.models.hw_options import pad_cashflows, swap_coupon_bond
from exposure.pricing.opt_common import TIME_EPS, TINY_SD, entries, shared_bond_entries
from exposure.pricing.opt_swaption import SwaptionBatch
from exposure.pricing.swaption_kernels import _STEP
from exposure.risk.twin_common import (CurveSet, OneCurrencyTwin, RateTwin, block_gather, check_structure, gather,
                                       root_ift, safe_sqrt, with_source)
from exposure.risk.twin_swaption_physical import PhysicalUnderlying

R2 = 0.7071067811865476


class SwaptionPresTwin(PhysicalUnderlying, OneCurrencyTwin):
    """One swaption batch's moved float leaves as jnp functions of x (module docstring)."""

    def __init__(self, batch: SwaptionBatch, ctx, pre=None):
        """pre: batch.prepare(ctx) where the caller has it (read only: the structure checks)."""
        self.batch, ccy, specs = batch, batch.currency, batch.specs
        self.curves = CurveSet()
        self.rt = RateTwin(ctx, ccy, self.curves, 0)
        rm = ctx.rate_model(ccy)
        self.t = np.asarray(ctx.times, np.float64)
        legs = batch.legs(ctx.market)
        disc = ctx.market.curves[ccy]
        self.d_slot = self.curves.add(disc)
        self.legs = []
        for s, lg in zip(specs, legs):
            t0, fixed_t, fixed_acc, fs, fe, b, fwd, fp = lg
            tstar, kp = batch.lagged_float(rm, fs, fe, fp, b)
            f_slot = None if fwd is disc else self.curves.add(fwd)
            self.legs.append(dict(t0=t0, fs=fs, fe=fe, fp=fp, tstar=tstar, f_slot=f_slot, fwd=fwd,
                                  lag=np.asarray(fp > fe + TIME_EPS), kp=kp, b=b,
                                  fixed=(fixed_t, fixed_acc, s.fixed_rate)))
        pre = batch.prepare(ctx) if pre is None else pre
        self._bond_static(specs)
        self._kappa_static()
        self._option_static(ctx, pre, specs)
        if batch.physical:
            self._underlying_static(ctx, pre, specs, legs)

    # -- static structure (NumPy, once) --------------------------------------------------------------------
    def _bond_static(self, specs):
        """The coupon bonds' flows: a scatter of (K tau, -kappa, +1) into pad_cashflows' (n, m) slots."""
        bonds, dest = [], []
        for i, lg in enumerate(self.legs):
            fixed_t, fixed_acc, rate = lg["fixed"]
            bonds.append(swap_coupon_bond(lg["t0"], fixed_t, fixed_acc, rate, lg["tstar"], lg["fp"], lg["kp"]))
            at_t0 = np.abs(lg["tstar"] - lg["t0"]) < 1e-12
            times = np.concatenate([fixed_t, lg["tstar"][~at_t0], lg["fp"]])
            # kind 0: fixed (value K tau), 1: -kappa of reset r, 2: +1
            kind = np.concatenate([np.zeros(fixed_t.size), np.ones((~at_t0).sum()), np.full(lg["fp"].size, 2)])
            ref = np.concatenate([np.arange(fixed_t.size), np.flatnonzero(~at_t0), np.zeros(lg["fp"].size, int)])
            order = np.argsort(times, kind="stable")
            first = np.r_[True, np.diff(times[order]) > 1e-10]
            slot = np.cumsum(first) - 1
            merged = np.zeros(int(first.sum()))
            amounts = np.concatenate([rate * fixed_acc, -lg["kp"][~at_t0], np.ones(lg["fp"].size)])
            np.add.at(merged, slot, amounts[order])
            keep = merged != 0.0
            out = np.where(keep, np.cumsum(keep) - 1, -1)[slot]
            dest.append((i, out, order, kind[order], ref[order], amounts[order]))
            lg["at_t0"] = at_t0
        self.times, amts = pad_cashflows([(b[0], b[1]) for b in bonds])
        self.bond_dest = dest
        self.amts0 = amts

    def _kappa_static(self):
        """The legs' resets padded to (n, m_r) (a row's last reset repeated: valid times, masked) and the coupon
        bonds' scatter flattened over trades, so that the twin's program has one op per formula, not per trade
        (its size, and its compilation, no longer grow with the batch)."""
        n = len(self.legs)
        m_r = max([1] + [lg["fs"].size for lg in self.legs])
        self.m_r = m_r

        def pad(key, dtype=np.float64, fill=None):
            out = np.zeros((n, m_r), dtype)
            for i, lg in enumerate(self.legs):
                a = np.asarray(lg[key])
                out[i, :a.size] = a
                if a.size:
                    out[i, a.size:] = a[-1] if fill is None else fill
                else:
                    out[i, :] = 1.0 if fill is None else fill
            return out

        self.k_fs, self.k_fe, self.k_fp, self.k_tstar = pad("fs"), pad("fe"), pad("fp"), pad("tstar")
        self.k_lag = pad("lag", bool, False)
        self.k_t0 = pad("at_t0", bool, False)
        slots = [lg["f_slot"] for lg in self.legs]
        self.k_groups = [(f, np.array([i for i, g in enumerate(slots) if g == f], np.int64))
                         for f in dict.fromkeys(slots)]
        order = np.concatenate([rows for _, rows in self.k_groups])
        self.k_inv = np.argsort(order, kind="stable")  # rows of the groups' concatenation back in trade order
        self.k_any_lag = bool(self.k_lag.any())
        m = self.amts0.shape[1]
        dest, kind, ref, base = [], [], [], []
        for i, out, _order, kd, rf, bs in self.bond_dest:
            use = out >= 0
            dest.append(i * m + out[use])
            kind.append(kd[use])
            ref.append(i * m_r + rf[use])
            base.append(bs[use])
        cat = lambda a, dt: np.concatenate(a).astype(dt) if a else np.zeros(0, dt)  # noqa: E731
        self.b_dest, self.b_kind = cat(dest, np.int64), cat(kind, np.float64)
        self.b_ref, self.b_base = cat(ref, np.int64), cat(base, np.float64)

    def _amounts(self, kp):
        """(n, m) coupon bond amounts and (n,) targets at the kappas kp (n, m_r) (jnp)."""
        n, m = self.amts0.shape
        v = jnp.where(self.b_kind == 1, -jnp.ravel(kp)[self.b_ref], jnp.asarray(self.b_base))
        amts = jnp.zeros(n * m).at[self.b_dest].add(v).reshape(n, m)
        return amts, jnp.sum(jnp.where(self.k_t0, kp, 0.0), axis=1)

    def _option_static(self, ctx, pre, specs):
        t, T0, times, amts = self.t, np.array([lg["t0"] for lg in self.legs]), self.times, self.amts0
        rm = ctx.rate_model(self.batch.currency)
        self.T0 = T0
        self.pre_mask = t[:, None] <= T0[None, :] + (TIME_EPS if self.batch.physical else -TIME_EPS)
        target = np.array([sum(lg["kp"][lg["at_t0"]]) for lg in self.legs])
        self.xstar = rm.critical_state(T0, times, amts, target)
        self.notional = np.array([s.notional for s in specs])
        self.w = np.where(np.array([s.payer for s in specs]), -1.0, 1.0)
        n, (K, m) = len(specs), (t.size, times.shape[1])
        self.r = np.array([np.flatnonzero(row)[-1] for row in amts != 0.0])
        self.B0 = self.rt.B(T0[:, None], times)
        lnA_S, B_S = ctx.bond_coefficients(self.batch.currency, times)
        lnA_T, B_T = ctx.bond_coefficients(self.batch.currency, T0)
        self.beta = B_S - B_T[..., None]
        cm = (amts != 0.0)[None] & self.pre_mask[..., None]
        coupons = entries(cm, n, chunk=1, p=lnA_S, q=B_S, T=times[None], g=0, **with_source(cm))
        strike = entries(self.pre_mask, n, chunk=1, p=lnA_T, q=B_T, T=T0[None, :], g=1,
                         **with_source(self.pre_mask, K * n * m))
        flat = {k: np.concatenate([coupons[k], strike[k]]) for k in coupons}
        self.opt, blocks = shared_bond_entries(flat, "p", "q", flat.pop("T"), flat.pop("g"))
        self.n_blocks = blocks["k"].shape[0]
        check_structure(self.opt, pre["opt"], "a swaption batch's opt")
        check_structure({"k": blocks["k"]}, {"k": pre["opt_bonds"]["k"]}, "a swaption batch's opt_bonds")
        # the ZBO's s at the base: s ~ 0 picks the exercise-indicator branch (kept, as every discrete choice)
        s_p = self.B0[None] * np.sqrt(np.maximum(np.where(
            self.pre_mask, rm.state_variance(t[:, None], T0[None, :]), 0.0), 0.0))[..., None]
        s_all = np.concatenate([s_p.ravel(), np.take_along_axis(s_p, np.broadcast_to(
            self.r[None, :, None], (K, n, 1)), axis=2).ravel()])
        self.live = (self.opt["one"] > 0) & (s_all[self.opt["src"]] > TINY_SD)

    # -- the jnp map x -> leaves -----------------------------------------------------------------------------
    def _kappas(self, x):
        """(n, m_r) kappa of every leg's resets (padded as ``_kappa_static``): b_j, times the payment-lag factor
        where lagged."""
        fs, fe = self.k_fs, self.k_fe
        parts = []
        for f_slot, rows in self.k_groups:
            if f_slot is None:
                parts.append(jnp.ones((rows.size, self.m_r)))
                continue
            lp = lambda j, T: self.curves.ln_p(x, j, T[rows])  # noqa: E731
            parts.append(jnp.exp(lp(f_slot, fs) - lp(f_slot, fe) - lp(self.d_slot, fs) + lp(self.d_slot, fe)))
        b = parts[0] if len(parts) == 1 else jnp.concatenate(parts)[self.k_inv]
        if self.k_any_lag:
            ln = lambda T: self.rt.lnA(x, fs, T)  # noqa: E731
            b = jnp.where(self.k_lag, b * jnp.exp(ln(self.k_fp) - ln(fe) - ln(self.k_tstar)), b)
        return b

    def leaves(self, x) -> dict:
        """{"opt": {a0, a1, wgt}, "opt_bonds": {p}[, "flows": {amt}, "flow_bonds": {p}, "ex_flows": {amt, lnA},
        "run": {c0}, "ex_run": {c0}]} at x (the batch's leaves of those names)."""
        rt, t, T0, times = self.rt, self.t, self.T0, self.times
        kappas = self._kappas(x)
        amts, target = self._amounts(kappas)
        lnA0 = rt.lnA(x, T0[:, None], times)
        xstar = root_ift(jnp.asarray(self.xstar), amts, lnA0, self.B0, target)
        strikes = jnp.exp(lnA0 - self.B0 * xstar[:, None])
        lnK = jnp.log(strikes)
        lnA_S = rt.lnA(x, t[:, None, None], times[None])
        lnA_T = rt.lnA(x, t[:, None], T0[None, :])
        sv = jnp.where(self.pre_mask, rt.state_variance(x, t[:, None], T0[None, :]), 0.0)
        s_p = self.B0[None] * safe_sqrt(sv)[..., None]
        alpha = lnA_S - lnA_T[..., None] - lnK[None]
        K, n, m = lnA_S.shape
        r3 = np.broadcast_to(self.r[None, :, None], (K, n, 1))
        last = lambda a: jnp.take_along_axis(a, r3, axis=2)[..., 0]  # noqa: E731
        w = self.w
        wgt_c = jnp.broadcast_to((w[:, None] * self.notional[:, None] * amts)[None], (K, n, m))
        wgt_s = jnp.broadcast_to((-w * self.notional * jnp.sum(amts * strikes, axis=1))[None], (K, n))
        cat = lambda a, b: jnp.concatenate([jnp.ravel(a), jnp.ravel(b)])  # noqa: E731
        e = self.opt
        s = gather(cat(s_p, last(s_p)), e)
        al = gather(cat(alpha, last(alpha)), e)
        beta = np.concatenate([self.beta.ravel(), np.take_along_axis(
            self.beta, np.broadcast_to(self.r[None, :, None], (K, n, 1)), axis=2)[..., 0].ravel()])
        be = np.where(e["one"] > 0, beta[e["src"]], 0.0)
        we = np.where(e["one"] > 0, np.concatenate([np.broadcast_to(w[None, :, None], (K, n, m)).ravel(),
                                                    np.broadcast_to(w[None, :], (K, n)).ravel()])[e["src"]], 0.0)
        ee = (e["src"] >= K * n * m).astype(np.float64) * (e["one"] > 0)
        ss = jnp.where(self.live, s, 1.0)
        a0 = jnp.where(self.live, -we * (al / ss + (0.5 - ee) * ss) * R2, -we * al * _STEP)
        a1 = jnp.where(self.live, we * be / ss * R2, we * be * _STEP)
        out = {"opt": {"a0": a0, "a1": a1, "wgt": 0.5 * gather(cat(wgt_c, wgt_s), e)},
               "opt_bonds": {"p": block_gather(cat(lnA_S, lnA_T), e, self.n_blocks)}}
        if self.batch.physical:
            out.update(self._underlying(x, kappas))
        return out
