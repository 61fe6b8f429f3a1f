"""The physical-settlement leaves of a swaption batch's twin (``twin_swaption.SwaptionPresTwin``): the holder's
swap after exercise, as jnp functions of the curves and the currency's Hull-White sigma pieces (x of ``twin_common``):

    flows/ex_flows: amt (the kappa flows of the holder's swap), lnA (ex_flows), flow_bonds p = lnA(t_k, U)
    run/ex_run: c0 = ln F + lnA(t_k, p_j) of the coupon in its fixed phase (``opt_common.current_coupons``:
                ln F = ln P_f(0,s)/P_f(0,e) when fixed at t0, else ln b + lnA(t_m, s) - lnA(t_m, e))

The discrete structure (which flows are alive, the blocks sharing a bond, the runs' phases) is the base run's,
checked against the batch's own entries as ``twin_swaption``'s.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from exposure.pricing.opt_common import TIME_EPS, entries, first_at_or_after, pad_rows, shared_bond_entries
from exposure.pricing.opt_swaption import _merge
from exposure.risk.twin_common import (block_gather, check_structure, coupon_c0, coupon_phase, gather,
                                       with_source)


class PhysicalUnderlying:
    """The physical-settlement part of ``SwaptionPresTwin`` (a mixin: it reads the twin's legs, times, kappas
    and curves): the static structure in NumPy once, then ``_underlying`` x -> leaves."""

    def _underlying_static(self, ctx, pre, specs, legs):
        t, T0, n = self.t, self.T0, len(specs)
        rows, kinds, deads, self.kp_cols = [], [], [], []
        for s, lg in zip(specs, self.legs):
            fixed_t, fixed_acc, _ = lg["fixed"]
            u = 1.0 if s.payer else -1.0
            pt, pa = _merge(np.concatenate([fixed_t, lg["fp"]]),
                            np.concatenate([-s.fixed_rate * fixed_acc, -np.ones_like(lg["fp"])]) * u * s.notional)
            rows.append((np.concatenate([pt, lg["tstar"]]), pa, u, s.notional))
            kinds.append(np.concatenate([np.ones_like(pt), np.zeros_like(lg["fs"])]))
            deads.append(np.concatenate([pt, lg["fs"]]))
        self.U = pad_rows([r[0] for r in rows], fill=None)
        # the holder's swap amounts (n, mU): its fixed and -1 flows (base), then kappa u N per reset (a gather)
        mU = self.U.shape[1]
        self.u_base, self.u_kcol = np.zeros((n, mU)), np.zeros((n, mU), bool)
        self.u_kidx = np.zeros((n, mU), np.int64)
        for i, (r, lg) in enumerate(zip(rows, self.legs)):
            a, k = r[1].size, lg["kp"].size
            self.u_base[i, :a] = r[1]
            self.u_kcol[i, a:a + k] = True
            self.u_kidx[i, a:a + k] = i * self.m_r + np.arange(k)
        self.u_scale = np.array([r[2] * r[3] for r in rows])
        aU = pad_rows([np.concatenate([r[1], lg["kp"] * r[2] * r[3]]) for r, lg in zip(rows, self.legs)], fill=0.0)
        is_pay = pad_rows(kinds, fill=1.0) > 0.5
        D = pad_rows(deads, fill=None)
        lnA_U, B_U = ctx.bond_coefficients(self.batch.currency, self.U)
        tk = t[:, None, None]
        alive = np.where(is_pay[None], self.U[None] > tk + TIME_EPS, D[None] >= tk - TIME_EPS) & (aU != 0.0)[None]
        after = t[:, None] > T0[None, :] + TIME_EPS
        e_idx = first_at_or_after(t, T0)
        ex = (np.arange(t.size)[:, None] == e_idx[None, :]) & (t[:, None] >= T0[None, :] - TIME_EPS)
        mask = alive & after[..., None]
        flat = entries(mask, n, chunk=1, lnA=lnA_U, B=B_U, T=self.U[None], g=(~is_pay).astype(np.int64)[None],
                       **with_source(mask))
        self.flows, blocks = shared_bond_entries(flat, "lnA", "B", flat.pop("T"), flat.pop("g"), entry_cost=0.5)
        self.n_flow_blocks = blocks["k"].shape[0]
        exm = alive & ex[..., None]
        self.ex_flows = entries(exm, n, **with_source(exm))
        for mine, theirs, what in ((self.flows, pre["flows"], "flows"), (self.ex_flows, pre["ex_flows"], "ex_flows")):
            check_structure(mine, theirs, f"a swaption batch's {what}")
        self._runs_static(ctx, pre, legs, after, ex, n)

    def _runs_static(self, ctx, pre, legs, after, ex, n):
        """``current_coupons``' discrete choices per run (even/odd periods with a payment lag) and group."""
        t = self.t
        starts = pad_rows([lg[3] for lg in legs], fill=None)
        ends = pad_rows([lg[4] for lg in legs], fill=None)
        pays = pad_rows([lg[7] for lg in legs], fill=None)
        valid = pad_rows([np.ones_like(lg[3]) for lg in legs], fill=0.0) > 0.5
        groups: dict = {}
        for i, lg in enumerate(self.legs):
            groups.setdefault(id(lg["fwd"]), (lg["f_slot"], []))[1].append(i)
        lag = bool(np.any(pays > ends + TIME_EPS)) and starts.shape[1] > 1
        self.runs, run_e, ex_e = [], [], []
        for r, sl in enumerate([slice(0, None, 2), slice(1, None, 2)] if lag else [slice(None)]):
            has_all = np.zeros((t.size, n), bool)
            parts = []
            for f_slot, idx in groups.values():
                idx = np.asarray(idx)
                ph = coupon_phase(ctx, starts[idx][:, sl], ends[idx][:, sl], valid[idx][:, sl], pays[idx][:, sl])
                parts.append(dict(ph, idx=idx, f_slot=self.d_slot if f_slot is None else f_slot))
                has_all[:, idx] = ph["has"]
            self.runs.append(parts)
            rm_ = has_all & after
            em = has_all & ex
            run_e.append(entries(rm_, n, **with_source(rm_, r * t.size * n)))
            ex_e.append(entries(em, n, **with_source(em, r * t.size * n)))
        cat = lambda ps: {k: np.concatenate([p[k] for p in ps]) for k in ps[0]}  # noqa: E731
        self.run_ent, self.ex_run_ent = cat(run_e), cat(ex_e)
        check_structure(self.run_ent, pre["run"], "a swaption batch's run")
        check_structure(self.ex_run_ent, pre["ex_run"],
                        "a swaption batch's ex_run")

    def _underlying(self, x, kappas) -> dict:
        rt, t = self.rt, self.t
        n, mU = self.U.shape
        aU = jnp.where(self.u_kcol, (kappas * self.u_scale[:, None]).ravel()[self.u_kidx], self.u_base)
        aU3 = jnp.broadcast_to(aU[None], (t.size, n, mU))
        lnA_U = rt.lnA(x, t[:, None, None], self.U[None])
        c0 = []
        for parts in self.runs:
            dense = jnp.zeros((t.size, n))
            for p in parts:
                c0_p, lnA_e = coupon_c0(x, rt, self.curves, p["f_slot"], p)
                dense = dense.at[:, p["idx"]].set(c0_p + lnA_e)
            c0.append(dense)
        c0 = jnp.stack(c0)
        return {"flows": {"amt": gather(aU3, self.flows)},
                "flow_bonds": {"p": block_gather(lnA_U, self.flows, self.n_flow_blocks)},
                "ex_flows": {"amt": gather(aU3, self.ex_flows), "lnA": gather(lnA_U, self.ex_flows)},
                "run": {"c0": gather(c0, self.run_ent)}, "ex_run": {"c0": gather(c0, self.ex_run_ent)}}
