"""The option batches' jnp twins (exposure.risk.twin_swaption, twin_capfloor, twin_options: FX and equity options;
registered by exposure.risk.twins in
setup_pres_tangents.PresTangents) against the batches' own NumPy prepare:

  * at the base, every leaf the twin returns equals prepare's to 1e-13 of the leaf's largest magnitude, or 1e-13
    absolute below 1 (the log-coefficients, e.g. a cap's alpha = ln b/(1+K tau) + lnA(t,s) - lnA(t,e), are
    differences of O(0.1) terms whose last bits differ between jnp and NumPy; they enter through exp, so 1e-13
    absolute is 1e-13 relative in the value);
  * the pres tangent of a curve pillar (through the USD calibration: sigma moves by the implicit-function
    theorem), of an FX spot, of a swaption quote (through the calibration) and of a fixed sigma piece, taken by
    jvp of the twins with no prepare of a twinned batch, equals the central
    difference of prepare on the FULL NumPy set-up rebuilt at the bumped config (market built again, model
    recalibrated) within |D(2h) - D(h)| (its O(h^2) truncation) + 2e-14 of the leaf's scale / h (float64
    rounding of the quotient).
The end-to-end check (AD sensitivities through these tangents against bump-and-revalue of the whole pipeline)
is tests/test_risk_ad.py's curve-pillar and FX-spot cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from exposure.models.build import build_model
from exposure.pricing.view import PricingContext
from exposure.risk import RiskSettings
from exposure.risk.factors import bumped
from exposure.risk.setup_tangent import context, model_state_tangent
from exposure.risk.stage import factor_list
from exposure.risk.state import rebuilt_market
from exposure.risk.twins import named_leaves, option_twins
from tests.risk_reference import book_state

@pytest.fixture(scope="module")
def base():
    return book_state()  # tests/risk_reference.py: the book of tests/test_risk_setup_model.py


def _ctx(s, static, market, model):
    g = s.grid
    return PricingContext(market, model, static.times, s.portfolio.fixings, (market.asof,) + tuple(g.dates),
                          g.reporting_mask())


def _named(pre) -> dict:
    import jax

    return {jax.tree_util.keystr(p): np.asarray(v, np.float64)
            for p, v in jax.tree_util.tree_flatten_with_path([pre])[0]
            if np.issubdtype(np.asarray(v).dtype, np.floating)}


def test_twins_equal_prepare_at_the_base(base):
    import jax

    cfg, s, S, static = base
    ctx = _ctx(s, static, s.market, s.built.model)
    twins = option_twins(s.portfolio.batches, ctx)
    assert {type(s.portfolio.batches[i]).__name__ for i in twins} == {"SwaptionBatch", "FxOptionBatch", "CapFloorBatch",
                                                                       "EquityOptionBatch"}
    assert any(s.portfolio.batches[i].physical for i in twins if hasattr(s.portfolio.batches[i], "physical"))
    values = jax.jit(lambda xs: {i: twins[i].leaves(x) for i, x in xs.items()})({i: t.x0() for i, t in twins.items()})
    for i, tw in twins.items():
        ref = _named(s.portfolio.batches[i].prepare(ctx))
        got = named_leaves(values[i])
        assert got and set(got) <= set(ref)
        for k, v in got.items():
            v, r = np.asarray(v), ref[k]
            assert v.shape == r.shape, k
            assert np.abs(v - r).max() <= 1e-13 * max(np.abs(r).max(), 1.0), (i, k, np.abs(v - r).max())


def _numpy_pres(cfg, s, static, f, e):
    """Every batch's prepare on the full NumPy set-up at the config bumped by e units (market built again,
    model recalibrated)."""
    c = bumped(cfg, f, e)
    m = rebuilt_market(c, s, f, keep_credit=True)
    model = build_model(m, c.model).model
    ctx = _ctx(s, static, m, model)
    return [_named(b.prepare(ctx)) for b in s.portfolio.batches]


# each key with the option batches whose data it must move (USD calibrated: its sigma moves with its curve, and
# with it the bootstrapped EUR/USD FX vol; the 1Y EUR pillar is the FX and equity options' expiry)
KEYS = {("DiscountCurve", "USD", "5Y"): {"SwaptionBatch", "CapFloorBatch", "FxOptionBatch"},
        ("DiscountCurve", "EUR", "1Y"): {"SwaptionBatch", "FxOptionBatch", "EquityOptionBatch"},
        ("IndexCurve", "USD-LIBOR-3M", "5Y"): {"SwaptionBatch", "CapFloorBatch"},
        ("FXSpot", "EUR/USD", ""): set(),
        # sigma only (``twins.sigma_only``): a swaption quote through the USD calibration, a fixed EUR sigma piece
        ("SwaptionVol", "USD", "2Yx5Y"): {"SwaptionBatch", "CapFloorBatch"},  # USD sigma after 2Y: not the 1Y FX option
        ("HWSigma", "EUR", "0"): {"SwaptionBatch", "FxOptionBatch", "EquityOptionBatch"}}
SLOW = (("IndexCurve", "USD-LIBOR-3M", "5Y"), ("FXSpot", "EUR/USD", ""), ("HWSigma", "EUR", "0"))


@pytest.mark.parametrize("key", [k if k not in SLOW else pytest.param(k, marks=pytest.mark.slow) for k in KEYS],
                         ids=lambda k: "/".join(x for x in k if x))
def test_twin_tangent_equals_central_difference_of_the_numpy_setup(base, key, monkeypatch):
    from exposure.pricing.opt_capfloor import CapFloorBatch
    from exposure.pricing.opt_equity import EquityOptionBatch
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.pricing.opt_swaption import SwaptionBatch

    cfg, s, S, static = base
    f = next(x for x in factor_list(cfg, s, RiskSettings()) if (x.factor_type, x.name, x.pillar) == key)
    h = 0.1
    model_state_tangent(cfg, s, f, S, static, h, keep_credit=True)  # builds and compiles the twins once
    pt = context(cfg, s, S, static).pres
    kinds = (SwaptionBatch, FxOptionBatch, CapFloorBatch, EquityOptionBatch)
    twinned = [i for i in pt.twins if isinstance(s.portfolio.batches[i], kinds)]
    assert {type(s.portfolio.batches[i]) for i in twinned} == set(kinds)
    calls = []
    for cls in kinds:
        monkeypatch.setattr(cls, "prepare", lambda self, ctx, f=cls.prepare: calls.append(1) or f(self, ctx))
    ad = model_state_tangent(cfg, s, f, S, static, h, keep_credit=True)["pres"]
    assert not calls  # no difference of a twinned batch's prepare
    monkeypatch.undo()
    D = {}
    for hh in (h, 2 * h):
        up, down = (_numpy_pres(cfg, s, static, f, e) for e in (hh, -hh))
        D[hh] = [{k: (u[k] - d[k]) / (2 * hh) for k in u} for u, d in zip(up, down)]
    offsets = np.cumsum([0] + [len(fl) for fl, _, _ in pt.base])
    moved = set()
    for i in twinned:
        _, _, paths = pt.base[i]
        base_leaves = _named(s.portfolio.batches[i].prepare(_ctx(s, static, s.market, s.built.model)))
        for j, p in enumerate(paths):
            a, d1, d2 = np.asarray(ad[offsets[i] + j]), D[h][i][p], D[2 * h][i][p]
            scale = np.abs(base_leaves[p]).max()
            if scale > 1e100:  # a0, a1 of the exercise indicator at s = 0 (1e200 x a state): its cotangent is 0
                finite = np.abs(base_leaves[p]) < 1e100
                a, d1, d2, scale = a[finite], d1[finite], d2[finite], np.abs(base_leaves[p][finite]).max()
            tol = np.abs(d2 - d1).max() + 2e-14 * scale / h + 1e-12 * np.abs(d1).max()
            assert np.abs(a - d1).max() <= tol, (key, i, p, np.abs(a - d1).max(), tol)
            if np.abs(d1).max() > 1e-8 * max(scale, 1e-300):
                moved.add(type(s.portfolio.batches[i]).__name__)
    assert moved >= KEYS[key], (key, moved)  # the comparison is not vacuous for these batches
