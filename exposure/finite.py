"""The last guard before a run folder is written: no NaN or infinity reaches results.h5, a CSV or the report.

    ds = finite_results(ds)

1. A standard error (``*_stderr``) is undefined with one path (sd / sqrt(n - 1) has n - 1 = 0): such variables
   are dropped and listed in attrs ``omitted`` ("<names>: undefined with n_paths = 1") instead of written as NaN.
2. Any other non-finite value raises NonFiniteError naming the variable and, along each dimension, the
   coordinate of the first one (netting set, trade, counterparty, date, quantile).

Below the API layer; a pure function of the Dataset.
"""

from __future__ import annotations

import numpy as np

from exposure.errors import NonFiniteError


def _label(ds, dim: str, i: int) -> str:
    if dim not in ds.coords:
        return f"{dim} index {i}"
    v = ds[dim].values[i]
    if np.issubdtype(np.asarray(v).dtype, np.datetime64):
        v = str(np.datetime64(v, "D"))
    return f"{dim} '{v}'"


def first_non_finite(ds):
    """(variable, description) of the first non-finite float value in ds (data variables and coordinates), or
    None."""
    for name in list(ds.data_vars) + list(ds.coords):
        a = np.asarray(ds[name].values)
        if a.dtype.kind not in "fc" or np.all(np.isfinite(a)):
            continue
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        where = ", ".join(_label(ds, d, i) for d, i in zip(ds[name].dims, idx))
        value = a[idx] if idx else a[()]
        return name, f"{name} is {value}" + (f" at {where}" if where else "")
    return None


def finite_results(ds):
    """ds without undefined standard errors (noted in attrs 'omitted'); raises NonFiniteError on any other
    non-finite value."""
    n_paths = int(ds.attrs.get("n_paths", 0) or 0)
    if n_paths < 2:
        undefined = [v for v in ds.data_vars if str(v).endswith("_stderr") and not np.all(np.isfinite(ds[v].values))]
        if undefined:
            ds = ds.drop_vars(undefined)
            note = f"{', '.join(undefined)}: undefined with n_paths = {n_paths}"
            ds.attrs["omitted"] = "; ".join(x for x in (ds.attrs.get("omitted"), note) if x)
    hit = first_non_finite(ds)
    if hit is not None:
        raise NonFiniteError(f"non-finite result, nothing written: {hit[1]} (check the inputs of that netting set "
                             "or trade: notionals, vols, rates)")
    return ds
