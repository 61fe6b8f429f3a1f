"""Shared pieces of the option batches' jnp twins (``twin_swaption``, ``twin_options``): curves and Hull-White
bond coefficients as jnp functions of x, and the entry structure of ``pricing.opt_common`` with a source index.

    lnA_c(t, T) = ln P_c(0,T) - ln P_c(0,t) + (V_c(t,T) - V_c(0,T) + V_c(0,t)) / 2,   T clamped to t
    Var_c[x(t) | x(s)] = int_s^t sigma_c(u)^2 exp(-2a (t-u)) du                          (``models.hull_white``)

x["curves"][j] = ln P(0, t_i) at the pillars of the j-th distinct curve object the twin reads (a currency's model
curve, a forwarding curve), x["sigma"][c] = the Hull-White sigma pieces of the c-th currency the twin reads; the
mean reversion, every B(t, T) and every time stay the base run's (the linear twin's convention).

A sparse leaf of ``opt_common.entries`` / ``shared_bond_entries`` is a gather of a dense (K, n[, m]) array: the
NumPy structure is built once with an extra coefficient ``src`` (the flat index of each entry's dense cell) and
``one`` (1 on a real entry, 0 on padding), and the twin's leaf is where(one, dense[src], 0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.models.hull_white import HullWhiteParams, hw_B

F64 = np.float64


class CurveSet:
    """The distinct curve objects a twin reads, by identity, in the order first seen. ``model_of[j]``: the
    currency whose model curve slot j is (None for a forwarding curve only)."""

    def __init__(self):
        self.objs, self.model_of = [], []

    def add(self, curve, model_ccy=None) -> int:
        for j, c in enumerate(self.objs):
            if c is curve:
                if model_ccy is not None:
                    self.model_of[j] = model_ccy
                return j
        self.objs.append(curve)
        self.model_of.append(model_ccy)
        return len(self.objs) - 1

    def x0(self) -> tuple:
        return tuple(jnp.asarray(np.asarray(c.log_dfs, F64)) for c in self.objs)

    def direction(self, market, factor) -> tuple:
        """d ln P / de of every slot: the factor's pillar on the curve object it moves (``setup_curves``), or on a
        currency's model curve for a pillar of ``market.curves.<ccy>``; 0 elsewhere (an FX spot moves none)."""
        from exposure.risk.setup_curves import CURVES, moved_curve_of, pillar_direction

        moved = moved_curve_of(market, factor)
        out = []
        for c, ccy in zip(self.objs, self.model_of):
            hit = moved is not None and (c is moved or (ccy is not None and factor.path[:2] == CURVES
                                                        and factor.path[2] == ccy))
            out.append(jnp.asarray(pillar_direction(c, factor)) if hit else jnp.zeros(np.shape(c.log_dfs)))
        return tuple(out)

    def ln_p(self, x, j, T):
        """ln P_j(0, T) (jnp), T static."""
        return static_log_discount(self.objs[j].times, x["curves"][j], T)


def static_log_discount(times, log_dfs, t):
    """``DiscountCurve.log_discount`` (linear in ln P, flat-forward extrapolation) at static times t: the pillar
    index and the weight (t - t_lo) / (t_hi - t_lo) in NumPy, the same arithmetic on log_dfs in jnp (bit for bit
    ``jnp.interp``'s), so that a twin's program holds no search loop per call."""
    t = np.asarray(t, F64)
    kt = np.concatenate([[0.0], np.asarray(times, F64)])
    ky = jnp.concatenate([jnp.zeros(1, log_dfs.dtype), log_dfs])
    i = np.clip(np.searchsorted(kt, t, side="right"), 1, kt.size - 1)
    inner = ky[i - 1] + ((t - kt[i - 1]) / (kt[i] - kt[i - 1])) * (ky[i] - ky[i - 1])
    inner = jnp.where(t > kt[-1], ky[-1], inner)  # jnp.interp's clamps (replaced below, as in the curve)
    last_fwd = -(ky[-1] - ky[-2]) / (kt[-1] - kt[-2])
    after = ky[-1] - last_fwd * (t - kt[-1])
    first_fwd = -(ky[1] - ky[0]) / (kt[1] - kt[0])
    before = -first_fwd * t
    return jnp.where(t > kt[-1], after, jnp.where(t < 0.0, before, inner))


class StaticTimesCurve:
    """A curve read only at static times (``static_log_discount``), for ``hull_white.log_bond_intercept``."""

    def __init__(self, times, log_dfs):
        self.times, self.log_dfs = np.asarray(times, F64), log_dfs

    def log_discount(self, t):
        return static_log_discount(self.times, self.log_dfs, t)


