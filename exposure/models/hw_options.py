"""Hull-White closed forms for rate options: zero-bond options, Jamshidian swaptions, caplets/floorlets.

    ZBO(t) = w [ P(t,S) N(w h) - K P(t,T) N(w (h - s_p)) ],   w = +1 call, -1 put,
    h = ln(P(t,S) / (K P(t,T))) / s_p + s_p / 2,   s_p = B(T,S) sqrt(Var[x(T) | x(t)]),

for an option expiring at T on the zero bond maturing at S >= T (Brigo-Mercurio 3.40-3.41; with
piecewise-constant sigma only Var[x(T)|x(t)] changes). P(t,.) comes from ``zero_bond`` given the state
x(t) = r(t) - phi(t); today is t = 0 with x = 0. Times in years, prices per unit notional of the bond.

Jamshidian (1989): a coupon bond sum_i c_i P(T0,T_i) is decreasing in x(T0), so the option to exchange it
for ``target`` at T0 splits into zero-bond options struck at K_i = P(T0,T_i; x*), where x* solves
sum_i c_i P(T0,T_i; x*) = target. x* depends on the trade and the model only, never on the path, so it is
solved once per trade (``jamshidian_critical_state``) and then any (t, x(t)) prices with no root-finding.
A payer swaption is a put on the coupon bond, a receiver a call.

Every function broadcasts: trade arrays share a batch shape, cash-flow arrays add one trailing axis (n,)
(pad with amount 0), and x_t may carry extra leading path axes (e.g. x_t of shape (paths, 1) against
trades of shape (trades,) gives (paths, trades)). Options are alive for t <= expiry and worth 0 after it:
what a swaption becomes after exercise is the simulator's business, not the closed form's.
The pricers are jitted (eager op-by-op dispatch would compile every primitive per shape); inside a caller's
jit they simply inline.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from exposure.market.curves import DiscountCurve
from exposure.models.hull_white import HullWhiteParams, hw_B, log_bond_intercept, state_variance, zero_bond

# Below this bond-price volatility the option is worth its intrinsic value; far under any quoted vol but
# well above the rounding noise of s_p near expiry, so the closed form never divides by ~0.
_TINY_SP = 1e-14


@jax.jit
def zero_bond_option(p: HullWhiteParams, curve: DiscountCurve, t, expiry, maturity, strike, is_call, x_t):
    """European option on P(expiry, maturity) with ``strike`` (price per unit bond), valued at t given x(t).

    All arguments broadcast to the result shape. At t == expiry (or zero vol) it is the intrinsic value
    max(w (P(t,S) - K P(t,T)), 0) with no NaN; a strike <= 0 gives the call its forward value and the put 0.
    Returns 0 for t > expiry.
    """
    a = p.mean_reversion
    t = jnp.asarray(t, dtype=jnp.float64)
    expiry = jnp.asarray(expiry, dtype=jnp.float64)
    w = jnp.where(jnp.asarray(is_call), 1.0, -1.0)
    # Both bonds in one call (a trailing axis of 2): half the curve look-ups and a smaller XLA program.
    ends = jnp.stack(jnp.broadcast_arrays(expiry, jnp.asarray(maturity, dtype=jnp.float64)), axis=-1)
    bonds = zero_bond(p, curve, t[..., None], ends, jnp.asarray(x_t)[..., None])
    k_fwd, p_s = strike * bonds[..., 0], bonds[..., 1]
    s_p = hw_B(a, expiry, maturity) * jnp.sqrt(state_variance(p, t, expiry))
    use_bs = (s_p > _TINY_SP) & (k_fwd > 0.0)
    # Safe operands in the untaken branch keep values and gradients free of NaN (jnp.where evaluates both).
    sp_safe = jnp.where(use_bs, s_p, 1.0)
    ratio = jnp.where(use_bs, p_s / jnp.where(use_bs, k_fwd, 1.0), 1.0)
    h = jnp.log(ratio) / sp_safe + 0.5 * sp_safe
    closed = w * (p_s * ndtr(w * h) - k_fwd * ndtr(w * (h - sp_safe)))
    intrinsic = jnp.maximum(w * (p_s - k_fwd), 0.0)
    return jnp.where(t <= expiry, jnp.where(use_bs, closed, intrinsic), 0.0)


def _bond_terms(p, curve, expiry, pay_times):
    """ln A(T0,T_i) and B(T0,T_i), shape (..., n): the coupon bond at T0 is sum c_i exp(lnA_i - B_i x)."""
    e = jnp.asarray(expiry, dtype=jnp.float64)[..., None]
    return log_bond_intercept(p, curve, e, pay_times), hw_B(p.mean_reversion, e, pay_times)


@partial(jax.jit, static_argnames=("max_iter",))
def jamshidian_critical_state(
    p: HullWhiteParams, curve: DiscountCurve, expiry, pay_times, amounts, target=1.0, max_iter: int = 100
):
    """x* with sum_i c_i P(T0,T_i; x*) = target, batch shape of (expiry, pay_times[..., 0], target).

    expiry: (...) T0, years. pay_times, amounts: (..., n) cash-flow times (>= T0) and amounts c_i (0 pads).
    Newton from x = 0 with steps capped at 0.25 (the bond sum is convex and decreasing in x when all c_i >= 0,
    so once left of the root Newton climbs monotonically; the cap stops a flat tangent throwing it far away).
    Negative amounts (deterministic-basis legs) are fine while the bond stays monotone in x near x*.
    Differentiable: the loop runs on stop_gradient'ed inputs and one more Newton step is taken outside it; at
    a root that step's derivative is exactly the implicit-function one, -(dF/dtheta)/(dF/dx).
    """
    ln_a, b = _bond_terms(p, curve, expiry, pay_times)
    return _critical_state(ln_a, b, amounts, target, max_iter)


def _critical_state(ln_a, b, amounts, target, max_iter: int = 100):
    amounts = jnp.asarray(amounts, dtype=jnp.float64)
    target = jnp.asarray(target, dtype=jnp.float64)
    shape = jnp.broadcast_shapes(ln_a.shape[:-1], amounts.shape[:-1], target.shape)

    def newton_step(x, ln_a, b, amounts, target):
        terms = amounts * jnp.exp(ln_a - b * x[..., None])
        val = jnp.sum(terms, axis=-1) - target
        slope = -jnp.sum(b * terms, axis=-1)
        # A padded (all-zero) trade has slope 0: leave it where it is instead of dividing by zero.
        return jnp.where(slope < 0.0, -val / jnp.where(slope < 0.0, slope, -1.0), 0.0)

    frozen = jax.lax.stop_gradient((ln_a, b, amounts, target))

    def body(state):
        i, x, _ = state
        dx = jnp.clip(newton_step(x, *frozen), -0.25, 0.25)
        return i + 1, x + dx, dx

    def cond(state):
        i, _, dx = state
        return (i < max_iter) & jnp.any(jnp.abs(dx) > 1e-15)

    x0 = jnp.zeros(shape, dtype=jnp.float64)
    _, x, _ = jax.lax.while_loop(cond, body, (0, x0, jnp.ones_like(x0)))
    return x + newton_step(x, ln_a, b, amounts, target)


def jamshidian_critical_state_np(p: HullWhiteParams, curve: DiscountCurve, expiry, pay_times, amounts, target):
    """``jamshidian_critical_state`` in NumPy for set-up code (no compilation): x* per trade (the same Newton
    iteration, ``RateModel.critical_state``). expiry (n,), pay_times / amounts (n, m), target (n,)."""
    from exposure.models.rate_model import HullWhiteRateModel

    return HullWhiteRateModel(p, curve).critical_state(expiry, pay_times, amounts, target)


def swaption_price_t0_np(p: HullWhiteParams, curve: DiscountCurve, expiry, pay_times, amounts, is_payer,
                         target=1.0) -> np.ndarray:
    """``swaption_jamshidian`` at t = 0 (x = 0) in NumPy: sum_i c_i ZBO(0; T0, T_i, K_i), K_i = P(T0,T_i; x*).

    expiry (n,), pay_times / amounts (n, m), is_payer (n,), target (n,) or scalar. Today the bonds are the
    curve's, P(0,T), and s_p = B(T0,T_i) sqrt(Var x(T0)); payer = put on the coupon bond."""
    from scipy.special import ndtr as ndtr_np

    e = np.asarray(expiry, dtype=np.float64).reshape(-1, 1)
    T = np.maximum(np.asarray(pay_times, dtype=np.float64).reshape(e.shape[0], -1), e)
    c = np.asarray(amounts, dtype=np.float64).reshape(T.shape)
    x_star = jamshidian_critical_state_np(p, curve, e[:, 0], T, c, target)
    a = float(p.mean_reversion)
    strike = np.exp(log_bond_intercept(p, curve, np.broadcast_to(e, T.shape), T, xp=np)
                    - hw_B(a, e, T, xp=np) * x_star[:, None])
    p_s = np.exp(curve.log_discount_np(T))
    k_fwd = strike * np.exp(curve.log_discount_np(e))
    s_p = hw_B(a, e, T, xp=np) * np.sqrt(state_variance(p, np.zeros_like(e), e, xp=np))
    w = np.where(np.asarray(is_payer, dtype=bool).reshape(-1, 1), -1.0, 1.0)
    use_bs = (s_p > _TINY_SP) & (k_fwd > 0.0)
    sp_safe = np.where(use_bs, s_p, 1.0)
    h = np.log(np.where(use_bs, p_s / np.where(use_bs, k_fwd, 1.0), 1.0)) / sp_safe + 0.5 * sp_safe
    closed = w * (p_s * ndtr_np(w * h) - k_fwd * ndtr_np(w * (h - sp_safe)))
    zbo = np.where(use_bs, closed, np.maximum(w * (p_s - k_fwd), 0.0))
    return np.sum(c * zbo, axis=-1)


