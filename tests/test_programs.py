"""The chunk pricer and the simulation programs kept across processes (serialised executables) give the numbers of
the plain jit, bit for bit, and a stored program is reused only for the portfolio it was compiled for."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

import exposure
from exposure import chunks
from exposure.simulation import programs


@pytest.fixture
def cache_dir(tmp_path):
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jax"))
    chunks._PRICERS.clear()
    programs._LOADED.clear()
    yield tmp_path / "jax"
    jax.config.update("jax_compilation_cache_dir", before)
    chunks._PRICERS.clear()
    programs._LOADED.clear()


def _pricers(cache_dir) -> list:
    return [f for f in os.listdir(cache_dir / "exported") if f.endswith(".pricing.xlaexe")]


def _run(tmp_path, name, extra=()):
    cfg = exposure.compose(["simulation.paths=300", "simulation.chunk_size=300", "simulation.grid='3M,1Y,2Y,5Y'",
                            f"output.dir={tmp_path / name}", *extra])
    return exposure.run(cfg).dataset


def test_exported_program_equals_plain_jit_bit_for_bit(tmp_path, cache_dir):
    first = _run(tmp_path, "a")  # traces, compiles, stores
    assert len(_pricers(cache_dir)) == 1
    kinds = {f.split(".")[1] for f in os.listdir(cache_dir / "exported")}
    assert {"pricing", "simulate_chunk"} <= kinds, kinds
    chunks._PRICERS.clear()  # as a fresh process: the stored executables are loaded, nothing traced or lowered
    programs._LOADED.clear()
    lowered = []
    orig = programs._executable
    programs._executable = lambda lower, path: orig(lambda: lowered.append(path) or lower(), path)
    try:
        second = _run(tmp_path, "b")
    finally:
        programs._executable = orig
    assert lowered == []
    jax.config.update("jax_compilation_cache_dir", None)  # cache off: plain jax.jit
    chunks._PRICERS.clear()
    programs._LOADED.clear()
    plain = _run(tmp_path, "c")
    for v in ("EPE", "ENE", "PFE", "NPV"):
        np.testing.assert_array_equal(first[v].values, plain[v].values)
        np.testing.assert_array_equal(second[v].values, plain[v].values)


def test_other_argument_shapes_are_another_program(tmp_path, cache_dir):
    _run(tmp_path, "a")
    _run(tmp_path, "b", ["simulation.paths=200", "simulation.chunk_size=200"])  # other shapes: another program
    assert len(_pricers(cache_dir)) == 2


def test_edited_source_is_another_program(tmp_path, cache_dir, monkeypatch):
    """Same portfolio and shapes, edited package source (a development checkout): a miss, never the old program."""
    _run(tmp_path, "a")
    chunks._PRICERS.clear()
    monkeypatch.setattr(programs, "source_digest", lambda: "edited")
    _run(tmp_path, "b")
    assert len(_pricers(cache_dir)) == 2


def test_a_corrupt_stored_program_is_rebuilt(tmp_path, cache_dir):
    ref = _run(tmp_path, "a")
    (path,) = [cache_dir / "exported" / f for f in _pricers(cache_dir)]
    path.write_bytes(b"not a program")
    chunks._PRICERS.clear()
    programs._LOADED.clear()
    again = _run(tmp_path, "b")
    np.testing.assert_array_equal(ref["EPE"].values, again["EPE"].values)
    assert path.stat().st_size > 100


def test_a_fresh_process_caches_beside_entries_of_an_older_unbounded_cache(tmp_path):
    """Entries an older version left (no access-time files) must not make the bounded cache's writes fail."""
    import subprocess
    import sys

    stale = tmp_path / "cache"
    stale.mkdir()
    (stale / "jit_price-0123-cache").write_bytes(b"old entry")
    code = "import jax, jax.numpy as jnp, exposure; print(jax.jit(lambda x: x * 2.0)(jnp.arange(3.0)))"
    p = subprocess.run([sys.executable, "-c", code], env={**os.environ, "XPOSURE_JAX_CACHE": str(stale)},
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Error writing persistent compilation cache" not in p.stderr, p.stderr[-2000:]
    assert any(f.name.endswith("-cache") for f in (stale / "xla").iterdir())


def test_stored_programs_are_bounded_least_recently_used_first(tmp_path, monkeypatch):
    """A server asking many what-ifs stores one program per trade set: the folder keeps MAX_STORED of them."""
    import time

    monkeypatch.setattr(programs, "MAX_STORED", 3)
    where = tmp_path / "exported"
    paths = [str(where / f"{k}.jaxexport") for k in range(5)]
    for k, p in enumerate(paths[:3]):
        programs._store(p, b"x")
        os.utime(p, ns=(k * 10**9, k * 10**9))  # stored at 0 s, 1 s, 2 s
    programs._load(paths[0])  # (not a valid program: None) but used now, so the most recent
    assert programs._load(paths[0]) is None
    time.sleep(0.01)
    programs._store(paths[3], b"x")  # 4 > 3: the least recently used (1) goes, the just-used 0 stays
    assert sorted(os.listdir(where)) == ["0.jaxexport", "2.jaxexport", "3.jaxexport"]
    programs._store(paths[4], b"x")
    assert sorted(os.listdir(where)) == ["0.jaxexport", "3.jaxexport", "4.jaxexport"]


def test_compiled_loads_a_kept_executable_and_gives_the_plain_jit_bit_for_bit(cache_dir):
    """programs.compiled: a static argument is part of the key; a process that lost its loaded executables (a
    fresh one) loads the stored one without lowering; an unreadable entry is compiled and stored again."""
    from functools import partial

    import jax.numpy as jnp

    @partial(jax.jit, static_argnames=("flip",))
    def f(x, y, flip: bool = False):
        z = jnp.cumsum(jnp.exp(x) * y, axis=0)
        return -z if flip else z

    x, y = np.linspace(-2.0, 2.0, 37), np.arange(37.0)
    plain = [np.asarray(f(x, y, flip=b)) for b in (False, True)]
    lowered = []
    orig = programs._executable

    def spy(lower, path):
        return orig(lambda: lowered.append(path) or lower(), path)

    programs._executable = spy
    try:
        for b, ref in zip((False, True), plain):
            np.testing.assert_array_equal(np.asarray(programs.compiled(f, "f", (x, y), {"flip": b})), ref)
        assert len(lowered) == 2 and len({os.path.basename(p) for p in lowered}) == 2
        programs._LOADED.clear()
        for b, ref in zip((False, True), plain):
            np.testing.assert_array_equal(np.asarray(programs.compiled(f, "f", (x, y), {"flip": b})), ref)
        assert len(lowered) == 2  # loaded, not lowered again
        for p in lowered:
            with open(p, "wb") as fh:
                fh.write(b"truncated")
        programs._LOADED.clear()
        np.testing.assert_array_equal(np.asarray(programs.compiled(f, "f", (x, y), {"flip": True})), plain[1])
        assert len(lowered) == 3 and os.path.getsize(lowered[-1]) > 100  # rebuilt and stored again
    finally:
        programs._executable = orig
    stored = lowered[-1]

    class Broken:  # a stored entry this XLA loads but cannot run ("Function ... not found")
        def __call__(self, *args):
            raise RuntimeError("INTERNAL: Function wrapped_broadcast not found")

    load = programs._load
    programs._load = lambda p: Broken() if os.path.exists(p) else None
    try:
        programs._LOADED.clear()
        np.testing.assert_array_equal(np.asarray(programs.compiled(f, "f", (x, y), {"flip": True})), plain[1])
        assert not os.path.exists(stored)  # removed: the next process compiles and stores it again
    finally:
        programs._load = load
    jax.config.update("jax_compilation_cache_dir", None)  # cache off: the plain jit, nothing stored
    np.testing.assert_array_equal(np.asarray(programs.compiled(f, "f", (x, y), {"flip": True})), plain[1])


def test_overlapping_compilations_that_bypass_the_cache_restore_it(cache_dir):
    """Stored programs are compiled with JAX's persistent cache bypassed (programs._compile_uncached); when two
    such compilations overlap (background threads) and the first started ends first, JAX's cache must be on
    again afterwards (restoring per compilation left it off for the rest of the process): threads of a service."""
    import threading

    from jax._src import compilation_cache as cc

    saved = (cc._cache_checked, cc._cache_used)
    before = (cc._cache_checked, cc._cache_used) = (True, True)
    gates = [threading.Event(), threading.Event()]
    inside = threading.Semaphore(0)

    class Lowered:
        def __init__(self, gate):
            self.gate = gate

        def compile(self):
            inside.release()
            assert cc._cache_used is False  # bypassed while compiling
            self.gate.wait(30)
            return "exe"

    threads = [threading.Thread(target=programs._compile_uncached, args=(Lowered(g),)) for g in gates]
    for t in threads:
        t.start()
        inside.acquire(timeout=30)
    gates[0].set()  # the first started ends first ...
    threads[0].join(30)
    gates[1].set()
    threads[1].join(30)
    after = (cc._cache_checked, cc._cache_used)
    cc._cache_checked, cc._cache_used = saved
    assert after == before  # ... and the cache is on again
