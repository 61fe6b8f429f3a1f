"""The set-up layer against one cotangent G (no paths): one-time cost and per-factor cost of the curve pillars / FX
spots (``setup_reverse.ReverseSetup``) and of the vol / model factors (``twin_reverse.VolReverse``, or the per-factor
tangent where a checkout has none), process CPU seconds (XLA threads included) and compilations.

    python -m benchmarks.bench_reverse_setup [--portfolio mini|gen:SWAPS,FXF,FXO,SWO|<file>] [--dates 24]
                                            [--netting-sets 10] [--every 1] [--reference] [--options-vjp]

Workload: bench_sensitivities' (market=example, model=example with the USD co-terminal calibration, grid
'<dates>x1M', risk.measures=[CVA]), G random with n_out = the netting sets. --reference: the per-factor forms
(``ReverseSetup.per_factor_remainder``, ``stage.tangent``); --options-vjp: the option twins' cotangents once by one
vjp (``TwinReverse.options_mode``). Prints one JSON line. Run it from two checkouts back to
back (PYTHONPATH=<checkout>) to compare set-up layers.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def _portfolio(spec: str, n_ns: int) -> str:
    from benchmarks.bench_e2e import resolve_portfolio, write_portfolio

    if spec.startswith("gen:"):
        n = [int(x) for x in spec[4:].split(",")]
        return write_portfolio(os.path.join(tempfile.mkdtemp(), "gen.yaml"), *n, n_netting_sets=n_ns)
    return resolve_portfolio(spec)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolio", default="mini")
    ap.add_argument("--dates", type=int, default=24)
    ap.add_argument("--netting-sets", type=int, default=10)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--reference", action="store_true")
    ap.add_argument("--options-vjp", action="store_true", help="TwinReverse.options_mode='vjp'")
    a = ap.parse_args(argv)
    import jax
    import numpy as np
    from omegaconf import OmegaConf

    import exposure
    from benchmarks.bench_e2e import CompileMonitor, compose, disable_persistent_cache
    from exposure.risk.reverse import contract
    from exposure.risk.settings import RiskSettings
    from exposure.risk.setup_market import market_tangents
    from exposure.risk.setup_reverse import ReverseSetup
    from exposure.risk.stage import factor_list, tangent
    from exposure.risk.state import path_state
    from exposure.setup import setup

    disable_persistent_cache()
    mon = CompileMonitor.get()
    cfg = compose(_portfolio(a.portfolio, a.netting_sets), 256, a.dates, 256, "float64", tempfile.mkdtemp(), csv=False)
    cfg = OmegaConf.merge(cfg, {"risk": {"method": "ad", "measures": ["CVA"]}})
    s = setup(cfg)
    S, static = path_state(cfg, s, ("CVA",))
    factors = factor_list(cfg, s, RiskSettings(measures=("CVA",)))
    rng = np.random.default_rng(3)
    G = jax.tree_util.tree_map(lambda x: rng.standard_normal((static.n_ns,) + np.shape(x)), S)
    market = market_tangents(cfg, s, ("CVA",), static.val_times)
    out = {"code": exposure.__file__, "reference": a.reference, "trades": sum(len(b.ids) for b in s.portfolio.batches),
           "n_ns": static.n_ns, "factors": len(factors)}

    def clock(key, fn):
        c0, cs0, _ = mon.snapshot()
        t = time.process_time()
        r = fn()
        c1, cs1, _ = mon.snapshot()
        out[key + "_cpu_s"] = round(time.process_time() - t, 3)
        out[key + "_compiles"] = c1 - c0
        out[key + "_compile_s"] = round(cs1 - cs0, 2)
        return r

    rev = clock("build", lambda: ReverseSetup(cfg, s, S, static, G, market, 0.1))
    vols = None
    if not a.reference:
        try:
            from exposure.risk.twin_reverse import VolReverse
        except ImportError:  # a checkout without it: the per-factor tangents
            VolReverse = None
        if VolReverse is not None:
            if a.options_vjp:
                from exposure.risk.twin_reverse import TwinReverse

                TwinReverse.options_mode = "vjp"
            vols = VolReverse(rev, G)
            clock("twins_once", rev.twin_reverse)
    else:
        rev.per_factor_remainder = True
    curve = [f for f in factors if rev.covers(f)][:: a.every]
    vol_types = ("FXVol", "EquityVol", "SwaptionVol", "HWSigma", "MeanReversion", "Correlation")
    volf = [f for f in factors if f.factor_type in vol_types][:: a.every]

    def vol_one(f):
        v = None if vols is None else vols.sensitivity(f)
        return v if v is not None else contract(G, tangent(cfg, f, S, static, s, 0.1, market))

    for name, fs, fn in (("curve", curve, rev.sensitivity), ("volmodel", volf, vol_one)):
        if not fs:
            continue
        clock(name + "_first", lambda: fn(fs[0]))
        clock(name + "_rest", lambda: [fn(f) for f in fs[1:]])
        out[name + "_n"] = len(fs)
        out[name + "_per_factor_cpu_s"] = round(out[name + "_rest_cpu_s"] / max(len(fs) - 1, 1), 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