@jax.jit
def swaption_jamshidian(
    p: HullWhiteParams,
    curve: DiscountCurve,
    t,
    x_t,
    expiry,
    pay_times,
    amounts,
    is_payer,
    target=1.0,
    x_star=None,
):
    """European swaption as sum_i c_i ZBO(t; T0, T_i, K_i), K_i = P(T0,T_i; x*): put (payer) / call (receiver).

    Value at t <= T0 of max(w (target - sum_i c_i P(T0,T_i)), 0), w = +1 payer, -1 receiver; for a
    single-curve swap with fixed rate K, unit notional, c_i = K tau_i (+1 at T_n) and target = 1 (the float
    leg is worth P(T0,T0) - P(T0,T_n)); see ``swap_coupon_bond`` for multi-curve. Amounts and target may be
    in currency (the price is homogeneous of degree one in them). x_star: pass the cached critical state to
    skip the root-find (do so for per-path revaluation). Result shape: broadcast of x_t and the trade shape.
    """
    ln_a, b = _bond_terms(p, curve, expiry, pay_times)  # shared by the root-find and the strikes
    if x_star is None:
        x_star = _critical_state(ln_a, b, amounts, target)
    k = jnp.exp(ln_a - b * jnp.asarray(x_star)[..., None])
    zbo = zero_bond_option(
        p,
        curve,
        jnp.asarray(t, dtype=jnp.float64)[..., None],
        jnp.asarray(expiry, dtype=jnp.float64)[..., None],
        pay_times,
        k,
        jnp.logical_not(jnp.asarray(is_payer))[..., None],
        jnp.asarray(x_t, dtype=jnp.float64)[..., None],
    )
    return jnp.sum(jnp.asarray(amounts) * zbo, axis=-1)


