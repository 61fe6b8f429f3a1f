"""Curve pillars and FX spots in reverse (exposure.risk.setup_reverse) against the per-factor set-up tangents.

  * identity: for any cotangent G of the set-up arrays S (random here, every component of S exercised, n_out = 3
    rows), the reverse form's d/de equals <G, dS/de> with dS/de the per-factor tangent of ``stage.tangent`` (the
    reference: model jvp, calibration by the IFT, linear twins by jvp, the rest by central differences), for
    every DiscountCurve, IndexCurve and FXSpot factor of the book, to 1e-9 of the largest |<G_o, dS/de>| over
    the factors. The book (tests/data/risk_portfolio.yaml on conf/market/example.yaml) has every product type,
    a CSA netting set and USD calibrated to swaptions (so a USD pillar moves sigma, the FX/equity vol
    bootstraps and the weights, and option batches keep a per-factor remainder);
  * the full stage (risk=ad) against central bump-and-revalue of the whole pipeline on the same seed for a few
    pillars: tests/test_risk_reverse_setup.py::test_stage_against_bump_and_revalue (slow).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from exposure.api import compose
from exposure.risk import RiskSettings
from exposure.risk.reverse import contract
from exposure.risk.setup_market import market_tangents
from exposure.risk.setup_reverse import ReverseSetup, reverse_covered
from exposure.risk.stage import factor_list, tangent
from exposure.risk.state import path_state
from exposure.setup import setup

OVERRIDES = ["portfolio.trades=tests/data/risk_portfolio.yaml", "portfolio.fixings=null",
             "simulation.grid='3M,6M,1Y,18M,2Y,3Y,4Y,5Y,7Y'", "simulation.paths=64"]
TYPES = ("DiscountCurve", "IndexCurve", "FXSpot")


@pytest.fixture(scope="module")
def base():
    cfg = compose(OVERRIDES)
    s = setup(cfg)
    S, static = path_state(cfg, s)
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
