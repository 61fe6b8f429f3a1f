"""The cross-asset model's exact step transitions in jax.numpy, as functions of its float parameters theta.

    Phi = e^{A tau},  mu = int_0^tau e^{A s} b ds,  Sigma = int_0^tau e^{A s} C R C' e^{A' s} ds   (per piece)
    composed over the constant pieces of a step:  Phi <- P Phi,  mu <- P mu + m,  Sigma <- P Sigma P' + S,
    plus the curve terms of mu: int phi_c = -ln P_c(0,t) + V_c(0,t) / 2 (``hull_white.integrated_phi``),

the same arithmetic as ``CrossAssetModel.step_transitions`` (NumPy, Van Loan with scipy's expm), here written
with jax.scipy.linalg.expm so that jax.jvp / jax.vjp differentiate it: values agree to rounding (~1e-15).

theta (``model_theta``) is a pytree of float arrays:

    a (n_ccy,)          Hull-White mean reversions, 1/years
    ir_vol[c] (m_c+1,)  Hull-White sigma pieces per currency (calibrated or configured), decimal
    fx_vol[f], eq_vol[e]  FX / equity spot vol pieces (as bootstrapped), decimal
    eq_div (q,)         equity dividend yields;  cr_a (k,), cr_vol[k]: credit-intensity a and sigma pieces
    R (m, m)            the factor correlation matrix
    fx_spot (n_ccy-1,), eq_spot (q,)     base per foreign, equity spots (the initial state's logs)
    log_df (n_ccy, T)   ln P_c(0, t) at ``phi_times`` (every time the transitions and the numeraire read)

The discrete structure (currencies, vol breakpoint times, the number of sub-steps a tau <= 0.5) is the base
model's and stays fixed: a tangent moves values, not the grid.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import expm

from exposure.models.planned_expm import expm_plan, planned_expm

from exposure.models.cross_asset import CrossAssetModel
from exposure.models.hull_white import HullWhiteParams, integrated_variance


def model_theta(model: CrossAssetModel, phi_times) -> dict:
    """theta of ``model`` (module docstring), float64 jnp arrays; ``phi_times`` sorted model times (years)."""
    f = lambda x: jax.device_put(np.asarray(x, dtype=np.float64))  # noqa: E731  (a copy: no per-shape program)
    t = np.asarray(phi_times, dtype=np.float64)
    return {
        "a": f([float(h.mean_reversion) for h in model.hw]),
        "ir_vol": tuple(f(v.values) for v in model.ir_vols),
        "fx_vol": tuple(f(v.values) for v in model.fx_vol),
        "eq_vol": tuple(f(v.values) for v in model.equity_vol),
        "eq_div": f(np.reshape(model.equity_div, -1)),
        "cr_a": f([c.mean_reversion for c in model.credit]),
        "cr_vol": tuple(f(v.values) for v in model.cr_vols),
        "R": f(model.correlation),
        "fx_spot": f(np.reshape(model.fx_spot, -1)),
        "eq_spot": f(np.reshape(model.equity_spot, -1)),
        "log_df": f(np.stack([np.asarray(cv.log_discount_np(t), np.float64) for cv in model.curves])
                    if t.size else np.zeros((model.n_ccy, 0))),
    }


def hw_params(model: CrossAssetModel, theta: dict, c: int) -> HullWhiteParams:
    """Currency c's Hull-White parameters with theta's (traced) a and sigma on the base model's breakpoints."""
    return HullWhiteParams(theta["a"][c], np.asarray(model.ir_vols[c].times, np.float64), theta["ir_vol"][c])


def integrated_phi(model: CrossAssetModel, theta: dict, phi_times: np.ndarray, times) -> jnp.ndarray:
    """int_0^t phi_c = -ln P_c(0,t) + V_c(0,t)/2 for every currency at ``times`` (each one of phi_times):
    (n_ccy, len(times))."""
    times = np.asarray(times, dtype=np.float64)
    pos = np.searchsorted(phi_times, times)
    if times.size and not np.array_equal(phi_times[np.minimum(pos, phi_times.size - 1)], times):
        raise ValueError("integrated_phi: a time outside phi_times")
    out = []
    for c in range(model.n_ccy):
        v = integrated_variance(hw_params(model, theta, c), np.zeros_like(times), times, jnp)
        out.append(-theta["log_df"][c][pos] + 0.5 * v)
    return jnp.stack(out)


def initial_state(model: CrossAssetModel, theta: dict) -> jnp.ndarray:
    """y0: ln X_c and ln S_e in their rows, 0 elsewhere (``CrossAssetModel.initial_state``)."""
    y0 = jnp.zeros(model.dim)
    for c in range(1, model.n_ccy):
        y0 = y0.at[model.fx_state(c)].set(jnp.log(theta["fx_spot"][c - 1]))
    for e in range(len(model.equity_names)):
        y0 = y0.at[model.eq_state(e)].set(jnp.log(theta["eq_spot"][e]))
    return y0


