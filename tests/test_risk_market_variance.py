"""``risk.market_variance``: the market's total variance of the FX / equity options along a vol pillar or a
correlation (exact forward mode, no step) against the Richardson extrapolation (steps h, h/2: O(h^4)) of its
central differences at the moved vol curves and correlation (``setup_vols.moved_market``, the path it replaced in
``setup_vols_options.option_directions``), on the example market: EUR/USD, USD/GBP, the cross EUR/GBP (the
covariance term), SPX, SX5E at expiries off the pillars and past the last one. Every case within 1e-7 of its
largest tangent (the reference's O(h^4) residual, about 4e-8 at the 1M EUR pillar) plus the reference's rounding. Broken on purpose: the covariance's s_f ds_d term dropped fails
(EUR/GBP along a GBP pillar); the drho C term dropped fails (the correlation)."""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.pricing.opt_common import variance_between_np
from exposure.pricing.opt_fx import pair_variance
from exposure.risk import RiskSettings
from exposure.risk import setup_vols as sv
from exposure.risk.market_variance import market_variance_tangent, pillar_moves
from exposure.risk.stage import factor_list
from tests.risk_reference import book_state

T = np.array([0.05, 0.37, 0.81, 1.33, 2.9, 6.1, 9.7, 14.0])
UNDERLYINGS = [("EUR", "USD"), ("USD", "GBP"), ("EUR", "GBP"), "SPX", "SX5E"]


def _w(market, model, u):
    if isinstance(u, str):
        return variance_between_np(market.equities[u].vol, np.zeros_like(T), T)
    return pair_variance(market, model, u[0], u[1], 0.0, T)


def test_market_variance_tangent_equals_central_differences():
    cfg, s, _, _ = book_state()
    market, model = s.market, s.built.model
    n = len(model.factor_names)
    i, j = model.factor_names.index("FX:EUR"), model.factor_names.index("FX:GBP")
    dR = np.zeros((n, n))
    dR[i, j] = dR[j, i] = 1.0
    fs = [f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type in sv.VOL_TYPES]
    cases = [(f, pillar_moves(market, f), np.zeros((n, n))) for f in fs] + [(None, {}, dR)]
    moved = set()
    for f, moves, R in cases:
        for u in UNDERLYINGS:
            got = market_variance_tangent(market, model, u, T, moves, R)

            def at(e):
                m = market if f is None else sv.moved_market(market, f, e)
                return _w(m, dataclasses.replace(model, correlation=np.asarray(model.correlation) + e * R), u)

            r1, r2 = ((at(h) - at(-h)) / (2 * h) for h in (0.1, 0.05))
            rich = (4.0 * r2 - r1) / 3.0
            scale = np.abs(rich).max()
            # the Richardson residual O(h^4): (0.1 size / vol)^4 ~ 4e-8 relative at the 7.2% 1M EUR pillar
            tol = 1e-7 * scale + 64 * np.finfo(float).eps * np.abs(_w(market, model, u)).max() / 0.05
            label = (None if f is None else f.label(), u)
            assert got.shape == T.shape and np.abs(got - rich).max() <= tol, (label, got, rich)
            if scale > 0:
                moved.add("corr" if f is None else (f.factor_type, u if isinstance(u, str) else "/".join(u)))
    assert "corr" in moved and ("FXVol", "EUR/GBP") in moved and ("EquityVol", "SPX") in moved, moved
