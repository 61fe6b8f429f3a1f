"""The netting-set value cube of a run, kept for re-aggregation without re-simulation (``output.store_cube``).

    V(k, n, p)     uncollateralised value of netting set n on path p at simulation date k (t0, the exposure
                   dates and the close-out dates), base currency, undiscounted, float64
    N(k, p)        base bank-account numeraire
    fx(c, k, p)    base units per unit of currency c (the model's currencies), for non-base collateral

These are exactly the arrays the pipeline streams into ``ExposureAggregator.add_chunk``, so feeding them back
(with other CSA terms, quantiles or limits) gives bit for bit the numbers of a full run with those inputs: the
aggregator's results do not depend on the chunking. Written to ``netting_values.h5`` (h5py, atomic rename).
Memory: (n_ns + 1 + n_ccy) * K_all * P * 8 bytes.
"""

from __future__ import annotations

import os

import numpy as np

FILE_NAME = "netting_values.h5"


class NettingValuesCube:
    """Collects V, N, fx chunk by chunk (paths in order) and writes/reads them."""

    def __init__(self, n_paths: int):
        self.n_paths = int(n_paths)
        self.V = self.N = self.fx = None
        self._next = 0

    def add(self, start: int, stop: int, values, numeraire, fx, states=None) -> None:
        """values (K_all, n_ns, p), numeraire (K_all, p), fx (n_ccy, K_all, p), states (K_all, d, p) of paths
        [start, stop) (the states let ``exposure whatif`` price new trades on the same scenarios)."""
        if start != self._next:
            raise ValueError(f"paths must arrive in order: expected {self._next}, got {start}")
        if self.V is None:
            values, fx = np.asarray(values), np.asarray(fx)
            self.V = np.empty(values.shape[:2] + (self.n_paths,), dtype=np.float64)
            self.N = np.empty((values.shape[0], self.n_paths), dtype=np.float64)
            self.fx = np.empty(fx.shape[:2] + (self.n_paths,), dtype=np.float64)
            self.S = None if states is None else np.empty(np.shape(states)[:2] + (self.n_paths,), dtype=np.float64)
        self.V[:, :, start:stop] = values
        self.N[:, start:stop] = numeraire
        self.fx[:, :, start:stop] = fx
        if states is not None:
            self.S[:, :, start:stop] = states
        self._next = stop

    def save(self, out_dir: str, netting_set_ids, attrs: dict, model=None, portfolio=None, market=None) -> list:
        """[path of out_dir/netting_values.h5]; attrs: scalars, strings or 1-d arrays (HDF5 attributes); model:
        the (calibrated) CrossAssetModel, pickled, so that a what-if need not calibrate again; portfolio: its
        netting sets (with CSAs) and trade ids are pickled, so that a what-if need not parse the book again;
        market: the run's MarketSnapshot, pickled, so that a what-if need not build it again (CDS bootstraps)."""
        import pickle

        import h5py

        from exposure.results import _atomic

        if self._next != self.n_paths:
            raise RuntimeError(f"cube holds {self._next} of {self.n_paths} paths")
        path = os.path.join(str(out_dir), FILE_NAME)

        def write(tmp):
            with h5py.File(tmp, "w") as f:
                f.create_dataset("V", data=self.V)
                f.create_dataset("N", data=self.N)
                f.create_dataset("fx", data=self.fx)
                if self.S is not None:
                    f.create_dataset("states", data=self.S)
                if model is not None:
                    f.create_dataset("model_pickle", data=np.frombuffer(pickle.dumps(model), dtype=np.uint8))
                if portfolio is not None:
                    book = {"netting_sets": tuple(portfolio.netting_sets), "trade_ids": tuple(portfolio.trade_ids)}
                    f.create_dataset("book_pickle", data=np.frombuffer(pickle.dumps(book), dtype=np.uint8))
                blob = _pickled(market)
                if blob is not None:
                    f.create_dataset("market_pickle", data=np.frombuffer(blob, dtype=np.uint8))
                f.create_dataset("netting_set", data=np.array([str(s) for s in netting_set_ids], dtype="S"))
                for k, v in attrs.items():
                    f.attrs[k] = v

        return [_atomic(path, write)]

    @staticmethod
    def read(path: str):
        """(V, N, fx, netting_set ids, attrs) from a file written by ``save``."""
        import h5py

        if not os.path.exists(path):
            raise FileNotFoundError(path)
        from exposure.errors import ResultsFileError

        try:
            with h5py.File(path, "r") as f:
                ids = [s.decode() for s in f["netting_set"][()]]
                return f["V"][()], f["N"][()], f["fx"][()], ids, dict(f.attrs)
        except (OSError, KeyError, ValueError) as exc:  # not HDF5, truncated, or without the stored cube
            raise ResultsFileError(f"{path}: not a readable netting-values file ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''})") from None

    @staticmethod
    def read_book(path: str):
        """{"netting_sets": (NettingSet, ...), "trade_ids": (...)} of the run, or None in older files."""
        import pickle

        import h5py

        with h5py.File(path, "r") as f:
            return pickle.loads(f["book_pickle"][()].tobytes()) if "book_pickle" in f else None

    @staticmethod
    def read_market(path: str):
        """The run's MarketSnapshot (see ``save``), or None in older files."""
        import pickle

        import h5py

        with h5py.File(path, "r") as f:
            return pickle.loads(f["market_pickle"][()].tobytes()) if "market_pickle" in f else None

    @staticmethod
    def read_scenarios(path: str):
        """(states (K_all, d, P), model) from a file written by ``save`` with states and model; a run folder is
        this program's own output (the model is a pickle: read only files you wrote)."""
        import pickle

        import h5py

        with h5py.File(path, "r") as f:
            if "states" not in f or "model_pickle" not in f:
                raise KeyError("states/model")
            return f["states"][()], pickle.loads(f["model_pickle"][()].tobytes())


def _pickled(obj):
    """pickle.dumps(obj), or None for None or an object that does not pickle (the what-if then builds it again)."""
    import pickle

    if obj is None:
        return None
    try:
        return pickle.dumps(obj)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


class NoCube:
    """Stands in for the cube when output.store_cube is false."""

    def add(self, *args) -> None:
        pass

    def save(self, *args, **kwargs) -> list:
        return []


def values_cube(store: bool, n_paths: int):
    """A NettingValuesCube when ``store`` (output.store_cube), else a stand-in that keeps nothing."""
    return NettingValuesCube(n_paths) if store else NoCube()
