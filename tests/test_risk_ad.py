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

import numpy as np
import pytest

from exposure.risk import RiskSettings
from exposure.risk.reverse import contract
from exposure.risk.stage import factor_list, tangent
from tests.risk_reference import ad_base, bump_tolerance, full_difference, per_path_at

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
    return ad_base(OVERRIDES, P, tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("bumps"))


def test_ad_pass_reproduces_the_run(base):
    """The reverse pass evaluates the run's own CVA/DVA/FCA/FBA on the run's paths."""
    for k, m in enumerate(base["measures"]):
        np.testing.assert_allclose(base["values"][k], base["ds"][m].values, rtol=1e-12)
    assert base["values"].min() > 0


def _factor(base, key):
    fs = [f for f in factor_list(base["cfg"], base["s"], RiskSettings()) if (f.factor_type, f.name, f.pillar) == key]
    assert len(fs) == 1, key
    return fs[0]


_per_path_at = per_path_at  # tests/risk_reference.py


@pytest.mark.parametrize("key", FACTORS, ids=["/".join(k) for k in FACTORS])
def test_ad_equals_central_bump_and_revalue(base, key):
    f = _factor(base, key)
    measures, cfg = base["measures"], base["cfg"]
    dS = tangent(cfg, f, base["S"], base["static"], base["s"], RiskSettings().setup_step, base["market"])
    ad = contract(base["G"], dS).reshape(len(measures), -1)
    ad_p = np.asarray(base["jvp"](base["S"], dS))  # per path, forward mode along the same tangent
    np.testing.assert_allclose(ad, ad_p.mean(axis=-1), rtol=1e-9, atol=1e-9 * np.abs(ad).max())

    # the reference: full pipeline runs on the bumped configs, same seed (tests/risk_reference.py)
    D, full = full_difference(base, f, H)
    for e in (H, -H):  # the per-path view reproduces the bumped full runs
        raw = per_path_at(base, f, e, align=False).mean(axis=-1)
        np.testing.assert_allclose(raw, full[e], rtol=1e-9, atol=1e-9 * np.abs(full[e]).max())
    tol = bump_tolerance(base, f, dS, H, D)
    err = np.abs(ad - D)
    assert np.all(err <= tol), (f.label(), measures, ad, D, tol)
    assert np.abs(ad).max() > 0.0
    print(f.label(), "AD", ad.round(3).tolist(), "bump", D.round(3).tolist(), "tol", tol.round(3).tolist())
