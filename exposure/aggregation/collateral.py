"""Variation margin under a CSA: path-dependent collateral balances and the collateralised value.

Conventions (all per path; ``v`` is the netting-set value expressed in the collateral currency):

    v_k        = V(t_k) / X(t_k)                     X = base units per unit of collateral currency
    VM*(v)     = max(v - H_cpty, 0) * a_recv - max(-v - H_bank, 0) * a_post          (target balance)
                 a_recv = 1 unless the bank alone posts (``bank_posts``),
                 a_post = 1 unless the counterparty alone posts (``cpty_posts``)
    D_k        = VM*(v_k) - C_{k-1}                   (shortfall; > 0: the counterparty delivers)
    call_k     = |D_k| >= MTA,  MTA = mta_cpty if D_k >= 0 else mta_bank   (ORE: marginRequirementCalc)
    C_k        = VM*(v_k)                     if call_k and rounding == 0  (set exactly, no C + (T - C) error)
               = C_{k-1} + round(D_k)         if call_k and rounding  > 0
               = C_{k-1}                      otherwise
    round(D)   = ceil(D / r) r  if VM* >= 0, else floor(D / r) r   (ISDA: the delivery amount is rounded up and
                 the return amount down, i.e. always in favour of the party that holds collateral; this is also
                 what keeps a zero-MTA balance from oscillating around its target); a D within 8 ulps of a
                 multiple of r is that multiple (``rounded_delivery``)

C (collateral-currency units, > 0: held by the bank) is the variation margin balance after the call at t_k,
settled at once. Calls happen on the simulation's valuation dates only (the grid is the margining calendar).

Start: ``csa.initial_balance`` when set, else the target VM*(v_0) of the t0 value when one is given (a fully
margined start, the contract of ``Csa.initial_balance``), else a zero balance (the first date's call sets it).

Collateralised value at the exposure date (base currency, undiscounted):

    X(t_k) = V(t_k^co) - X_c(t_k^co) * (C_k + IA_held - IA_posted)

Without a margin period of risk t_k^co = t_k (the balance from the same date's value). With an MPoR the
balance is the one set by the last call before default, at the valuation date t_k, and the portfolio is valued
at the close-out date t_k^co = t_k + MPoR (ORE's close-out grid): the collateral lags the portfolio by the MPoR.
Collateral is held in its own currency units and revalued at the close-out FX rate X_c(t_k^co).
Exposure is max(X, 0); the counterparty's exposure to the bank is max(-X, 0). Independent amounts are in the
collateral currency like every other CSA amount (``exposure.portfolio.netting``).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from exposure.portfolio.netting import Csa

def csa_arrays(csas: Sequence[Csa]) -> dict:
    """The CSA terms of m netting sets as float64 arrays (m,): thresholds, MTAs, rounding, one-way flags."""
    return {
        "h_cpty": np.array([c.threshold_cpty for c in csas], dtype=np.float64),
        "h_bank": np.array([c.threshold_bank for c in csas], dtype=np.float64),
        "mta_cpty": np.array([c.mta_cpty for c in csas], dtype=np.float64),
        "mta_bank": np.array([c.mta_bank for c in csas], dtype=np.float64),
        "rounding": np.array([c.rounding for c in csas], dtype=np.float64),
        "a_recv": np.array([0.0 if c.margining == "bank_posts" else 1.0 for c in csas]),
        "a_post": np.array([0.0 if c.margining == "cpty_posts" else 1.0 for c in csas]),
    }


def vm_target(v, h_cpty, h_bank, a_recv=1.0, a_post=1.0):
    """VM*(v) = a_recv max(v - H_cpty, 0) - a_post max(-v - H_bank, 0); same shape as v (broadcast)."""
    recv = jnp.where(a_recv > 0, jnp.maximum(v - h_cpty, 0.0), 0.0)
    post = jnp.where(a_post > 0, jnp.maximum(-v - h_bank, 0.0), 0.0)
    return recv - post


def rounded_delivery(d, target, r_safe):
    """round(D) = ceil(D / r) r if VM* >= 0, else floor(D / r) r, with D / r taken as the integer n where it is
    within 8 ulps of n: XLA:CPU computes a division by a broadcast r as D * (1 / r) and 1 / r is inexact for most
    roundings (1e5), so a D that is an exact multiple of r (a rounded balance returned in full) came out as
    6.000000000000001 or 5.999999999999999 and was rounded one unit the wrong way; the snap makes the result the
    same whichever way the compiler divides. Same shapes as d (broadcast)."""
    q = d / r_safe
    n = jnp.round(q)
    q = jnp.where(jnp.abs(q - n) <= 8.0 * jnp.finfo(q.dtype).eps * jnp.maximum(jnp.abs(n), 1.0), n, q)
    return jnp.where(target >= 0, jnp.ceil(q), jnp.floor(q)) * r_safe


@jax.jit
def _vm_scan(v, c_init, h_cpty, h_bank, mta_cpty, mta_bank, rounding, a_recv, a_post):
    """v: (K, m, P) values in collateral currency; c_init: (m, P); terms (m, 1). Returns C (K, m, P)."""
    r_safe = jnp.where(rounding > 0, rounding, 1.0)

    def step(c, v_k):
        target = vm_target(v_k, h_cpty, h_bank, a_recv, a_post)
        d = target - c
        mta = jnp.where(d >= 0, mta_cpty, mta_bank)
        call = jnp.abs(d) >= mta
        new = jnp.where(call, jnp.where(rounding > 0, c + rounded_delivery(d, target, r_safe), target), c)
        return new, new

    _, out = jax.lax.scan(step, c_init, v)
    return out


_VM_TERMS = ("h_cpty", "h_bank", "mta_cpty", "mta_bank", "rounding", "a_recv", "a_post")  # _vm_scan's order


def _rows(a, dtype):
    a = np.asarray(a, dtype)
    return a[:, None] if a.ndim == 1 else a


def _initial_balance(csas, v0, shape, dtype):
    """(m, P) start balances in collateral currency: initial_balance, else VM*(v0), else 0 (NumPy)."""
    out = np.zeros(shape, dtype)
    for j, csa in enumerate(csas):
        if csa.initial_balance is not None:
            out[j] = csa.initial_balance
        elif v0 is not None:
            recv = np.maximum(v0[j] - csa.threshold_cpty, 0.0) if csa.margining != "bank_posts" else 0.0
            post = np.maximum(-v0[j] - csa.threshold_bank, 0.0) if csa.margining != "cpty_posts" else 0.0
            out[j] = recv - post
    return out


def collateral_paths_batch(values_at_call, csas: Sequence[Csa], fx_collateral=None, initial_value=None,
                           initial_fx=None):
    """Variation margin balances of m netting sets at once.

    values_at_call: (K, m, P) base-currency netting-set values at the call (valuation) dates.
    fx_collateral: (K, m, P) base units per unit of each set's collateral currency at those dates, or None
    (collateral in the base currency). initial_value: (m,) or (m, P) base-currency t0 values, or None;
    initial_fx: (m,) or (m, P), or None. Returns C: (K, m, P) balances in collateral-currency units (NumPy).
    """
    v = np.asarray(values_at_call)
    if v.dtype not in (np.float32, np.float64):
        v = v.astype(np.float64)
    if v.ndim != 3 or v.shape[1] != len(csas):
        raise ValueError(f"values_at_call must be (K, {len(csas)}, P); got {tuple(v.shape)}")
    if fx_collateral is not None:
        v = v / np.asarray(fx_collateral, v.dtype)
    K, m, n_paths = v.shape
    v0 = None
    if initial_value is not None:
        v0 = _rows(initial_value, v.dtype)
        if initial_fx is not None:
            v0 = v0 / _rows(initial_fx, v.dtype)
        v0 = np.broadcast_to(v0, (m, n_paths))
    c0 = _initial_balance(csas, v0, (m, n_paths), v.dtype)
    terms = {k: np.asarray(a, v.dtype)[:, None] for k, a in csa_arrays(csas).items()}
    # Pad dates and paths up to coarse buckets so that chunks of nearby sizes share one compiled scan; padded
    # dates come after the real ones and padded paths are independent of the real ones, so nothing changes.
    Kb, Pb = _bucket_dates(K), _bucket_paths(n_paths)
    v = np.pad(v, ((0, Kb - K), (0, 0), (0, Pb - n_paths)))
    c0 = np.pad(c0, ((0, 0), (0, Pb - n_paths)))
    from exposure.simulation.programs import compiled

    args = (v, c0) + tuple(terms[k] for k in _VM_TERMS)  # positional: the kept executable takes no keywords
    return np.asarray(compiled(_vm_scan, "vm_scan", args))[:K, :, :n_paths]


def _bucket_dates(k: int) -> int:
    return max(8, -(-k // 8) * 8)


def _bucket_paths(p: int) -> int:
    g = max(64, 1 << max(0, p.bit_length() - 3))  # at most ~25% padding
    return -(-p // g) * g


def collateral_paths(values_at_call, csa: Csa, fx_collateral=None, initial_value=None, initial_fx=None):
    """Variation margin balance C (K, P) of one netting set, in units of the collateral currency.

    values_at_call: (K, P) base-currency netting-set values at the call dates t_k (the valuation dates).
    fx_collateral: (K, P) base units per unit of collateral currency at t_k, or None (base-currency collateral).
    initial_value: scalar or (P,) base-currency value at t0 (sets the t0 target when csa.initial_balance is
    None); initial_fx likewise. The recursion is in the module docstring (threshold, MTA, rounding, one-way).
    """
    v = np.asarray(values_at_call)
    if v.ndim != 2:
        raise ValueError(f"values_at_call must be (K, P); got {tuple(v.shape)}")
    fx = None if fx_collateral is None else np.asarray(fx_collateral)[:, None, :]
    v0 = None if initial_value is None else np.reshape(np.asarray(initial_value, np.float64), (1, -1))
    fx0 = None if initial_fx is None else np.reshape(np.asarray(initial_fx, np.float64), (1, -1))
    return collateral_paths_batch(v[:, None, :], [csa], fx, v0, fx0)[:, 0, :]


def net_collateral(collateral, csa: Csa, fx_closeout=None):
    """Collateral held net at close-out, in base currency: X_c(t^co) (C + IA_held - IA_posted); shape of C."""
    held = np.asarray(collateral) + (csa.independent_amount_held - csa.independent_amount_posted)
    return held if fx_closeout is None else held * np.asarray(fx_closeout, held.dtype)


def exposure_with_collateral(values_closeout, collateral, csa: Csa, fx_closeout=None):
    """Collateralised value X = V(t^co) - X_c(t^co) (C + IA_held - IA_posted): (K, P), base currency.

    values_closeout: (K, P) base-currency value at the exposure date (the close-out date t_k + MPoR with a
    margin period of risk, else t_k). collateral: (K, P) VM balance from ``collateral_paths`` (set at t_k).
    fx_closeout: (K, P) base units per unit of collateral currency at the exposure date, or None.
    Exposure is max(X, 0) (the bank's), max(-X, 0) the counterparty's; undiscounted.
    """
    v = np.asarray(values_closeout)
    return v - net_collateral(collateral, csa, fx_closeout)
