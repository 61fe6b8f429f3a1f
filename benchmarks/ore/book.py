"""The books of the ORE speed benchmarks (``fresh.py``, ``warm.py``): both engines' inputs from one call, and a
check that both sides compute the same thing.

    python -m benchmarks.ore.book --check [--book csa] [--paths 10000]

``csa`` (the default; issue 9's workload): 4 swaps and 1 EUR/USD FX forward (``make_trades``, the side by side's
seeded USD/EUR swaps) and 1 European physical payer swaption (``ore_case.make_swaption``: USD 2Y x 5Y, ATM, priced
by ORE's LGM grid engine with the simulation's Hull-White parameters, by this engine with Jamshidian), in one
netting set with a zero-threshold two-way CSA and a 2W margin period of risk: ORE values on its close-out grid
(``CloseOutLag 2W``, ``MporMode ActualDate``, xva ``calculationType NoLag``), this engine with
``simulation.mpor=2W``; CVA and DVA on both sides (flat hazard rates CP_A 2%, BANK 1%, recovery 40%: ORE's xva
analytic ``cva``/``dva``, this engine's xva stage, on by default). 40 quarterly dates plus 40 close-out dates.

``plain`` (the book of the earlier figures, for continuity): 5 swaps and 1 FX forward, no CSA, no close-out grid;
ORE computes exposures only (and writes its netcube, as the earlier figures did), this engine its default run.

``--check`` runs both sides once with independent random numbers (ORE's per-path netcube kept) and prints the
t0 NPVs per trade, the EPE per date with z = (engine - ORE) / sqrt(se_engine^2 + se_ORE^2) (ORE's error from its
netcube, the engine's ``EE_stderr``) and CVA/DVA with their z (``ore_xva.xva_table``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from benchmarks.ore import ore_inputs as oi
from benchmarks.ore import ore_xva as ox

# tests/test_ore_xva.py's CSA: zero thresholds and MTAs, two-way (ORE: ore_xva.csa_netting_xml)
CSA = {"margining": "two_way", "threshold_cpty": 0.0, "threshold_bank": 0.0, "mta_cpty": 0.0, "mta_bank": 0.0}


@dataclasses.dataclass(frozen=True)
class Book:
    name: str
    swaps: int
    fx: int
    swaptions: int
    mpor: str | None  # None: no CSA, no close-out grid, no CVA/DVA on ORE's side
    ore_net_cube: bool  # ORE writes netcube.csv in the timed runs (the plain book's earlier figures did)


BOOKS = {"csa": Book("csa", 4, 1, 1, "2W", False), "plain": Book("plain", 5, 1, 0, None, True)}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--book", choices=list(BOOKS), default="csa",
                    help="csa: issue 9's 6-trade CSA book with a swaption, MPoR and CVA/DVA; plain: 5 swaps + 1 FX "
                         "forward, no CSA (the earlier figures)")
    ap.add_argument("--swaps", type=int, default=None, help="default: the book's")
    ap.add_argument("--fx", type=int, default=None, help="default: the book's")
    ap.add_argument("--swaptions", type=int, default=None, help="default: the book's")
    ap.add_argument("--mpor", default=None, help="margin period of risk of the CSA (default: the book's); 'none': "
                                                 "no CSA, no close-out grid, no CVA/DVA on ORE's side")
    ap.add_argument("--dates", type=int, default=40)


def from_arguments(a) -> Book:
    b = BOOKS[a.book]
    mpor = b.mpor if a.mpor is None else (None if a.mpor.lower() == "none" else a.mpor)
    return dataclasses.replace(b, swaps=b.swaps if a.swaps is None else a.swaps, fx=b.fx if a.fx is None else a.fx,
                               swaptions=b.swaptions if a.swaptions is None else a.swaptions, mpor=mpor)


@dataclasses.dataclass(frozen=True)
class Case:
    book: Book
    spec: oi.SideBySide
    trades: list
    ore_xml: str
    overrides: list  # Hydra overrides of the engine's run

    @property
    def valuation_dates(self) -> int:
        """Simulated dates per path: the grid plus, with a margin period of risk, one close-out date per date."""
        n = len(self.spec.grid_dates())
        return 2 * n if self.book.mpor else n

    def workload(self, paths: int) -> str:
        return (f"{len(self.trades)} trades x {paths:,} paths x {len(self.spec.grid_dates())} dates"
                f"{' (+ as many close-out dates)' if self.book.mpor else ''} x 3 factors")


def prepare(book: Book, work, paths: int, dates: int = 40, engine_seed: int | None = None,
            ore_seed: int | None = None, net_cube: bool | None = None, store_cube: bool = False,
            grid_step: int = 3) -> Case:
    """Write ORE's input folder (``work/ore_<paths>``) and the engine's portfolio (``work/engine_portfolio.yaml``)
    for ``book`` at ``paths``; return them with the engine's overrides (results to ``work/engine_<paths>``)."""
    work = Path(work)
    spec = oi.SideBySide(n_swaps=book.swaps, n_fx=book.fx, n_swaptions=book.swaptions, grid_points=dates,
                         grid_step_months=grid_step, paths=paths)
    trades = oi.make_trades(spec)
    folder = work / f"ore_{paths}"
    ore_xml = oi.write_ore_inputs(folder, spec, trades, paths=paths, seed=ore_seed,
                                  net_cube=book.ore_net_cube if net_cube is None else net_cube)
    if book.mpor:
        ox.add_credit(folder, spec)
        ox.add_csa(folder, mpor=book.mpor, mpor_mode="ActualDate")
    yaml_path = oi.to_engine_portfolio(trades, work / "engine_portfolio.yaml", csa=CSA if book.mpor else None)
    ov = oi.engine_overrides(spec, yaml_path, str(work / f"engine_{paths}"), paths=paths, seed=engine_seed,
                             store_cube=store_cube)
    if book.mpor:
        ov = [f"simulation.mpor={book.mpor}" if o == "simulation.mpor=null" else o for o in ov]
    return Case(book, spec, trades, ore_xml, ov)


