"""xarray's "is this a dask array?" probe, answered without importing dask.array while nothing can be one.

For every variable it builds, xarray checks ``isinstance(data, array_type("dask"))``; with dask installed, the
first check imports dask.array (0.35 s of CPU in a fresh process, the largest import of an ``exposure run`` after
JAX), although no stage of this engine ever holds a dask array. An object can only be an instance of
``dask.array.Array`` once ``dask.array`` has been imported, so until then the answer ``()`` (no dask array type)
is exact; from the first access after dask.array is imported (by a Dask cluster run, by a caller opening files
with ``chunks=``), xarray's own probe takes over and answers as it always did.
"""

from __future__ import annotations

import sys


class _DeferredDask:
    """Stands in xarray's duck-array cache for "dask" until dask.array is imported (see the module docstring)."""

    def __init__(self, cache: dict, probe):
        self._cache, self._probe = cache, probe

    def _real(self):
        real = self._probe("dask")  # xarray's DuckArrayModule: imports dask and dask.array
        self._cache["dask"] = real
        return real

    @property
    def type(self) -> tuple:
        return self._real().type if "dask.array" in sys.modules else ()

    def __getattr__(self, name):  # version, module, available: xarray's answer (these import dask)
        return getattr(self._real(), name)


def defer_dask_probe() -> bool:
    """Install the deferred probe in xarray's cache unless xarray has already answered (or changed its internals);
    True when installed."""
    try:
        from xarray.namedarray import pycompat
    except ImportError:
        return False
    cache, probe = getattr(pycompat, "_cached_duck_array_modules", None), getattr(pycompat, "DuckArrayModule", None)
    if not isinstance(cache, dict) or probe is None or "dask" in cache or "dask.array" in sys.modules:
        return False
    cache["dask"] = _DeferredDask(cache, probe)
    return True
