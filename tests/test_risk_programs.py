"""The AD sensitivities' compiled programs are reusable: a second run in a fresh process compiles nothing.

Two child processes share one empty JAX persistent cache (XPOSURE_JAX_CACHE=<tmp>): the first runs
``ad_sensitivities`` on a small book (seed 1, two curve pillars), the second on the same book with another seed
and more factors of the same types (seed 2, every pillar plus credit and funding factors). The second must read
every program from the cache (0 backend compilations): a program that bakes in the seed, a factor's data or any
per-run constant (a closed-over array is an HLO constant, part of the cache key) or a program built per factor
would be compiled again there. The first must compile (the cache was empty: the count is not vacuous) and both
must request the same number of programs but the AD run's big ones (a program per factor would add requests), and
no more than MAX_PROGRAMS (a program compiled per array shape would add requests).

The big programs (``exposure.risk.kept``: the reverse pass's step, the model arrays' jvp and cotangent, the
calibration's Jacobian, the XVA weights' and the CDS bootstrap's Jacobians, the FX / equity vol bootstraps' dv/dp;
the linear twins' backward pass is NumPy, no program) are kept as executables: the second
child loads every one of them (neither traced nor lowered, so not requested at all), and a third child with the
cache off (plain ``jax.jit``) gives the second's sensitivities and values bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_PROGRAMS = 13  # programs (XLA compilations) of the narrow child's run on risk_tiny.yaml
KEPT = {"ad_reverse_step", "ad_model_jvps", "ad_model_cotangent", "ad_calibration_jacobian",  # on risk_tiny.yaml
        "ad_weights_jacrev", "ad_cds_jacobians", "ad_vol_dv_dp"}

CHILD = r"""
import json, sys
import numpy as np
from exposure.api import compose
from exposure.setup import setup
from exposure.risk import RiskSettings
from exposure.risk.programs import compile_counter
from exposure.risk.stage import ad_sensitivities, factor_list
from exposure.simulation import programs

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
np.save(sys.argv[3], np.concatenate([out[2].reshape(-1), out[3].reshape(-1)]))  # sensitivities, values
kept = {k[0]: type(v).__name__ == "_Checked" for k, v in programs._LOADED.items() if k[0].startswith("ad_")}
print(json.dumps({"requests": c.requests, "compiles": c.compiles, "hits": c.cache_hits, "n_factors": len(fs),
                  "kept": kept}))
"""


def _child(cache: str, seed: int, mode: str, out) -> dict:
    env = dict(os.environ, XPOSURE_JAX_CACHE=cache, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-c", CHILD, str(seed), mode, str(out)], cwd=REPO, env=env,
                       capture_output=True, text=True, check=False, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_run_in_a_fresh_process_compiles_nothing(tmp_path):
    first = _child(str(tmp_path / "cache"), 1, "narrow", tmp_path / "first.npy")
    second = _child(str(tmp_path / "cache"), 2, "wide", tmp_path / "second.npy")
    assert second["n_factors"] > first["n_factors"] + 5
    assert first["compiles"] >= 8, first  # an empty cache: the programs were compiled, the count is live
    assert second["compiles"] == 0, f"recompiled in a fresh process with the cache warm: {second} (first {first})"
    assert set(first["kept"]) == KEPT and not any(first["kept"].values()), first  # compiled, then stored
    assert second["kept"] == dict.fromkeys(KEPT, True), f"a kept program was not loaded: {second}"
    assert second["requests"] + len(KEPT) == first["requests"], (first, second)
    off = _child("0", 2, "wide", tmp_path / "off.npy")  # the plain jit: the same bits
    assert off["kept"] == {}
    assert np.array_equal(np.load(tmp_path / "second.npy"), np.load(tmp_path / "off.npy"))
    # every program of the run, counted: 25 before the host arrays went to the device by copies (no per-shape
    # ``jnp.asarray`` / ``broadcast_to`` program, ``programs.device_tree``); a new per-shape program fails here
    assert first["requests"] <= MAX_PROGRAMS, f"{first['requests']} programs, at most {MAX_PROGRAMS} expected: {first}"
