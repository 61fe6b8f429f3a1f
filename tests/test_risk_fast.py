"""Checks of the sensitivities stage (exposure.risk): settings, factor enumeration, the files of
`exposure run risk=ad`, invariance to the chunk size, and credit/funding sensitivities (exact in the weights)
against bump-and-revalue (the three tests on full `risk=ad` runs are marked slow: two runs with their reverse-mode
compilation take about 2 minutes on a shared 2-core machine). The AD-versus-bump comparison for every factor type
is tests/test_risk_ad.py."""

from __future__ import annotations

import collections
import os

import h5py
import numpy as np
import pytest
import xarray as xr

from exposure.api import compose
from exposure.errors import ConfigError
from exposure.pipeline import run_pipeline
from exposure.risk import RiskSettings, bumped, enumerate_factors, risk_settings
from exposure.setup import setup

TINY = ["portfolio.trades=tests/data/risk_tiny.yaml", "portfolio.fixings=null", "simulation.grid='6M,1Y,2Y,3Y,5Y'",
        "simulation.paths=192", "risk=ad", "risk.factor_types=[CDSSpread,FundingSpread,FXSpot,DiscountCurve]",
        "risk.profiles=true"]


def test_settings_errors_name_the_key():
    with pytest.raises(ConfigError, match="risk.block_paths"):
        risk_settings(compose(["risk=ad", "risk.block_paths=100"]))
    with pytest.raises(ConfigError, match="risk.factor_types"):
        risk_settings(compose(["risk=ad", "risk.factor_types=[Curve]"]))
    with pytest.raises(ConfigError, match="risk.measures"):
        risk_settings(compose(["risk=ad", "risk.measures=[KVA]"]))
    with pytest.raises(ConfigError, match="xva.enabled"):
        risk_settings(compose(["risk=ad", "xva.enabled=false"]))
    with pytest.raises(ConfigError, match="market.funding"):
        risk_settings(compose(["risk=ad", "risk.measures=[FCA]", "market.funding.tenors=[]",
                               "market.funding.borrowing_bp=[]", "market.funding.lending_bp=[]"]))
    assert risk_settings(compose([])) is None
    assert risk_settings(compose(["risk=ad"])) == RiskSettings()


def test_factors_of_the_example_market_and_bump_moves_one_input():
    cfg = compose([])
    fs = enumerate_factors(cfg, __import__("datetime").date(2026, 11, 20), "USD", ["CP_A", "BANK"])
    n = collections.Counter(f.factor_type for f in fs)
    assert n["DiscountCurve"] == 33 and n["IndexCurve"] == 12 and n["SwaptionVol"] == 48
    assert n["CDSSpread"] == 10 and n["Recovery"] == 2 and n["FundingSpread"] == 8 and n["FXSpot"] == 2
    assert n["MeanReversion"] == 3 and n["HWSigma"] == 2  # USD is calibrated: its sigma is not an input
    assert n["Correlation"] == 13 and n["FXVol"] == 14 and n["EquityVol"] == 6
    f = next(x for x in fs if x.factor_type == "FXSpot" and x.name == "EUR/USD")
    up = bumped(cfg, f, 1.0)
    assert float(up.market.fx_spots.EUR) == pytest.approx(1.0850 * 1.01, rel=1e-15)
    assert float(cfg.market.fx_spots.EUR) == 1.0850  # the original is untouched
    g = next(x for x in fs if x.factor_type == "SwaptionVol" and x.pillar == "2Yx5Y")
    assert float(bumped(cfg, g, -2.0).market.swaption_vols.USD.vols[1][2]) == pytest.approx(0.0102 - 2e-4)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for chunk in (64, 192):
        d = tmp_path_factory.mktemp(f"c{chunk}")
        cfg = compose(TINY + [f"simulation.chunk_size={chunk}", f"output.dir={d}"])
        out[chunk] = (cfg, run_pipeline(cfg), d)
    return out


