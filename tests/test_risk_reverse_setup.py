"""Curve pillars and FX spots in reverse (exposure.risk.setup_reverse) against the per-factor set-up tangents.

  * identity: for any cotangent G of the set-up arrays S (random here, every component of S exercised, n_out = 3
    rows), the reverse form's d/de equals <G, dS/de> with dS/de the per-factor tangent of ``stage.tangent`` (the
    reference: model jvp, calibration by the IFT, linear twins by jvp, the rest by central differences), for
    every DiscountCurve, IndexCurve and FXSpot factor of the book, to 1e-9 of the largest |<G_o, dS/de>| over
    the factors. The book (tests/data/risk_portfolio.yaml on conf/market/example.yaml) has every product type,
    a CSA netting set and USD calibrated to swaptions (so a USD pillar moves sigma, the FX/equity vol
    bootstraps and the weights, and option batches keep a per-factor remainder);
  * the stage's switch (risk.reverse_setup) sends exactly the covered factors to the reverse form, same table
    as with it off (slow);
  * the reverse form on the real g_S of tests/test_risk_ad.py's run (256 paths) against central bump-and-revalue
    of the whole pipeline on the same seed, for two curves' pillars, an index curve pillar and an FX spot, within
    4 SE of the per-path difference + the O(h^2) bound |D(2h) - D(h)| + rounding (slow).
Breaking the code once (the calibration's term dropped) makes the identity fail at 0.18 relative.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from exposure.risk import RiskSettings
from exposure.risk.reverse import contract
from exposure.risk.setup_market import market_tangents
from exposure.risk.setup_reverse import ReverseSetup, reverse_covered
from exposure.risk.stage import factor_list, tangent
from tests.risk_reference import book_state

TYPES = ("DiscountCurve", "IndexCurve", "FXSpot")


@pytest.fixture(scope="module")
def base():
    cfg, s, S, static = book_state()  # tests/risk_reference.py: every product type, a CSA netting set
    market = market_tangents(cfg, s, tuple(S["w"]), static.val_times)
    factors = [f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type in TYPES]
    step = RiskSettings().setup_step
    tangents = [tangent(cfg, f, S, static, s, step, market) for f in factors]  # the reference, per factor
    # G random, each leaf scaled by 1 / max_f |dS_f| of that leaf: every component of S weighs alike in <G, dS/de>
    # (a swaption batch's a0 has central differences of ~1e196 under a pillar move; both forms take them alike)
    rng = np.random.default_rng(7)
    size = jax.tree_util.tree_map(lambda *d: max(np.abs(np.asarray(x)).max(initial=0.0) for x in d), *tangents)
    G = jax.tree_util.tree_map(lambda a, m: rng.standard_normal((3,) + np.shape(a)) / (m if m > 0 else 1.0), S, size)
    return cfg, s, S, static, G, market, factors, tangents


def test_reverse_form_equals_per_factor_tangents(base):
    cfg, s, S, static, G, market, factors, tangents = base
    assert all(reverse_covered(cfg, s, market, f) for f in factors)
    assert {f.factor_type for f in factors} == set(TYPES) and len(factors) > 20
    rev = ReverseSetup(cfg, s, S, static, G, market, RiskSettings().setup_step)
    got = np.array([rev.sensitivity(f) for f in factors])
    ref = np.array([contract(G, dS) for dS in tangents])
    scale = np.abs(ref).max()
    err = np.abs(got - ref).max(axis=1)
    worst = int(np.argmax(err))
    print("max relative difference", err.max() / scale, "at", factors[worst].label())
    assert err.max() <= 1e-9 * scale, (factors[worst].label(), got[worst], ref[worst], scale)
    idle = [f for f, r in zip(factors, ref) if not np.any(r)]
    print("factors that move nothing of S:", [f.label() for f in idle])
    assert all(f.pillar_time >= 10.0 for f in idle)  # only pillars past the book's last date (7Y) and its neighbours



@pytest.mark.slow
def test_stage_switch(base, monkeypatch):
    """risk.reverse_setup routes the covered factors through the reverse form and leaves the others (an FX vol) on
    their tangents: the same table as with the switch off (reverse_pass replaced by a random G of the stage's
    layout, so no paths are run)."""
    import dataclasses

    from exposure.risk import stage

    cfg, s, S, static, _, _, factors, _ = base
    n_out = len(S["w"]) * static.n_ns
    rng = np.random.default_rng(3)
    G = jax.tree_util.tree_map(lambda a: rng.standard_normal((n_out,) + np.shape(a)), S)
    monkeypatch.setattr(stage, "reverse_pass", lambda *a, **k: (G, np.zeros((len(S["w"]), static.n_ns))))
    fs = factors[:3] + [f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type == "FXVol"][:1]
    calls = []
    real = ReverseSetup.sensitivity
    monkeypatch.setattr(ReverseSetup, "sensitivity", lambda self, f: calls.append(f) or real(self, f))
    on = stage.ad_sensitivities(cfg, s, RiskSettings(), 64, 1, False, factors=fs)[2]
    assert calls == fs[:3]
    off = stage.ad_sensitivities(cfg, s, dataclasses.replace(RiskSettings(), reverse_setup=False), 64, 1, False,
                                 factors=fs)[2]
    assert calls == fs[:3] and np.abs(off[..., 3]).max() > 0
    np.testing.assert_allclose(on, off, rtol=0, atol=1e-9 * np.abs(off).max())

# -- the reverse form inside the AD run, against central bump-and-revalue of the full pipeline (same seed) --------
from tests.test_risk_ad import H, _factor, base as ad_base  # noqa: E402,F401  (the AD run's fixture)
from tests.risk_reference import bump_tolerance, full_difference  # noqa: E402

BUMPED = [("DiscountCurve", "USD", "5Y"), ("DiscountCurve", "EUR", "2Y"), ("IndexCurve", "USD-LIBOR-3M", "5Y"),
          ("FXSpot", "EUR/USD", "")]


@pytest.fixture(scope="module")
def reverse_form(ad_base):
    b = ad_base
    return ReverseSetup(b["cfg"], b["s"], b["S"], b["static"], b["G"], b["market"], RiskSettings().setup_step)


@pytest.mark.slow
@pytest.mark.parametrize("key", BUMPED, ids=["/".join(k) for k in BUMPED])
def test_stage_against_bump_and_revalue(ad_base, reverse_form, key):
    """tests/test_risk_ad.py's comparison (its tolerance: 4 SE of the per-path difference + |D(2h) - D(h)| +
    rounding), with the reverse form's value in place of the per-factor tangent's (the per-path noise estimate
    still comes from the per-factor tangent: the reverse form has no per-path values)."""
    b = ad_base
    f = _factor(b, key)
    measures, cfg = b["measures"], b["cfg"]
    ad = reverse_form.sensitivity(f).reshape(len(measures), -1)
    dS = tangent(cfg, f, b["S"], b["static"], b["s"], RiskSettings().setup_step, b["market"])
    D, _ = full_difference(b, f, H, "rev_")  # tests/risk_reference.py: the full pipeline at +-H, same seed
    tol = bump_tolerance(b, f, dS, H, D)
    assert np.all(np.abs(ad - D) <= tol), (f.label(), measures, ad, D, tol)
    assert np.abs(ad).max() > 0.0
    print(f.label(), "reverse", ad.round(3).tolist(), "bump", D.round(3).tolist(), "tol", tol.round(3).tolist())
