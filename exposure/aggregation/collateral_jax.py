"""The collateralised and funding values of ``ExposureAggregator.collateralise`` as one traceable jnp function.

    X(t_k) = V(t_k^co) - X_c(t_k^co) (C_k + IA_held - IA_posted)      (collateralised value, base currency)
    F(t_k) = V(t_k)    - X_c(t_k) C_k                                   (funding value)

with C_k the variation-margin recursion of ``collateral`` (threshold, MTA, rounding, one-way flags, start balance
``initial_balance`` or VM*(v_0)), the same operations in the same order as the NumPy path, so that its values
agree to the last bits on the same inputs (tests/test_risk_collateral.py). It exists for reverse-mode
sensitivities (``exposure.risk``): differentiable in the values, FX rates and CSA amounts.

Kinks (derivatives, ``smooth`` > 0 switches the estimator, never the value):
    max(v - H, 0) (threshold)  pathwise: its kink has measure zero;
    rounding ceil/floor(D / r) r  the value is rounded, the derivative is that of D (a straight-through
                    estimator): pathwise the rounded amount is flat with jumps of size r, and the jumps are what
                    moves E[C]; averaged over the rounding phase d E[round(D)] / dD = 1;
    the MTA call 1{|D| >= MTA}  value exact; with smooth = w > 0 the derivative is that of
                    C + s (T - C), s = sigmoid((|D| - MTA) / (w MTA)), the smoothed call (w = 0: pathwise, the
                    jump at the boundary ignored). Its bias is measured against bump-and-revalue in the tests.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.aggregation.collateral import csa_arrays, rounded_delivery, vm_target


def _with_derivative_of(exact_fn, smooth_fn):
    """A function with the values of ``exact_fn`` (its own operations, untouched) and the derivative of
    ``smooth_fn`` (a custom JVP: reverse mode transposes it)."""

    @jax.custom_jvp
    def f(*args):
        return exact_fn(*args)

    @f.defjvp
    def f_jvp(primals, tangents):
        return exact_fn(*primals), jax.jvp(smooth_fn, primals, tangents)[1]

    return f


_round_st = _with_derivative_of(rounded_delivery, lambda d, target, r_safe: d)


def _call(c, moved, d, mta):
    return jnp.where(jnp.abs(d) >= mta, moved, c)


def vm_scan(v, c_init, terms: dict, smooth: float = 0.0):
    """C (K, m, P) from v (K, m, P) collateral-currency values at the call dates, c_init (m, P), CSA terms (m, 1)
    (``csa_arrays``); the recursion of ``collateral._vm_scan`` with the derivative conventions above."""
    _, out = jax.lax.scan(vm_step(terms, smooth), c_init, v)
    return out


def vm_step(terms: dict, smooth: float = 0.0):
    """One date of ``vm_scan``: step(C_{k-1} (m, P), v_k (m, P)) -> (C_k, C_k), for a caller's own date scan."""
    h_cpty, h_bank = terms["h_cpty"], terms["h_bank"]
    mta_cpty, mta_bank, rounding = terms["mta_cpty"], terms["mta_bank"], terms["rounding"]
    a_recv, a_post = terms["a_recv"], terms["a_post"]
    r_safe = jnp.where(rounding > 0, rounding, 1.0)

    def soft_call(c, moved, d, mta):
        width = smooth * jnp.where(mta > 0, mta, 1.0)
        s = jax.nn.sigmoid((jnp.abs(d) - mta) / width)
        return jnp.where(mta > 0, c + s * (moved - c), moved)

    call = _with_derivative_of(_call, soft_call) if smooth > 0.0 else _call

    def step(c, v_k):
        target = vm_target(v_k, h_cpty, h_bank, a_recv, a_post)
        d = target - c
        mta = jnp.where(d >= 0, mta_cpty, mta_bank)
        moved = jnp.where(rounding > 0, c + _round_st(d, target, r_safe), target)
        new = call(c, moved, d, mta)
        return new, new

    return step


