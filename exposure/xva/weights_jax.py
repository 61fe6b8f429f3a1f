"""The XVA date weights of ``weights`` in jnp, as functions of hazards, recoveries, the base discount curve and the
funding spreads, so that dw/dtheta is jax.jvp / jax.vjp (``exposure.risk.setup_market``).

    CVA_j:  w_k = (1 - R_c) q_k^c                     q^c = S_c(t_{k-1}) - S_c(t_k), or first-to-default
    DVA_j:  w_k = (1 - R_b) q_k^b                     (bank b; roles swapped)
    FCA_j:  w_k = s_k dcf_k^B,  FBA_j: w_k = s_k dcf_k^L
            dcf_k^F = P(t_{k-1}) / P(t_k) expm1(s_F(t_k) t_k - s_F(t_{k-1}) t_{k-1}),  P = exp(y interpolated)
    S(t) = exp(-H(t)), H piecewise linear through the hazard pillars (``market.credit``)

each spread over the profile dates by the run's discretisation ("ore": on t_k, "midpoint": half on t_{k-1}); the
formulas, term for term, of ``weights`` (its docstring states them), so values equal the NumPy weights to
rounding. Times t (K,) years; weights (n_ns, K). Pillar times and profile dates are static NumPy (they decide
which hazard segment and which interval a term falls in, and make H(t), ln P(0, t) and s(t) t linear maps of
the inputs: ``credit_jax.cum_hazard_matrix``, ``log_discount_matrix``); hazards, recoveries, log discount
factors and spreads are the traced inputs.
"""

from __future__ import annotations

import typing

import jax.numpy as jnp
import numpy as np

from exposure.market.credit import _segment
from exposure.market.credit_jax import cum_hazard_matrix, log_discount_matrix


class Credit(typing.NamedTuple):
    """One name: pillar times (n,) NumPy (static), hazards (n,) per year, recovery ()."""

    times: np.ndarray
    hazards: object
    recovery: object


def _spread_rows(m, discretisation: str):
    """``spread_on_profile`` of every row of m (rows, K)."""
    m = m.at[:, 0].set(0.0)
    if discretisation == "ore":
        return m
    if discretisation == "midpoint":
        return 0.5 * m + jnp.concatenate([0.5 * m[:, 1:], jnp.zeros((m.shape[0], 1))], axis=1)
    raise ValueError(f"unknown discretisation '{discretisation}' (expected ore or midpoint)")


