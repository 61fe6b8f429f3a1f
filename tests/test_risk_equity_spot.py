"""An equity spot's pricing-data tangent (``setup_equity_spot``): exactly 0 for every batch (no prepare reads the
spot; no step), and bit for bit the central difference of every batch's prepare, equity options and equity
forwards included (the reference: the same model_state_tangent with the shortcut off, which it replaced); a moved
set-up whose other parts moved too (the rates model, an equity's dividend yield) falls back to every batch.
Broken on purpose: a tangent of 1e-9 in place of 0 fails the first test; the equities' comparison dropped
(``spot_only``) fails the second."""

from __future__ import annotations

import numpy as np

from exposure.risk import RiskSettings
from exposure.risk import setup_equity_spot
from exposure.risk.setup_tangent import model_state_tangent
from exposure.risk.stage import factor_list
from tests.risk_reference import book_state


def test_equity_spot_pres_equals_every_batch_difference(monkeypatch):
    cfg, s, S, static = book_state()  # every product type, equity options on SPX
    step = RiskSettings().setup_step
    fs = [f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type == "EquitySpot"]
    assert fs
    taken = []
    real = setup_equity_spot.equity_spot_pres

    def spy(*a, **k):
        out = real(*a, **k)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(setup_equity_spot, "equity_spot_pres", spy)
    got = [model_state_tangent(cfg, s, f, S, static, step, keep_credit=True)["pres"] for f in fs]
    assert taken == [True] * len(fs)  # the shortcut held: the moved set-up differs in its equity parts only
    monkeypatch.setattr(setup_equity_spot, "equity_spot_pres", lambda *a, **k: None)
    ref = [model_state_tangent(cfg, s, f, S, static, step, keep_credit=True)["pres"] for f in fs]
    for g, r in zip(got, ref):
        assert len(g) == len(r)
        for a, b in zip(g, r):
            assert np.shape(a) == np.shape(b) and np.array_equal(a, b)


def test_equity_spot_pres_falls_back_where_more_than_the_equity_moves():
    import dataclasses

    from exposure.models.hull_white import HullWhiteParams

    cfg, s, S, static = book_state()
    f = next(f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type == "EquitySpot")
    model, market = s.built.model, s.market
    assert setup_equity_spot.equity_spot_pres(s, static, S["pres"], f, (market, market), (model, model), 0.1) is not None
    h = model.hw[0]
    hw = (HullWhiteParams(h.mean_reversion, h.vol_times, np.asarray(h.vol_values) * 1.01),) + tuple(model.hw[1:])
    moved = dataclasses.replace(model, hw=hw)  # a model whose rates part moved as well: every batch again
    assert setup_equity_spot.equity_spot_pres(s, static, S["pres"], f, (market, market), (moved, model), 0.1) is None
    eqs = {k: dataclasses.replace(v, dividend_yield=v.dividend_yield + 1e-4) for k, v in market.equities.items()}
    div = dataclasses.replace(market, equities=eqs)  # an equity field the batches read moved: every batch again
    assert setup_equity_spot.equity_spot_pres(s, static, S["pres"], f, (div, market), (model, model), 0.1) is None
    other = next(f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type == "FXSpot")
    assert setup_equity_spot.equity_spot_pres(s, static, S["pres"], other, (market,) * 2, (model,) * 2, 0.1) is None


def test_same_compares_values():
    import dataclasses

    from exposure.market.curves import DiscountCurve

    a = DiscountCurve(np.array([1.0, 2.0]), np.array([-0.01, -0.02]))
    b = DiscountCurve(np.array([1.0, 2.0]), np.array([-0.01, -0.02]))
    assert setup_equity_spot.same({"x": a, "n": (1, "s")}, {"x": b, "n": (1, "s")})
    assert not setup_equity_spot.same(a, dataclasses.replace(b, log_dfs=np.array([-0.01, -0.021])))
    assert not setup_equity_spot.same(a, object())