def initial_balance(csas, v0):
    """(m, P) start balances: csa.initial_balance, else VM*(v0) with the one-way flags (v0 (m, P))."""
    rows = []
    for j, csa in enumerate(csas):
        if csa.initial_balance is not None:
            rows.append(jnp.full(v0.shape[1:], float(csa.initial_balance), v0.dtype))
        else:
            recv = jnp.maximum(v0[j] - csa.threshold_cpty, 0.0) if csa.margining != "bank_posts" else 0.0 * v0[j]
            post = jnp.maximum(-v0[j] - csa.threshold_bank, 0.0) if csa.margining != "cpty_posts" else 0.0 * v0[j]
            rows.append(recv - post)
    return jnp.stack(rows)


class CollateralLayout:
    """What the collateral step needs of a portfolio, fixed before tracing: the CSA netting sets, their
    collateral currency's position on the fx axis (None: base), valuation / close-out / t0 indices."""

    def __init__(self, netting_sets, currencies, base_currency, valuation_index, closeout_index, t0_index=0):
        self.n_ns = len(netting_sets)
        self.csa_idx = np.array([j for j, ns in enumerate(netting_sets) if ns.csa is not None], dtype=int)
        self.csas = [netting_sets[j].csa for j in self.csa_idx]
        self.fx_idx = []
        for j, csa in zip(self.csa_idx, self.csas):
            ccy = csa.collateral_currency
            if ccy is None or ccy == base_currency:
                self.fx_idx.append(None)
            elif ccy in currencies:
                self.fx_idx.append(list(currencies).index(ccy))
            else:
                raise ValueError(f"netting set '{netting_sets[j].id}': collateral currency '{ccy}' is not simulated")
        self.vi = np.asarray(valuation_index, dtype=int)
        self.ci = None if closeout_index is None else np.asarray(closeout_index, dtype=int)
        self.t0 = t0_index
        self.terms = {k: a[:, None] for k, a in csa_arrays(self.csas).items()} if self.csas else {}
        self.ia = np.array([c.independent_amount_held - c.independent_amount_posted for c in self.csas])


def collateralise(layout: CollateralLayout, vals, fx, smooth: float = 0.0, fx_ns=None):
    """(X, F), each (K, n_ns, P): collateralised and funding values from vals (K_all, n_ns, P) and
    fx (n_ccy, K_all, P) on the simulated date axis (``ExposureAggregator.collateralise`` in jnp).
    fx_ns (n_ns, n_ccy, K_all, P), optional: netting set j reads its own copy fx_ns[j] (equal to fx) instead, so
    that one reverse pass separates the netting sets' fx cotangents (``risk.reverse_ns``); same values."""
    vi, ci = layout.vi, layout.ci
    Vv = vals[vi]
    if not layout.csas:
        return Vv, Vv
    cs = layout.csa_idx
    V_call = Vv[:, cs]
    V_co = vals[ci][:, cs] if ci is not None else V_call
    ones = jnp.ones(vals.shape[:1] + vals.shape[2:], vals.dtype)
    full = jnp.stack([ones if f is None else (fx[f] if fx_ns is None else fx_ns[j, f])
                      for j, f in zip(cs, layout.fx_idx)], axis=1)  # (K_all, m, P)
    any_fx = any(f is not None for f in layout.fx_idx)
    fx_call = full[vi]
    fx_co = full[ci] if ci is not None else fx_call
    v = V_call / fx_call if any_fx else V_call
    v0 = vals[layout.t0][cs]
    if any_fx:
        v0 = v0 / full[layout.t0]
    c0 = initial_balance(layout.csas, v0)
    C = vm_scan(v, c0, {k: jnp.asarray(a, vals.dtype) for k, a in layout.terms.items()}, smooth)
    held = C + jnp.asarray(layout.ia, vals.dtype)[None, :, None]
    F = Vv.at[:, cs].set(V_call - (C * fx_call if any_fx else C))
    if any_fx:
        held = held * fx_co
    X = Vv.at[:, cs].set(V_co - held)
    return X, F