@pytest.mark.slow
def test_run_writes_the_contract_and_is_chunk_invariant(runs):
    cfg, res, d = runs[64]
    ds = res.dataset
    s = ds["sensitivity"]
    assert s.dims == ("netting_set", "xva_measure", "risk_factor")
    assert list(ds["xva_measure"].values) == ["CVA", "DVA", "FCA", "FBA"]
    assert set(ds["factor_type"].values) == {"CDSSpread", "FundingSpread", "FXSpot", "DiscountCurve"}
    for m in ("CVA", "DVA", "FCA", "FBA"):  # the AD pass evaluates the run's own measures
        np.testing.assert_allclose(ds["sensitivity_base_value"].sel(xva_measure=m).values, ds[m].values,
                                   rtol=1e-12)
    text = open(os.path.join(d, "sensitivities.csv")).read().splitlines()
    assert text[0] == "NettingSetId,Measure,RiskFactorType,Name,Pillar,PillarTime,Value,Unit,Quote"
    assert len(text) == 1 + s.size
    with h5py.File(os.path.join(d, "results.h5")):
        pass
    back = xr.open_dataset(os.path.join(d, "results.h5"), engine="h5netcdf")
    np.testing.assert_array_equal(back["sensitivity"].values, s.values)
    # the capital stage's SA-CVA runs on these sensitivities (exposure.capital.sacva_from_sensitivities)
    assert "SA_CVA_total" in ds and "engine's CVA sensitivities" in ds.attrs["sa_cva"]
    assert float(ds["SA_CVA_total"]) > 0.0
    # the reverse pass sums fixed blocks of risk.block_paths paths: simulation.chunk_size changes nothing
    np.testing.assert_array_equal(runs[192][1].dataset["sensitivity"].values, s.values)


@pytest.mark.slow
def test_credit_and_funding_sensitivities_equal_bump_and_revalue(runs, tmp_path):
    """CDS spreads and funding spreads move only the XVA weights, and the bumped runs have the same paths:
    bump-and-revalue then differs from the derivative by the O(h^2) term alone (h = 1bp), no Monte Carlo
    noise, so the tolerance is 1e-6 relative."""
    cfg, res, _ = runs[64]
    ds = res.dataset
    s = setup(cfg)
    from exposure.risk.stage import factor_list

    fs = [f for f in factor_list(cfg, s, risk_settings(cfg)) if f.factor_type in ("CDSSpread", "FundingSpread")]
    picks = [f for f in fs if (f.name, f.pillar) in {("CP_A", "5Y"), ("CP_E", "1Y"), ("BANK", "3Y"),
                                                     ("borrowing", "3Y"), ("lending", "5Y")}]
    assert len(picks) == 5
    for f in picks:
        i = [k for k in range(ds.sizes["risk_factor"]) if (ds["factor_type"].values[k], ds["factor_name"].values[k],
                                                            ds["pillar"].values[k]) == (f.factor_type, f.name, f.pillar)][0]
        vals = {}
        for e in (1.0, -1.0):
            c = bumped(compose(TINY + ["risk=none", f"output.dir={tmp_path / str(e)}"]), f, e)
            vals[e] = run_pipeline(c).dataset
        for m in ("CVA", "DVA", "FCA", "FBA"):
            fd = (vals[1.0][m].values - vals[-1.0][m].values) / 2.0
            ad = ds["sensitivity"].sel(xva_measure=m).values[:, i]
            np.testing.assert_allclose(ad, fd, rtol=1e-6, atol=1e-9 * float(np.abs(ds[m].values).max()))
        assert np.abs(ds["sensitivity"].values[:, :, i]).max() > 0.0


def test_cheap_rebuilds_equal_a_full_setup_of_the_bumped_config():
    """bumped_state skips what a factor cannot move (credit bootstraps, the model for credit/funding, trade
    parsing): it must give the same set-up arrays as a full `setup` of the bumped config, bit for bit."""
    import jax

    from exposure.risk.state import bumped_state, path_state
    from exposure.risk.stage import factor_list

    cfg = compose(["portfolio.trades=tests/data/risk_tiny.yaml", "portfolio.fixings=null",
                   "simulation.grid='6M,1Y,2Y,3Y,5Y'", "risk=ad"])
    s = setup(cfg)
    S, static = path_state(cfg, s)
    seen = set()
    for f in factor_list(cfg, s, risk_settings(cfg)):
        key = (f.factor_type, f.name == s.market.base_currency)
        if key in seen:
            continue
        seen.add(key)
        fast = bumped_state(cfg, s, f, S, static, 0.5)
        c = bumped(cfg, f, 0.5)
        full, _ = path_state(c, setup(c))
        for a, b in zip(jax.tree_util.tree_leaves(fast), jax.tree_util.tree_leaves(full)):
            np.testing.assert_array_equal(a, b, err_msg=f.label())
    assert {"DiscountCurve", "CDSSpread", "FundingSpread", "SwaptionVol", "FXSpot", "Correlation"} <= {k[0] for k in seen}


