"""The risk stage's credit and funding inputs (``stage.tangent(full=False)``: dS is the weights' AD tangent alone,
no zeros of S's size; ``stage.contract_tangent`` contracts dS's own components) against the full tangent (S's
zeros with the same parts) contracted by ``reverse.contract``: equal (the zero components add nothing), for a
random G of the stage's layout (reverse_pass replaced: no paths are run). Broken on purpose (contract_tangent
returning zeros for a partial dS) it fails at 1.0 relative."""

from __future__ import annotations

import jax
import numpy as np

from exposure.risk import RiskSettings
from exposure.risk.reverse import contract
from exposure.risk.setup_market import market_tangents
from exposure.risk.stage import factor_list, tangent
from tests.risk_reference import book_state


def test_credit_and_funding_tangents_without_zeros(monkeypatch):
    from exposure.risk import stage

    cfg, s, S, static = book_state()
    market = market_tangents(cfg, s, tuple(S["w"]), static.val_times)
    fs = []
    for t in ("CDSSpread", "Recovery", "FundingSpread"):
        fs += [f for f in factor_list(cfg, s, RiskSettings()) if f.factor_type == t][:2]
    assert {f.factor_type for f in fs} == {"CDSSpread", "Recovery", "FundingSpread"}
    n_out = len(S["w"]) * static.n_ns
    rng = np.random.default_rng(5)
    G = jax.tree_util.tree_map(lambda a: rng.standard_normal((n_out,) + np.shape(a)), S)
    monkeypatch.setattr(stage, "reverse_pass", lambda *a, **k: (G, np.zeros((len(S["w"]), static.n_ns))))
    step = RiskSettings().setup_step
    for f in fs:
        part = tangent(cfg, f, S, static, s, step, market, full=False)
        assert set(part) == {"w"}, f.label()  # the weights alone: nothing else is built
    got = stage.ad_sensitivities(cfg, s, RiskSettings(), 64, 1, False, factors=fs)[2]
    ref = np.stack([contract(G, tangent(cfg, f, S, static, s, step, market)).reshape(len(S["w"]), -1).T
                    for f in fs], axis=-1)
    assert np.all(np.abs(ref).max(axis=(0, 1)) > 0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13 * np.abs(ref).max())