def _set(x, idx, v, add: bool = False):
    """x with x[idx] set to (or, add: increased by) v: jnp's functional update, or in place on a NumPy array (the
    host-side plan, ``transition_plan``: no eager JAX op, so no program compiled per op)."""
    if isinstance(x, np.ndarray):
        if add:
            x[idx] += v
        else:
            x[idx] = v
        return x
    return x.at[idx].add(v) if add else x.at[idx].set(v)


def drift_matrix(model: CrossAssetModel, theta: dict, xp=jnp) -> jnp.ndarray:
    d, n = model.dim, model.n_ccy
    A = xp.zeros((d, d))
    for c in range(n):
        A = _set(A, (model.ir_state(c), model.ir_state(c)), -theta["a"][c])
    A = _set(A, (1, 0), 1.0)
    for c in range(1, n):
        A = _set(A, (model.fx_state(c), model.ir_state(0)), 1.0, add=True)
        A = _set(A, (model.fx_state(c), model.ir_state(c)), -1.0, add=True)
    for e, c in enumerate(model.equity_ccy):
        A = _set(A, (model.eq_state(e), model.ir_state(c)), 1.0)
    for k in range(len(model.credit)):
        A = _set(A, (model.cr_state(k), model.cr_state(k)), -theta["cr_a"][k])
        A = _set(A, (model.cr_state(k) + 1, model.cr_state(k)), 1.0)
    return A


def local_coefficients(model: CrossAssetModel, theta: dict, u: np.ndarray, xp=jnp):
    """b (P, d) and C (P, d, m) on the pieces containing the static mid-points u (P,) (curve terms excluded);
    xp: jnp, or np for a NumPy theta (the host-side plan)."""
    n, q = model.n_ccy, len(model.equity_names)
    m = n + (n - 1) + q + len(model.credit)
    d, P = model.dim, u.size
    R = theta["R"]
    pick = lambda vals, times: vals[np.searchsorted(np.asarray(times), u, side="right")]  # noqa: E731
    ir = [pick(theta["ir_vol"][c], model.ir_vols[c].times) for c in range(n)]
    fx = [pick(theta["fx_vol"][k], model.fx_vol[k].times) for k in range(n - 1)]
    eq = [pick(theta["eq_vol"][e], model.equity_vol[e].times) for e in range(q)]
    b = xp.zeros((P, d))
    C = xp.zeros((P, d, m))
    for c in range(n):
        C = _set(C, (slice(None), model.ir_state(c), c), ir[c])
    for c in range(1, n):
        fxf = n + c - 1
        C = _set(C, (slice(None), model.fx_state(c), fxf), fx[c - 1])
        b = _set(b, (slice(None), model.fx_state(c)), -0.5 * fx[c - 1] ** 2)
        b = _set(b, (slice(None), model.ir_state(c)), -R[c, fxf] * ir[c] * fx[c - 1])
    for e, c in enumerate(model.equity_ccy):
        eqf = 2 * n - 1 + e
        C = _set(C, (slice(None), model.eq_state(e), eqf), eq[e])
        drift = -theta["eq_div"][e] - 0.5 * eq[e] ** 2
        if c != 0:
            drift = drift - R[eqf, n + c - 1] * eq[e] * fx[c - 1]
        b = _set(b, (slice(None), model.eq_state(e)), drift)
    for k in range(len(model.credit)):
        C = _set(C, (slice(None), model.cr_state(k), 2 * n - 1 + q + k),
                 pick(theta["cr_vol"][k], model.cr_vols[k].times))
    return b, C


def van_loan_matrices(A, b, Q, tau, xp=jnp):
    """The (2P, 2d, 2d) matrices whose exponentials ``van_loan`` reads: [aug tau padded; M tau]."""
    P, d = b.shape
    s = slice(None)
    aug = _set(_set(xp.zeros((P, d + 1, d + 1)), (s, slice(d), slice(d)), A), (s, slice(d), d), b)
    M = _set(_set(_set(xp.zeros((P, 2 * d, 2 * d)), (s, slice(d), slice(d)), -A), (s, slice(d), slice(d, None)), Q),
             (s, slice(d, None), slice(d, None)), A.T)
    # One batched exponential for both: aug padded block-diagonally to 2d (exp(diag(X, 0)) = diag(e^X, I)).
    big = xp.concatenate([_set(xp.zeros((P, 2 * d, 2 * d)), (s, slice(d + 1), slice(d + 1)), aug), M])
    return big * xp.concatenate([tau, tau])[:, None, None]


def van_loan(A, b, Q, tau, plan=None):
    """Batched exact transition of dY = (b + A Y) dt + dM, d<M> = Q dt over tau (P,): Phi, mu, Sigma.
    plan: ``planned_expm.expm_plan`` of the matrices at the point (None: jax's expm)."""
    P, d = b.shape
    big = van_loan_matrices(A, b, Q, tau)
    E = expm(big) if plan is None else planned_expm(big, plan)
    E1, E2 = E[:P, :d + 1, :d + 1], E[P:]
    Sigma = jnp.einsum("pji,pjk->pik", E2[:, d:, d:], E2[:, :d, d:])
    return E1[:, :d, :d], E1[:, :d, d], Sigma