def weight_arrays(credit: dict, own_name: str, counterparties, t, curve_times, log_dfs, funding, bilateral: bool,
                  discretisation: str, weighting: str, measures) -> dict:
    """{measure: (n_ns, K)} for measures among CVA, DVA, FCA, FBA, as ``risk.state.xva_weight_arrays``.

    credit: name -> Credit (a name absent: no curve, zero weights); curve_times (m,), log_dfs (m,): the base
    discount curve; funding: (times (n_f,), borrowing (n_f,), lending (n_f,)) decimals, or None. A row depends
    on its counterparty alone (the bank is the same for all): rows are computed per counterparty name, all
    names at once (their hazards concatenated, H = A h with one static matrix per set of dates), so the traced
    program does not grow with the number of names."""
    t = np.asarray(t, np.float64)
    names = list(dict.fromkeys(str(c) for c in counterparties))
    rows = np.array([names.index(str(c)) for c in counterparties], dtype=np.int64)
    have = np.array([n in credit for n in names])
    cols = [n for n in names if n in credit] + ([own_name] if own_name in credit and own_name not in names else [])
    offset = np.cumsum([0] + [credit[n].times.size for n in cols])
    h_all = jnp.concatenate([jnp.reshape(credit[n].hazards, (-1,)) for n in cols]) if cols else jnp.zeros(0)
    r_all = jnp.stack([jnp.asarray(credit[n].recovery, jnp.float64) for n in cols]) if cols else jnp.zeros(0)
    col = {n: i for i, n in enumerate(cols)}

    def block(name, tt):  # (len(tt), n_total): H_name(tt) = block h_all
        out = np.zeros((np.size(tt), int(offset[-1])))
        if name in col:
            i = col[name]
            out[:, offset[i]:offset[i + 1]] = cum_hazard_matrix(credit[name].times, tt)
        return out

    def surv(tt):  # (n_names, len(tt)) per book name (1 without a curve), and the bank's (len(tt),)
        a = np.stack([block(n, tt) for n in names])
        return jnp.exp(-jnp.einsum("nkj,j->nk", a, h_all)), jnp.exp(-block(own_name, tt) @ h_all)

    lgd = jnp.stack([1.0 - r_all[col[n]] if n in col else jnp.asarray(0.0) for n in names])
    lgd_own = 1.0 - r_all[col[own_name]] if own_name in col else jnp.asarray(0.0)
    out = {}
    if {"CVA", "DVA"} & set(measures):
        if not bilateral:
            s_c, s_o = surv(t)
            q_c = jnp.concatenate([jnp.zeros((len(names), 1)), s_c[:, :-1] - s_c[:, 1:]], axis=1)
            q_o = jnp.concatenate([jnp.zeros(1), s_o[:-1] - s_o[1:]])
            q_o = jnp.broadcast_to(q_o, q_c.shape)
        else:  # first to default on a grid holding every hazard pillar: pieces of constant hazards
            knots = np.union1d(t, np.concatenate([credit[n].times for n in cols]) if cols else t)
            knots = knots[(knots >= t[0]) & (knots <= t[-1])]
            a, b = knots[:-1], knots[1:]
            mid = 0.5 * (a + b)
            agg = np.zeros((a.size, t.size))
            agg[np.arange(a.size), np.searchsorted(t, b, side="left")] = 1.0

            def haz(name):  # (n_pieces,) hazard of name on each piece (0 without a curve)
                if name not in col:
                    return jnp.zeros(a.size)
                i = col[name]
                return h_all[offset[i] + _segment(np, credit[name].times, mid)]

            hc = jnp.stack([haz(n) for n in names])
            ho = haz(own_name)
            sa, soa = surv(a)
            sb, sob = surv(b)
            joint = sa * soa - sb * sob
            tot = hc + ho
            safe = jnp.where(tot > 0.0, tot, 1.0)
            q_c = jnp.where(tot > 0.0, hc / safe * joint, 0.0) @ agg
            q_o = jnp.where(tot > 0.0, ho / safe * joint, 0.0) @ agg
            if not have.all():  # DVA of a set without a counterparty curve: the bank alone (unilateral)
                s_o = surv(t)[1]
                q_alone = jnp.concatenate([jnp.zeros(1), s_o[:-1] - s_o[1:]])
                q_o = jnp.where(have[:, None], q_o, q_alone[None, :])
        q_o = q_o if own_name in col else jnp.zeros_like(q_o)
        out["CVA"] = _spread_rows(lgd[:, None] * q_c * have[:, None], discretisation)
        out["DVA"] = _spread_rows(lgd_own * q_o, discretisation)
    for m, side in (("FCA", 1), ("FBA", 2)):
        if m in measures:
            fund_times, spreads = funding[0], funding[side]
            eye = np.eye(np.size(fund_times))
            interp = np.stack([np.interp(t, fund_times, e) for e in eye], axis=1)  # s(t) = interp s, flat outside
            st = (interp @ spreads) * t
            log_p = log_discount_matrix(curve_times, t) @ log_dfs
            dcf = jnp.concatenate([jnp.zeros(1), jnp.exp(log_p[:-1] - log_p[1:]) * jnp.expm1(st[1:] - st[:-1])])
            at = t[:-1] if discretisation == "ore" else 0.5 * (t[:-1] + t[1:])
            s_c, s_o = surv(at)
            s = jnp.ones((len(names), at.size))
            if weighting in ("full", "ex_own_sp"):
                s = s * s_c
            if weighting == "full":
                s = s * s_o[None, :]
            out[m] = _spread_rows(jnp.concatenate([jnp.ones((len(names), 1)), s], axis=1) * dcf[None, :],
                                  discretisation)
    return {m: out[m][rows] for m in measures}
