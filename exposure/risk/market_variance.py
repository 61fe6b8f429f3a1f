"""The market's total Black variance of an FX / equity option along a vol pillar or a correlation: exact tangent.

    w(T)      = interp(T; (0, T_i), (0, w_i)),  w_n T / T_n after the last pillar        (``BlackVolCurve``)
    dw(T)     = the same interpolation of the pillars' move dw_i      (w(T) is linear in the pillar variances)
    dw_i/de   = 2 vol_i T_i size       at the moved pillar i (w_i = vol_i^2 T_i; ``setup_vols.moved_market``)
    pair f/d  = w_f + w_d - 2 rho C,   C(T) = int_0^T s_f(u) s_d(u) du       (a cross pair, ``opt_fx.pair_variance``)
    dC(T)     = int_0^T (ds_f s_d + s_f ds_d) du,   ds = dv / (2 s),   v = s^2 the piece's forward variance
    d pair    = dw_f + dw_d - 2 drho C - 2 rho dC      where the pair variance is > 0 (0 where floored)

w in years x vol^2, T (n,) years from t = 0 (the option expiries), drho the correlation move th["R"][FX:f, FX:d].
This replaces the central difference of the market's variance at the moved vol curves and correlations
(``setup_vols_options.option_directions``): no step. A piece with s = 0 that moves has no derivative (sqrt at
0): ``market_variance_tangent`` then returns None and the caller keeps the central difference (a flat total
variance between two pillars; no bundled market has one).
"""

from __future__ import annotations

import numpy as np


def pillar_moves(market, factor) -> dict:
    """{("fx", ccy) or ("eq", name): dw_i/de (n_pillars,)} of a vol quote; empty for any other factor."""
    from exposure.risk import setup_vols as sv

    if factor.factor_type not in sv.VOL_TYPES:
        return {}
    (kind, name), i = sv._vol_pillar(factor)
    c = market.fx_vols[name] if kind == "fx" else market.equities[name].vol
    T, w = np.asarray(c.times, np.float64), np.asarray(c.total_variances, np.float64)
    dw = np.zeros_like(T)
    dw[i] = 2.0 * np.sqrt(w[i] / T[i]) * T[i] * factor.size
    return {(kind, name): dw}


def total_variance_tangent(curve, dw, T) -> np.ndarray:
    """dw(T) (``BlackVolCurve.total_variance_np`` applied to the pillar move dw: it is linear in them)."""
    kt = np.concatenate([[0.0], np.asarray(curve.times, np.float64)])
    kd = np.concatenate([[0.0], np.asarray(dw, np.float64)])
    T = np.maximum(np.asarray(T, np.float64), 0.0)
    return np.where(T > kt[-1], kd[-1] * T / kt[-1], np.interp(T, kt, kd))


def _piece_tangent(curve, dw):
    """(breaks, s, ds) of the instantaneous vol pieces (``local_vol_piecewise``) along dw; None where s = 0 moves."""
    breaks, s = (np.asarray(a, np.float64) for a in curve.local_vol_piecewise())
    kt = np.concatenate([[0.0], np.asarray(curve.times, np.float64)])
    kd = np.concatenate([[0.0], np.asarray(dw, np.float64)])
    dv = np.concatenate([np.diff(kd) / np.diff(kt), [kd[-1] / kt[-1]]])
    if np.any((s == 0.0) & (dv != 0.0)):
        return None
    return breaks, s, np.where(s > 0.0, dv / (2.0 * np.where(s > 0.0, s, 1.0)), 0.0)


def covariance_tangent(curve_a, dw_a, curve_b, dw_b, T) -> np.ndarray | None:
    """dC(T) of ``opt_fx.covariance_integral(curve_a, curve_b, 0, T)`` along the pillar moves (module docstring)."""
    from exposure.pricing.opt_fx import _vol_at

    pa, pb = _piece_tangent(curve_a, dw_a), _piece_tangent(curve_b, dw_b)
    if pa is None or pb is None:
        return None
    (ba, va, da), (bb, vb, db) = pa, pb
    knots = np.unique(np.concatenate([[0.0], ba, bb]))
    mids = 0.5 * (knots[:-1] + knots[1:])
    dprod = _vol_at(ba, da, mids) * _vol_at(bb, vb, mids) + _vol_at(ba, va, mids) * _vol_at(bb, db, mids)
    dcum = np.concatenate([[0.0], np.cumsum(dprod * np.diff(knots))])
    dlast = da[-1] * vb[-1] + va[-1] * db[-1]
    u = np.maximum(np.asarray(T, np.float64), 0.0)
    return np.where(u > knots[-1], dcum[-1] + dlast * (u - knots[-1]), np.interp(u, knots, dcum))


def market_variance_tangent(market, model, underlying, T, moves: dict, dR) -> np.ndarray | None:
    """d w_mkt(T)/de of an FX option's pair (underlying = (foreign, domestic): ``opt_fx.pair_variance`` from 0) or
    an equity option's (underlying = its name: the vol curve) along the pillar moves ``moves`` (``pillar_moves``)
    and the correlation move dR (n_f, n_f)."""
    from exposure.pricing.opt_fx import covariance_integral, pair_variance

    T = np.asarray(T, np.float64)
    if isinstance(underlying, str):
        c = market.equities[underlying].vol
        return total_variance_tangent(c, moves.get(("eq", underlying), np.zeros(np.size(c.times))), T)
    (f, d), base = underlying, model.currencies[0]
    curves = {c: market.fx_vols[c] for c in (f, d) if c != base}
    dws = {c: moves.get(("fx", c), np.zeros(np.size(cv.times))) for c, cv in curves.items()}
    dvar = {c: total_variance_tangent(curves[c], dws[c], T) for c in curves}
    if d == base or f == base:
        return dvar[f if d == base else d]
    names = model.factor_names
    i, j = names.index(f"FX:{f}"), names.index(f"FX:{d}")
    rho, drho = float(model.correlation[i, j]), float(np.asarray(dR)[i, j])
    dC = covariance_tangent(curves[f], dws[f], curves[d], dws[d], T)
    if dC is None:
        return None
    C = covariance_integral(curves[f], curves[d], np.zeros_like(T), T)
    live = pair_variance(market, model, f, d, 0.0, T) > 0.0
    return np.where(live, dvar[f] + dvar[d] - 2.0 * drho * C - 2.0 * rho * dC, 0.0)
