"""Run ORE in-process through its Python bindings (``open-source-risk-engine`` on PyPI, ``import ORE``) on an input
folder written by ``ore_inputs.write_ore_inputs`` and return its results as pandas objects.

The exact API used::

    params = ORE.Parameters(); params.fromFile(".../Input/ore.xml")
    app = ORE.OREApp(params)             # OREApp(Parameters, console=False)
    app.run()                            # timed: wall time of this call only
    report = app.getReport("exposure_nettingset_NS_ORE")   # PlainInMemoryReport: columns(), rows(), header(i),
                                         # columnType(i) (0 Size, 1 Real, 2 string, 3 Date, 4 Period), dataAsReal(i), ...

ORE's definitions in exposure_nettingset_<id>.csv (read in the ORE sources, release 1.8.16 tree; the PyPI wheel is
1.8.17; all Monte Carlo numbers per netting set and simulation date t_j, n = Samples):

* The NPV cube holds v = NPV(t_j) * FX_base(t_j) / N(t_j): the netting set's value in base currency DEFLATED by the
  numeraire of the simulation (OREAnalytics/orea/engine/valuationcalculator.cpp, ``NPVCalculator::npv``:
  ``trade->instrument()->NPV() * fxRates_[...] / simMarket->numeraire()``). With ``<Measure>BA</Measure>`` the
  numeraire is the domestic bank account (QuantExt/qle/models/lgm.cpp ``bankAccountNumeraire``, with the
  auxiliary state of the BA measure), so v = X/B with X the undiscounted value.
* EPE(t_j) = (1/n) sum_k max(v_k - C_k, 0), ENE(t_j) = (1/n) sum_k max(C_k - v_k, 0) with C the collateral balance
  (0 here: no CSA) - i.e. DISCOUNTED expected exposures E[max(X,0)/B] (OREAnalytics/orea/aggregation/
  nettedexposurecalculator.cpp, ``epe[j + 1] += std::max(exposure - dim_epe, 0.0) / cube_->samples()``).
* PFE(t_j) = max(v_(i), 0) with v_(0) <= ... <= v_(n-1) the sorted deflated values and
  i = floor(q (n - 1) + 0.5) - the quantile of the DEFLATED value (not of the undiscounted exposure), nearest-rank
  rule without interpolation (same file: ``Size index = Size(floor(quantile_ * (cube_->samples() - 1) + 0.5));
  pfe[j + 1] = std::max(distribution[index], 0.0);``). q is the xva analytic's ``quantile`` parameter (one level).
* BaselEE(t_j) = EPE(t_j) / P(0, t_j) (today's base discount curve), BaselEEE its running maximum;
  TimeWeightedBaselEPE/EEPE are running averages weighted with ACT/ACT(ISDA) time steps (same file, ``dc``).
* The t0 row: EPE = max(NPV(0), 0), ENE = max(-NPV(0), 0), PFE = EPE (no Monte Carlo).
* ORE reports no standard error; ``netcube`` (the per-sample netting-set values v after collateral, requested with
  the xva parameter ``netCubeOutputFile``) gives every path, from which ``ore_statistics`` recomputes EPE, its
  standard error and the PFE with ORE's rule.

``useDoublePrecisionCubes`` is switched on (ORE's default single-precision cubes round v to 24 bits).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

_COLUMN_READERS = {0: "dataAsSize", 1: "dataAsReal", 2: "dataAsString", 3: "dataAsDate", 4: "dataAsPeriod"}


def ore_available() -> bool:
    try:
        import ORE  # noqa: F401
    except ImportError:
        return False
    return True


def report_frame(report) -> pd.DataFrame:
    """A PlainInMemoryReport as a DataFrame (dates as datetime64, periods as strings)."""
    cols = {}
    for i in range(report.columns()):
        kind = report.columnType(i)
        values = getattr(report, _COLUMN_READERS[kind])(i)
        if kind == 3:
            values = pd.to_datetime([d.ISO() for d in values])
        elif kind == 4:
            values = [str(p) for p in values]
        cols[report.header(i)] = list(values)
    return pd.DataFrame(cols)


@dataclasses.dataclass
class OreRun:
    """One ORE run: wall time of ``OREApp.run()`` and the reports of interest."""

    wall_s: float
    cpu_s: float  # process CPU time of OREApp.run() (all threads; robust to other load on the machine)
    ore_runtime_s: float  # OREApp.getRunTime()
    reports: dict  # name -> DataFrame
    errors: list
    netting_set: str

    @property
    def profile(self) -> pd.DataFrame:
        """exposure_nettingset_<id>: Date, Time, EPE, ENE, PFE, ExpectedCollateral, BaselEE, BaselEEE, ..."""
        return self.reports[f"exposure_nettingset_{self.netting_set}"]

    @property
    def npv(self) -> pd.DataFrame:
        return self.reports["npv"]

    def netcube(self) -> tuple:
        """(dates (K,) incl. t0, values (K, n_paths)): per-path deflated netting-set values v = X/B after collateral;
        row 0 is the t0 value repeated."""
        nc = self.reports["netcube"]
        nc = nc[nc["Id"] == self.netting_set] if "Id" in nc else nc
        dates = pd.to_datetime(nc["Date"])
        t0 = nc[nc["DateIndex"] == 0]
        rest = nc[nc["DateIndex"] > 0]
        n_dates = int(rest["DateIndex"].max())
        n_paths = int(rest["Sample"].max())
        v = np.empty((n_dates + 1, n_paths))
        v[0, :] = float(t0["Value"].iloc[0])
        v[rest["DateIndex"].to_numpy(int), rest["Sample"].to_numpy(int) - 1] = rest["Value"].to_numpy(float)
        d = [pd.Timestamp(dates[nc["DateIndex"] == j].iloc[0]) for j in range(n_dates + 1)]
        return np.array(d, dtype="datetime64[ns]"), v


def run_ore(ore_xml: str, netting_set: str = "NS_ORE", reports=("npv", "curves", "netcube")) -> OreRun:
    """Run ORE on ``ore_xml`` in this process; raise RuntimeError if ORE reports errors or no exposure report."""
    import ORE

    params = ORE.Parameters()
    params.fromFile(str(ore_xml))
    app = ORE.OREApp(params)
    c0, t0 = time.process_time(), time.perf_counter()
    app.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    errors = list(app.getErrors())
    names = set(app.getReportNames())
    wanted = [f"exposure_nettingset_{netting_set}"] + [r for r in reports if r in names]
    if wanted[0] not in names:
        raise RuntimeError(f"ORE produced no {wanted[0]} report (reports: {sorted(names)}; errors: {errors}); "
                           f"see the log next to {ore_xml}")
    out = {name: report_frame(app.getReport(name)) for name in wanted}
    return OreRun(wall, cpu, float(app.getRunTime()), out, errors, netting_set)


def quantile_ore(x: np.ndarray, q: float) -> np.ndarray:
    """ORE's PFE rule along the last axis: max(x_(i), 0), i = floor(q (n - 1) + 0.5) of the sorted samples."""
    n = x.shape[-1]
    i = int(np.floor(q * (n - 1) + 0.5))
    return np.maximum(np.partition(x, i, axis=-1)[..., i], 0.0)


