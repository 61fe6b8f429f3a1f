"""The risk stage on a market given as an ORE market file against the same market written in the YAML.

    python -m benchmarks.bench_ore_quotes [--paths 256] [--repeats 2]

Workload: tests/test_risk_ore_quotes.py's (tests/data/ore_risk_market.txt: USD/EUR OIS and IBOR curves from 21
par quotes, EUR/USD spot and vols, CDS of the book's names; market=instruments for GBP, swaption vols, equities;
model=example; book tests/data/risk_tiny.yaml, 2 trades x 2 netting sets, grid '6M,1Y,2Y,5Y'), risk=ad with every
factor. (a) ``run_sensitivities`` on the user's config (it reads the file in: ``ore_quotes.resolve``, labels);
(b) the same on the config already read in (the YAML equivalent): the extra work of (a) is the file read and
the labels. Wall seconds, back to back, the first repeat of each discarded (compilation). The two tables must
be equal (printed: the largest difference). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main(argv=None) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    import numpy as np

    from exposure.api import compose
    from exposure.risk.ore_quotes import resolve
    from exposure.risk.settings import RiskSettings
    from exposure.risk.stage import run_sensitivities
    from exposure.setup import setup

    market = os.path.join(here, "tests", "data", "ore_risk_market.txt")
    cfg = compose(["market=instruments", "portfolio.trades=tests/data/risk_tiny.yaml", "portfolio.fixings=null",
                   "simulation.grid='6M,1Y,2Y,5Y'", f"simulation.paths={a.paths}",
                   "~market.curve_inputs.curves.USD", "~market.curve_inputs.curves.EUR",
                   "~market.curve_inputs.curves.USD-LIBOR-3M", "~market.curve_inputs.curves.EUR-EURIBOR-6M",
                   "~market.fx_spots.EUR", "~market.fx_vols.EUR", "~market.credit.CP_A", "~market.credit.CP_E",
                   "~market.credit.BANK", f"market.curve_inputs.ore_market={market}"])
    s = setup(cfg)
    t = time.perf_counter()
    yaml_cfg, ore = resolve(cfg)
    t_resolve = time.perf_counter() - t
    seed = int(cfg.simulation.seed)
    out, ds = {"ore_file": [], "yaml": []}, {}
    for _ in range(a.repeats):
        for name, c in (("ore_file", cfg), ("yaml", yaml_cfg)):
            t = time.perf_counter()
            ds[name] = run_sensitivities(c, s, RiskSettings(), a.paths, seed, False, None, None)
            out[name].append(time.perf_counter() - t)
    diff = float(np.abs(ds["ore_file"]["sensitivity"].values - ds["yaml"]["sensitivity"].values).max())
    quoted = int(sum(1 for q in ds["ore_file"]["quote"].values if q))
    print(json.dumps({"paths": a.paths, "factors": int(ds["yaml"].sizes["risk_factor"]), "factors_with_quote": quoted,
                      "resolve_s": round(t_resolve, 4), "stage_s_ore_file": [round(x, 2) for x in out["ore_file"]],
                      "stage_s_yaml": [round(x, 2) for x in out["yaml"]], "max_abs_difference": diff}))


if __name__ == "__main__":
    main()
