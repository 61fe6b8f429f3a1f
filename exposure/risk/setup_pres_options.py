"""The option batches' prepared data along a model move (mean reversion a, Hull-White sigma, FX / equity vol pieces):
forward mode in NumPy, exact (no step), in place of the central differences of ``prepare`` (``state.batch_difference``);
an FX / equity vol pillar too (FX / equity options, with the market variance's exact move dw).

With (lnA, B, dlnA, dB) of the Hull-White bonds (``setup_pres_model.bond_tangent``), the conditional variances'
tangents (``state_variance_tangent``, ``forward_variance.forward_variance_tangent``) and theta's move th
(``setup_vols.theta_direction``: th["a"], th["ir_vol"], th["fx_vol"], th["eq_vol"]; th["R"] must be 0):

    FX option (``opt_fx``):  d lnAf, dBf, d lnAd, dBd at (t_k, T);  d sd = (dv(t_k,T) - dv(0,T) + dw) / (2 sd)
                             on the live cells with var > 0 (dw: the market's variance w_mkt(T)'s move, 0 but
                             for a vol pillar, ``market_variance``)
    equity option:           d lnA, dB, d sd as above (div, wgt, w do not move)
    cap / floor:             opt: d alpha = dlnA_S - dlnA_E + d conv,  d beta = dB_S - dB_E,  d gamma = dlnA_P,
                             d delta = dB_P,  d s = d(B_f(e) - B_f(s)) sqrt(sv) + (B_f(e) - B_f(s)) dsv / (2 sqrt(sv));
                             fixed (``opt_common.current_coupons``): d c0 = dlnA(tm,s) - dlnA(tm,e) where the fixing
                             is read off the state, d Bfix, d lnA_e, d B_e

The tangent leaves are gathered by the batch's own ``entries`` with its own masks (the discrete structure does not
move), so they line up with prepare's float leaves (``state.split_leaves`` order). Swaptions: ``setup_pres_swaption``
(the Jamshidian root by the implicit-function theorem; a batch with a payment lag keeps the central differences).
"""

from __future__ import annotations

import numpy as np

from exposure.pricing.opt_common import TIME_EPS
from exposure.risk.setup_pres_model import bond_tangent
from exposure.risk.state import split_leaves


def _rate(ctx, th, ccy: str):
    """(da, dsigma) of a currency along th."""
    ci = ctx.ccy_index(ccy)
    return float(th["a"][ci]), np.asarray(th["ir_vol"][ci], np.float64)


def _variance_moves(model, lf, th) -> tuple:
    """(dvols, da) of ``forward_variance_tangent`` for the log forward lf along th."""
    n = model.n_ccy
    dvols = {c: np.asarray(th["ir_vol"][c], np.float64) for c, _ in lf.bonds}
    for f, _, _ in lf.assets:
        dvols[f] = np.asarray(th["fx_vol"][f - n] if f < 2 * n - 1 else th["eq_vol"][f - 2 * n + 1], np.float64)
    return dvols, {c: float(th["a"][c]) for c, _ in lf.bonds}


def _sd_tangent(model, lf, th, t, T, alive, shift, dshift=None):
    """d sd (K, n) of sd = sqrt(where(alive, max(v(t,T) + w - v(0,T), 0), 0)), w (n,) the market's total variance
    at the expiries T, dshift (n,) its move (None: it does not move)."""
    from exposure.models.forward_variance import forward_variance_tangent

    dvols, da = _variance_moves(model, lf, th)
    v0, dv0 = forward_variance_tangent(model, lf, 0.0, T, dvols, da)
    k, i = np.nonzero(alive)  # the live cells only (bench-1k's FX options: 13% of the (date, trade) cells)
    v, dv = forward_variance_tangent(model, lf, t[k], T[i], dvols, da)
    var = v + shift[i] - v0[i]
    out = np.zeros(alive.shape)
    dw = 0.0 if dshift is None else np.asarray(dshift, np.float64)[i]
    out[k, i] = np.where(var > 0.0, (dv - dv0[i] + dw) / (2.0 * np.sqrt(np.where(var > 0.0, var, 1.0))), 0.0)
    return out


def fx_option_tangent(batch, ctx, th, dw=None) -> dict:
    """d/de of ``FxOptionBatch.prepare``'s leaves (module docstring), the same tree: pair by pair."""
    from exposure.models.forward_variance import fx_log_forward
    from exposure.pricing.opt_fx import FX_CHUNK, pair_variance

    t = np.asarray(ctx.times, np.float64)
    T = np.array([s.expiry_time for s in batch.specs])
    alive = t[:, None] < T[None, :] - TIME_EPS
    dlnAf, dBf, dlnAd, dBd, dsd = (np.zeros(alive.shape) for _ in range(5))
    for g, (f, d) in enumerate(batch.pairs):
        i = np.flatnonzero(batch.pair == g)
        _, _, dlnAf[:, i], dBf[:, i] = bond_tangent(ctx, f, *_rate(ctx, th, f), T[i], base=False)
        _, _, dlnAd[:, i], dBd[:, i] = bond_tangent(ctx, d, *_rate(ctx, th, d), T[i], base=False)
        lf = fx_log_forward(ctx.model, f, d)
        w = pair_variance(ctx.market, ctx.model, f, d, 0.0, T[i])
        dsd[:, i] = _sd_tangent(ctx.model, lf, th, t, T[i], alive[:, i], w, None if dw is None else np.asarray(dw)[i])
    o, n = batch.order, len(batch.specs)
    pad = lambda a: np.pad(a[..., o], [(0, 0)] * (a.ndim - 1) + [(0, -n % FX_CHUNK)])  # noqa: E731
    zero = np.zeros_like(alive, dtype=np.float64)
    return {"lnAf": pad(dlnAf), "Bf": pad(dBf), "lnAd": pad(dlnAd), "Bd": pad(dBd), "sd": pad(dsd),
            "wgt": pad(zero), "w": pad(np.zeros(n)), **batch.prepare_ints(alive)}


