"""Simulated scenarios to and from HDF5 as a labelled xarray Dataset.

    states[path, date, factor]  (float64 or float32), date includes t0; coords: date (datetime64), time (years),
    factor (state names such as IR:USD, BA:USD, FX:EUR, EQ:SPX); attrs: seed, base currency, asof, version.

Files are written to a temporary name and renamed, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import xarray as xr


def scenarios_dataset(states: np.ndarray, dates, times, factor_names, attrs: dict) -> xr.Dataset:
    """states: (n_dates + 1, d, n_paths) as produced by the simulator (t0 first)."""
    arr = np.transpose(np.asarray(states), (2, 0, 1))
    return xr.Dataset(
        {"states": (("path", "date", "factor"), arr)},
        coords={
            "path": np.arange(arr.shape[0]),
            "date": np.array(list(dates), dtype="datetime64[ns]"),
            "time": ("date", np.asarray(times, dtype=np.float64)),
            "factor": list(factor_names),
        },
        attrs={k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in attrs.items()},
    )


def write_netcdf_atomic(ds: xr.Dataset, path: str) -> str:
    """Write ``ds`` to HDF5 (h5netcdf engine) via a temporary file and an atomic rename."""
    from exposure.files import write_netcdf

    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        write_netcdf(ds, tmp)  # xarray's to_netcdf without its dask.distributed import
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_scenarios(path: str) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def atomic_text(path: str, text: str) -> str:
    """Write a text file through a temporary name, fsync and an atomic rename (the temporary file is removed
    on any error): under its final name a file is complete or absent."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
