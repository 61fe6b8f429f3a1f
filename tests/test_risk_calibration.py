"""Through-calibration vega: the AD sensitivity of CVA to one swaption quote of the USD co-terminal strip equals
recalibrate-and-rerun (full pipeline runs with the quote bumped, same seed), on a book without exercise or
collateral jumps (one 10Y payer swap), so the tolerance is tight: 4 standard errors of the per-path difference
between the derivative and the difference quotient, plus |D(2h) - D(h)| for the truncation."""

from __future__ import annotations

import jax.numpy as jnp
import jax
import numpy as np
import pytest
from omegaconf import OmegaConf

from exposure.api import compose
from exposure.pipeline import run_pipeline
from exposure.pricing.linear import differentiable_loops
from exposure.risk import RiskSettings, bumped
from exposure.risk.reverse import BASIS, contract, path_amounts, reverse_pass
from exposure.risk.stage import factor_list, tangent
from exposure.risk.state import path_state
from exposure.setup import setup

P = 512


@pytest.mark.slow
@pytest.mark.parametrize("pillar", ["5Yx5Y", "3Yx5Y"])
def test_swaption_vega_through_calibration_equals_recalibrate_and_rerun(tmp_path, pillar):
    cfg = compose(["portfolio.trades=tests/data/risk_swap.yaml", "portfolio.fixings=null", f"simulation.paths={P}",
                   "simulation.grid='6M,1Y,2Y,3Y,4Y,5Y,6Y,7Y,8Y,9Y'", "output.csv=false", f"output.dir={tmp_path}"])
    s = setup(cfg)
    S, static = path_state(cfg, s, ("CVA",))
    G, values = reverse_pass(S, static, P, int(cfg.simulation.seed), False, ("CVA",))
    f = [x for x in factor_list(cfg, s, RiskSettings()) if x.factor_type == "SwaptionVol" and x.pillar == pillar][0]
    dS = tangent(cfg, f, S, static, s, 0.1)
    assert np.abs(dS["L"]).max() > 0  # the quote moves the calibrated model
    ad = float(contract(G, dS)[0])

    def per_path(S_):
        _, y = path_amounts(S_, static, 0, P, int(cfg.simulation.seed), False, 0.0)
        return jnp.sum(S_["w"]["CVA"].T[:, :, None] * y[BASIS["CVA"]], axis=0)[0]

    with differentiable_loops():
        ad_p = np.asarray(jax.jit(lambda a, t: jax.jvp(per_path, (a,), (t,))[1])(S, dS))
        fwd = jax.jit(per_path)
        pp = {}
        for e in (1.0, -1.0, 2.0, -2.0):
            c = bumped(cfg, f, e)
            pp[e] = np.asarray(fwd(path_state(c, setup(c), ("CVA",))[0]))
    full = {}
    for e in (1.0, -1.0):  # recalibrate and rerun: the full pipeline on the bumped quote
        c = OmegaConf.merge(bumped(cfg, f, e), {"output": {"dir": str(tmp_path / str(e))}})
        full[e] = float(run_pipeline(c, setup(c)).dataset["CVA"].values[0])
        assert pp[e].mean() == pytest.approx(full[e], rel=1e-9)
    D = (full[1.0] - full[-1.0]) / 2.0
    D2 = float((pp[2.0] - pp[-2.0]).mean() / 4.0)
    se = float(np.std(ad_p - (pp[1.0] - pp[-1.0]) / 2.0, ddof=1) / np.sqrt(P))
    tol = 4 * se + abs(D2 - D) + 1e-9 * abs(values[0, 0])
    print(pillar, "AD", ad, "recalibrate+rerun", D, "tol", tol)
    assert abs(ad - D) <= tol
    assert abs(ad) > 10 * tol  # a vega the comparison resolves (about 16x and 24x here)
