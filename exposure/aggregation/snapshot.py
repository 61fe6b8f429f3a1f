"""The partial state of an ``ExposureAggregator`` between two chunks, without its per-path data.

    snapshot(agg) -> {"parts": {component: its running sums}, "spill": QuantileStore.sync() or None}
    restore(agg, snap, folder)   the same aggregator, built from the same config, continued from there

What a chunk adds to an aggregator is either a running sum (EPE/ENE/collateral/funding block sums and their
shifts, the path functionals, the discount-factor sums, the compiled reduction's block totals and the raw
inputs of a block cut by a chunk edge: all of a size fixed by netting sets x dates, never by the path count)
or every path's exposure for the PFE quantiles (the spilled ``QuantileStore``: flushed and named by its length,
not copied). ``compact(agg)`` says whether that is all the aggregator holds: no quantile store in memory, no
stored cube, no dynamic-IM regression and no trade-level quantile store (those keep every path in memory, and
a checkpoint then journals the chunk outputs themselves, ``exposure.checkpoint``).

Restoring puts the very objects (float64 arrays, pickled bit for bit) back, so the chunks after the restore
are added to the same bits as in an uninterrupted run.
"""

from __future__ import annotations

# Component attribute of ExposureAggregator -> its attributes that change as chunks arrive (None: the whole
# object, a BlockSums). Everything else in the aggregator is fixed by its constructor.
_PARTS = {
    "_ns_acc": ("_sums", "_shift", "_next"),
    "_trade_acc": ("_sums", "_shift", "_next"),
    "_functionals": ("_sums", "_shift", "_next"),
    "_df_sums": None,
    "_totals": ("S0", "mean", "M2", "count", "_pending", "_pending_n", "_next"),
}


def compact(agg) -> bool:
    """Whether ``snapshot(agg)`` holds all of agg's state (module docstring)."""
    store = agg._ns_acc.store
    return ((store is None or store.spilled) and agg.cube is None and agg._dim is None
            and (agg._trade_acc is None or agg._trade_acc.store is None))


def keep_spill(agg) -> None:
    """The spill file outlives the aggregator's close (a checkpoint names it and deletes it when the run is done)."""
    if agg._ns_acc.store is not None:
        agg._ns_acc.store.persist = True


def snapshot(agg) -> dict:
    """The aggregator's state after its last chunk: the running sums (references to its live objects: pickle
    them before the next chunk) and the spill file's synced state (flushed and fsync'd here)."""
    if not compact(agg):
        raise RuntimeError("the aggregator keeps paths in memory: its state is not a compact snapshot")
    parts = {"_next": agg._next}
    for name, fields in _PARTS.items():
        obj = getattr(agg, name, None)
        parts[name] = None if obj is None else (obj if fields is None else {f: getattr(obj, f) for f in fields})
    store = agg._ns_acc.store
    return {"parts": parts, "spill": store.sync() if store is not None else None}


def restore(agg, snap: dict, folder: str) -> None:
    """Continue ``agg`` (fresh, built from the same config) from ``snap``; the spill file in ``folder`` is
    adopted (cut back to its synced length; ``quantile_store.SpillError`` when it does not hold it)."""
    if not compact(agg) or agg._next:
        raise RuntimeError("only a fresh aggregator without paths in memory is restored from a snapshot")
    parts = snap["parts"]
    store = agg._ns_acc.store
    if (store is None) != (snap["spill"] is None):
        raise RuntimeError("the snapshot and the aggregator disagree on the quantile store")
    if store is not None:
        store.adopt(folder, snap["spill"])
    for name, fields in _PARTS.items():
        obj, saved = getattr(agg, name, None), parts[name]
        if (obj is None) != (saved is None):
            raise RuntimeError(f"the snapshot and the aggregator disagree on {name}")
        if obj is None:
            continue
        if fields is None:
            setattr(agg, name, saved)
        else:
            for f in fields:
                setattr(obj, f, saved[f])
    agg._next = parts["_next"]