def _plan(model: CrossAssetModel, starts, ends):
    """Static pieces: per step the list of (piece index, sub-steps); the pieces' mid-points and lengths."""
    amax = max([float(h.mean_reversion) for h in model.hw] + [c.mean_reversion for c in model.credit])
    bps = model.breakpoints()
    steps, mids, taus = [], [], []
    for s, t in zip(starts, ends):
        cuts = np.concatenate([[s], bps[(bps > s) & (bps < t)], [t]])
        row = []
        for u1, u2 in zip(cuts[:-1], cuts[1:]):
            nsub = max(1, int(np.ceil((u2 - u1) * amax / 0.5)))
            row.append((len(mids), nsub))
            mids.append(0.5 * (u1 + u2))
            taus.append((u2 - u1) / nsub)
        steps.append(row)
    return steps, np.asarray(mids, np.float64), np.asarray(taus, np.float64)


def _pieces(model: CrossAssetModel, theta: dict, starts, ends, xp=jnp):
    """(A, b, Q, taus) of the pieces' Van Loan problems and the steps' plan (``_plan``)."""
    A = drift_matrix(model, theta, xp)
    steps, mids, taus = _plan(model, starts, ends)
    b, C = local_coefficients(model, theta, mids, xp)
    Q = xp.einsum("pim,mn,pjn->pij", C, theta["R"], C)
    return A, b, Q, xp.asarray(taus), steps


def transition_plan(model: CrossAssetModel, theta: dict, starts, ends) -> tuple | None:
    """The exponentials' plan (``planned_expm.expm_plan``) of ``step_transitions`` at theta (concrete), made in
    NumPy on the host: the same matrices to rounding, and no eager JAX op (each compiled a small program, ~60 per
    fresh process). A norm within rounding of a threshold could pick the neighbouring degree or squaring: both
    are accurate to rounding there (expm's thresholds bound the error, not a jump in the value)."""
    th = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), theta)
    A, b, Q, tau, _ = _pieces(model, th, np.asarray(starts, np.float64), np.asarray(ends, np.float64), np)
    return expm_plan(van_loan_matrices(A, b, Q, tau, np))


def step_transitions(model: CrossAssetModel, theta: dict, phi_times, starts, ends, plan=None):
    """Phi (n, d, d), mu (n, d), Sigma (n, d, d) over [starts[k], ends[k]] (static times, each in phi_times):
    ``CrossAssetModel.step_transitions`` as a function of theta. plan: ``transition_plan`` at the point where
    it is evaluated and differentiated (None: jax's expm, any theta)."""
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    d = model.dim
    A, b, Q, tau, steps = _pieces(model, theta, starts, ends)
    P_, m_, S_ = van_loan(A, b, Q, tau, plan)
    inc = integrated_phi(model, theta, phi_times, ends) - integrated_phi(model, theta, phi_times, starts)
    # Every step composes its pieces' sub-steps in order; steps with fewer are padded with the identity
    # transition (exact: I X = X), so all steps advance together in one scan.
    seq = [[p for p, nsub in row for _ in range(nsub)] for row in steps]
    width = max(len(r) for r in seq)
    idx = np.array([r + [tau.shape[0]] * (width - len(r)) for r in seq], dtype=np.int64)  # (n, width)
    P_ = jnp.concatenate([P_, jnp.eye(d)[None]])
    m_ = jnp.concatenate([m_, jnp.zeros((1, d))])
    S_ = jnp.concatenate([S_, jnp.zeros((1, d, d))])
    n = idx.shape[0]

    def compose(carry, j):
        Phi, mu, Sig = carry
        Pk, mk, Sk = P_[j], m_[j], S_[j]
        return (Pk @ Phi, jnp.einsum("nij,nj->ni", Pk, mu) + mk, Pk @ Sig @ jnp.swapaxes(Pk, 1, 2) + Sk), None

    init = (jnp.broadcast_to(jnp.eye(d), (n, d, d)), jnp.zeros((n, d)), jnp.zeros((n, d, d)))
    (Phi, mu, Sig), _ = jax.lax.scan(compose, init, jnp.asarray(idx.T))
    mu = mu + jax.vmap(lambda x: phi_increment(model, x), in_axes=1)(inc)
    return Phi, mu, 0.5 * (Sig + jnp.swapaxes(Sig, 1, 2))


def phi_increment(model: CrossAssetModel, inc) -> jnp.ndarray:
    """The curve terms of mu over a step from inc (n_ccy,) = int phi_c over it."""
    out = jnp.zeros(model.dim)
    for c in range(1, model.n_ccy):
        out = out.at[model.fx_state(c)].set(inc[0] - inc[c])
    for e, c in enumerate(model.equity_ccy):
        out = out.at[model.eq_state(e)].set(inc[c])
    return out
