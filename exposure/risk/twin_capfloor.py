"""The prepared pricing data of a cap/floor batch (``pricing.opt_capfloor.CapFloorBatch.prepare``) as a jnp
function of the curves and the currency's Hull-White sigma pieces (x of ``twin_common``):

    b_j   = P_f(0,s_j) P_d(0,e_j) / (P_f(0,e_j) P_d(0,s_j))               (1 exactly on one curve)
    v     = Var[x(f_j) | x(t_k)] on the cells ahead of the fixing,  sd = (B(f,e) - B(f,s)) sqrt(v),
    C     = (B(f,s) - B(f,e)) (B(f,p) - B(f,e)) v                          (payment-lag convexity)
    opt   : alpha = ln(b / (1 + K tau)) + lnA(t_k,s) - lnA(t_k,e) + C,  gamma = ln(1 + K tau) + lnA(t_k,p),  s = sd
    fixed : c0, lnA_e of ``opt_common.current_coupons`` (``twin_common.coupon_c0``; the fixings file's factors
            and the fixing times are the base run's)

Moved leaves: opt/{alpha, gamma, s}, fixed/{c0, lnA_e}. beta, delta, w, wgt, Bfix, B_e, scale, wp and sign read
only the mean reversion, the times and the trade terms. The live terms and their order are the base run's (the
constructor checks them against the batch's own entries).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from exposure.pricing.opt_capfloor import CapFloorBatch
from exposure.pricing.opt_common import TIME_EPS, entries
from exposure.risk.twin_common import (CurveSet, OneCurrencyTwin, RateTwin, check_structure, coupon_c0,
                                       coupon_phase, gather, safe_sqrt, with_source)


class CapFloorPresTwin(OneCurrencyTwin):
    """One cap/floor batch's moved float leaves as jnp functions of x (module docstring)."""

    def __init__(self, batch: CapFloorBatch, ctx, pre=None):
        """pre: batch.prepare(ctx) where the caller has it (read only: the structure checks)."""
        self.batch, specs, ccy = batch, batch.specs, batch.currency
        self.curves = CurveSet()
        self.rt = rt = RateTwin(ctx, ccy, self.curves, 0)
        t = self.t = np.asarray(ctx.times, np.float64)
        rows = batch.schedule_rows(ctx.market)  # the rows ``prepare`` reads
        per = rows["per"]
        disc = ctx.market.curves[ccy]
        d_slot = self.curves.add(disc)
        self.f_slots = [None if p[5] is disc else self.curves.add(p[5]) for p in per]
        self.d_slot, self.per = d_slot, per
        st, en, tau, fix, ft, pt, valid, strike, notional = (rows[k] for k in (
            "st", "en", "tau", "fix", "ft", "pt", "valid", "strike", "notional"))
        self.scale = 1.0 + strike[:, None] * tau
        self.st, self.en, self.ft, self.pt, self.width = st, en, ft, pt, st.shape[1]
        self.ahead = (t[:, None, None] <= ft[None] + TIME_EPS) & (ft[None] > TIME_EPS) & valid[None]
        Bf_s, Bf_e, Bf_p = (rt.B(ft, T) for T in (st, en, pt))
        self.sd_coef = (Bf_e - Bf_s)[None]
        self.conv_coef = ((Bf_s - Bf_e) * (Bf_p - Bf_e))[None]
        n = len(specs)
        mask = self.ahead & (notional[:, None] * self.scale != 0.0)[None]
        self.opt = entries(mask, n, **with_source(mask))
        pre = batch.prepare(ctx) if pre is None else pre
        check_structure(self.opt, pre["opt"], "a cap/floor batch's opt")
        self._fixed_static(ctx, pre, per, st, en, valid, fix, ft, pt, n)

    def _fixed_static(self, ctx, pre, per, st, en, valid, fix, ft, pt, n):
        t = self.t
        lagged = (ft < st - TIME_EPS) | (pt > en + TIME_EPS)
        groups: dict = {}
        for i, p in enumerate(per):
            groups.setdefault(id(p[5]), (self.f_slots[i], []))[1].append(i)
        sets = [slice(None)] if not lagged.any() or st.shape[1] < 2 else [slice(0, None, 2), slice(1, None, 2)]
        has = np.zeros((t.size, n), bool)
        self.sets, parts = [], []
        for r, sl in enumerate(sets):
            phases = []
            for f_slot, idx in groups.values():
                idx = np.asarray(idx)
                sub = lambda a: a[idx][:, sl]  # noqa: E731
                ph = coupon_phase(ctx, sub(st), sub(en), sub(valid), sub(pt), fixes=sub(ft), fixing_factor=sub(fix),
                                  own=True)
                phases.append(dict(ph, idx=idx, f_slot=self.d_slot if f_slot is None else f_slot))
                has[:, idx] = ph["has"]
            self.sets.append(phases)
            parts.append(entries(has.copy(), n, **with_source(has, r * t.size * n)))
        self.fixed = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        check_structure(self.fixed, pre["fixed"], "a cap/floor batch's fixed")

    def _basis(self, x):
        """(n, width) b_j padded with 1 (``pad_rows(fill=1.0)``)."""
        rows = []
        lp = lambda j, T: self.curves.ln_p(x, j, T)  # noqa: E731
        for p, f in zip(self.per, self.f_slots):
            st, en = p[0], p[1]
            b = jnp.ones(st.shape) if f is None else jnp.exp(lp(f, st) - lp(f, en) - lp(self.d_slot, st)
                                                            + lp(self.d_slot, en))
            rows.append(jnp.pad(b, (0, self.width - st.size), constant_values=1.0))
        return jnp.stack(rows)

    def leaves(self, x) -> dict:
        """{"opt": {alpha, gamma, s}, "fixed": {c0, lnA_e}} at x (the batch's leaves of those names)."""
        rt, t = self.rt, self.t
        tk = t[:, None, None]
        lnA_E, lnA_S, lnA_P = (rt.lnA(x, tk, T[None]) for T in (self.en, self.st, self.pt))
        sv = jnp.maximum(jnp.where(self.ahead, rt.state_variance(x, tk, self.ft[None]), 0.0), 0.0)
        alpha = jnp.log(self._basis(x) / self.scale)[None] + lnA_S - lnA_E + self.conv_coef * sv
        gamma = np.log(self.scale)[None] + lnA_P
        out = {"opt": {"alpha": gather(alpha, self.opt), "gamma": gather(gamma, self.opt),
                       "s": gather(self.sd_coef * safe_sqrt(sv), self.opt)}}
        K, n = t.size, self.st.shape[0]
        c0s, lnes = [], []
        for phases in self.sets:
            c0, lne = jnp.zeros((K, n)), jnp.zeros((K, n))
            for ph in phases:
                a, b = coupon_c0(x, rt, self.curves, ph["f_slot"], ph)
                c0, lne = c0.at[:, ph["idx"]].set(a), lne.at[:, ph["idx"]].set(b)
            c0s.append(c0)
            lnes.append(lne)
        out["fixed"] = {"c0": gather(jnp.stack(c0s), self.fixed), "lnA_e": gather(jnp.stack(lnes), self.fixed)}
        return out
