"""xarray's "is this a dask array?" probe, answered without importing dask.array while nothing can be one.

For every variable it builds, xarray checks ``isinstance(data, array_type("dask"))``; with dask installed, the
first check imports dask.array (0.35 s of CPU in a fresh process, the largest import of an ``exposure run`` after
JAX), although no stage of this engine ever holds a dask array. An object can only be an instance of
``dask.array.Array`` once ``dask.array`` has been imported, so until then the answer ``()`` (no dask array type)
is exact; from the first access after dask.array is imported (by a Dask cluster run, by a caller opening files
with ``chunks=``), xarray's own probe takes over and answers as it always did.

The same holds for xarray's ``is_dask_collection(x)`` (asked of every array an index or variable is built from),
which imports ``dask.base`` (0.1 s of CPU; dask, psutil, jinja2) to answer. Dask's own answer starts with a test that
needs no dask: an object that is a class or has no callable ``__dask_graph__`` is not a collection. That test is
made first here, word for word, and only an object that passes it is handed to xarray's function (which imports
dask and answers as before): the same answer for every object.
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


def _no_graph_first(real):
    """xarray's is_dask_collection behind dask's own first test (see the module docstring)."""

    def is_dask_collection(x) -> bool:
        if isinstance(x, type) or not callable(getattr(x, "__dask_graph__", None)):
            return False  # dask.base.is_dask_collection's first test: no dask import needed to say so
        return real(x)

    is_dask_collection._xposure_real = real
    return is_dask_collection


def defer_dask_probe() -> bool:
    """Install the deferred probe in xarray's cache unless xarray has already answered (or changed its internals),
    and the cheap first test before xarray's is_dask_collection; True when the probe was installed."""
    try:
        from xarray.namedarray import pycompat, utils
    except ImportError:
        return False
    real = getattr(utils, "is_dask_collection", None)
    if callable(real) and not hasattr(real, "_xposure_real"):
        utils.is_dask_collection = _no_graph_first(real)  # is_duck_dask_array reads this module global
    cache, probe = getattr(pycompat, "_cached_duck_array_modules", None), getattr(pycompat, "DuckArrayModule", None)
    if not isinstance(cache, dict) or probe is None or "dask" in cache or "dask.array" in sys.modules:
        return False
    cache["dask"] = _DeferredDask(cache, probe)
    return True
