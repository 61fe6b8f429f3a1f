"""Chunks of paths run on Dask workers, their outputs handed back in chunk order.

    chunk_outputs(job, settings, first) -> ChunkOutput of chunk first, first + 1, ... (as ChunkJob.outputs)

Same seed, same numbers: a chunk's paths depend only on (seed, path index) and every chunk is priced by the
same compiled program at the same width, so a worker gives the bits this process would; the outputs are
yielded strictly in chunk order (the futures are kept in a queue in submission order and the head is awaited
first), so the aggregator's fixed-order sums and the quantile store see exactly the stream of a single-process
run. Before any chunk is submitted, every worker's numerical environment (package, JAX, NumPy versions,
float64, XLA_FLAGS, backend) is compared with this process's: a mismatch is a ConfigError, not a result that
differs in the last bits.

Data path: the job (NumPy set-up, no path data) is scattered to every worker once; at most ``in_flight`` chunks
are submitted and not yet consumed, so at most that many chunk outputs wait on the workers. Outputs go from the
worker to this process directly (``transfer=memory``: Dask's worker-to-client comms, never through the
scheduler) or through files (``transfer=spill``: the worker writes them to a shared folder and returns the file
name). With the compiled reduction on the workers (``simulation.reduction=jax``) and nothing on the client
reading the values (no NumPy reduction, trade level, stored cube, dynamic IM or chunk-output checkpoint
journal), only the reduction's block sums and the PFE quantile input travel (``lean``): the values,
numeraire, FX and states stay on the worker, checked there for non-finite entries. A worker lost mid-run has
its chunks recomputed by Dask on the others (the work is deterministic), and a chunk whose future the scheduler
cancelled meanwhile ("already forgotten") is submitted again, at most ``RESUBMITS`` times; an ExposureError raised in a chunk
reaches the caller as itself, other failures as a ClusterError naming the chunk.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import uuid

import numpy as np

from exposure.errors import ClusterError, ConfigError, ExposureError

_ARRAYS: list = []  # (job, its generator's device arrays) of the job this worker process ran last


def chunk_outputs(job, settings, first: int = 0):
    """ChunkOutputs of the chunks ``first``, ``first + 1``, ... in order: from ``job.outputs(first)`` in this
    process (settings.kind == 'none') or from the cluster the settings name."""
    if not settings.distributed:
        yield from job.outputs(first)
        return
    yield from _distributed_outputs(job, settings, first)


def _distributed_outputs(job, settings, first):
    ranges = list(job.ranges())[first:]
    if not ranges:  # a resumed run with every chunk done
        return
    with _client(settings) as client, _spill_folder(settings, client) as spill:
        check_workers(client, settings)
        remote = client.scatter(job, broadcast=True, hash=False)  # once per worker, not once per chunk
        in_flight = settings.in_flight or 2 * max(1, sum(client.nthreads().values()))
        todo = iter(ranges)
        queue = collections.deque()

        def send(r):
            return client.submit(run_chunk, remote, r[0], r[1], settings.keep_states, spill, settings.lean,
                                 pure=False, key=f"xposure-chunk-{r[0]}-{uuid.uuid4().hex}")

        def submit():
            r = next(todo, None)
            if r is not None:
                queue.append((r, send(r)))

        try:
            for _ in range(in_flight):
                submit()
            while queue:
                (start, stop), fut = queue.popleft()
                for attempt in range(RESUBMITS + 1):
                    try:
                        out = _result(fut, start, stop)
                        break
                    except _Cancelled:  # the scheduler forgot it (a worker lost mid-run): the work is deterministic
                        if attempt == RESUBMITS:
                            raise ClusterError(f"chunk of paths [{start}, {stop}) was cancelled by the scheduler "
                                               f"{RESUBMITS + 1} times (workers lost?)") from None
                        fut = send((start, stop))
                del fut  # the worker drops its copy
                submit()  # keep the workers busy while this chunk is aggregated
                yield _load(out) if spill else out
        finally:
            for _, fut in queue:
                fut.cancel()


def run_chunk(job, start: int, stop: int, keep_states: bool, spill_dir: str | None, lean: bool = False):
    """On a worker: job.run(start, stop) in float64 with the package's JAX settings (importing ``exposure``
    sets them), the states dropped unless kept, the arrays written to ``spill_dir`` when given. lean: the
    values, numeraire, fx, trade values and states stay here (the client needs the reduction's sums only);
    the first non-finite value's place goes back instead of the values it is checked on."""
    import exposure  # noqa: F401  (float64, compilation cache: the client's settings)
    from exposure.chunks import first_nonfinite

    if not _ARRAYS or _ARRAYS[0][0] is not job:  # device copies of the generator's matrices once per job
        _ARRAYS[:] = [(job, job.gen._arrays() if hasattr(job, "gen") else None)]
    out = job.run(start, stop, _ARRAYS[0][1])
    if lean:
        if out.sums is None:
            raise RuntimeError("lean transfer needs the job's reducer (simulation.reduction=jax)")
        out = dataclasses.replace(out, values=None, numeraire=None, fx=None, trades=None, states=None,
                                  nonfinite=first_nonfinite(out.values))
    elif not keep_states:
        out = dataclasses.replace(out, states=None)
    if spill_dir is None:
        return out
    path = os.path.join(spill_dir, f"chunk-{start:012d}-{uuid.uuid4().hex}.npz")
    arrays = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)
              if isinstance(getattr(out, f.name), np.ndarray)}
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # the client never reads a half-written file
    return dataclasses.replace(out, **{k: path for k in arrays})


