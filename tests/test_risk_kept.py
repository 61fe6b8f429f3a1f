"""The kept AD programs' keys (``exposure.risk.kept``) name what their traces close over.

A stored executable is looked up by its key alone (no trace): a key that missed a trade's terms or the model
would run a stale program on another book. On risk_tiny.yaml with the swap's notional changed, the reverse step's
key and the linear twins' key must change (with the grid changed, the model's and the XVA weights' Jacobian's),
while the same configuration built again (new objects, same content) gives the same keys (the cross-process check, a second run loading every program, is tests/test_risk_programs.py).
An object named only by its address cannot be keyed: ``digest`` is None and the plain jit runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exposure.api import compose
from exposure.risk import kept
from exposure.risk.reverse_ns import Plan
from exposure.risk.setup_market import market_tangents
from exposure.risk.setup_model import ModelTangent
from exposure.risk.setup_pres_tangents import PresTangents
from exposure.risk.state import path_state
from exposure.setup import setup

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "risk_tiny.yaml"


def _keys(trades: Path, grid: str = "6M,1Y,2Y,5Y") -> dict:
    cfg = compose([f"portfolio.trades={trades}", "portfolio.fixings=null", "simulation.paths=64",
                   f"simulation.grid='{grid}'"])
    s = setup(cfg)
    S, static = path_state(cfg, s, ("CVA",))
    twins = PresTangents(s, static)._linear()
    return {"step": kept.step_key(static, Plan(S, static), 64, False, ("CVA",), 0.0),
            "twins": kept.digest(twins),
            "model": kept.digest(ModelTangent(s.built.model, s.grid, static, S).layout),
            "weights": market_tangents(cfg, s, ("CVA",), static.val_times).key}


def test_keys_follow_the_book_and_repeat_for_the_same_book(tmp_path):
    other = tmp_path / "tiny.yaml"
    other.write_text(TINY.read_text().replace("notional: 2.0e+7", "notional: 2.5e+7"))
    base, again, moved = _keys(TINY), _keys(TINY), _keys(other)
    assert all(v is not None for v in base.values()), base
    assert base == again  # new objects of the same content: the same keys
    assert moved["step"] != base["step"] and moved["twins"] != base["twins"], (base, moved)
    assert moved["model"] == base["model"]  # the model does not read the trades
    assert moved["weights"] == base["weights"]  # nor do the XVA weights (the same netting sets and names)
    dates = _keys(TINY, "6M,1Y,2Y")  # the weights read the valuation times: another grid, another program
    assert dates["weights"] != base["weights"] and dates["model"] != base["model"], (base, dates)
    assert kept.digest(object()) is None  # named by its address only
    closure = lambda a: (lambda: a)  # noqa: E731
    assert kept.digest(closure(np.zeros(2))) != kept.digest(closure(np.ones(2)))  # a function by its closure too
