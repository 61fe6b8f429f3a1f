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

from exposure.market.curves import DiscountCurve
from exposure.models.hull_white import HullWhiteParams, hw_B, log_bond_intercept, state_variance

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
        c = self.objs[j]
        return DiscountCurve(np.asarray(c.times, F64), x["curves"][j]).log_discount(np.asarray(T, F64))


def _pairs(t, T):
    t, T = np.broadcast_arrays(np.asarray(t, F64), np.asarray(T, F64))
    pairs, inv = np.unique(np.stack([t.reshape(-1), T.reshape(-1)], axis=1), axis=0, return_inverse=True)
    return t.shape, pairs, inv.reshape(-1)


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
        v = log_bond_intercept(self._params(x), DiscountCurve(self.times, x["curves"][self.slot]), pr[:, 0], pr[:, 1],
                               xp=jnp)
        return v[inv].reshape(shape)

    def B(self, t, T) -> np.ndarray:
        t, T = np.broadcast_arrays(np.asarray(t, F64), np.asarray(T, F64))
        return hw_B(self.a, t, np.maximum(T, t), xp=np)

    def state_variance(self, x, s, t):
        """Var[x(t) | x(s)] (jnp), shape of s and t broadcast."""
        shape, pr, inv = _pairs(s, t)
        return state_variance(self._params(x), pr[:, 0], pr[:, 1], xp=jnp)[inv].reshape(shape)


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