def quantile_se(x: np.ndarray, q: float) -> np.ndarray:
    """One-sigma error of a sample q-quantile along the last axis, distribution free: half the spread of the order
    statistics at ranks n q -+ sqrt(n q (1 - q)) (the binomial standard deviation of the count below the quantile)."""
    n = x.shape[-1]
    s = np.sqrt(n * q * (1.0 - q))
    lo = int(np.clip(np.floor(n * q - s), 0, n - 1))
    hi = int(np.clip(np.ceil(n * q + s), 0, n - 1))
    xs = np.partition(x, [lo, hi], axis=-1)
    return 0.5 * (np.maximum(xs[..., hi], 0.0) - np.maximum(xs[..., lo], 0.0))


def ore_statistics(values: np.ndarray, q: float) -> dict:
    """EPE, ENE, EE_stderr, PFE (ORE's rule), PFE_se from per-path deflated values (K, n)."""
    pos = np.maximum(values, 0.0)
    n = values.shape[-1]
    return {
        "EPE": pos.mean(axis=-1),
        "ENE": np.maximum(-values, 0.0).mean(axis=-1),
        "EE_stderr": pos.std(axis=-1, ddof=1) / np.sqrt(n),
        "PFE": quantile_ore(values, q),
        "PFE_se": quantile_se(values, q),
    }


def run_ore_isolated(ore_xml: str, netting_set: str = "NS_ORE", reports=("npv", "curves", "netcube")) -> OreRun:
    """``run_ore`` in a child process. ORE's bindings carry their own QuantLib; loading it next to the
    QuantLib wheel in one process (as a test session does) crashes the other's tests, so callers that may
    also use QuantLib run ORE here. Reports come back through pickled DataFrames in a temporary folder."""
    import os
    import pickle
    import subprocess
    import sys
    import tempfile

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ore_run.pkl")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.ore.run_ore", str(ore_xml), out, netting_set, *reports],
            capture_output=True, text=True, env=env, cwd=root, check=False,
        )
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"ORE child process failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        with open(out, "rb") as fh:
            return pickle.load(fh)


def _main(argv) -> int:
    import pickle

    # Through the importable module, not __main__, so the pickled OreRun unpickles in the parent.
    from benchmarks.ore.run_ore import run_ore as run_ore_importable

    ore_xml, out, netting_set, *reports = argv
    run = run_ore_importable(ore_xml, netting_set, tuple(reports))
    with open(out, "wb") as fh:
        pickle.dump(run, fh)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
