"""Per-factor set-up cost of a par-quote market (market.curve_inputs) against one cotangent G (no paths), as the
risk stage takes its factors: ``ReverseSetup`` for what it covers, the per-factor tangent (``stage.tangent``)
otherwise. Process CPU seconds (XLA threads included).

    python -m benchmarks.bench_par_quotes [--portfolio tests/data/risk_portfolio.yaml|gen:SWAPS,FXF,FXO,SWO]
                                          [--netting-sets 10] [--every 1]

Workload: market=instruments (USD/EUR OIS and IBOR curves bootstrapped from 40 par quotes, GBP zero rates), the
portfolio given, grid '3M,6M,1Y,18M,2Y,3Y,4Y,5Y,7Y', factors: every par quote and FX spot (every --every-th), G
random with n_out = measures x netting sets. Run it from two checkouts back to back (PYTHONPATH=<checkout>):
a checkout without par quotes in reverse takes them all per factor. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main(argv=None) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolio", default=os.path.join(here, "tests", "data", "risk_portfolio.yaml"))
    ap.add_argument("--netting-sets", type=int, default=10)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--all", action="store_true", help="every factor type, vol/model factors by VolReverse as the "
                                                       "stage does when ReverseSetup is built")
    a = ap.parse_args(argv)
    if a.portfolio.startswith("gen:"):  # bench-1k's generator (benchmarks.bench_e2e)
        import tempfile

        from benchmarks.bench_e2e import write_portfolio

        n = [int(x) for x in a.portfolio[4:].split(",")]
        a.portfolio = write_portfolio(os.path.join(tempfile.mkdtemp(), "gen.yaml"), *n, n_netting_sets=a.netting_sets)
    import jax
    import numpy as np

    import exposure
    from exposure.api import compose
    from exposure.risk.reverse import contract
    from exposure.risk.settings import RiskSettings
    from exposure.risk.setup_market import market_tangents
    from exposure.risk.setup_reverse import ReverseSetup, reverse_covered
    from exposure.risk.stage import factor_list, tangent
    from exposure.risk.state import path_state
    from exposure.setup import setup

    cfg = compose(["market=instruments", f"portfolio.trades={a.portfolio}", "portfolio.fixings=null",
                   "simulation.grid='3M,6M,1Y,18M,2Y,3Y,4Y,5Y,7Y'", "simulation.paths=64"])
    s = setup(cfg)
    S, static = path_state(cfg, s)
    fs = [f for f in factor_list(cfg, s, RiskSettings()) if a.all
          or f.path[:3] == ("market", "curve_inputs", "curves") or f.factor_type == "FXSpot"][:: a.every]
    n_out = len(S["w"]) * static.n_ns
    rng = np.random.default_rng(3)
    G = jax.tree_util.tree_map(lambda x: rng.standard_normal((n_out,) + np.shape(x)), S)
    market = market_tangents(cfg, s, tuple(S["w"]), static.val_times)
    step = RiskSettings().setup_step
    out = {"code": exposure.__file__, "trades": sum(len(b.ids) for b in s.portfolio.batches), "factors": len(fs),
           "n_out": n_out}
    t = time.process_time()
    covered = [f for f in fs if reverse_covered(cfg, s, market, f)]
    rev = ReverseSetup(cfg, s, S, static, G, market, step) if covered else None
    vols = None
    if rev is not None and a.all:
        from exposure.risk.twin_reverse import VolReverse

        vols = VolReverse(rev, G)
    out["once_cpu_s"] = round(time.process_time() - t, 3)
    out["reverse_n"] = len(covered)

    def one(f):
        if rev is not None and rev.covers(f):
            return rev.sensitivity(f)
        v = None if vols is None else vols.sensitivity(f)
        return v if v is not None else contract(G, tangent(cfg, f, S, static, s, step, market))

    t = time.process_time()
    one(fs[0])  # the first factor's one-off work (compilations)
    out["first_cpu_s"] = round(time.process_time() - t, 3)
    t = time.process_time()
    for f in fs[1:]:
        one(f)
    out["rest_cpu_s"] = round(time.process_time() - t, 3)
    out["per_factor_cpu_s"] = round(out["rest_cpu_s"] / max(len(fs) - 1, 1), 4)
    out["total_cpu_s"] = round(out["once_cpu_s"] + out["first_cpu_s"] + out["rest_cpu_s"], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
