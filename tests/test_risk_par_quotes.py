"""Par-quote factors (market.curve_inputs) through the IFT-moved market against the full market rebuild.

``setup_tangent.model_state_tangent`` takes a par-quote factor's market at +-step by moving every bootstrapped
curve in place along dlnP/dquote (``setup_inputs.moved_input_market``, the implicit-function theorem); the
reference is the previous per-factor path, the market built again from the bumped config (the bootstrap solved
again at the quote +-step; step = risk.setup_step = 0.1 factor units = 1e-5 in the quote). Both are central
differences of the same downstream set-up, so they differ by the bootstrap's O(step^2) curvature and rounding:
<G, dS/de> must agree within 1e-8 relative for random G (each leaf scaled as in test_risk_reverse_setup).
"""

from __future__ import annotations

import time

import jax
import numpy as np
import pytest

from exposure.api import compose
from exposure.risk import RiskSettings
from exposure.risk import setup_inputs
from exposure.risk.reverse import contract
from exposure.risk.stage import factor_list, tangent
from exposure.risk.state import path_state
from exposure.setup import setup

OVERRIDES = ["market=instruments", "portfolio.trades=tests/data/risk_tiny.yaml", "portfolio.fixings=null",
             "simulation.grid='6M,1Y,2Y,5Y'", "simulation.paths=64"]


@pytest.fixture(scope="module")
def base():
    cfg = compose(OVERRIDES)
    s = setup(cfg)
    S, static = path_state(cfg, s)
    fs = [f for f in factor_list(cfg, s, RiskSettings()) if f.path[:3] == setup_inputs.INPUTS]
    # pillars inside the book's 5Y (a later pillar moves nothing it reads): USD OIS 3M, 2Y; EUR OIS 1Y, 2Y
    pick = [f for f in fs if f.name == "USD"][2:8:5 - 2] + [f for f in fs if f.name == "EUR"][3:5]
    return cfg, s, S, static, pick


def test_par_quote_tangent_equals_the_market_rebuild(base, monkeypatch):
    cfg, s, S, static, factors = base
    step = RiskSettings().setup_step
    assert len(factors) >= 4
    t = time.process_time()
    setup_inputs.moved_input_market(cfg, s.market, factors[0], 0.0)  # the run's IFT (once per run)
    t0 = time.process_time()
    tangent(cfg, factors[0], S, static, s, step)  # the run's one-off work (model jvp program ...), outside the timing
    t0, t = time.process_time(), t0 - t
    new = [tangent(cfg, f, S, static, s, step) for f in factors]
    t1 = time.process_time()
    monkeypatch.setattr(setup_inputs, "moved_input_market", lambda *a: None)
    old = [tangent(cfg, f, S, static, s, step) for f in factors]
    t2 = time.process_time()
    print(f"IFT once {t:.2f} s; per factor: IFT-moved {(t1 - t0) / len(factors):.3f} s CPU, rebuild "
          f"{(t2 - t1) / len(factors):.3f} s CPU")
    rng = np.random.default_rng(3)
    size = jax.tree_util.tree_map(lambda *d: max(np.abs(np.asarray(x)).max(initial=0.0) for x in d), *old)
    G = jax.tree_util.tree_map(lambda a, m: rng.standard_normal((2,) + np.shape(a)) / (m if m > 0 else 1.0), S, size)
    for f, a, b in zip(factors, new, old):
        ga, gb = contract(G, a), contract(G, b)
        assert np.abs(gb).max() > 0, f.label()
        print(f.label(), np.abs(ga - gb).max() / np.abs(gb).max())
        np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-8 * np.abs(gb).max(), err_msg=f.label())


# -- a par-quote factor inside the AD run against central bump-and-revalue of the full pipeline (same seed) --------
from tests.risk_reference import ad_base, bump_tolerance, full_difference  # noqa: E402
from exposure.risk.reverse import contract as _contract  # noqa: E402

P = 256
H = 1.0  # 1bp of the quote


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    ov = [o for o in OVERRIDES if not o.startswith("simulation.paths")] + [f"simulation.paths={P}",
                                                                            "simulation.chunk_size=128"]
    return ad_base(ov, P, tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("bumps"))


@pytest.mark.slow
@pytest.mark.parametrize("label", ["USD/ois:2Y", "EUR/ois:1Y"])
def test_par_quote_against_bump_and_revalue(run, label):
    b = run
    f = next(f for f in factor_list(b["cfg"], b["s"], RiskSettings()) if f"{f.name}/{f.pillar}" == label)
    dS = tangent(b["cfg"], f, b["S"], b["static"], b["s"], RiskSettings().setup_step, b["market"])
    ad = _contract(b["G"], dS).reshape(len(b["measures"]), -1)
    D, _ = full_difference(b, f, H, "pq_")
    tol = bump_tolerance(b, f, dS, H, D)
    print(f.label(), "ad", ad.round(3).tolist(), "bump", D.round(3).tolist(), "tol", tol.round(3).tolist())
    assert np.abs(ad).max() > 0.0
    assert np.all(np.abs(ad - D) <= tol), (f.label(), b["measures"], ad, D, tol)
