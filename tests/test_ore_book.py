"""The ORE speed benchmarks' books (benchmarks/ore/book.py): the default CSA book is issue 9's workload on both
sides (swaps, an FX forward, a European swaption; a zero-threshold CSA with a 2W margin period of risk on ORE's
close-out grid and the engine's simulation.mpor; CVA/DVA), the plain book is the earlier figures' one, and ORE
builds every trade of the CSA book (a trade ORE cannot build is left out of its run with only a logged error,
which would time a smaller book) with t0 NPVs equal to the engine's.
"""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from benchmarks.ore import book as bk


def _read(case, name):
    from pathlib import Path

    return (Path(case.ore_xml).parent / name).read_text()


def test_csa_book_is_the_issue_workload_on_both_sides(tmp_path):
    case = bk.prepare(bk.BOOKS["csa"], tmp_path, 100)
    doc = yaml.safe_load(open(next(o.split("=", 1)[1] for o in case.overrides if o.startswith("portfolio.trades="))))
    kinds = sorted(t["type"] for t in doc["trades"])
    assert kinds == ["FxForward", "Swap", "Swap", "Swap", "Swap", "Swaption"]
    assert doc["netting_sets"]["NS_ORE"]["csa"] == bk.CSA
    assert "simulation.mpor=2W" in case.overrides and "simulation.mpor=null" not in case.overrides
    assert case.valuation_dates == 80 and case.workload(100).startswith("6 trades x 100 paths x 40 dates")
    sim, xml, ns = _read(case, "simulation.xml"), _read(case, "ore.xml"), _read(case, "netting.xml")
    assert "<CloseOutLag>2W</CloseOutLag>" in sim and "<MporMode>ActualDate</MporMode>" in sim
    assert '"cva">Y' in xml and '"dva">Y' in xml and '"calculationType">NoLag' in xml
    assert "<ActiveCSAFlag>true</ActiveCSAFlag>" in ns
    assert _read(case, "portfolio.xml").count("<TradeType>Swaption</TradeType>") == 1
    assert "<Model>LGM</Model>" in _read(case, "pricingengine.xml")


def test_plain_book_is_the_earlier_figures_book(tmp_path):
    case = bk.prepare(bk.BOOKS["plain"], tmp_path, 100)
    assert [t["type"] for t in case.trades] == ["Swap"] * 5 + ["FxForward"]
    assert "simulation.mpor=null" in case.overrides and case.valuation_dates == 40
    assert "CloseOutLag" not in _read(case, "simulation.xml")
    assert "<ActiveCSAFlag>false</ActiveCSAFlag>" in _read(case, "netting.xml")
    assert "Swaption" not in _read(case, "pricingengine.xml")


@pytest.mark.ore
@pytest.mark.slow
def test_ore_builds_every_trade_of_the_csa_book_at_the_engines_t0_prices(tmp_path):
    if importlib.util.find_spec("ORE") is None:
        pytest.skip("needs the open-source-risk-engine package (import ORE)")
    import exposure
    from benchmarks.ore import run_ore as ro

    case = bk.prepare(bk.BOOKS["csa"], tmp_path, 16)
    ore = ro.run_ore_isolated(case.ore_xml, reports=("npv",))
    assert ore.errors == []
    res = exposure.run(exposure.compose(case.overrides + ["output.write=false", "xva.enabled=false"]))
    npv = ore.npv.set_index("TradeId")["NPV(Base)"]
    assert sorted(npv.index) == sorted(t["id"] for t in case.trades)
    for tid, v in npv.items():
        # swaps and the forward: the same cash flows on the same curves; the swaption: ORE's LGM grid engine at
        # its example resolution (3 sd, 10 points) against Jamshidian, 5e-4 relative (ore_config_xml.SWAPTION_GRID)
        tol = 1e-3 * abs(v) if tid.startswith("SWO") else 1e-6
        assert res.npv[tid] == pytest.approx(v, abs=tol), tid