def check(book: Book, paths: int, work, dates: int = 40, grid_step: int = 3) -> dict:
    """Both sides once at ``paths`` (independent samples); t0 NPVs, EPE per date and CVA/DVA with their z."""
    import numpy as np

    import exposure
    from benchmarks.ore import run_ore as ro

    case = prepare(book, work, paths, dates, engine_seed=7, net_cube=True, grid_step=grid_step)
    ore = ro.run_ore_isolated(case.ore_xml, reports=("npv", "netcube", "xva"))
    res = exposure.run(exposure.compose(case.overrides + ["output.write=false"]))
    ds = res.dataset
    npv = ore.npv.set_index("TradeId")["NPV(Base)"]
    npv_diff = {t: float(res.npv[t] - npv[t]) for t in npv.index}
    odates, v = ore.netcube()
    st = ro.ore_statistics(v, case.spec.quantile)
    edates = np.asarray(ds["date"].values, dtype="datetime64[ns]")
    if len(edates) != len(odates) or np.any(edates != odates):
        raise ValueError(f"the sides' dates differ:\nORE    {odates}\nengine {edates}")
    epe_e, se_e = ds["EPE"].values[0][1:], ds["EE_stderr"].values[0][1:]
    epe_o, se_o = st["EPE"][1:], st["EE_stderr"][1:]
    live = (epe_o > 0) & (epe_e > 0)
    z = (epe_e - epe_o)[live] / np.hypot(se_e, se_o)[live]
    xva = ox.xva_table(ore, ds, case.spec.asof)
    if not book.mpor:  # no default curves in ORE's run: its CVA/DVA from its netcube with the engine's weights
        xva["ore"] = xva["ore_from_netcube"]
        xva["z"] = (xva["engine"] - xva["ore"]) / np.hypot(xva["engine_se"], xva["ore_se"])
    rec = {"book": book.name, "workload": case.workload(paths), "paths_each": paths,
           "t0_npv_engine_minus_ore": npv_diff,
           "EPE_max_abs_z": float(np.abs(z).max()), "EPE_rms_z": float(np.sqrt((z ** 2).mean())),
           "EPE_mean_z": float(z.mean()), "EPE_area_engine_over_ore": float(epe_e[live].sum() / epe_o[live].sum()),
           "EPE_rows": [[str(d)[:10], round(float(a), 1), round(float(b), 1), round(float(c), 1), round(float(e), 1)]
                        for d, a, b, c, e in zip(odates[1:], epe_e, se_e, epe_o, se_o)],
           "xva": xva.to_dict(orient="records")}
    return rec


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--check", action="store_true", help="run both sides once and compare (module docstring)")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--grid-step", type=int, default=3, help="months between dates")
    a = ap.parse_args(argv)
    if not a.check:
        ap.error("nothing to do: give --check")
    with tempfile.TemporaryDirectory() as tmp:
        rec = check(from_arguments(a), a.paths, Path(tmp), a.dates, a.grid_step)
    print(json.dumps(rec, indent=1))
    return rec


if __name__ == "__main__":
    main()
