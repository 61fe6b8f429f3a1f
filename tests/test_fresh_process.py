"""What a fresh process pays for: modules a command must not import, and the set-up's block exponentials.

- ``exposure run`` writes results.h5 without importing dask.distributed (xarray's to_netcdf would, 0.1-0.3 s)
  nor dask.array (xarray's dask-array probe would, 0.35 s: exposure.xarray_dask defers it), nor dask at all
  (xarray's is_dask_collection would import dask.base, 0.1 s: asked dask's own first question first);
- a run's warm process runs no eager JAX program (each is traced, lowered and looked up, ~0.04 s): the seed's key
  and the credit curves' arrays are placed on the device, not computed;
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
         "('hydra', 'matplotlib', 'distributed', 'holidays', 'dask') or m in ('scipy.optimize', 'exposure.capital', 'dask.array')), "
         "len(built)]))")


def _cli(args, cache) -> tuple[int, set, int]:
    """(exit code, heavy modules imported, stored configs built) of ``exposure ARGS`` in a fresh process."""
    env = dict(os.environ, XPOSURE_JAX_CACHE=str(cache))
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    rc, mods, built = json.loads(p.stdout.strip().splitlines()[-1])
    return rc, {m if m in ("scipy.optimize", "exposure.capital", "dask.array") else m.split(".")[0] for m in mods}, built


def _child_ok(code: str) -> None:
    """Run ``code`` in a fresh Python process from the repository root; it must exit 0 and print 'ok'."""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-3000:]


@pytest.mark.slow
def test_run_and_whatif_in_fresh_processes_import_only_what_they_need(tmp_path):
    run = tmp_path / "run"
    rc, mods, _ = _cli(["run", "simulation.paths=128", "simulation.chunk_size=128", "output.store_cube=true",
                     "report.plots=false", "report.html=false", f"output.dir={run}"], tmp_path / "cache")
    assert rc == 0 and (run / "results.h5").exists() and (run / "netting_values.h5").exists()
    assert not mods & {"distributed", "dask.array", "dask"}, mods
    exported = tmp_path / "cache" / "xla" / "exported"  # the run's programs listed for the next run to load ahead
    assert len([f for f in os.listdir(exported) if f.endswith(".ahead.json")]) == 1
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
    _child_ok(code)


def test_xarray_still_knows_dask_collections_behind_the_first_test():
    code = ("import sys; import numpy as np; import exposure.results; "
            "from xarray.namedarray import utils as u; import xarray as xr; "
            "assert not u.is_dask_collection(np.arange(3.0)) and not u.is_dask_collection(3.0); "
            "v = xr.Dataset({'a': ('x', np.arange(3.0))}, coords={'x': [1, 2, 3]}); "
            "assert 'dask' not in sys.modules, 'a Dataset of NumPy data imported dask'; "
            "import dask.array as da, dask.base, dask.delayed; x = da.arange(3.0, chunks=2); "
            "assert u.is_dask_collection(x) and u.is_duck_dask_array(x) and u.is_dask_collection(dask.delayed(len)([1])); "
            "assert not u.is_dask_collection(da.Array), 'a class is no collection'; "
            "objs = [x, np.ones(2), xr.Variable('x', x), xr.DataArray(x), 3, 'a', da.Array, dask.delayed(len)([1])]; "
            "assert [u.is_dask_collection(o) for o in objs] == [dask.base.is_dask_collection(o) for o in objs]; "
            "print('ok')")
    _child_ok(code)


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40 + 12345, 2**63 - 1, -1, -2**63])
def test_seed_key_is_jax_prngkey(seed):
    import jax

    from exposure.simulation.rng import seed_key

    ours, jaxs = seed_key(seed), jax.random.PRNGKey(seed)
    assert ours.dtype == jaxs.dtype and ours.shape == jaxs.shape and np.array_equal(np.asarray(ours), np.asarray(jaxs))
    assert ours.weak_type == jaxs.weak_type


def test_seed_key_and_credit_curves_run_no_eager_program():
    code = ("import exposure, jax, numpy as np; from jax._src import dispatch; ran = []; f = dispatch.apply_primitive; "
            "dispatch.apply_primitive = lambda p, *a, **k: ran.append(str(p)) or f(p, *a, **k); "
            "from exposure.simulation.rng import seed_key; from exposure.market.credit import CreditCurve; "
            "k = seed_key(42); c = CreditCurve.from_hazards([1.0, 5.0], [0.01, 0.02], 0.4, 'X'); "
            "d = CreditCurve.flat(0.02, 0.35, 'Y'); jax.block_until_ready((k, c, d)); assert not ran, ran; "
            "import jax.numpy as jnp; "
            "assert all(a.aval == b.aval and a.weak_type == b.weak_type and np.array_equal(a, b) for a, b in "
            "[(c.times, jnp.asarray([1.0, 5.0])), (c.hazards, jnp.asarray([0.01, 0.02])), (c.recovery, jnp.asarray(0.4)), "
            "(d.recovery, jnp.asarray(0.35))]); print('ok')")
    _child_ok(code)


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
