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
which hazard segment and which interval a term falls in); hazards, recoveries, log discount factors and spreads
are the traced inputs.
"""

from __future__ import annotations

import typing

import jax.numpy as jnp
import numpy as np

from exposure.market.credit import _cum_hazard, _segment
from exposure.market.curves import _log_discount


class Credit(typing.NamedTuple):
    """One name: pillar times (n,) NumPy (static), hazards (n,) per year, recovery ()."""

    times: np.ndarray
    hazards: object
    recovery: object


def survival(c: Credit | None, t) -> jnp.ndarray:
    """S(t) (1 for c None)."""
    t = np.asarray(t, np.float64)
    if c is None:
        return jnp.ones(t.shape)
    return jnp.exp(-_cum_hazard(jnp, jnp.asarray(c.times), c.hazards, jnp.asarray(t)))


def default_increments(c: Credit | None, t, other: Credit | None = None) -> jnp.ndarray:
    """q (K,): q_0 = 0, q_k = P(tau in (t_{k-1}, t_k]) (and tau < tau_other with ``other``); as
    ``weights.default_increments``."""
    t = np.asarray(t, np.float64)
    if c is None or t.size < 2:
        return jnp.zeros(t.shape)
    if other is None:
        s = survival(c, t)
        return jnp.concatenate([jnp.zeros(1), s[:-1] - s[1:]])
    knots = np.union1d(t, np.concatenate([c.times, other.times]))
    knots = knots[(knots >= t[0]) & (knots <= t[-1])]
    a, b = knots[:-1], knots[1:]
    mid = 0.5 * (a + b)
    hc = c.hazards[_segment(np, c.times, mid)]
    h = hc + other.hazards[_segment(np, other.times, mid)]
    joint = survival(c, a) * survival(other, a) - survival(c, b) * survival(other, b)
    piece = jnp.where(h > 0.0, hc / jnp.where(h > 0.0, h, 1.0) * joint, 0.0)
    return jnp.zeros(t.shape).at[np.searchsorted(t, b, side="left")].add(piece)


def spread_on_profile(m, discretisation: str) -> jnp.ndarray:
    """w (K,) from per-interval amounts m (K,) (m_0 unused): "ore" m_k on t_k, "midpoint" half on each end."""
    m = m.at[0].set(0.0)
    if discretisation == "ore":
        return m
    if discretisation == "midpoint":
        return 0.5 * m + jnp.concatenate([0.5 * m[1:], jnp.zeros(1)])
    raise ValueError(f"unknown discretisation '{discretisation}' (expected ore or midpoint)")


def credit_weights(c: Credit, t, other: Credit | None, discretisation: str) -> jnp.ndarray:
    """(K,) CVA weights of name c (other: the bank when bilateral) or DVA weights (roles swapped)."""
    return spread_on_profile((1.0 - c.recovery) * default_increments(c, t, other), discretisation)


def funding_weights(fund_times, spreads, t, log_p, cpty: Credit | None, own: Credit | None, weighting: str,
                    discretisation: str) -> jnp.ndarray:
    """(K,) FCA (spreads = borrowing, decimal (n_f,)) or FBA (lending) weights; log_p (K,) = ln P(0, t)."""
    t = np.asarray(t, np.float64)
    st = jnp.interp(jnp.asarray(t), jnp.asarray(fund_times), spreads) * t
    dcf = jnp.concatenate([jnp.zeros(1), jnp.exp(log_p[:-1] - log_p[1:]) * jnp.expm1(st[1:] - st[:-1])])
    at = t[:-1] if discretisation == "ore" else 0.5 * (t[:-1] + t[1:])
    s = jnp.ones(t.size - 1)
    if weighting in ("full", "ex_own_sp"):
        s = s * survival(cpty, at)
    if weighting == "full":
        s = s * survival(own, at)
    return spread_on_profile(jnp.concatenate([jnp.ones(1), s]) * dcf, discretisation)


def weight_arrays(credit: dict, own_name: str, counterparties, t, curve_times, log_dfs, funding, bilateral: bool,
                  discretisation: str, weighting: str, measures) -> dict:
    """{measure: (n_ns, K)} for measures among CVA, DVA, FCA, FBA, as ``risk.state.xva_weight_arrays``.

    credit: name -> Credit (a name absent: no curve, zero weights); curve_times (m,), log_dfs (m,): the base
    discount curve; funding: (times (n_f,), borrowing (n_f,), lending (n_f,)) decimals, or None. A row depends
    on its counterparty alone (the bank is the same for all), so rows are computed once per counterparty."""
    t = np.asarray(t, np.float64)
    own = credit.get(own_name)
    zero = jnp.zeros(t.size)
    names = list(dict.fromkeys(str(c) for c in counterparties))
    log_p = _log_discount(jnp.asarray(curve_times), log_dfs, jnp.asarray(t)) if funding is not None else None
    per_name = {m: [] for m in measures}
    for name in names:
        c = credit.get(name)
        if "CVA" in per_name:
            per_name["CVA"].append(zero if c is None else credit_weights(c, t, own if bilateral else None,
                                                                         discretisation))
        if "DVA" in per_name:
            per_name["DVA"].append(zero if own is None else credit_weights(own, t, c if bilateral else None,
                                                                          discretisation))
        for m, side in (("FCA", 1), ("FBA", 2)):
            if m in per_name:
                per_name[m].append(funding_weights(funding[0], funding[side], t, log_p, c, own, weighting,
                                                   discretisation))
    rows = np.array([names.index(str(c)) for c in counterparties], dtype=np.int64)
    return {m: jnp.stack(r)[rows] for m, r in per_name.items()}
