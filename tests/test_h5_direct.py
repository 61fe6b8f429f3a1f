"""exposure.h5_direct writes the file h5netcdf writes (the reference: xarray's to_netcdf through h5netcdf), checked
object by object in HDF5 and as read back by xarray; layouts it does not handle are left to h5netcdf."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from exposure.h5_direct import write_h5_direct


def _dataset():
    rng = np.random.default_rng(3)
    dates = np.array(["2026-01-01", "2026-04-01", "NaT"], dtype="datetime64[ns]")
    ns = np.array(["NS_A", "NS/B", "ns ü"], dtype=object)
    ds = xr.Dataset(
        {"EPE": (("netting_set", "date"), rng.normal(size=(3, 3)), {"description": "E[max(X,0)/N]", "units": "USD"}),
         "PFE": (("netting_set", "date", "quantile"), rng.normal(size=(3, 3, 2)), {"units": "USD"}),
         "Peak": (("netting_set", "quantile"), np.array([dates[:2]] * 3, dtype="datetime64[ns]"), {"description": "d"}),
         "flag": ("limit", np.array([True, False]), {"description": "defined"}),
         "count": ("limit", np.array([3, 0], dtype=np.int64)),
         "status": ("limit", np.array(["ok", "breach"], dtype=object), {"description": "ok | breach"}),
         "total": ((), 1.5, {"units": "USD"}),
         "DiscountFactor": ("date", np.array([1.0, 0.99, 0.98]), {"units": "1"})},
        coords={"netting_set": ns, "counterparty": ("netting_set", np.array(["C1", "C2", "C1"], dtype=object)),
                "date": dates, "time": ("date", np.array([0.0, 0.25, 0.5])), "quantile": [0.95, 0.99],
                "limit": np.arange(2), "limit_bucket": ("limit", np.array(["0-1Y", "1Y-"], dtype=object))},
        attrs={"seed": 42, "config": "a: 1\nb: [x, y]\n", "n_paths": np.int64(1000), "pfe_ci_level": 0.95,
               "base_currency": "USD", "empty": ""})
    return ds


def _reference(ds, path):
    ds.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)


def _layout(path):
    """Every object of the file: name, dtype, shape, storage, fill value and every attribute (sorted by name: the
    order of the hidden HDF5 attributes is not part of the format); scale references as the scales' names."""
    out = []
    with h5py.File(path, "r") as f:
        out.append(sorted((k, repr(f.attrs[k])) for k in f.attrs))
        out.append(list(f.keys()))  # creation order: the order xarray reads the variables in

        def attr(obj, k):
            if k == "DIMENSION_LIST":
                return [[f[r].name for r in refs] for refs in obj.attrs[k]]
            if k == "REFERENCE_LIST":
                return sorted((f[r].name, int(i)) for r, i in obj.attrs[k])
            return repr(obj.attrs[k]) + str(obj.attrs.get_id(k).dtype) + str(obj.attrs.get_id(k).shape)

        for name, obj in f.items():
            pl = obj.id.get_create_plist()
            out.append((name, obj.dtype.str, str(h5py.check_string_dtype(obj.dtype)), obj.shape, obj.maxshape,
                        obj.chunks, obj.compression, repr(obj.fillvalue), pl.get_layout(),
                        pl.get_attr_creation_order(), sorted((k, attr(obj, k)) for k in obj.attrs)))
    return out


def _no_limits(ds):  # a run without PFE limits: an empty (unlimited) limit dimension
    ds = ds.drop_vars(["flag", "count", "status", "limit", "limit_bucket"])
    return ds.assign_coords(limit=np.arange(0), limit_bucket=("limit", np.array([], dtype=object))).assign(
        flag=("limit", np.zeros(0, dtype=bool)), status=("limit", np.array([], dtype=object)),
        first=("limit", np.array([], dtype="datetime64[ns]")), grid=(("netting_set", "limit"), np.zeros((3, 0))))


@pytest.mark.parametrize("limits", [True, False])
def test_same_file_as_h5netcdf(tmp_path, limits):
    ds = _dataset() if limits else _no_limits(_dataset())
    ref, new = tmp_path / "ref.h5", tmp_path / "new.h5"
    _reference(ds, ref)
    assert write_h5_direct(ds, str(new))
    assert _layout(new) == _layout(ref)
    with xr.open_dataset(ref, engine="h5netcdf") as a, xr.open_dataset(new, engine="h5netcdf") as b:
        xr.testing.assert_identical(a.load(), b.load())
        assert list(a.variables) == list(b.variables)
        for k in a.variables:
            assert list(a[k].attrs) == list(b[k].attrs), k
            ea = {x: y for x, y in a[k].encoding.items() if x != "source"}
            eb = {x: y for x, y in b[k].encoding.items() if x != "source"}
            assert repr(ea) == repr(eb), k
        if limits:  # (xarray writes an empty object array as float64: h5netcdf's file reads back so too)
            xr.testing.assert_identical(b.load(), ds)  # what was written is what is read


@pytest.mark.parametrize("case", ["dim without coordinate", "dask", "compressed", "complex"])
def test_unhandled_layouts_are_left_to_h5netcdf(tmp_path, case):
    ds = _dataset()
    if case == "dim without coordinate":
        ds = ds.assign(cube=(("netting_set", "path"), np.zeros((3, 4))))
    elif case == "dask":
        pytest.importorskip("dask.array")
        ds = ds.chunk({"netting_set": 1})
    elif case == "compressed":
        ds["EPE"].encoding.update(zlib=True, complevel=4)
    else:
        ds = ds.assign(z=("limit", np.array([1 + 1j, 2j])))
    path = tmp_path / "x.h5"
    assert not write_h5_direct(ds, str(path))
    assert not path.exists()


def test_write_netcdf_uses_it_and_round_trips_results(tmp_path):
    from exposure.files import write_netcdf

    ds = _dataset()
    write_netcdf(ds, str(tmp_path / "a.h5"))
    ref = tmp_path / "ref.h5"
    _reference(ds, ref)
    assert _layout(tmp_path / "a.h5") == _layout(ref)