def test_path_state_from_the_plain_runs_prepared_data_is_its_own():
    """The AD set-up takes the plain run's prepared batches (``state.Prepared``: prepared with the option netting
    tables, ``paths`` 0 so that every swaption batch tabulates) less what only the tables add
    (``TradeBatch.without_tables``): S and the static integer leaves equal its own prepare's, bit for bit, on a book
    of every product type (cash and physical swaptions among them)."""
    import jax

    from exposure.pricing.view import PricingContext
    from exposure.risk.state import Prepared, path_state
    from exposure.simulation.paths import Discretisation
    from tests.risk_reference import BOOK_OVERRIDES

    cfg = compose(BOOK_OVERRIDES + ["risk=ad"])
    s = setup(cfg)
    own, st_own = path_state(cfg, s)
    g, pf = s.grid, s.portfolio
    ctx = PricingContext(s.market, s.built.model, st_own.times, pf.fixings, (s.market.asof,) + tuple(g.dates),
                         g.reporting_mask(), option_tables=True, paths=0)
    pres = tuple(b.prepare(ctx) for b in pf.batches)
    assert sum("tab" in p for p in pres if isinstance(p, dict)) >= 2  # cash and physical swaptions tabulate
    run = Prepared(tuple(pf.batches), pres, Discretisation.build(s.built.model, g), ctx.numeraire_log_det())
    got, st = path_state(cfg, s, prepared=run)
    assert st.treedef == st_own.treedef and len(st.int_leaves) == len(st_own.int_leaves)
    for (i, a, n), (j, b, _) in zip(st.int_leaves, st_own.int_leaves):
        assert i == j and np.array_equal(a, b), n
    la, lb = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(own)
    assert len(la) == len(lb)
    for a, b in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_profile_sensitivities_add_up_to_the_cva_sensitivity(runs):
    """Forward mode (EPE_sensitivity, ENE_sensitivity) against reverse mode (sensitivity): for a factor that does
    not move the XVA weights, dCVA_j = sum_k w_jk dEPE_j(t_k) and dDVA_j = sum_k w'_jk dENE_j(t_k)."""
    from exposure.risk.state import path_state

    cfg, res, _ = runs[64]
    ds = res.dataset
    S, _ = path_state(cfg, setup(cfg))
    assert ds["EPE_sensitivity"].dims == ("netting_set", "date", "risk_factor")
    fx = [i for i in range(ds.sizes["risk_factor"]) if ds["factor_type"].values[i] == "FXSpot"]
    assert fx
    for m, prof in (("CVA", "EPE_sensitivity"), ("DVA", "ENE_sensitivity")):
        w = S["w"][m]  # (n_ns, K)
        implied = np.einsum("jk,jkf->jf", w, ds[prof].values[:, :, fx])
        direct = ds["sensitivity"].sel(xva_measure=m).values[:, fx]
        np.testing.assert_allclose(implied, direct, rtol=1e-9, atol=1e-9 * float(np.abs(direct).max()))
    assert np.abs(ds["EPE_sensitivity"].values[:, :, fx]).max() > 0.0


@pytest.mark.slow
def test_bump_method_through_the_pipeline_equals_ad_for_funding(runs, tmp_path):
    """risk=bump (full reruns inside the pipeline) against risk=ad on funding spreads, which move the weights
    only: the same numbers up to the O(h^2) term (1e-6 relative)."""
    cfg_b = compose(TINY + ["risk=bump", "risk.factor_types=[FundingSpread]", "risk.profiles=false",
                            f"output.dir={tmp_path}"])
    bump = run_pipeline(cfg_b).dataset
    ad = runs[64][1].dataset
    assert bump["factor_type"].values.tolist() == ["FundingSpread"] * 8
    assert "bump" in bump.attrs["risk_method"]
    sel = [i for i in range(ad.sizes["risk_factor"]) if ad["factor_type"].values[i] == "FundingSpread"]
    scale = float(np.abs(ad["FCA"].values).max())
    np.testing.assert_allclose(bump["sensitivity"].values, ad["sensitivity"].values[:, :, sel], rtol=1e-6,
                               atol=1e-9 * scale)
