"""Wrong-way CVA with a stochastic default intensity through the whole chain (xva.wwr.model=stochastic_intensity):
a 5Y payer swap (its exposure rises with USD rates) facing CP_A, whose Gaussian intensity is correlated with
USD rates by rho (model=flat_wwr), and a copy facing BANK (deterministic curve;
the bank's own curve serves as a second counterparty's).

    rho = 0:    CVA = CVA_independent within 4 SE of their difference (same paths), and CVA within 4 SE of
                the closed form 0.6 sum_j (S(t_{j-1}) - S(t_j)) Swaption_j (QuantLib Jamshidian, the payer
                swaption on the remaining swap at each reset; exposure dates at the resets)
    rho > 0:    wrong way: CVA > CVA_independent by > 4 SE;  rho < 0: right way, below it
    monotone:   CVA(-0.5) < CVA(0) < CVA(0.5), each gap > 4 SE of the difference of the two runs
    BANK:       CVA = CVA_independent = the deterministic-curve figure, exactly

The chunk-size invariance of the per-path weighted sums and the first-to-default weights are checked on the
aggregator and the weights directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import exposure
from exposure.errors import ConfigError
from exposure.market.schedule import make_schedule
from tests.test_xva_closed_forms import ASOF, LGD, _ql_swaption

H_A = 0.02  # conf/market/flat.yaml: CP_A flat hazard
RHOS = (-0.5, 0.0, 0.5)
PATHS = 3000
END = ASOF.replace(year=ASOF.year + 5)
DATES = list(make_schedule(ASOF, END, "1Y", convention="modified_following").dates)


def _swap(tid, ns):
    return {"id": tid, "type": "Swap", "currency": "USD", "notional": 1.0, "start": ASOF.isoformat(),
            "maturity": END.isoformat(), "fixed_rate": 0.03, "payer": True, "fixed_tenor": "1Y",
            "fixed_day_count": "ACT/365F", "float_tenor": "1Y", "float_day_count": "ACT/365F", "netting_set": ns}


def _config(tmp, rho, extra=(), paths=PATHS):
    pf = tmp / "portfolio.yaml"
    pf.write_text(yaml.safe_dump({"netting_sets": {"NS_A": {"counterparty": "CP_A"}, "NS_B": {"counterparty": "BANK"}},
                                  "trades": [_swap("PAY_A", "NS_A"), _swap("PAY_B", "NS_B")]}))
    grid = ",".join(d.isoformat() for d in DATES[1:-1])
    return exposure.compose([
        "market=flat", "model=flat_wwr", f"portfolio.trades={pf}", "portfolio.fixings=null",
        f"simulation.paths={paths}", f"output.dir={tmp / 'out'}", "output.csv=false", f"simulation.grid='{grid}'",
        "model.credit.CP_A.volatility=[0.01]",
        f"model.correlations=[{{a:'IR:USD',b:'CR:CP_A',rho:{rho}}}]", "xva.wwr.model=stochastic_intensity", *extra])


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    out = {}
    for rho in RHOS:  # rho = 0.5 keeps its cube (states included) for the re-aggregation test
        res = exposure.run(_config(tmp_path_factory.mktemp(f"rho{rho}"), rho,
                                   ["output.store_cube=true"] if rho == 0.5 else []))
        out[rho] = (res.dataset, res.out_dir)
    return out


@pytest.fixture(scope="module")
def runs(run_dirs):
    return {rho: ds for rho, (ds, _) in run_dirs.items()}


def _get(ds, name, ns="NS_A"):
    j = list(ds["netting_set"].values).index(ns)
    return float(ds[name].values[j]), float(ds[f"{name}_stderr"].values[j])


def test_zero_correlation_equals_the_independent_cva_and_the_closed_form(runs):
    ds = runs[0.0]
    eff, se = _get(ds, "CVA_WWR_effect")
    assert abs(eff) < 4 * se and se > 0, (eff, se)
    t = ds["time"].values
    epe = np.array([_ql_swaption(DATES[k:], 0.03, True) for k in range(1, len(DATES) - 1)])
    ref = LGD * np.sum(-np.diff(np.exp(-H_A * t)) * epe)
    cva, se_c = _get(ds, "CVA")
    assert abs(cva - ref) < 4 * se_c and se_c < 0.05 * ref, (cva, ref, se_c)


def test_cva_rises_with_the_rate_intensity_correlation(runs):
    eff = {r: _get(runs[r], "CVA_WWR_effect") for r in RHOS}
    assert eff[0.5][0] > 4 * eff[0.5][1] and eff[-0.5][0] < -4 * eff[-0.5][1], eff
    cva = {r: _get(runs[r], "CVA") for r in RHOS}
    for lo, hi in ((-0.5, 0.0), (0.0, 0.5)):
        gap = cva[hi][0] - cva[lo][0]
        assert gap > 4 * np.hypot(cva[hi][1], cva[lo][1]), (lo, hi, cva)


def test_deterministic_names_keep_their_curve_and_the_contract_holds(runs):
    ds = runs[0.5]
    j = list(ds["netting_set"].values).index("NS_B")
    w = 0.6 * -np.diff(np.exp(-0.01 * ds["time"].values))
    assert float(ds["CVA"].values[j]) == float(ds["CVA_independent"].values[j])
    assert float(ds["CVA_WWR_effect"].values[j]) == 0.0 and float(ds["CVA_WWR_effect_stderr"].values[j]) == 0.0
    assert float(ds["CVA"].values[j]) == pytest.approx(np.sum(w * ds["EPE"].values[j, 1:]), rel=1e-12)
    assert float(ds["CVA_total"]) == pytest.approx(float(ds["CVA"].sum()), rel=1e-14)
    assert "CP_A" in ds.attrs["xva_wwr"] and "BANK" not in ds.attrs["xva_wwr"]
    assert "stochastic_intensity" in ds.attrs["xva_settings"]
    assert np.all(np.isfinite(ds["CVA_stderr"].values))


def test_wwr_config_choices_are_checked():
    from exposure.xva.settings import xva_settings

    cfg = exposure.compose(["market=flat", "model=flat", "xva.wwr.model=stochastic_intensity"])
    with pytest.raises(ConfigError, match="xva.wwr.model"):
        xva_settings(cfg, ASOF)
    cfg = exposure.compose(["market=flat", "model=flat", "xva.wwr.model=hull_white_2012"])
    with pytest.raises(ConfigError, match="xva.wwr.b"):
        xva_settings(cfg, ASOF)
    s = xva_settings(exposure.compose(["xva.wwr_b=0.5"]), ASOF)  # the older key still selects Hull-White 2012
    assert (s.wwr_model, s.wwr_b) == ("hull_white_2012", 0.5)
    s = xva_settings(exposure.compose(["market=flat", "model=flat_wwr", "xva.wwr.model=stochastic_intensity"]), ASOF)
    assert s.wwr_names == ("CP_A",) and s.wwr_b is None


def _weights(bilateral, discretisation="ore", vol=0.01):
    from exposure.market.snapshot import build_market
    from exposure.models.build import build_model
    from exposure.xva.settings import xva_settings
    from exposure.xva.stochastic_cva import stochastic_cva_weights

    cfg = exposure.compose(["market=flat", "model=flat_wwr", "xva.wwr.model=stochastic_intensity",
                            f"xva.bilateral={str(bilateral).lower()}", f"xva.discretisation={discretisation}",
                            f"model.credit.CP_A.volatility=[{vol}]"])
    market = build_market(cfg.market)
    model = build_model(market, cfg.model, calibrate=False).model
    s = xva_settings(cfg, market.asof)
    times = np.array([0.0, 0.5, 1.0, 2.0, 3.0, 5.0])
    return model, market, s, times, stochastic_cva_weights(s, model, market.credit, "BANK", ["CP_A", "BANK"], times)


@pytest.mark.parametrize("bilateral,discretisation", [(False, "ore"), (True, "midpoint")])
def test_zero_vol_weights_are_the_deterministic_weights(bilateral, discretisation):
    """sigma = 0: S_c on every path is the curve, so the per-path weights are ``xva_weights``' (first to default:
    the per-path piecewise-flat formula is the exact one of the deterministic curves)."""
    from exposure.xva.adjustments import xva_weights

    model, market, s, times, sw = _weights(bilateral, discretisation, vol=0.0)
    states = np.zeros((times.size, model.dim, 3))
    rows, M = sw(states)["cva_survival"]
    w = xva_weights(s, market.credit, "BANK", ["A", "B"], ["CP_A", "BANK"], times, np.ones_like(times)).cva
    assert list(rows) == [0]  # BANK has no intensity: its weights stay on the date weights
    np.testing.assert_allclose(M[0], np.repeat(w[0][:, None], 3, axis=1), rtol=1e-12)


def test_streamed_wwr_sums_do_not_depend_on_the_chunk_size():
    """The aggregator's per-path weighted sums (CVA, CVA_independent, CVA_WWR_effect) are bit-identical for
    chunks of 600, 250 and 97 paths."""
    from exposure.aggregation.measures import ExposureAggregator
    from exposure.portfolio.netting import NettingSet
    from exposure.simulation.paths import Discretisation, PathGenerator
    from exposure.xva.stochastic_cva import functional_spec

    model, market, s, times, sw = _weights(False)

    class _G:
        pass

    _G.times = times[1:]
    Y = PathGenerator(Discretisation.build(model, _G), 600, 600, seed=3).all_states()
    V = np.stack([100.0 * Y[:, 0, :], -50.0 * Y[:, 0, :] + 0.1], axis=1)  # (K, 2, P)
    N = np.exp(0.03 * times)[:, None] * np.ones((1, 600))
    w = np.array([0.6 * np.r_[0, -np.diff(np.exp(-0.02 * times))], np.zeros(times.size)])
    out = {}
    for chunk in (600, 250, 97):
        agg = ExposureAggregator([NettingSet("A", "CP_A"), NettingSet("B", "BANK")], 600, times, quantiles=[],
                                 path_functionals=functional_spec(w, sw), path_weights=sw)
        for a in range(0, 600, chunk):
            b = min(600, a + chunk)
            agg.add_chunk(a, b, V[..., a:b], N[:, a:b], states=Y[..., a:b])
        out[chunk] = agg.finalize().functionals
    for chunk in (250, 97):
        for name in ("CVA", "CVA_independent", "CVA_WWR_effect"):
            for part in ("entity", "total"):
                assert np.array_equal(out[600][name][part], out[chunk][name][part]), (chunk, name, part)
    assert abs(out[600]["CVA_WWR_effect"]["entity"][0][0]) > 0  # the sums see the path survival


def test_reaggregation_replays_the_stored_credit_states(run_dirs, tmp_path):
    """`exposure aggregate` on the stored run (values and states) gives the same CVA bits; with a new CP_A
    hazard the path survival is refitted to it: CVA_independent follows the new curve's weights exactly and the
    wrong-way effect stays positive."""
    import exposure.api

    ds, run_dir = run_dirs[0.5]
    again = exposure.api.aggregate(run_dir, [f"output.dir={tmp_path / 'a'}"]).dataset
    for v in ("CVA", "CVA_stderr", "CVA_independent", "CVA_WWR_effect", "CVA_WWR_effect_stderr"):
        assert np.array_equal(ds[v].values, again[v].values), v
    moved = exposure.api.aggregate(run_dir, [f"output.dir={tmp_path / 'b'}",
                                             "market.credit.CP_A.flat_hazard=0.04"]).dataset
    w = 0.6 * -np.diff(np.exp(-0.04 * moved["time"].values))
    assert float(moved["CVA_independent"].values[0]) == pytest.approx(np.sum(w * moved["EPE"].values[0, 1:]), rel=1e-12)
    eff, se = _get(moved, "CVA_WWR_effect")
    assert eff > 4 * se



def test_whole_run_is_bitwise_independent_of_chunk_size(tmp_path):
    """The pipeline with the credit states (first to default, midpoint rule): every float variable of the
    results is the same bits for chunks of 600 and 97 paths."""
    out = {}
    for chunk in (600, 97):
        (tmp_path / str(chunk)).mkdir()
        extra = [f"simulation.chunk_size={chunk}", "xva.discretisation=midpoint", "xva.bilateral=true"]
        out[chunk] = exposure.run(_config(tmp_path / str(chunk), 0.5, extra, paths=600)).dataset
    assert float(out[600]["CVA_WWR_effect"].values[0]) > 0
    for v in out[600].data_vars:
        if np.issubdtype(out[600][v].dtype, np.floating):
            assert np.array_equal(out[600][v].values, out[97][v].values, equal_nan=True), v


def test_trade_allocations_add_up_to_the_wrong_way_cva(tmp_path):
    """With trade-level output the allocated CVA of a stochastic-intensity netting set adds up to its
    wrong-way CVA (not to CVA_independent)."""
    ds = exposure.run(_config(tmp_path, 0.5, ["output.trade_level=true"], paths=256)).dataset
    j = int(np.flatnonzero(ds["CVA_WWR_effect"].values != 0)[0])
    ns = str(ds["netting_set"].values[j])
    mine = np.asarray(ds["trade_netting_set"].values).astype(str) == ns
    assert abs(float(ds["CVA"].values[j]) - float(ds["CVA_independent"].values[j])) > 1e-9 * abs(float(ds["CVA"].values[j]))
    assert float(ds["AllocatedCVA"].values[mine].sum()) == pytest.approx(float(ds["CVA"].values[j]), rel=1e-12)