def _variance_coefficients(a: float, vol_times, s, t, state: bool):
    """(g, active) (..., m+1) of ``hull_white.integrated_variance`` (state False) or ``state_variance`` (True) on
    static (s, t) in NumPy: V = sum_pieces where(active, sigma_k^2 g_k, 0), only sigma traced."""
    from exposure.models.hull_white import HullWhiteParams, clip_pieces, variance_weights

    vt = np.asarray(vol_times, F64)
    u1, u2, T, _, active = clip_pieces(HullWhiteParams(a, vt, np.zeros(vt.size + 1)), s, t, np)
    if state:
        return np.exp(-2.0 * a * (T - u2)) * -np.expm1(-2.0 * a * (u2 - u1)) / (2.0 * a), active
    return variance_weights(a, u1, u2, T, np), active


def _variance(sig, g, active):
    return jnp.sum(jnp.where(active, sig * sig * g, 0.0), axis=-1)


def _pairs(t, T):
    t, T = np.broadcast_arrays(np.asarray(t, F64), np.asarray(T, F64))
    pairs, inv = np.unique(np.stack([t.reshape(-1), T.reshape(-1)], axis=1), axis=0, return_inverse=True)
    return t.shape, pairs, inv.reshape(-1)


class OneCurrencyTwin:
    """x0 and dx/de of a twin that reads one currency's curves (``self.curves``) and Hull-White sigma (``self.rt``)."""

    def x0(self) -> dict:
        return {"curves": self.curves.x0(), "sigma": (jnp.asarray(self.rt.sigma0),)}

    def direction(self, market, factor, moves: dict, models=None, step: float = 1.0) -> dict:
        """dx/de of a curve pillar / FX spot factor: its pillar move, the calibrated dsigma/de (``moves``)."""
        c = self.rt.ccy
        return {"curves": self.curves.direction(market, factor),
                "sigma": (jnp.asarray(moves[c]) if c in moves else jnp.zeros_like(self.rt.sigma0),)}


class RateTwin:
    """One currency's Hull-White bond coefficients as jnp functions of x: the model curve is slot ``slot`` of
    the twin's CurveSet, the sigma pieces x["sigma"][j]."""

    def __init__(self, ctx, ccy: str, curves: CurveSet, j: int):
        rm = ctx.rate_model(ccy)
        self.ccy, self.j, self.a = ccy, j, float(rm.params.mean_reversion)
        self.vt = np.asarray(rm.params.vol_times, F64)
        self.sigma0 = np.asarray(rm.params.vol_values, F64)
        self.slot = curves.add(rm.curve, model_ccy=ccy)
        self.times = np.asarray(rm.curve.times, F64)

    def _params(self, x):
        return HullWhiteParams(self.a, self.vt, x["sigma"][self.j])

    def lnA(self, x, t, T):
        """lnA(t, T) (jnp, shape of t and T broadcast), T clamped to t; each distinct (t, T) evaluated once."""
        t, T = np.broadcast_arrays(np.asarray(t, F64), np.asarray(T, F64))
        shape, pr, inv = _pairs(t, np.maximum(T, t))
        s, e = pr[:, 0], pr[:, 1]
        lp = lambda T_: static_log_discount(self.times, x["curves"][self.slot], T_)  # noqa: E731
        sig, z = x["sigma"][self.j], np.zeros_like(s)
        iv = lambda a_, b_: _variance(sig, *_variance_coefficients(self.a, self.vt, a_, b_, False))  # noqa: E731
        v = lp(e) - lp(s) + 0.5 * (iv(s, e) - iv(z, e) + iv(z, s))  # ``log_bond_intercept``'s terms, in order
        return v[inv].reshape(shape)

    def B(self, t, T) -> np.ndarray:
        t, T = np.broadcast_arrays(np.asarray(t, F64), np.asarray(T, F64))
        return hw_B(self.a, t, np.maximum(T, t), xp=np)

    def state_variance(self, x, s, t):
        """Var[x(t) | x(s)] (jnp), shape of s and t broadcast."""
        shape, pr, inv = _pairs(s, t)
        g, active = _variance_coefficients(self.a, self.vt, pr[:, 0], pr[:, 1], True)
        return _variance(x["sigma"][self.j], g, active)[inv].reshape(shape)


def safe_sqrt(v):
    """sqrt(max(v, 0)) with a finite tangent where v <= 0 (0 there: the masked, expired cells)."""
    pos = v > 0.0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, v, 1.0)), 0.0)


def root_ift(xb, amts, ln_a, b, target):
    """x* with sum_i amts_i exp(ln_a_i - b_i x*) = target per row, at its NumPy value xb (n,), moved to first
    order by the implicit-function theorem: x* = xb - (f(xb) - f(xb)|base) / f'(xb) (the value is xb exactly)."""
    terms = amts * jnp.exp(ln_a - b * xb[:, None])
    f = terms.sum(axis=-1) - target
    slope = -(b * terms).sum(axis=-1)
    slope = jax.lax.stop_gradient(jnp.where(slope < 0.0, slope, -1.0))
    return xb - (f - jax.lax.stop_gradient(f)) / slope