def equity_option_tangent(batch, ctx, th, dw=None) -> dict:
    """d/de of ``EquityOptionBatch.prepare``'s leaves (module docstring), the same tree: underlying by underlying."""
    from exposure.models.forward_variance import equity_log_forward
    from exposure.pricing.opt_common import variance_between_np

    t = np.asarray(ctx.times, np.float64)
    T = np.array([s.expiry_time for s in batch.specs])
    alive = t[:, None] < T[None, :] - TIME_EPS
    dlnA, dB, dsd = (np.zeros(alive.shape) for _ in range(3))
    for e, name in enumerate(batch.names):
        i = batch.name_columns(e)
        eq = ctx.market.equities[name]
        _, _, dlnA[:, i], dB[:, i] = bond_tangent(ctx, eq.currency, *_rate(ctx, th, eq.currency), T[i], base=False)
        lf = equity_log_forward(ctx.model, ctx.model.equity_names.index(name))
        w = variance_between_np(eq.vol, np.zeros_like(T[i]), T[i])
        dsd[:, i] = _sd_tangent(ctx.model, lf, th, t, T[i], alive[:, i], w, None if dw is None else np.asarray(dw)[i])
    zero = np.zeros(alive.shape)
    return {"div": zero, "lnA": dlnA, "B": dB, "sd": dsd, "wgt": zero, "w": np.zeros(T.size),
            **{k: np.asarray(v) for k, v in batch.prepare_ints().items()}}


def option_model_tangent(batch, ctx, th, dw=None) -> list | None:
    """d/de of the float leaves of ``batch.prepare(ctx)`` (``state.split_leaves`` order) along theta's move th, or
    None for a batch type not written here or a move of R (the central differences then). dw (n,): the market
    total variance's move at an FX / equity option batch's expiries (a vol pillar, ``market_variance``)."""
    from exposure.pricing.opt_capfloor import CapFloorBatch
    from exposure.pricing.opt_equity import EquityOptionBatch
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.pricing.opt_swaption import SwaptionBatch
    from exposure.risk.setup_pres_capfloor import capfloor_tangent
    from exposure.risk.setup_pres_swaption import swaption_tangent

    if np.any(np.asarray(th["R"])):
        return None
    kinds = {FxOptionBatch: fx_option_tangent, EquityOptionBatch: equity_option_tangent,
             CapFloorBatch: capfloor_tangent, SwaptionBatch: swaption_tangent}
    fn = kinds.get(type(batch))
    if fn is None:
        return None
    tree = fn(batch, ctx, th) if dw is None else fn(batch, ctx, th, dw)
    return None if tree is None else split_leaves([tree])[0]


def batch_model_tangent(batch, ctx, th, ints) -> list | None:
    """The exact model tangent of any batch's float leaves along th (a market-free move): a linear batch's
    (``setup_pres_model.linear_model_tangent``; ints its base integer leaves) or an option batch's (above), None
    where none is written."""
    from exposure.pricing.linear import LinearBatch
    from exposure.risk.setup_pres_model import linear_model_tangent

    if type(batch) is LinearBatch:
        return linear_model_tangent(batch, ctx, th, ints)
    return option_model_tangent(batch, ctx, th)


def vol_option_tangent(batch, ctx, th, factor) -> list | None:
    """The exact tangent of an FX / equity option batch's float leaves along a factor's theta move th with the
    market's total variance moved too (``market_variance``: an FX / equity vol pillar, a correlation's cross
    pair); None where that has no derivative or R moves (``option_model_tangent``)."""
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.risk.market_variance import market_variance_tangent, pillar_moves

    T = np.array([s.expiry_time for s in batch.specs])
    groups = ([(p, batch.pair == g) for g, p in enumerate(batch.pairs)] if isinstance(batch, FxOptionBatch)
              else [(nm, batch.und == e) for e, nm in enumerate(batch.names)])
    dw = np.zeros(T.size)
    for under, cols in groups:  # each pair's / underlying's trades
        d_w = market_variance_tangent(ctx.market, ctx.model, under, T[cols], pillar_moves(ctx.market, factor), th["R"])
        if d_w is None:
            return None
        dw[cols] = d_w
    return option_model_tangent(batch, ctx, th, dw)