def _load(out):
    """A spilled ChunkOutput (array fields hold the file name) with its arrays read back; the file removed."""
    names = {f.name: getattr(out, f.name) for f in dataclasses.fields(out) if isinstance(getattr(out, f.name), str)}
    if not names:
        return out
    path = next(iter(names.values()))
    with np.load(path) as z:
        arrays = {k: z[k] for k in names}
    os.remove(path)
    return dataclasses.replace(out, **arrays)


RESUBMITS = 3  # times a chunk the scheduler cancelled is submitted again before the run fails


class _Cancelled(Exception):
    """A chunk's future cancelled by the scheduler, not by this process (``_result``)."""


def _result(fut, start: int, stop: int):
    from distributed import KilledWorker
    from distributed.utils import CancelledError

    try:
        return fut.result()
    except CancelledError:  # e.g. "already forgotten" after a worker died: Dask dropped the key, not a failure
        raise _Cancelled() from None
    except ExposureError as exc:  # a bad trade, a non-finite value...: the error a single process raises
        raise exc.with_traceback(None) from None
    except KilledWorker as exc:
        raise ClusterError(f"chunk of paths [{start}, {stop}) was running on every worker that died ({exc}); "
                           "lower cluster.in_flight or simulation.chunk_size, or give workers more memory") from None
    except Exception as exc:  # noqa: BLE001 - the cause named, without Dask's machinery around it
        raise ClusterError(f"chunk of paths [{start}, {stop}) failed on a worker: {type(exc).__name__}: {exc}") from exc


def fingerprint() -> dict:
    """What the bits of a chunk depend on besides its inputs: versions, float64, XLA flags, backend."""
    import jax

    import exposure

    return {"xposure": exposure.__version__, "jax": jax.__version__, "jaxlib": _version("jaxlib"),
            "numpy": np.__version__, "float64": bool(jax.config.jax_enable_x64), "backend": jax.default_backend(),
            "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def check_workers(client, settings) -> None:
    """ConfigError before any compute when a worker would not give this process's bits."""
    here = fingerprint()
    try:
        theirs = client.run(fingerprint)
    except Exception as exc:  # noqa: BLE001 - e.g. the package is not installed on the workers
        raise ConfigError("cluster.address", f"cannot run xposure on the workers of {settings.address or 'the cluster'}: "
                                             f"{type(exc).__name__}: {exc}") from None
    for worker, fp in sorted(theirs.items()):
        diff = [f"{k} {fp.get(k)!r} (here {v!r})" for k, v in here.items() if fp.get(k) != v]
        if diff:
            raise ConfigError("cluster.address", f"worker {worker} would not give this process's numbers bit for bit: "
                                                 + "; ".join(diff))


@contextlib.contextmanager
def _client(settings):
    from distributed import Client, LocalCluster

    if settings.kind == "local":
        cluster = LocalCluster(n_workers=settings.workers, threads_per_worker=settings.threads_per_worker,
                               processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               memory_limit=settings.memory_limit,
                               silence_logs=logging.CRITICAL)  # a chunk's error reaches the caller as itself
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(settings.address, timeout=settings.connect_timeout_s)
    except (OSError, TimeoutError) as exc:
        raise ConfigError("cluster.address", f"no Dask scheduler answers at {settings.address}: {exc}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=settings.connect_timeout_s)
        except TimeoutError:
            raise ConfigError("cluster.address", f"the scheduler at {settings.address} has no workers "
                                                 f"(waited {settings.connect_timeout_s} s)") from None
        yield client


@contextlib.contextmanager
def _spill_folder(settings, client):
    """None (transfer=memory) or a fresh folder under spill_dir (local default: the temp folder) that every
    worker can write to, removed at the end."""
    if settings.transfer != "spill":
        yield None
        return
    if settings.spill_dir:
        os.makedirs(settings.spill_dir, exist_ok=True)
    where = tempfile.mkdtemp(prefix="xposure-chunks-", dir=settings.spill_dir or None)
    try:
        seen = client.run(os.path.isdir, where)
        blind = [w for w, ok in seen.items() if not ok]
        if blind:
            raise ConfigError("cluster.spill_dir", f"{where} is not visible on worker(s) {', '.join(sorted(blind))} "
                                                   "(transfer=spill needs storage shared with every worker)")
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)
