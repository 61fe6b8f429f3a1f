"""End to end on the benchmarks' mini book (bench-1k's generator: 12 swaps, 4 FX forwards, 2 FX options, 2
swaptions, 4 netting sets, some under a CSA; market=example, model=example with USD calibrated): CVA sensitivities
to curve pillars by AD, whose swaption and FX option pricing-data tangents now come from the option twins
(exposure.risk.twins), equal central bump-and-revalue of the full pipeline on the same seed. The tolerance is
tests/test_risk_ad.py's: 4 SE of the per-path difference AD_p - D_p(h) + |D(2h) - D(h)| + 1e-9 rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

from exposure.pipeline import run_pipeline
from exposure.pricing.linear import differentiable_loops
from exposure.risk import RiskSettings
from exposure.risk.factors import bumped
from exposure.risk.reverse import BASIS, contract, path_amounts, reverse_pass
from exposure.risk.setup_market import market_tangents
from exposure.risk.setup_tangent import context
from exposure.risk.stage import factor_list, tangent
from exposure.risk.state import aligned, path_state
from exposure.setup import setup

pytestmark = pytest.mark.slow

P = 128
H = 1.0  # 1bp
FACTORS = [("DiscountCurve", "USD", "5Y"), ("IndexCurve", "USD-LIBOR-3M", "5Y")]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from benchmarks.bench_e2e import compose, resolve_portfolio

    cfg = compose(resolve_portfolio("mini"), P, 12, P, "float64", str(tmp_path_factory.mktemp("mini")), csv=False)
    cfg = OmegaConf.merge(cfg, {"risk": {"measures": ["CVA"]}})
    s = setup(cfg)
    ds = run_pipeline(cfg, s).dataset
    S, static = path_state(cfg, s, ("CVA",))
    G, values = reverse_pass(S, static, P, int(cfg.simulation.seed), False, ("CVA",))

    def per_path(S_):
        _, y = path_amounts(S_, static, 0, P, int(cfg.simulation.seed), False, 0.0)
        return jnp.sum(S_["w"]["CVA"].T[:, :, None] * y[BASIS["CVA"]], axis=0)[None]

    with differentiable_loops():
        fwd = jax.jit(per_path)
        jvp = jax.jit(lambda a, t: jax.jvp(per_path, (a,), (t,))[1])
        fwd(S), jvp(S, S)
    market = market_tangents(cfg, s, ("CVA",), static.val_times)
    np.testing.assert_allclose(values[0], ds["CVA"].values, rtol=1e-12)
    return dict(cfg=cfg, s=s, S=S, static=static, G=G, values=values, fwd=fwd, jvp=jvp, market=market,
                out=tmp_path_factory.mktemp("bumps"))


@pytest.mark.parametrize("key", FACTORS, ids=["/".join(k) for k in FACTORS])
def test_mini_book_curve_pillar_ad_equals_bump_and_revalue(base, key):
    cfg, S = base["cfg"], base["S"]
    f = next(x for x in factor_list(cfg, base["s"], RiskSettings()) if (x.factor_type, x.name, x.pillar) == key)
    dS = tangent(cfg, f, S, base["static"], base["s"], RiskSettings().setup_step, base["market"])
    twins = context(cfg, base["s"], S, base["static"]).pres.twins
    kinds = {type(base["s"].portfolio.batches[i]).__name__ for i in twins}
    assert {"SwaptionBatch", "FxOptionBatch"} <= kinds  # the option data's tangents came from the twins
    ad = contract(base["G"], dS).reshape(1, -1)
    ad_p = np.asarray(base["jvp"](S, dS))
    full = {}
    for e in (H, -H):
        c = OmegaConf.merge(bumped(cfg, f, e), {"output": {"dir": str(base["out"] / f"{f.factor_type}_{e}")}})
        full[e] = run_pipeline(c, setup(c)).dataset["CVA"].values[None]
    D = (full[H] - full[-H]) / (2 * H)
    pp = {}
    for e in (H, -H, 2 * H, -2 * H):
        c = bumped(cfg, f, e)
        Sb, _ = path_state(c, setup(c), ("CVA",))
        pp[e] = np.asarray(base["fwd"](dict(Sb, L=aligned(Sb["L"], S["L"]))))
    D_p = (pp[H] - pp[-H]) / (2 * H)
    D2 = ((pp[2 * H] - pp[-2 * H]) / (4 * H)).mean(axis=-1)
    se = (ad_p - D_p).std(axis=-1, ddof=1) / np.sqrt(P)
    tol = 4 * se + np.abs(D2 - D) + 1e-9 * (np.abs(D) + np.abs(base["values"]))
    assert np.all(np.abs(ad - D) <= tol), (key, ad, D, D2, se)
    assert np.abs(ad).max() > 0.0
