"""Distributed runs (exposure.cluster): a Dask LocalCluster gives the single process's results bit for bit, a bad
address is a ConfigError before any compute, and a worker's ExposureError reaches the user as itself.

The bit-for-bit reference is the single-process run of the same config (issue 15: same seed, same numbers
wherever the chunks run); the reorder buffer is exercised by a toy job whose first chunk is the slowest.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import traceback

import numpy as np
import pytest

import exposure
from exposure.chunks import ChunkOutput
from exposure.cluster import ClusterSettings, chunk_outputs
from exposure.cluster.settings import normalise_address
from exposure.errors import ClusterError, ConfigError, TradeError
from exposure.results import read_results

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    """A 2-process LocalCluster on loopback, shared by the toy-job tests (addressed as cluster=dask)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as c:
        yield c.scheduler_address


@dataclasses.dataclass(frozen=True)
class ToyJob:
    """ChunkJob's interface with cheap, deterministic outputs: chunk [a, b) holds values drawn from seed a."""

    n: int = 1000
    width: int = 100
    fail_at: int | None = None  # raise a TradeError in this chunk
    crash_at: int | None = None  # raise a plain error in this chunk
    die_once: str | None = None  # marker file: the first worker to run chunk 300 dies (os._exit)
    slow_first: float = 0.0  # seconds chunk 0 sleeps (later chunks finish first)

    def ranges(self):
        return [(s, min(s + self.width, self.n)) for s in range(0, self.n, self.width)]

    def outputs(self, first=0):
        for a, b in self.ranges()[first:]:
            yield self.run(a, b)

    def run(self, start, stop, arrays=None):
        if start == self.fail_at:
            raise TradeError("SWAP_7", "fixed rate is not finite")
        if start == self.crash_at:
            raise ZeroDivisionError("toy")
        if self.die_once and start == 300 and not os.path.exists(self.die_once):
            open(self.die_once, "w").close()
            os._exit(1)  # the worker process is lost mid-chunk
        if start == 0 and self.slow_first:
            time.sleep(self.slow_first)
        rng = np.random.default_rng(start)
        n = stop - start
        return ChunkOutput(start, stop, rng.standard_normal((3, 2, n)), rng.standard_normal((3, n)),
                           rng.standard_normal((1, 3, n)), None, rng.standard_normal((3, 4, n)),
                           rng.standard_normal((1, 3)))


def _on(address, **kw):
    return ClusterSettings(kind="dask", address=address, **kw)


def _same(outs_a, outs_b, states=True):
    assert [(o.start, o.stop) for o in outs_a] == [(o.start, o.stop) for o in outs_b]
    for a, b in zip(outs_a, outs_b):
        for f in ("values", "numeraire", "fx", "x_abs_max") + (("states",) if states else ()):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f


@pytest.mark.parametrize("kw", [dict(), dict(transfer="spill", in_flight=1)], ids=["memory", "spill"])
def test_outputs_come_back_in_chunk_order(scheduler, kw):
    job = ToyJob(slow_first=1.0)
    got = list(chunk_outputs(job, _on(scheduler, keep_states=True, **kw)))
    _same(list(job.outputs()), got)


def test_states_are_dropped_unless_the_cube_is_stored(scheduler):
    got = list(chunk_outputs(ToyJob(), _on(scheduler)))
    assert all(o.states is None for o in got)
    _same(list(ToyJob().outputs()), got, states=False)


def test_first_skips_the_chunks_already_done(scheduler):
    got = list(chunk_outputs(ToyJob(), _on(scheduler), first=7))
    assert [o.start for o in got] == [700, 800, 900]


def test_worker_error_reaches_the_user_as_the_exposure_error(scheduler):
    with pytest.raises(TradeError) as info:
        list(chunk_outputs(ToyJob(fail_at=400), _on(scheduler)))
    assert str(info.value) == "trade 'SWAP_7': fixed rate is not finite"  # what a single process says
    shown = "".join(traceback.format_exception(info.value))
    assert "site-packages/distributed" not in shown and "During handling" not in shown  # no Dask traceback


def test_other_worker_failure_names_the_chunk(scheduler):
    with pytest.raises(ClusterError, match=r"chunk of paths \[200, 300\) failed on a worker: ZeroDivisionError: toy"):
        list(chunk_outputs(ToyJob(crash_at=200), _on(scheduler)))


def test_worker_lost_mid_run_is_recomputed(scheduler, tmp_path):
    marker = str(tmp_path / "died")
    got = list(chunk_outputs(ToyJob(die_once=marker), _on(scheduler, keep_states=True)))
    assert os.path.exists(marker)  # a worker did die on chunk 300
    _same(list(ToyJob().outputs()), got)


def test_worker_with_other_xla_flags_is_refused_before_compute(scheduler, monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")  # here only: the workers started without
    with pytest.raises(ConfigError, match="XLA_FLAGS"):
        next(chunk_outputs(ToyJob(fail_at=0), _on(scheduler)))  # fail_at=0: a submitted chunk would raise TradeError


def test_scheduler_without_workers_is_a_config_error():
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  silence_logs=logging.ERROR) as c:
        with pytest.raises(ConfigError, match="has no workers") as info:
            next(chunk_outputs(ToyJob(), _on(c.scheduler_address, connect_timeout_s=1.0)))
    assert info.value.key == "cluster.address"


