"""The per-factor remainder of ``setup_reverse.ReverseSetup``: <G, dS/de> of what the one-time cotangents leave out.

    <G_o, dS/de>_remainder = sum_i <G_pres[i], (prepare_i(market_+, model_+) - prepare_i(market_-, model_-)) / 2h>

for the batches without a twin (``prepare_difference``), plus g_x[amt/cw] . (amounts_+ - amounts_-) / 2h of a
linear twin whose cash-flow amounts read the moved curve (``amounts_difference``); ``remainder_per_factor`` is the
reference form (every twin's non-curve x by central differences, the option twins by one jvp), kept beside the
folded one (``ReverseSetup.remainder``, ``twin_reverse``). h is the run's bump step (``ReverseSetup.step``);
shapes (n_out,) per factor.
"""

from __future__ import annotations

import jax
import numpy as np

from exposure.risk.setup_curves import moved_curve_of, moved_market
from exposure.risk.setup_pres import LinearPresTwin


def dot(g, d) -> np.ndarray:
    """sum over the trailing axes of g (n_out, ...) times d (...): (n_out,)."""
    d = np.asarray(d, np.float64)
    return np.asarray(g, np.float64).reshape(g.shape[0], -1) @ d.reshape(-1)


def same_tables(tw, cu, cd, factor) -> None:
    """Raise when the moved markets' cash-flow tables differ from the twin's (only the amounts may move)."""
    from exposure.errors import ConfigError

    if not all(np.array_equal(getattr(cu, k), getattr(cd, k)) and np.array_equal(getattr(cu, k), getattr(tw.cf, k))
               for k in ("f_trade", "f_day", "f_dead", "f_num", "f_den", "c_trade", "c_fix", "c_pay")):
        raise ConfigError("risk", f"moving {factor.label()} changes the cash-flow tables of {tw.batch!r}")


def amounts_difference(rs, i, markets, factor) -> np.ndarray:
    """g_x[amt] . d f_amount/de + g_x[cw] . d c_weight/de of linear twin i, by central differences (n_out,)."""
    tw, gx, h2 = rs.twins[i], rs.g_x[i], 2.0 * rs.step
    cu, cd = (tw.batch.cashflows(mk) for mk in markets)
    same_tables(tw, cu, cd, factor)
    return dot(gx["amt"], (cu.f_amount - cd.f_amount) / h2) + dot(gx["cw"], (cu.c_weight - cd.c_weight) / h2)


def prepare_difference(rs, idx, markets, models, factor) -> np.ndarray:
    """sum over batches idx of <G_pres, central difference of their prepared data> (n_out,)."""
    from exposure.risk.state import batch_difference

    s, G = rs.s, rs._G_pres
    out = np.zeros(rs.n_out)
    for i in idx:
        b, (_, ints, _) = s.portfolio.batches[i], rs.pt.base[i]
        for k, d in enumerate(batch_difference(b, ints, markets, models, s, rs.static, factor, rs.step)):
            out += G.dot(rs.offsets[i] + k, d)
    return out


def remainder_per_factor(rs, factor) -> np.ndarray:
    """<G, dS/de> of what has no twin: central differences at the moved markets (and models when needed)."""
    from exposure.models.build import build_model
    from exposure.risk.setup_tangent import _calibrated_params, calibrated_moves

    h2, cfg, s = 2.0 * rs.step, rs.cfg, rs.s
    lin = {i for i, tw in rs.twins.items() if isinstance(tw, LinearPresTwin)}
    others = [i for i in range(len(s.portfolio.batches)) if i not in rs.twins]
    generic = [i for i in rs.twins if i not in lin]
    m = s.market
    moved = moved_curve_of(m, factor)
    amounts = [i for i in lin if moved is not None and id(moved) in rs.twins[i].amount_curves]
    if not (others or generic or amounts):
        return np.zeros(rs.n_out)
    markets = tuple(moved_market(cfg, m, factor, e, keep_credit=True) for e in (rs.step, -rs.step))
    out = np.zeros(rs.n_out)
    for i in amounts:
        out += amounts_difference(rs, i, markets, factor)
    if not (others or generic):
        return out
    moves = calibrated_moves(rs.ctx, factor, markets, rs.step)
    models = tuple(build_model(mk, cfg.model, calibrated=_calibrated_params(rs.ctx, cfg, moves, e)).model
                   for mk, e in zip(markets, (rs.step, -rs.step)))
    for i in generic:
        tw, gx = rs.twins[i], rs.g_x[i]
        xu, xd = (tw.x_of(mk, md) for mk, md in zip(markets, models))
        for key in xu:
            if key not in ("ln_df", "sigma"):
                for g, u, d in zip(*(jax.tree_util.tree_leaves(t) for t in (gx[key], xu[key], xd[key]))):
                    out += dot(g, (np.asarray(u) - np.asarray(d)) / h2)
    jvp = [i for i in others if i in rs.pt.twins]  # option batches with a twin: one jvp of the twins
    if jvp:
        dp = rs.pt(factor, markets, models, moves, rs.step)
        for i in jvp:
            out += sum(rs._G_pres.dot(k, dp[k]) for k in range(rs.offsets[i], rs.offsets[i + 1]))
    rest = [i for i in others if i not in rs.pt.twins]
    if rest:
        out += prepare_difference(rs, rest, markets, models, factor)
    return out
