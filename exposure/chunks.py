"""The unit of work of a run: one chunk of paths, simulated and priced by one compiled program.

    ChunkJob.run(start, stop) -> ChunkOutput(V (K, n_ns, n), N (K, n), fx (n_ccy, K, n), trade values
                                 (K, n_trades, n) or None, states (K, d, n), max_p |x_c| (n_ccy, K))

A job holds only NumPy set-up data (the prepared batches, the discretisation, the seed), so it pickles to a
worker process or machine (``exposure run cluster=...``) and gives there, bit for bit, what it gives here:
every path's normals depend only on (seed, path index) and every chunk is priced with the same width. The
consumer (``pipeline.run_pipeline``) takes the outputs in chunk order, checks them and streams them into the
aggregator; checkpoints are taken between chunks. The t0 prices are not a chunk's: the pipeline computes them
once on the host (``pricing.today``), outside every compiled program.
"""

from __future__ import annotations

import dataclasses
import hashlib

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.opt_swaption import SwaptionBatch
from exposure.pricing.opt_table_nodes import node_program
from exposure.pricing.opt_tables import add_tables, table_coefficients
from exposure.pricing.view import PathView
from exposure.simulation.programs import batch_digest, compiled, exported

_PRICERS: dict = {}
_MAX_PRICERS = 8  # compiled chunk pricers kept per process (a notebook cycling portfolios must not grow without end)


@dataclasses.dataclass(frozen=True)
class ChunkOutput:
    """What one chunk of paths [start, stop) gives the aggregator, as NumPy arrays (padding dropped)."""

    start: int
    stop: int
    values: np.ndarray  # (K, n_ns, n) netting-set values, base currency, undiscounted
    numeraire: np.ndarray  # (K, n)
    fx: np.ndarray  # (n_ccy, K, n)
    trades: np.ndarray | None  # (K, n_trades, n) with output.trade_level
    states: np.ndarray  # (K, d, n) model states (the stored cube keeps them for what-if)
    x_abs_max: np.ndarray  # (n_ccy, K) max over the chunk's simulated paths of |x_c|
    sums: object = None  # exposure.aggregation.reduction.ChunkSums when the job carries the run's reducer
    nonfinite: tuple | None = None  # (date, netting set, path) of the first non-finite value when values were
    # left on a Dask worker (exposure.cluster, lean transfer: the consumer needs only the sums)


def first_nonfinite(values) -> tuple | None:
    """(date index, netting-set index, path index in the chunk) of the first non-finite entry of values
    (K, n_ns, n), or None."""
    finite = np.isfinite(values)
    if finite.all():
        return None
    return tuple(int(i) for i in np.argwhere(~finite)[0])


@dataclasses.dataclass(frozen=True)
class ChunkJob:
    """Everything a chunk needs: the path generator, the batches with their prepared data for the
    simulation dates (``pres``), model times (K,), the deterministic log numeraire (K,) and the netting-set count."""

    gen: object  # exposure.simulation.paths.PathGenerator
    model: object
    batches: tuple
    pres: tuple
    times: np.ndarray
    log_num: np.ndarray
    n_ns: int
    trade_level: bool
    reducer: object = None  # exposure.aggregation.reduction.ChunkReducer: the chunk's sums reduced here too

    def ranges(self) -> list:
        return self.gen.ranges()

    def run(self, start: int, stop: int, arrays=None) -> ChunkOutput:
        return self._collect(self._dispatch(start, stop, arrays))

    def _dispatch(self, start: int, stop: int, arrays=None) -> tuple:
        """The chunk's programs enqueued (JAX dispatches asynchronously): device arrays not yet computed."""
        states = self.gen.chunk(start, arrays)
        args = (states, list(self.pres), self.times, self.log_num)
        price = pricing_function(self.batches, self.n_ns, self.model, self.trade_level, args)
        return (start, stop, states) + tuple(price(*args))

    def _collect(self, pending: tuple) -> ChunkOutput:
        """The dispatched chunk's ChunkOutput: waits for its programs, reduces its sums, copies it to NumPy."""
        start, stop, states, ns, tr, num, fx, x_abs_max = pending
        n = stop - start
        # The collateral and exposure sums on the device arrays, before anything comes back to the host.
        sums = None if self.reducer is None else self.reducer(start, stop, ns, num, fx, states)
        # To NumPy before slicing: slicing a device array compiles a program per chunk width.
        return ChunkOutput(start, stop, np.asarray(ns)[..., :n], np.asarray(num)[..., :n], np.asarray(fx)[..., :n],
                           None if tr is None else np.asarray(tr)[..., :n], np.asarray(states)[..., :n],
                           np.asarray(x_abs_max), sums)

    def outputs(self, first: int = 0):
        """ChunkOutputs of the chunks ``first``, ``first + 1``, ... in order, computed in this process (a resumed
        run starts after its last checkpointed chunk)."""
        arrays = self.gen._arrays()
        todo = self.ranges()[first:]
        if not todo:
            return
        pending = self._dispatch(*todo[0], arrays)
        for start, stop in todo[1:]:
            out = self._collect(pending)
            # The next chunk's programs run while the consumer checks, aggregates and journals this one (host work
            # and disk writes that leave the cores to XLA): the same programs on the same inputs, the outputs
            # taken in the same order, so the same bits. Memory: this chunk and the next one's device arrays, as
            # before (the consumer drops each chunk before asking for the next, pipeline.run_pipeline).
            pending = self._dispatch(start, stop, arrays)
            yield out
        yield self._collect(pending)