@pytest.mark.parametrize("address, problem", [
    ("tcp://127.0.0.1:1", "no Dask scheduler answers at tcp://127.0.0.1:1"),
    ("tcp://scheduler", "is not scheme://host:port"),
    ("http://scheduler:8786", "scheme 'http'"),
    ("null", "required with cluster=dask"),
])
def test_bad_address_is_a_config_error_before_compute(tmp_path, monkeypatch, address, problem):
    def no_compute(*a, **k):
        raise AssertionError("setup ran before the address was checked")

    monkeypatch.setattr(exposure.api, "setup", no_compute)
    cfg = exposure.compose(["cluster=dask", f"cluster.address={address}", f"output.dir={tmp_path / 'out'}"])
    for call in (exposure.validate, exposure.run):
        with pytest.raises(ConfigError, match=problem) as info:
            call(cfg)
        assert info.value.key == "cluster.address"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("override, key", [
    ("cluster.workers=0", "cluster.workers"),
    ("cluster.in_flight=0", "cluster.in_flight"),
])
def test_bad_local_cluster_settings_are_config_errors(tmp_path, override, key):
    cfg = exposure.compose(["cluster=local", override, f"output.dir={tmp_path / 'out'}"])
    with pytest.raises(ConfigError) as info:
        exposure.validate(cfg)
    assert info.value.key == key


def test_spill_on_a_dask_cluster_needs_a_shared_folder():
    with pytest.raises(ConfigError, match="shared storage") as info:
        exposure.cluster.cluster_settings(exposure.compose(["cluster=dask", "cluster.address=tcp://10.0.0.5:8786",
                                                            "cluster.transfer=spill"]))
    assert info.value.key == "cluster.spill_dir"


def test_default_runs_in_this_process_and_keeps_states_only_for_the_cube():
    s = exposure.cluster.cluster_settings(exposure.compose([]))
    assert s.kind == "none" and not s.distributed and not s.keep_states
    assert exposure.cluster.cluster_settings(exposure.compose(["output.store_cube=true"])).keep_states