def with_source(mask, offset: int = 0) -> dict:
    """The extra coefficients of ``entries``: src (the flat index of each cell of ``mask``'s shape, + offset) and
    one (1.0)."""
    shape = np.shape(mask)
    return {"src": offset + np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape), "one": np.ones(shape)}


def gather(dense, ent):
    """The entry leaf of a dense coefficient: dense.ravel()[src] on real entries, 0 on padding."""
    return jnp.where(ent["one"] > 0.0, jnp.ravel(dense)[ent["src"]], 0.0)


def block_gather(dense, ent, n_blocks: int):
    """A per-block leaf of ``shared_bond_entries`` (its bond coefficient): the value of each block's first entry
    (blocks of L / n_blocks consecutive entries; a block's first entry is real unless the block is padding)."""
    s = ent["src"].shape[0] // n_blocks
    first = {k: ent[k][::s] for k in ("src", "one")}
    return gather(dense, first)


def check_structure(twin_ent: dict, pre_ent: dict, what: str) -> None:
    """The twin's entry structure is the batch's own (date k and trade i of every entry; row follows from them):
    else its gathers would read the wrong cells."""
    from exposure.errors import ConfigError

    for k in ("k", "i"):
        if k in pre_ent and not np.array_equal(np.asarray(twin_ent[k]), np.asarray(pre_ent[k])):
            raise ConfigError("risk", f"the jnp twin of {what} does not reproduce the batch's entries ({k})")


def coupon_phase(ctx, starts, ends, valid, pays, fixes=None, fixing_factor=None, own: bool = False) -> dict:
    """The discrete choices of ``opt_common.current_coupons`` (NumPy, base run), (K, n) each: the period in its
    fixed phase (j, has), its accrual s, e, payment p, whether its fixing is deterministic (det: on or before
    t0, or no readable state) and the time tm of the state it is read from; ff the fixings-file factor."""
    t = np.asarray(ctx.times, F64)
    fixes = starts if fixes is None else fixes
    thresh = np.maximum(t - 1e-10, 2e-10)
    j = np.empty((t.size, starts.shape[0]), dtype=int)
    for q in range(starts.shape[0]):
        j[:, q] = np.searchsorted(fixes[q][valid[q]], thresh, side="left") - 1
    jj, cols = np.maximum(j, 0), np.arange(starts.shape[0])[None, :]
    s, e, p, fx = starts[cols, jj], ends[cols, jj], pays[cols, jj], fixes[cols, jj]
    has = (j >= 0) & (t[:, None] < p - 1e-10) & valid[cols, jj]
    m = ctx.last_readable(fx, own=np.full(fx.shape, own))
    det = (fx <= 1e-10) | (m < 0)
    ff = np.full(s.shape, np.nan) if fixing_factor is None else np.asarray(fixing_factor, F64)[cols, jj]
    return dict(j=jj, s=s, e=e, p=p, has=has, det=det, tm=np.minimum(t[np.maximum(m, 0)], fx),
                use_ff=np.isfinite(ff) & (fx <= 1e-10), ff=np.where(np.isfinite(ff), ff, 1.0), t=t)


def coupon_c0(x, rt: RateTwin, curves: CurveSet, fwd_slot: int, ph: dict):
    """(c0, lnA_e) of ``current_coupons`` (jnp, (K, n)), 0 where no coupon is in its fixed phase:
    c0 = ln F_det (the fixings file's factor, else P_f(0,s)/P_f(0,e)) where det, else
    ln b + lnA(tm, s) - lnA(tm, e), b the basis of the forwarding curve over the model curve (1 on one curve);
    lnA_e = lnA(t_k, p)."""
    s, e = ph["s"], ph["e"]
    lp = lambda j, T: curves.ln_p(x, j, T)  # noqa: E731
    f_det = jnp.where(ph["use_ff"], ph["ff"], jnp.exp(lp(fwd_slot, s) - lp(fwd_slot, e)))
    if fwd_slot == rt.slot:
        lnb = jnp.zeros(s.shape)
    else:  # basis_np against the model curve
        lnb = jnp.log(jnp.exp(lp(fwd_slot, s) - lp(fwd_slot, e) - lp(rt.slot, s) + lp(rt.slot, e)))
    c0 = jnp.where(ph["det"], jnp.log(jnp.where(f_det > 0.0, f_det, 1.0)),
                   lnb + rt.lnA(x, ph["tm"], s) - rt.lnA(x, ph["tm"], e))
    lnA_e = rt.lnA(x, ph["t"][:, None], ph["p"])
    return jnp.where(ph["has"], c0, 0.0), jnp.where(ph["has"], lnA_e, 0.0)
