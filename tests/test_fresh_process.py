"""What a fresh process pays for: modules a command must not import, and the set-up's block exponentials.

- ``exposure run`` writes results.h5 without importing dask.distributed (xarray's to_netcdf would, 0.1-0.3 s)
  nor dask.array (xarray's dask-array probe would, 0.35 s: exposure.xarray_dask defers it);
- ``exposure whatif`` imports neither Hydra nor matplotlib (a stored config needs no compose, a table no plot),
  nor scipy.optimize (the run's market is read from the cube: no CDS bootstrap), holidays (no calendar), the
  capital stage or OmegaConf's merge (a second what-if of the run reads its frozen config from the cache);
- the batched Van Loan exponentials equal the one-matrix-at-a-time computation bit for bit.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg

REPO = pathlib.Path(__file__).resolve().parents[1]
TRADE = """- {id: FRESH_SWP, type: Swap, currency: USD, notional: 1.0e+7, maturity: 5Y, fixed_rate: 0.035, payer: true,
   float_index: USD-LIBOR-3M}
"""
# main() without arguments, as the console script calls it (it reads sys.argv and freezes the heap, exposure.cli)
PROBE = ("import json, sys; from exposure.cli import main; from exposure.config import cache; built = []; "
         "f = cache.cached_config; cache.cached_config = lambda p, b, t=b'': f(p, lambda: built.append(1) or b(), t); "
         "rc = main(); print(json.dumps([rc, sorted(m for m in sys.modules if m.split('.')[0] in "
         "('hydra', 'matplotlib', 'distributed', 'holidays') or m in ('scipy.optimize', 'exposure.capital', 'dask.array')), "
         "len(built)]))")


def _cli(args, cache) -> tuple[int, set, int]:
    """(exit code, heavy modules imported, stored configs built) of ``exposure ARGS`` in a fresh process."""
    env = dict(os.environ, XPOSURE_JAX_CACHE=str(cache))
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    rc, mods, built = json.loads(p.stdout.strip().splitlines()[-1])
    return rc, {m if m in ("scipy.optimize", "exposure.capital", "dask.array") else m.split(".")[0] for m in mods}, built


@pytest.mark.slow
def test_run_and_whatif_in_fresh_processes_import_only_what_they_need(tmp_path):
    run = tmp_path / "run"
    rc, mods, _ = _cli(["run", "simulation.paths=128", "simulation.chunk_size=128", "output.store_cube=true",
                     "report.plots=false", "report.html=false", f"output.dir={run}"], tmp_path / "cache")
    assert rc == 0 and (run / "results.h5").exists() and (run / "netting_values.h5").exists()
    assert not mods & {"distributed", "dask.array"}, mods
    from exposure.results import read_results

    assert "EPE" in read_results(str(run / "results.h5"))  # what the writer wrote reads back and validates
    trade = tmp_path / "trade.yaml"
    trade.write_text(TRADE)
    args = ["whatif", str(run), "--netting-set", "NS_CP_A", "--trade", str(trade)]
    rc, mods, built = _cli(args, tmp_path / "cache")
    assert rc == 0 and built == 1  # the stored config merged once, then kept
    assert not mods & {"hydra", "matplotlib", "distributed", "holidays", "scipy.optimize", "exposure.capital"}, mods
    rc, mods, built = _cli(args, tmp_path / "cache")
    assert rc == 0 and built == 0  # the second process reads it
    assert not mods & {"hydra", "matplotlib", "distributed", "holidays", "scipy.optimize", "exposure.capital"}, mods


def test_the_deferred_dask_probe_still_knows_dask_arrays_once_dask_array_is_imported():
    code = ("import sys; import numpy as np; import exposure.results; import xarray as xr; "
            "v = xr.Dataset({'a': ('x', np.arange(3.0))}, coords={'x': [1, 2, 3]}); "
            "assert 'dask.array' not in sys.modules, 'a Dataset of NumPy arrays imported dask.array'; "
            "import dask.array as da; from xarray.namedarray.pycompat import array_type; "
            "assert array_type('dask') == (da.Array,), array_type('dask'); "
            "w = xr.Variable('x', da.arange(3.0, chunks=2)); "
            "assert w.chunks == ((2, 1),), w.chunks; "
            "c = v.chunk({'x': 2}); assert c['a'].chunks == ((2, 1),) and float(c['a'].sum().compute()) == 3.0; "
            "print('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-3000:]


def test_the_netcdf_writer_writes_what_to_netcdf_writes(tmp_path):
    import xarray as xr

    from exposure.files import write_netcdf

    ds = xr.Dataset({"EPE": (("netting_set", "date"), np.arange(6.0).reshape(2, 3)),
                     "status": ("netting_set", np.array(["ok", "breach"], dtype=object))},
                    coords={"netting_set": ["A", "B"], "date": np.array(["2027-01-01", "2027-02-01", "2027-03-01"],
                                                                        dtype="datetime64[ns]")},
                    attrs={"asof": "2026-11-20", "n_paths": 64, "quantiles": [0.95, 0.99]})
    write_netcdf(ds, str(tmp_path / "a.h5"))
    ds.to_netcdf(tmp_path / "b.h5", engine="h5netcdf", invalid_netcdf=True)
    with xr.open_dataset(tmp_path / "a.h5", engine="h5netcdf") as a, \
            xr.open_dataset(tmp_path / "b.h5", engine="h5netcdf") as b:
        assert a.load().identical(b.load())
    with pytest.raises(TypeError):  # to_netcdf's attribute check is kept
        write_netcdf(ds.assign_attrs(bad={"a": 1}), str(tmp_path / "c.h5"))


def test_batched_van_loan_equals_one_matrix_at_a_time(model):
    from exposure.models.cross_asset import _van_loan

    d = model.dim
    A = model.drift_matrix()
    rng = np.random.default_rng(7)
    b = rng.normal(size=(5, d)) * 0.01
    C = rng.normal(size=(5, d, d)) * 0.1
    Q = C @ np.swapaxes(C, 1, 2)
    tau = np.array([0.01, 0.1, 0.25, 0.5, 1.0 / 365.0])
    for j, (Phi, mu, Sigma) in enumerate(_van_loan(A, b, Q, tau)):
        aug = np.zeros((d + 1, d + 1))
        aug[:d, :d], aug[:d, d] = A, b[j]
        E1 = scipy.linalg.expm(aug * tau[j])
        M = np.zeros((2 * d, 2 * d))
        M[:d, :d], M[:d, d:], M[d:, d:] = -A, Q[j], A.T
        E2 = scipy.linalg.expm(M * tau[j])
        assert np.array_equal(Phi, E1[:d, :d]) and np.array_equal(mu, E1[:d, d])
        assert np.array_equal(Sigma, E2[d:, d:].T @ E2[:d, d:])
