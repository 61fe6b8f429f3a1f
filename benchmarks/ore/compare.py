"""ORE vs this engine on the same portfolio, market, model and grid: t0 NPVs per trade, EPE/ENE/PFE per date within
Monte Carlo error, and wall times at equal paths.

    python -m benchmarks.ore.compare                        # 50 swaps + 10 FX forwards, 40 quarterly dates
    python -m benchmarks.ore.compare --timing-paths 1000 --accuracy-paths 20000 --out benchmarks/ore/results.md

Error model. EPE: both engines' standard errors (the engine's EE_stderr, ORE's recomputed from its netcube) are
independent, so z = (EPE_engine - EPE_ore) / sqrt(se_engine^2 + se_ore^2). PFE: the engine's PFE is recomputed from
its cube with ORE's definition (quantile of the DEFLATED value X/N, nearest rank floor(q (n-1) + 1/2), floored at 0),
with a distribution-free one-sigma error from the order statistics at ranks n q -+ sqrt(n q (1-q)) on both sides.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.ore import ore_inputs as oi
from benchmarks.ore import ore_xva as ox
from benchmarks.ore import run_ore as ro


@dataclasses.dataclass
class EngineRun:
    wall_s: float
    cpu_s: float  # process CPU time of exposure.run() (all threads)
    dataset: object
    npv: dict
    dates: np.ndarray  # (K,) incl. t0
    deflated: np.ndarray | None  # (K, n_paths) X / N of the netting set, from the cube


def run_engine(spec: oi.SideBySide, portfolio_yaml: str, out_dir: str, paths: int | None = None,
               seed: int | None = None, store_cube: bool = True) -> EngineRun:
    import exposure

    cfg = exposure.compose(oi.engine_overrides(spec, portfolio_yaml, out_dir, paths=paths, seed=seed,
                                               store_cube=store_cube))
    c0, t0 = time.process_time(), time.perf_counter()
    res = exposure.run(cfg)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ds = res.dataset
    defl = None
    if "cube_exposure" in ds:
        X = np.asarray(ds["cube_exposure"].values[0], dtype=np.float64)  # (K, P), the only netting set
        N = np.asarray(ds["cube_numeraire"].values, dtype=np.float64)
        defl = X / N
    return EngineRun(wall, cpu, ds, dict(res.npv), ds["date"].values, defl)


def npv_table(ore: ro.OreRun, eng: EngineRun) -> pd.DataFrame:
    o = ore.npv.set_index("TradeId")["NPV(Base)"]
    e = pd.Series(eng.npv, name="engine")
    t = pd.DataFrame({"ore": o, "engine": e}).dropna()
    t["diff"] = t["engine"] - t["ore"]
    return t


def profile_table(ore: ro.OreRun, eng: EngineRun, q: float) -> pd.DataFrame:
    """Per date: EPE, ENE, PFE of both with errors and z-scores (dates must coincide)."""
    prof = ore.profile
    odates = pd.to_datetime(prof["Date"]).to_numpy(dtype="datetime64[ns]")
    edates = np.asarray(eng.dates, dtype="datetime64[ns]")
    if len(odates) != len(edates) or np.any(odates != edates):
        raise ValueError(f"the engines' dates differ:\nORE    {odates}\nengine {edates}")
    _, v = ore.netcube()
    st = ro.ore_statistics(v, q)
    ds = eng.dataset
    out = pd.DataFrame({
        "date": odates, "time": ds["time"].values,
        "EPE_ore": prof["EPE"].to_numpy(float), "EPE_ore_se": st["EE_stderr"],
        "EPE_eng": ds["EPE"].values[0], "EPE_eng_se": ds["EE_stderr"].values[0],
        "ENE_ore": prof["ENE"].to_numpy(float), "ENE_eng": ds["ENE"].values[0],
        "PFE_ore": prof["PFE"].to_numpy(float), "PFE_ore_se": st["PFE_se"],
    })
    se = np.hypot(out["EPE_ore_se"], out["EPE_eng_se"])
    out["EPE_z"] = np.where(se > 0, (out["EPE_eng"] - out["EPE_ore"]) / np.where(se > 0, se, 1.0), 0.0)
    out.loc[0, "EPE_z"] = 0.0  # t0: no Monte Carlo (both max(NPV, 0); compared exactly in the NPV table)
    if eng.deflated is not None:
        out["PFE_eng"] = ro.quantile_ore(eng.deflated, q)
        out["PFE_eng_se"] = ro.quantile_se(eng.deflated, q)
        pse = np.hypot(out["PFE_ore_se"], out["PFE_eng_se"])
        out["PFE_z"] = np.where(pse > 0, (out["PFE_eng"] - out["PFE_ore"]) / np.where(pse > 0, pse, 1.0), 0.0)
        # t0: both are max(NPV, 0) exactly
        out.loc[0, "PFE_z"] = 0.0
    qi = int(np.argmin(np.abs(ds["quantile"].values - q)))
    out["PFE_eng_undiscounted"] = ds["PFE"].values[0, :, qi]
    return out


def side_by_side(spec: oi.SideBySide, workdir, ore_paths: int, engine_paths: int, ore_seed: int | None = None,
                 engine_seed: int | None = None) -> dict:
    """Write both inputs, run ORE then the engine; returns {'ore', 'engine', 'npv', 'profile', 'trades'}."""
    workdir = Path(workdir)
    trades = oi.make_trades(spec)
    ore_xml = oi.write_ore_inputs(workdir / "ore", spec, trades, paths=ore_paths, seed=ore_seed)
    ox.add_credit(workdir / "ore", spec)  # CVA/DVA too (ore_xva.py)
    yaml_path = oi.to_engine_portfolio(trades, workdir / "engine_portfolio.yaml")
    ore = ro.run_ore(ore_xml, reports=("npv", "curves", "netcube", "xva"))
    eng = run_engine(spec, yaml_path, str(workdir / "engine_out"), paths=engine_paths, seed=engine_seed)
    return {"ore": ore, "engine": eng, "npv": npv_table(ore, eng), "profile": profile_table(ore, eng, spec.quantile),
            "trades": trades, "xva": ox.xva_table(ore, eng.dataset, spec.asof)}


def timing(spec: oi.SideBySide, workdir, paths: int, repeats: int = 2) -> dict:
    """Times at equal paths (wall and process CPU, both engines in this process, one after the other): ORE's
    OREApp.run() (``spec.ore_threads`` threads; the best of ``repeats``), the engine's exposure.run() cold (the first
    call in the process: tracing and XLA compilation included) and warm (the best of ``repeats`` further calls).
    Other load on the machine inflates wall times, not CPU times; ``load_avg`` is the 1-minute load before the runs."""
    workdir = Path(workdir)
    trades = oi.make_trades(spec)
    ore_xml = oi.write_ore_inputs(workdir / "ore_timing", spec, trades, paths=paths)
    load = os.getloadavg()[0]
    ores = [ro.run_ore(ore_xml, reports=()) for _ in range(max(1, repeats))]
    yaml_path = oi.to_engine_portfolio(trades, workdir / "engine_portfolio.yaml")
    engs = [run_engine(spec, yaml_path, str(workdir / "engine_timing"), paths=paths, store_cube=False)
            for _ in range(1 + repeats)]
    o = min(ores, key=lambda r: r.wall_s)
    warm = min(engs[1:], key=lambda r: r.wall_s)
    return {"paths": paths, "dates": len(spec.grid_dates()), "trades": len(trades), "ore_threads": spec.ore_threads,
            "cores": os.cpu_count(), "load_avg_before": load,
            "ore_wall_s": o.wall_s, "ore_cpu_s": o.cpu_s, "ore_wall_all_s": [r.wall_s for r in ores],
            "engine_cold_wall_s": engs[0].wall_s, "engine_cold_cpu_s": engs[0].cpu_s,
            "engine_warm_wall_s": warm.wall_s, "engine_warm_cpu_s": warm.cpu_s,
            "engine_warm_wall_all_s": [r.wall_s for r in engs[1:]],
            "wall_ratio_ore_over_engine_cold": o.wall_s / engs[0].wall_s,
            "wall_ratio_ore_over_engine_warm": o.wall_s / warm.wall_s,
            "cpu_ratio_ore_over_engine_warm": o.cpu_s / warm.cpu_s}


def _fmt_profile(p: pd.DataFrame) -> str:
    cols = ["date", "EPE_ore", "EPE_ore_se", "EPE_eng", "EPE_eng_se", "EPE_z", "PFE_ore", "PFE_eng", "PFE_z",
            "PFE_eng_undiscounted"]
    cols = [c for c in cols if c in p]
    q = p[cols].copy()
    q["date"] = pd.to_datetime(q["date"]).dt.date
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in q.iterrows():
        lines.append("| " + " | ".join(str(r[c]) if c == "date" else (f"{r[c]:.2f}" if c.endswith("_z")
                                       else f"{r[c]:,.0f}") for c in cols) + " |")
    return "\n".join(lines)


_LAST_SUMMARY: dict = {}


def suite_main(argv=None) -> dict:
    """Entry point of the benchmark suite (``benchmarks.run``): the same run, returning its record."""
    import importlib.util

    if importlib.util.find_spec("ORE") is None:
        return {"skipped": True, "error": "open-source-risk-engine is not installed (pip install '.[ore]')"}
    main(argv)
    rec = dict(_LAST_SUMMARY)
    t = rec.get("timing") or {}
    if t:
        rec["tuple"] = f"{t['trades']} trades x {t['paths']} paths x {t['dates']} dates x 3 factors (timing)"
        rec["cold_s"], rec["warm_s"] = t["engine_cold_wall_s"], t["engine_warm_wall_s"]
        rec["warm_repeats"] = len(t["engine_warm_wall_all_s"])
        rec["path_dates_per_s"] = t["paths"] * t["dates"] / t["engine_warm_wall_s"]
        rec["trade_path_date_valuations_per_s"] = t["trades"] * t["paths"] * t["dates"] / t["engine_warm_wall_s"]
    from benchmarks.common import hardware

    rec["hardware"] = hardware()
    rec["precision"] = "float64"
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--swaps", type=int, default=50)
    ap.add_argument("--fx", type=int, default=10)
    ap.add_argument("--dates", type=int, default=40)
    ap.add_argument("--grid-step", type=int, default=3, help="grid step in months (6: no coupon is mid-period)")
    ap.add_argument("--timing-paths", type=int, default=1000)
    ap.add_argument("--accuracy-paths", type=int, default=10000, help="ORE paths of the accuracy run")
    ap.add_argument("--engine-paths", type=int, default=None, help="engine paths of the accuracy run (default: same)")
    ap.add_argument("--ore-threads", type=int, default=1)
    ap.add_argument("--rho", action="store_true", help="non-zero correlations IR/IR and IR/FX")
    ap.add_argument("--swap-currencies", default="USD,EUR", help="e.g. USD: every fixing on a grid date")
    ap.add_argument("--ore-seed", type=int, default=None)
    ap.add_argument("--workdir", default="runs/ore_side_by_side")
    ap.add_argument("--out", default=None, help="write a markdown summary here")
    args = ap.parse_args(argv)
    corr = ((("IR:USD", "IR:EUR", 0.3), ("IR:USD", "FX:EUR", -0.2), ("IR:EUR", "FX:EUR", 0.25)) if args.rho else ())
    spec = oi.SideBySide(n_swaps=args.swaps, n_fx=args.fx, grid_points=args.dates, grid_step_months=args.grid_step,
                         ore_threads=args.ore_threads,
                         correlations=corr, swap_currencies=tuple(args.swap_currencies.split(",")))
    t = timing(spec, args.workdir, args.timing_paths) if args.timing_paths else None
    summary = {"timing": t}
    p = None
    if args.accuracy_paths:
        r = side_by_side(spec, args.workdir, args.accuracy_paths, args.engine_paths or args.accuracy_paths,
                         ore_seed=args.ore_seed)
        p = r["profile"]
        p.to_csv(Path(args.workdir) / "profile.csv", index=False)
        live = p.iloc[1:]
        live = live[live["EPE_ore"] > 0]
        summary.update({
            "ore_paths": args.accuracy_paths, "engine_paths": args.engine_paths or args.accuracy_paths,
            "ore_accuracy_run_s": r["ore"].wall_s, "engine_accuracy_run_s": r["engine"].wall_s,
            "max_abs_npv_diff": float(r["npv"]["diff"].abs().max()),
            "max_abs_EPE_z": float(live["EPE_z"].abs().max()), "max_abs_PFE_z": float(live["PFE_z"].abs().max()),
            "rms_EPE_z": float(np.sqrt((live["EPE_z"] ** 2).mean())),
            "rms_PFE_z": float(np.sqrt((live["PFE_z"] ** 2).mean())),
            "EPE_area_ratio_engine_over_ore": float(live["EPE_eng"].sum() / live["EPE_ore"].sum()),
            "ENE_area_ratio_engine_over_ore": float(live["ENE_eng"].sum() / live["ENE_ore"].sum()),
            "PFE_area_ratio_engine_over_ore": float(live["PFE_eng"].sum() / live["PFE_ore"].sum()),
            "xva": r["xva"].to_dict(orient="records"),
        })
    _LAST_SUMMARY.clear()
    _LAST_SUMMARY.update(summary)
    print(json.dumps(summary, indent=2))
    if p is not None:
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print(p.to_string())
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write(f"# ORE side by side ({args.swaps} swaps + {args.fx} FX forwards, {args.dates} x "
                     f"{args.grid_step}M dates, correlations {'on' if args.rho else 'off'})\n\n```json\n"
                     f"{json.dumps(summary, indent=2)}\n```\n" + (f"\n{_fmt_profile(p)}\n" if p is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
