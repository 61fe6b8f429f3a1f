"""Reverse-mode XVA sensitivities (exposure.risk) against central bump-and-revalue on the same seed.

The book (tests/data/risk_portfolio.yaml) holds every product type in two netting sets, one under a CSA with
threshold, MTA and rounding; the market is conf/market/example.yaml (USD Hull-White calibrated to a
co-terminal swaption strip, so a swaption quote moves the model through the calibration).

For each factor type one factor e is taken and:
  * the reference is a central bump of the config by +-h units and two FULL pipeline runs (market rebuilt,
    model recalibrated, paths re-simulated on the same seed): D(h) = (M(+h) - M(-h)) / 2h;
  * AD (one reverse pass, ``reverse_pass``, contracted with the set-up tangent) must equal D(h) within
        tol = 4 SE + |D(2h) - D(h)| + 1e-9 (|D(h)| + |M|)
    SE the Monte Carlo standard error of the per-path difference AD_p - D_p(h) (paths that cross a kink of
    max(), the MTA or a rounding step inside +-h make the difference quotient differ from the derivative
    on that path; the mean difference is that noise), |D(2h) - D(h)| bounds the O(h^2) truncation (and the
    O(h) drift of kink crossings), the last term float64 rounding;
  * the per-path quotients come from the same path program on the bumped set-up (``path_amounts``), and
    their means are checked equal to the full pipeline's bumped CVA/DVA/FCA/FBA first (1e-9 relative): the
    reference is the pipeline, the per-path view only supplies the noise estimate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

from exposure.api import compose
from exposure.pipeline import run_pipeline
from exposure.pricing.linear import differentiable_loops
from exposure.risk import RiskSettings
from exposure.risk.factors import bumped
from exposure.risk.reverse import BASIS, contract, path_amounts, reverse_pass
from exposure.risk.setup_market import market_tangents
from exposure.risk.stage import factor_list, tangent
from exposure.risk.state import aligned, path_state
from exposure.setup import setup

pytestmark = pytest.mark.slow

P = 256
OVERRIDES = [f"simulation.paths={P}", "simulation.chunk_size=128", "output.csv=false",
             "portfolio.trades=tests/data/risk_portfolio.yaml", "portfolio.fixings=null",
             "simulation.grid='3M,6M,1Y,18M,2Y,3Y,4Y,5Y,7Y'"]
FACTORS = [("DiscountCurve", "USD", "5Y"), ("IndexCurve", "USD-LIBOR-3M", "5Y"), ("FXSpot", "EUR/USD", ""),
           ("FXVol", "EUR/USD", "1Y"), ("EquitySpot", "SPX", ""), ("EquityVol", "SX5E", ""),
           ("SwaptionVol", "USD", "2Yx5Y"), ("CDSSpread", "CP_A", "5Y"), ("CDSSpread", "BANK", "3Y"),
           ("Recovery", "CP_E", ""), ("FundingSpread", "borrowing", "5Y"), ("MeanReversion", "USD", ""),
           ("HWSigma", "EUR", "0"), ("Correlation", "IR:USD~FX:EUR", "")]
H = 1.0  # factor units: 1bp, 1%, 1 vol point ...


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    cfg = compose(OVERRIDES + [f"output.dir={tmp_path_factory.mktemp('base')}"])
    s = setup(cfg)
    ds = run_pipeline(cfg, s).dataset
    S, static = path_state(cfg, s)
    measures = tuple(S["w"])
    G, values = reverse_pass(S, static, P, int(cfg.simulation.seed), False, measures)

    def per_path(S_):  # (n_meas, n_ns, P) per-path sum_k w y, the same paths in one block
        _, y = path_amounts(S_, static, 0, P, int(cfg.simulation.seed), False, 0.0)
        return jnp.stack([jnp.sum(S_["w"][m].T[:, :, None] * y[BASIS[m]], axis=0) for m in measures])

    with differentiable_loops():
        fwd = jax.jit(per_path)
        jvp = jax.jit(lambda a, t: jax.jvp(per_path, (a,), (t,))[1])
        fwd(S), jvp(S, S)  # traced inside the context
    market = market_tangents(cfg, s, measures, static.val_times)  # the weights' tangents by AD, as risk=ad
    return dict(cfg=cfg, s=s, ds=ds, S=S, static=static, measures=measures, G=G, values=values, fwd=fwd, jvp=jvp,
                out=tmp_path_factory.mktemp("bumps"), market=market)


def test_ad_pass_reproduces_the_run(base):
    """The reverse pass evaluates the run's own CVA/DVA/FCA/FBA on the run's paths."""
    for k, m in enumerate(base["measures"]):
        np.testing.assert_allclose(base["values"][k], base["ds"][m].values, rtol=1e-12)
    assert base["values"].min() > 0


def _factor(base, key):
    fs = [f for f in factor_list(base["cfg"], base["s"], RiskSettings()) if (f.factor_type, f.name, f.pillar) == key]
    assert len(fs) == 1, key
    return fs[0]


def _per_path_at(base, f, e, align=True):
    c = bumped(base["cfg"], f, e)
    Sb, _ = path_state(c, setup(c))
    if align:
        Sb = dict(Sb, L=aligned(Sb["L"], base["S"]["L"]))
    return np.asarray(base["fwd"](Sb))


@pytest.mark.parametrize("key", FACTORS, ids=["/".join(k) for k in FACTORS])
def test_ad_equals_central_bump_and_revalue(base, key):
    f = _factor(base, key)
    measures, cfg = base["measures"], base["cfg"]
    dS = tangent(cfg, f, base["S"], base["static"], base["s"], RiskSettings().setup_step, base["market"])
    ad = contract(base["G"], dS).reshape(len(measures), -1)
    ad_p = np.asarray(base["jvp"](base["S"], dS))  # per path, forward mode along the same tangent
    np.testing.assert_allclose(ad, ad_p.mean(axis=-1), rtol=1e-9, atol=1e-9 * np.abs(ad).max())

    # the reference: full pipeline runs on the bumped configs, same seed
    full = {}
    for e in (H, -H):
        c = bumped(cfg, f, e)
        c = OmegaConf.merge(c, {"output": {"dir": str(base["out"] / f"{f.factor_type}_{e}")}})
        ds = run_pipeline(c, setup(c)).dataset
        full[e] = np.stack([ds[m].values for m in measures])
    D = (full[H] - full[-H]) / (2 * H)

    pp = {e: _per_path_at(base, f, e) for e in (H, -H, 2 * H, -2 * H)}
    for e in (H, -H):  # the per-path view reproduces the bumped full runs
        raw = _per_path_at(base, f, e, align=False).mean(axis=-1)
        np.testing.assert_allclose(raw, full[e], rtol=1e-9, atol=1e-9 * np.abs(full[e]).max())
    D_p = (pp[H] - pp[-H]) / (2 * H)
    D2 = ((pp[2 * H] - pp[-2 * H]) / (4 * H)).mean(axis=-1)
    diff = ad_p - D_p
    se = diff.std(axis=-1, ddof=1) / np.sqrt(P)
    tol = 4 * se + np.abs(D2 - D) + 1e-9 * (np.abs(D) + np.abs(base["values"]))
    err = np.abs(ad - D)
    assert np.all(err <= tol), (f.label(), measures, ad, D, D2, se)
    assert np.abs(ad).max() > 0.0
    print(f.label(), "AD", ad.round(3).tolist(), "bump", D.round(3).tolist(), "tol", tol.round(3).tolist())
