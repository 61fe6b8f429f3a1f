"""The AD sensitivities' compiled programs are reusable: a second run in a fresh process compiles nothing.

Two child processes share one empty JAX persistent cache (XPOSURE_JAX_CACHE=<tmp>): the first runs
``ad_sensitivities`` on a small book (seed 1, two curve pillars), the second on the same book with another seed
and more factors of the same types (seed 2, every pillar plus credit and funding factors). The second must read
every program from the cache (0 backend compilations): a program that bakes in the seed, a factor's data or any
per-run constant (a closed-over array is an HLO constant, part of the cache key) or a program built per factor
would be compiled again there. The first must compile (the cache was empty: the count is not vacuous) and both
must request the same number of programs (a program per factor would add requests), and no more than
MAX_PROGRAMS (a program compiled per array shape would add requests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_PROGRAMS = 13  # programs (XLA compilations) of the narrow child's run on risk_tiny.yaml

CHILD = r"""
import json, sys
from exposure.api import compose
from exposure.setup import setup
from exposure.risk import RiskSettings
from exposure.risk.programs import compile_counter
from exposure.risk.stage import ad_sensitivities, factor_list

seed, wide = int(sys.argv[1]), sys.argv[2] == "wide"
cfg = compose(["portfolio.trades=tests/data/risk_tiny.yaml", "portfolio.fixings=null", "simulation.paths=64",
               "simulation.grid='6M,1Y,2Y,5Y'", f"simulation.seed={seed}"])
s = setup(cfg)
fs = factor_list(cfg, s, RiskSettings())
curve = [f for f in fs if f.factor_type == "DiscountCurve" and f.name == "USD"]
if wide:
    fs = curve + [f for f in fs if f.factor_type in ("CDSSpread", "FundingSpread", "FXSpot")][:6]
else:
    fs = curve[3:5] + [f for f in fs if f.factor_type in ("CDSSpread", "FundingSpread", "FXSpot")][:1]
with compile_counter() as c:
    out = ad_sensitivities(cfg, s, RiskSettings(measures=("CVA",)), 64, seed, False, factors=fs)
print(json.dumps({"requests": c.requests, "compiles": c.compiles, "hits": c.cache_hits, "n_factors": len(fs)}))
"""


def _child(cache: str, seed: int, mode: str) -> dict:
    env = dict(os.environ, XPOSURE_JAX_CACHE=cache, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-c", CHILD, str(seed), mode], cwd=REPO, env=env, capture_output=True,
                       text=True, check=False, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_run_in_a_fresh_process_compiles_nothing(tmp_path):
    first = _child(str(tmp_path / "cache"), 1, "narrow")
    second = _child(str(tmp_path / "cache"), 2, "wide")
    assert second["n_factors"] > first["n_factors"] + 5
    assert first["compiles"] >= 8, first  # an empty cache: the programs were compiled, the count is live
    assert second["compiles"] == 0, f"recompiled in a fresh process with the cache warm: {second} (first {first})"
    assert second["requests"] == first["requests"], (first, second)
    # every program of the run, counted: 25 before the host arrays went to the device by copies (no per-shape
    # ``jnp.asarray`` / ``broadcast_to`` program, ``programs.device_tree``); a new per-shape program fails here
    assert first["requests"] <= MAX_PROGRAMS, f"{first['requests']} programs, at most {MAX_PROGRAMS} expected: {first}"