@jax.jit
def caplet(p: HullWhiteParams, curve: DiscountCurve, t, x_t, start, end, accrual, strike, is_cap, basis=1.0):
    """tau (L - K)^+ (caplet) or tau (K - L)^+ (floorlet) paid at ``end``, L fixed at ``start``, valued at t.

        caplet = (1 + K tau) ZBO_put(t; start, end, b / (1 + K tau)),  floorlet = the same with a call,

    since P(T1,T2) tau (L - K)^+ = (1 + K tau) (b / (1 + K tau) - P(T1,T2))^+ at T1. Single curve: b = 1,
    L = (1/P(T1,T2) - 1)/tau. Multi-curve with a deterministic basis, 1 + tau L = b P(T1,T1)/P(T1,T2) with
    b = ``basis_factor(discount, forward, T1, T2)``: the basis only moves the bond strike. Needs 1 + K tau > 0.
    """
    scale = 1.0 + jnp.asarray(strike) * jnp.asarray(accrual)
    zbo = zero_bond_option(p, curve, t, start, end, basis / scale, jnp.logical_not(jnp.asarray(is_cap)), x_t)
    return scale * zbo


@jax.jit
def basis_factor(discount: DiscountCurve, forward: DiscountCurve, start, end):
    """b = [P_f(0,T1)/P_f(0,T2)] / [P_d(0,T1)/P_d(0,T2)] = (1 + tau L_f(0)) P_d(0,T2)/P_d(0,T1).

    Deterministic basis: the forward curve's ratio P_f(t,T1)/P_f(t,T2) is b times the discount curve's at
    every t and state, so 1 + tau L_f(T1) = b / P_d(T1,T2). b = 1 on a single curve.
    """
    log_fwd_ratio = forward.log_discount(start) - forward.log_discount(end)
    return jnp.exp(log_fwd_ratio - discount.log_discount(start) + discount.log_discount(end))


