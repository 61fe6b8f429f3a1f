"""CVA and DVA side by side with ORE (open-source-risk-engine, offline, in a child process): the ORE side-by-side
portfolio (benchmarks/ore/ore_inputs.py) plus flat hazard-rate default curves for CP_A (2%) and BANK (1%), 40%
recovery (benchmarks/ore/ore_xva.py), ORE's xva analytic with cva/dva on; the engine on market=flat with
xva.bilateral=false, xva.discretisation=ore (the same unilateral formula on the same dates).

Checks: ORE's CVA/DVA are reproduced from its own per-path netting cube with the engine's weights (so the
definitions and the survival curves agree), and the engine's CVA/DVA agree with ORE's within 4 combined Monte Carlo
standard errors (independent samples; ORE's error from its netcube, the engine's streamed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("ORE") is None:
    pytest.skip("needs the open-source-risk-engine package (import ORE)", allow_module_level=True)

from benchmarks.ore import compare as cp  # noqa: E402
from benchmarks.ore import ore_inputs as oi  # noqa: E402
from benchmarks.ore import ore_xva as ox  # noqa: E402
from benchmarks.ore import run_ore as ro  # noqa: E402

pytestmark = [pytest.mark.ore, pytest.mark.slow]

from tests.test_ore_side_by_side import PATHS, SPEC  # noqa: E402  (the same book, market and model as the EE side by side)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("ore_xva")
    trades = oi.make_trades(SPEC)
    xml = oi.write_ore_inputs(work / "ore", SPEC, trades, paths=PATHS)
    ox.add_credit(work / "ore", SPEC)
    ore = ro.run_ore_isolated(xml, reports=("npv", "netcube", "xva"))
    yaml_path = oi.to_engine_portfolio(trades, work / "engine_portfolio.yaml")
    eng = cp.run_engine(SPEC, yaml_path, str(work / "engine_out"), paths=PATHS, seed=3)
    return ore, eng


def _ore_figures(ore):
    return ox.ore_figures(ore, SPEC.asof)


def _ore_report(ore, name):
    return ox.ore_report_value(ore, name, oi.NETTING_SET)


def test_ore_cva_dva_reproduced_from_its_netcube_with_the_engines_weights(runs):
    ore, _ = runs
    mine = _ore_figures(ore)
    for name in ("CVA", "DVA"):
        assert mine[name][0] == pytest.approx(_ore_report(ore, name), rel=1e-8), name


def test_engine_cva_dva_agree_with_ore_within_monte_carlo_error(runs):
    ore, eng = runs
    ds = eng.dataset
    mine = _ore_figures(ore)
    for name in ("CVA", "DVA"):
        e, se_e = float(ds[name].values[0]), float(ds[f"{name}_stderr"].values[0])
        o, se_o = _ore_report(ore, name), mine[name][1]
        z = (e - o) / np.hypot(se_e, se_o)
        print(f"{name}: engine {e:,.0f} +- {se_e:,.0f}, ORE {o:,.0f} +- {se_o:,.0f}, z = {z:+.2f}")
        assert abs(z) < 4.0, (name, e, o, se_e, se_o, z)
        assert 0 < se_e < 0.1 * abs(e)


CSA = {"margining": "two_way", "threshold_cpty": 0.0, "threshold_bank": 0.0, "mta_cpty": 0.0, "mta_bank": 0.0}


@pytest.fixture(scope="module")
def csa_runs(tmp_path_factory):
    """The same portfolio under a zero-threshold two-way CSA with a 2W margin period of risk: ORE on its close-out
    grid (CloseOutLag 2W, MporMode ActualDate, calculationType NoLag), the engine with simulation.mpor=2W."""
    import yaml

    import exposure

    work = tmp_path_factory.mktemp("ore_xva_csa")
    trades = oi.make_trades(SPEC)
    xml = oi.write_ore_inputs(work / "ore", SPEC, trades, paths=PATHS)
    ox.add_credit(work / "ore", SPEC)
    ox.add_csa(work / "ore", mpor="2W", mpor_mode="ActualDate")
    ore = ro.run_ore_isolated(xml, reports=("npv", "netcube", "xva"))
    yaml_path = Path(oi.to_engine_portfolio(trades, work / "engine_portfolio.yaml"))
    doc = yaml.safe_load(yaml_path.read_text())
    doc["netting_sets"][oi.NETTING_SET]["csa"] = CSA
    yaml_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ov = oi.engine_overrides(SPEC, str(yaml_path), str(work / "engine_out"), paths=PATHS, seed=3)
    ov = ["simulation.mpor=2W" if o == "simulation.mpor=null" else o for o in ov]
    return ore, exposure.run(exposure.compose(ov)).dataset


def test_csa_with_margin_period_of_risk_cva_dva_agree_with_ore(csa_runs):
    ore, ds = csa_runs
    mine = _ore_figures(ore)
    for name in ("CVA", "DVA"):
        assert mine[name][0] == pytest.approx(_ore_report(ore, name), rel=1e-8), name
        e, se_e = float(ds[name].values[0]), float(ds[f"{name}_stderr"].values[0])
        o, se_o = _ore_report(ore, name), mine[name][1]
        z = (e - o) / np.hypot(se_e, se_o)
        print(f"CSA, MPoR 2W, {name}: engine {e:,.1f} +- {se_e:,.1f}, ORE {o:,.1f} +- {se_o:,.1f}, z = {z:+.2f}")
        assert abs(z) < 4.0, (name, e, o, se_e, se_o, z)