def _pricing_key(batches, n_ns: int, model, trade_level: bool):
    """Everything the compiled chunk pricer bakes in: batch types, trades (by content), model layout. Hashing
    the trades' specs costs ~0.2 s on 1,000 trades, so the key is kept per batch objects (every chunk of a run,
    and the runs of a warm process that reuse a parsed portfolio, ask again)."""
    ids = tuple(id(b) for b in batches)
    hit = _KEYS.get(ids)
    if hit is not None and all(a is b for a, b in zip(hit[0], batches)):
        digest = hit[1]
    else:
        digest = _digest(batches)
        while len(_KEYS) >= _MAX_PRICERS:
            _KEYS.pop(next(iter(_KEYS)))
        _KEYS[ids] = (tuple(batches), digest)  # strong references: the ids cannot be reused while cached
    return (digest, n_ns, trade_level, model.currencies, model.equity_names, model.dim)


_KEYS: dict = {}  # tuple of id(batch) -> (batches, digest of their content)


def _digest(batches) -> str:
    """The batches' contents (``programs.batch_digest``, memoised per batch), in order."""
    h = hashlib.sha1()
    for b in batches:
        d = batch_digest(b)
        h.update((d if d is not None else repr(getattr(b, "specs", id(b)))).encode())
    return h.hexdigest()


def netting_total(batches, pres, view, n_ns: int, coef=None):
    """(K, n_ns, P): sum over batches of their netting values, in batch order; a batch with
    ``add_netting_values`` (linear batches, FX options) adds its rows into the running total inside its own scan
    over dates instead of materialising a (K, n_out, P) array of its own: the same values to about one ulp of the
    netting set's gross value (the FX option batch adds its trades date by date, pair by pair, in expiry order
    within a pair). The swaption batches' netting tables (``opt_tables``) are added last, all batches in one loop
    (``add_tables``): the program's compilation does not grow with their number; ``coef``: their coefficients,
    ``table_coefficients(table_parts(batches, pres), dtype)``, computed here when None)."""
    ns, tables = None, []
    for b, pre in zip(batches, pres):
        add = getattr(b, "add_netting_values", None)
        if isinstance(b, SwaptionBatch):  # netting tables: one loop for all batches, after the loop
            ns = add(pre, view, n_ns, ns, tables=tables)
        elif add is not None:
            ns = add(pre, view, n_ns, ns)
        else:
            v = b.netting_values(pre, view, n_ns)
            ns = v if ns is None else ns + v
    if ns is None:
        ns = jnp.zeros((view.x.shape[1], n_ns, view.x.shape[2]), view.x.dtype)
    return add_tables(ns, view.x, view.fx, tables, coef)


def table_parts(batches, pres) -> list:
    """The swaption batches' netting tables (``SwaptionBatch.table_part``), in the order ``netting_total`` adds
    them."""
    parts = [b.table_part(pre) for b, pre in zip(batches, pres) if isinstance(b, SwaptionBatch)]
    return [p for p in parts if p is not None]


def _coefficient_function(batches, key, dtype):
    """pres -> the netting tables' coefficients (``opt_tables.table_coefficients``) or None: computed on the host
    around one small node program (``opt_table_nodes``; ``programs.compiled``, kept across processes), the result
    kept for the pres it was given (every chunk of a run passes the same prepared objects), so a run evaluates the
    tables' nodes once, not once per chunk."""
    memo: dict = {}

    def kernel(xn, ent, n_rows, unit, coefs, term):
        return compiled(node_program(term), "option_tables", (xn, ent),
                        {"n_rows": n_rows, "unit": unit, "coefs": coefs}, key=key + (term.__qualname__,))

    def coefficients(pres):
        ids = tuple(id(p) for p in pres)
        hit = memo.get(ids)
        if hit is None or not all(a is b for a, b in zip(hit[0], pres)):
            memo.clear()  # strong references below: the ids cannot be reused while kept
            hit = memo[ids] = (tuple(pres), table_coefficients(table_parts(batches, pres), dtype, kernel))
        return hit[1]

    return coefficients


def pricing_function(batches, n_ns: int, model, trade_level: bool, example_args):
    """The one compiled program per run: (states (K, d, P), pres, times (K,), log_num (K,)) ->
    (netting values (K, n_ns, P), trade values or None, numeraire (K, P), fx (n_ccy, K, P),
    max over paths of |x_c| (n_ccy, K)).

    The range of the rate states is reduced inside it too. t0 prices are not in it: they are closed forms
    evaluated on the host (``pricing.today``; inside this program they were a second copy of every pricer, about
    40% of its StableHLO). Kept in the process (a second run of the same portfolio does not retrace) and,
    compiled, across processes (``simulation.programs``)."""
    leaves = jax.tree_util.tree_leaves(example_args)
    key = _pricing_key(batches, n_ns, model, trade_level) + (tuple((x.shape, str(x.dtype)) for x in leaves),)
    if key in _PRICERS:
        return _PRICERS[key]

    def price(states, pres, times, log_num, coef):
        view = PathView.from_states(model, states, times, log_num)
        ns = netting_total(batches, pres, view, n_ns, coef)
        trades = (jnp.concatenate([b.values(pre, view) for b, pre in zip(batches, pres)], axis=1)
                  if trade_level else None)
        return ns, trades, view.numeraire, view.fx, jnp.max(jnp.abs(view.x), axis=2)

    tabulated = bool(table_parts(batches, example_args[1]))
    coefficients = (_coefficient_function(batches, key[:-1] + (str(leaves[0].dtype),), leaves[0].dtype)
                    if tabulated else lambda pres: None)
    program = exported(price, key[:-1], *example_args, coefficients(example_args[1]))

    def call(*args):
        return program(*args, coefficients(args[1]))

    while len(_PRICERS) >= _MAX_PRICERS:
        _PRICERS.pop(next(iter(_PRICERS)))
    _PRICERS[key] = call
    return _PRICERS[key]