def swap_coupon_bond(expiry, fixed_times, fixed_accruals, fixed_rate, float_starts=None, float_ends=None, basis=None):
    """(times, amounts, target) of one swap at T0 = expiry: payer value = target - sum amounts P(T0, times).

    Unit notional, numpy, trade set-up time (not traced). Fixed leg: K tau_i at fixed_times, +1 at the end.
    Single curve (float_* None): the float leg is 1 - P(T0,T_n), so target = 1.
    Multi-curve, deterministic basis (float periods [s_j, e_j) with b_j from ``basis_factor``): the float
    coupon tau_j L_j paid at e_j is worth b_j P(T0,s_j) - P(T0,e_j), so the leg is a bond with amount -b_j at
    s_j and +1 at e_j; flows at T0 (P = 1) go into the target and flows on the same date are merged, which on
    a contiguous schedule leaves target = b_0 and -(b_j - 1) at each later reset: the basis is a set of small
    negative coupons. With a spot lag (first reset s_0 > T0) the target is 0 and -b_0 sits at s_0; the bond
    e^{B_0 x} sum c_i P(T0,T_i; x) is then still decreasing in x, so x* stays unique. Float periods must start
    at or after T0 (a reset fixed before T0 is a known cash flow, not modelled here; ValueError).
    """
    t0 = float(expiry)
    times = [np.asarray(fixed_times, dtype=np.float64)]
    amounts = [float(fixed_rate) * np.asarray(fixed_accruals, dtype=np.float64)]
    target = 1.0
    if float_starts is None:
        times.append(np.array([times[0][-1]]))
        amounts.append(np.array([1.0]))
    else:
        s = np.asarray(float_starts, dtype=np.float64)
        e = np.asarray(float_ends, dtype=np.float64)
        b = np.broadcast_to(np.asarray(1.0 if basis is None else basis, dtype=np.float64), s.shape)
        at_t0 = np.abs(s - t0) < 1e-12
        target = float(np.sum(b[at_t0]))
        times += [s[~at_t0], e]
        amounts += [-b[~at_t0], np.ones_like(e)]
    times = np.concatenate(times)
    amounts = np.concatenate(amounts)
    if np.any(times < t0 - 1e-12):
        raise ValueError(f"swap_coupon_bond: cash flow or reset at {times.min():g} before the expiry {t0:g}")
    # Merge flows within 1e-10 y (keeping the first time): cancelling ZBOs cost time and break convexity.
    order = np.argsort(times, kind="stable")
    times, amounts = times[order], amounts[order]
    first = np.r_[True, np.diff(times) > 1e-10]
    merged = np.zeros(int(first.sum()))
    np.add.at(merged, np.cumsum(first) - 1, amounts)
    keep = merged != 0.0
    return times[first][keep], merged[keep], target


def pad_cashflows(flows, pad_to: int | None = None):
    """Stack per-trade (times, amounts) into (trades, n) arrays, n = max(longest, pad_to), amount 0 padding.

    Pads with the trade's last time so padded slots are ordinary zero-weight bonds. A fixed ``pad_to`` keeps
    one jit signature across portfolios.
    """
    n = max([len(f[0]) for f in flows] + [pad_to or 0])
    times = np.zeros((len(flows), n))
    amts = np.zeros((len(flows), n))
    for i, (ti, ai) in enumerate(flows):
        times[i, : len(ti)] = ti
        times[i, len(ti) :] = ti[-1]
        amts[i, : len(ai)] = ai
    return times, amts
