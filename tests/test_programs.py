"""The chunk pricer kept across processes (jax.export) gives the numbers of the plain jit, bit for bit, and a
stored program is reused only for the portfolio it was traced for."""

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
    yield tmp_path / "jax"
    jax.config.update("jax_compilation_cache_dir", before)
    chunks._PRICERS.clear()


def _run(tmp_path, name, extra=()):
    cfg = exposure.compose(["simulation.paths=300", "simulation.chunk_size=300", "simulation.grid='3M,1Y,2Y,5Y'",
                            f"output.dir={tmp_path / name}", *extra])
    return exposure.run(cfg).dataset


def test_exported_program_equals_plain_jit_bit_for_bit(tmp_path, cache_dir):
    first = _run(tmp_path, "a")  # traces, exports, stores
    stored = os.listdir(cache_dir / "exported")
    assert len(stored) == 1
    chunks._PRICERS.clear()  # as a fresh process: the stored program is deserialised, nothing traced
    calls = []
    orig = programs.jax.export.export
    programs.jax.export.export = lambda *a, **k: calls.append(1) or orig(*a, **k)
    try:
        second = _run(tmp_path, "b")
    finally:
        programs.jax.export.export = orig
    assert calls == []
    jax.config.update("jax_compilation_cache_dir", None)  # cache off: plain jax.jit
    chunks._PRICERS.clear()
    plain = _run(tmp_path, "c")
    for v in ("EPE", "ENE", "PFE", "NPV"):
        np.testing.assert_array_equal(first[v].values, plain[v].values)
        np.testing.assert_array_equal(second[v].values, plain[v].values)


def test_other_argument_shapes_are_another_program(tmp_path, cache_dir):
    _run(tmp_path, "a")
    _run(tmp_path, "b", ["simulation.paths=200", "simulation.chunk_size=200"])  # other shapes: another program
    assert len(os.listdir(cache_dir / "exported")) == 2


def test_edited_source_is_another_program(tmp_path, cache_dir, monkeypatch):
    """Same portfolio and shapes, edited package source (a development checkout): a miss, never the old program."""
    _run(tmp_path, "a")
    chunks._PRICERS.clear()
    monkeypatch.setattr(programs, "source_digest", lambda: "edited")
    _run(tmp_path, "b")
    assert len(os.listdir(cache_dir / "exported")) == 2


def test_a_corrupt_stored_program_is_rebuilt(tmp_path, cache_dir):
    ref = _run(tmp_path, "a")
    (path,) = [cache_dir / "exported" / f for f in os.listdir(cache_dir / "exported")]
    path.write_bytes(b"not a program")
    chunks._PRICERS.clear()
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
