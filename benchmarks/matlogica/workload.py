"""The MatLogica XVA sensitivities workload, rebuilt for this engine, and its timing.

    python -m benchmarks.matlogica.workload [--paths 256] [--factor-types ...] [--out DIR]

MatLogica's published case: Hull-White one factor, 200 payer/receiver swaps in one netting set under a CSA with
threshold and MTA, 30y horizon, monthly model steps with 122 pricing times, CVA + DVA, 535 risk factors (r0,
sigma, 251 curve points, 141 + 141 survival points); they report 0.88 s on 16 threads after 8.1 s of compilation.

Here (``config``): USD only, a zero curve of 251 pillars (1M .. 240M monthly, then 21Y .. 31Y), CDS curves of
141 pillars (3M .. 35Y quarterly) for the counterparty and the bank, Hull-White a = 3%, sigma = 1% fixed (not
calibrated), 200 swaps (seeded: maturities 1..30Y, payer/receiver alternating, notionals 1..50m) in one netting
set with a two-way CSA (threshold 5m, MTA 0.5m), 122 pricing dates every 3M (the exact scheme steps from pricing
date to pricing date: no monthly sub-steps are needed for exact Gaussian transitions), CVA and DVA. Risk factors:
251 curve pillars, 141 + 141 CDS spreads, 2 recoveries, the mean reversion and sigma: 537 (MatLogica's r0 is our
first curve pillar; recoveries are extra).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import tempfile
import time

import numpy as np


def curve_tenors() -> list:
    return [f"{m}M" for m in range(1, 241)] + [f"{y}Y" for y in range(21, 32)]


def credit_tenors() -> list:
    return [f"{3 * q}M" for q in range(1, 142)]


def market(seed: int = 3) -> dict:
    ct = curve_tenors()
    t = np.array([int(x[:-1]) / (12 if x.endswith("M") else 1) for x in ct])
    zero = 0.030 + 0.010 * (1 - np.exp(-t / 5.0)) + 0.0005 * np.sin(t)
    qt = credit_tenors()
    tq = np.arange(1, 142) * 0.25
    cp = 80 + 60 * (1 - np.exp(-tq / 4.0))
    bank = 50 + 40 * (1 - np.exp(-tq / 6.0))
    return {"curves": {"USD": {"tenors": ct, "quotes": zero.round(6).tolist()}},
            "indices": {"USD-SOFR": {"currency": "USD", "tenor": "1D", "day_count": "ACT/360"}},
            "fx_spots": {}, "fx_vols": {}, "equities": {}, "swaption_vols": {},
            "credit": {"CP_M": {"tenors": qt, "spreads_bp": cp.round(3).tolist(), "recovery": 0.4},
                       "BANK": {"tenors": qt, "spreads_bp": bank.round(3).tolist(), "recovery": 0.4}},
            "funding": {"tenors": [], "borrowing_bp": [], "lending_bp": []}}


def portfolio(path: str, n: int = 200, seed: int = 11) -> str:
    rng = np.random.default_rng(seed)
    lines = ["netting_sets:", "  NS_M:", "    counterparty: CP_M",
             "    csa: {margining: two_way, threshold_cpty: 5.0e+6, threshold_bank: 5.0e+6, mta_cpty: 5.0e+5,"
             " mta_bank: 5.0e+5}", "trades:"]
    for i in range(n):
        mat = int(rng.integers(1, 31))
        notional = float(rng.integers(1, 51)) * 1e6
        rate = round(0.03 + 0.012 * rng.random(), 5)
        lines.append(f"  - {{id: SWP_{i:03d}, type: Swap, netting_set: NS_M, currency: USD, notional: {notional:.1f},"
                     f" maturity: {mat}Y, fixed_rate: {rate}, payer: {str(i % 2 == 0).lower()}, fixed_tenor: 1Y,"
                     f" float_index: USD-SOFR, float_tenor: 3M}}")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def config(out: str, paths: int, factor_types: list, method: str = "ad"):
    import exposure

    book = portfolio(os.path.join(out, "matlogica_200_swaps.yaml"))
    cfg = exposure.compose(["market=flat", "model=flat", f"portfolio.trades={book}", "portfolio.fixings=null",
                            "simulation.grid='122x3M'", f"simulation.paths={paths}", f"simulation.chunk_size={paths}",
                            f"output.dir={os.path.join(out, 'run')}", "output.csv=false", f"risk={method}",
                            "report.plots=false", "report.html=false"])
    from omegaconf import open_dict

    m = market()
    with open_dict(cfg):  # replace (not merge) the flat market's maps and the model
        for key, val in m.items():
            if isinstance(val, dict) and key != "funding":
                for k in list(cfg.market[key].keys()):
                    del cfg.market[key][k]
        for k in list(cfg.model.ir.keys()):
            del cfg.model.ir[k]
            cfg.merge_with({"market": m, "model": {"ir": {"USD": {"mean_reversion": 0.03, "volatility": [0.01]}},
                                               "correlations": []},
                        "risk": {"measures": ["CVA", "DVA"], "factor_types": factor_types}})
    return cfg


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=256)
    ap.add_argument("--factor-types", default="", help="comma list (default: all 537 factors)")
    ap.add_argument("--method", default="ad", choices=["ad", "none"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--probe", action="store_true", help="time one set-up tangent per factor type and scale")
    a = ap.parse_args(argv)
    out = a.out or tempfile.mkdtemp(prefix="xposure-matlogica-")
    os.makedirs(out, exist_ok=True)
    from exposure.pipeline import run_pipeline

    cfg = config(out, a.paths, [t for t in a.factor_types.split(",") if t], a.method)
    t = time.perf_counter()
    res = run_pipeline(cfg)
    wall = time.perf_counter() - t
    ds = res.dataset
    rec = {"workload": "matlogica-hw1f-200-swaps", "paths": a.paths, "method": a.method, "wall_s": round(wall, 2),
           "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
           "CVA": float(ds["CVA"].values[0]), "DVA": float(ds["DVA"].values[0]), "cores": os.cpu_count()}
    if "sensitivity" in ds:
        rec.update(n_factors=int(ds.sizes["risk_factor"]), risk_s=round(float(ds.attrs["risk_seconds"]), 2),
                   risk_timings=ds.attrs.get("risk_timings", ""))
    if a.probe:  # the set-up tangent of one factor of each type, to scale the set-up layer to all 537 factors
        from exposure.risk import risk_settings
        from exposure.risk.stage import factor_list, tangent
        from exposure.risk.state import path_state
        from exposure.setup import setup

        s = setup(cfg)
        S, static = path_state(cfg, s, ("CVA", "DVA"))
        fs = factor_list(cfg, s, dataclasses.replace(risk_settings(cfg), factor_types=()))
        per, count = {}, {}
        for f in fs:
            count[f.factor_type] = count.get(f.factor_type, 0) + 1
            if f.factor_type not in per:
                t = time.perf_counter()
                tangent(cfg, f, S, static, s, 0.1)
                per[f.factor_type] = time.perf_counter() - t
        rec["tangent_s_per_factor"] = {k: round(v, 3) for k, v in per.items()}
        rec["factor_counts"] = count
        rec["setup_layer_all_factors_s"] = round(sum(per[k] * count[k] for k in per), 1)
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