def test_address_without_scheme_is_tcp():
    assert normalise_address("10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert normalise_address("tls://[::1]:8786") == "tls://[::1]:8786"


@pytest.mark.slow
def test_two_worker_local_cluster_gives_single_process_results_bit_for_bit(tmp_path):
    """results.h5 of `cluster=local cluster.workers=2` (processes on loopback) == the single-process run's,
    with a stochastic default intensity too (its survival is read off the states the workers send back)."""
    runs = {}
    wwr = ["model=flat_wwr", "xva.wwr.model=stochastic_intensity"]
    for name, extra in {"single": [], "local2": ["cluster=local", "cluster.workers=2"]}.items():
        cfg = exposure.compose(["simulation.paths=600", "simulation.chunk_size=200", f"output.dir={tmp_path / name}",
                                "output.csv=false", "output.trade_level=true", "report.enabled=false"] + wwr + extra)
        exposure.run(cfg)
        runs[name] = read_results(str(tmp_path / name / "results.h5"))
    ref, ds = runs["single"], runs["local2"]
    names = [v for v in ref.data_vars if np.issubdtype(ref[v].dtype, np.floating)]
    assert {"EPE", "ENE", "PFE", "EE_stderr", "CVA", "CVA_WWR_effect"} <= set(names) and set(names) == {
        v for v in ds.data_vars if np.issubdtype(ds[v].dtype, np.floating)}
    for v in names:
        assert np.array_equal(ref[v].values, ds[v].values, equal_nan=True), v


def test_lean_transfer_keeps_the_values_on_the_workers_with_the_same_results(scheduler, tmp_path, monkeypatch):
    """simulation.reduction=jax on Dask workers with nothing on the client reading the values (quantile store
    spilled, so the checkpoint journals running sums, not chunk outputs): a chunk comes back as its reduction
    sums and PFE input only (values, numeraire, fx None) and the results are the single-process run's bit for
    bit. Bytes per path sent back (pickled as Dask sends them) against what a chunk without lean transfer
    would send: the single-process run's outputs with the states dropped (run_chunk's keep_states=False)."""
    import pickle

    import exposure.pipeline as pipeline
    from exposure.memory import GB, RESERVE

    book = tmp_path / "book.yaml"
    book.write_text("""
netting_sets:
  NS_A:
    counterparty: CP_A
    csa: {margining: two_way, threshold_cpty: 1.0e+5, threshold_bank: 1.0e+5, mta_cpty: 1.0e+4, mta_bank: 1.0e+4}
  NS_C: {counterparty: CP_E}
trades:
  - {id: T1, type: FxForward, netting_set: NS_A, buy_currency: USD, buy_amount: 1.1e+7, sell_currency: EUR,
     sell_amount: 1.0e+7, maturity: 2Y}
  - {id: T3, type: FxForward, netting_set: NS_C, buy_currency: USD, buy_amount: 2.2e+7, sell_currency: EUR,
     sell_amount: 2.0e+7, maturity: 2Y}
""")
    grid = ",".join(f"{m}M" for m in range(1, 25))
    # the store (8 x 2 x 25 x 8192 = 3.3 MB) above half the 4 MB room: spilled; chunks of 512 paths (whole blocks)
    base = [f"portfolio.trades={book}", "portfolio.fixings=null", "simulation.paths=8192", "simulation.chunk_size=512",
            f"simulation.grid='{grid}'", "simulation.reduction=jax", "output.csv=false", "report.enabled=false",
            f"simulation.memory_budget_gb={(RESERVE + 4 * 2**20) / GB}"]
    real = pipeline.chunk_outputs
    sent = {}

    def recording(job, settings, first=0):
        for out in real(job, settings, first):
            wire = out if settings.lean else dataclasses.replace(out, states=None)
            sent.setdefault(name, []).append((out, len(pickle.dumps(wire, protocol=5)) / (out.stop - out.start)))
            yield out

    monkeypatch.setattr(pipeline, "chunk_outputs", recording)
    runs = {}
    for name, extra in {"single": [], "lean": ["cluster=dask", f"cluster.address={scheduler}"]}.items():
        exposure.run(exposure.compose(base + extra + [f"output.dir={tmp_path / name}"]))
        runs[name] = read_results(str(tmp_path / name / "results.h5"))
        log = (tmp_path / name / "run.log").read_text()
        assert "chunks of 512 paths, quantile store spilled to disk" in log and "as running sums" in log, log
    assert all(o.values is None and o.numeraire is None and o.fx is None and o.sums is not None
               for o, _ in sent["lean"])
    lean, full = max(b for _, b in sent["lean"]), min(b for _, b in sent["single"])
    print(f"bytes per path sent back: lean {lean:.0f}, with values {full:.0f}")
    assert lean < 0.5 * full, (lean, full)
    ref = runs["single"]
    names = [v for v in ref.data_vars if np.issubdtype(ref[v].dtype, np.floating)]
    assert {"EPE", "PFE", "EE_stderr", "CVA"} <= set(names)
    for v in names:
        assert np.array_equal(ref[v].values, runs["lean"][v].values, equal_nan=True), v


def test_lean_chunk_leaves_the_values_and_names_the_first_non_finite_one():
    """run_chunk(lean=True) as on a worker: values, numeraire, fx, states dropped, the sums kept, and the place
    (date, netting set, path in the chunk) of the first non-finite value sent instead (the pipeline raises
    NonFiniteError naming it, as it does on values)."""
    from exposure.chunks import first_nonfinite
    from exposure.cluster.dispatch import run_chunk

    @dataclasses.dataclass(frozen=True)
    class WithSums(ToyJob):
        def run(self, start, stop, arrays=None):
            out = ToyJob.run(self, start, stop)
            values = out.values.copy()
            if start == 100:
                values[2, 1, 7] = np.nan
            return dataclasses.replace(out, values=values, sums="the reduction's sums")

    job = WithSums()
    for start, bad in ((0, None), (100, (2, 1, 7))):
        out = run_chunk(job, start, start + 100, False, None, lean=True)
        assert (out.values, out.numeraire, out.fx, out.states, out.sums) == (None, None, None, None,
                                                                             "the reduction's sums")
        assert out.nonfinite == bad
        assert first_nonfinite(job.run(start, start + 100).values) == bad
    with pytest.raises(RuntimeError, match="reducer"):
        run_chunk(ToyJob(), 0, 100, False, None, lean=True)


def test_chunk_the_scheduler_cancelled_is_submitted_again(scheduler, monkeypatch):
    """A future Dask cancels after a worker loss ("already forgotten") is submitted again (deterministic work: the
    same outputs), at most RESUBMITS times; then a ClusterError naming the chunk."""
    from exposure.cluster import dispatch

    with distributed.Client(scheduler) as client:  # what _result makes of a cancelled future
        fut = client.submit(time.sleep, 30, pure=False)
        fut.cancel()
        with pytest.raises(dispatch._Cancelled):
            dispatch._result(fut, 0, 100)
    real, calls = dispatch._result, []

    def cancelled_first(times):
        calls.clear()

        def _result(fut, start, stop):
            calls.append(start)
            if start == 500 and calls.count(500) <= times:
                fut.result()  # the chunk's work is done; Dask's answer is what the test replaces
                raise dispatch._Cancelled()
            return real(fut, start, stop)
        return _result

    monkeypatch.setattr(dispatch, "_result", cancelled_first(2))
    got = list(chunk_outputs(ToyJob(), _on(scheduler, keep_states=True)))
    assert calls.count(500) == 3
    _same(list(ToyJob().outputs()), got)
    monkeypatch.setattr(dispatch, "_result", cancelled_first(dispatch.RESUBMITS + 1))
    with pytest.raises(ClusterError, match=r"chunk of paths \[500, 600\) was cancelled by the scheduler 4 times"):
        list(chunk_outputs(ToyJob(), _on(scheduler)))
