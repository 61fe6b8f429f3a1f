"""Stored executables loaded ahead (exposure.simulation.programs_ahead): a run lists the programs it used; the next
run with the same hint loads them on a background thread while it sets up, and takes each only for its exact path.
The numbers are the plain jit's bit for bit; nothing listed, a stale list or another hint loads on the caller."""

from __future__ import annotations

import json
import os
import threading
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from exposure.simulation import programs


@pytest.fixture
def cache_dir(tmp_path):
    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jax"))
    programs._LOADED.clear()
    yield tmp_path / "jax"
    jax.config.update("jax_compilation_cache_dir", before)
    programs._LOADED.clear()


@partial(jax.jit, static_argnames=("flip",))
def _f(x, y, flip: bool = False):
    z = jnp.cumsum(jnp.exp(x) * y, axis=0)
    return -z if flip else z


X, Y = np.linspace(-2.0, 2.0, 37), np.arange(37.0)


def _a_run(hint, loads):
    """One run of this process as the CLI makes it: load ahead, use two programs, finish. loads: (thread, path) of
    every stored executable read."""
    programs._LOADED.clear()  # as a fresh process
    orig = programs._load
    programs._load = lambda p: loads.append((threading.current_thread().name, os.path.basename(p))) or orig(p)
    try:
        ahead = programs.load_ahead(hint)
        if ahead is not None and ahead._thread is not None:  # a set-up long enough for every load (deterministic)
            ahead._thread.join()
        try:
            out = [np.asarray(programs.compiled(_f, "f", (X, Y), {"flip": b})) for b in (False, True)]
        finally:
            programs.finish_ahead(ahead)
    finally:
        programs._load = orig
    return out


def test_the_next_run_loads_its_programs_ahead_and_gets_the_plain_jit_bit_for_bit(cache_dir):
    plain = [np.asarray(_f(X, Y, flip=b)) for b in (False, True)]
    loads = []
    first = _a_run("book A", loads)  # compiles and stores both, lists them
    assert loads and all(t == "MainThread" for t, _ in loads)  # looked for on the caller (absent)
    (listed,) = [f for f in os.listdir(cache_dir / "exported") if f.endswith(".ahead.json")]
    paths = json.loads((cache_dir / "exported" / listed).read_text())
    assert len(paths) == 2 and all(os.path.exists(p) for p in paths)
    loads.clear()
    second = _a_run("book A", loads)
    assert sorted(p for _, p in loads) == sorted(os.path.basename(p) for p in paths)
    assert all(t == "xposure-load-ahead" for t, _ in loads), loads  # none read on the caller's thread
    for a, b, ref in zip(first, second, plain):
        np.testing.assert_array_equal(a, ref)
        np.testing.assert_array_equal(b, ref)
    loads.clear()
    _a_run("book B", loads)  # another configuration: no list, nothing ahead
    assert len(loads) == 2 and all(t == "MainThread" for t, _ in loads)
    assert len([f for f in os.listdir(cache_dir / "exported") if f.endswith(".ahead.json")]) == 2


def test_a_stale_or_foreign_list_loads_nothing_it_should_not(cache_dir, tmp_path):
    from exposure.simulation import programs_ahead

    loads = []
    _a_run("book A", loads)
    where = str(cache_dir / "exported")
    (listed,) = [os.path.join(where, f) for f in os.listdir(where) if f.endswith(".ahead.json")]
    paths = json.loads(open(listed).read())
    foreign = tmp_path / "elsewhere.pricing.xlaexe"
    foreign.write_bytes(open(paths[0], "rb").read())
    os.remove(paths[1])  # evicted since: the run compiles it again
    with open(listed, "w") as fh:
        json.dump([str(foreign), paths[1], paths[0], 3], fh)
    assert programs_ahead.read_list(listed) == [paths[0]]  # only existing programs of this folder
    loads.clear()
    out = _a_run("book A", loads)
    np.testing.assert_array_equal(out[1], np.asarray(_f(X, Y, flip=True)))
    assert [t for t, p in loads if p == os.path.basename(paths[0])] == ["xposure-load-ahead"]
    assert os.path.exists(paths[1])  # rebuilt and stored
    assert sorted(json.loads(open(listed).read())) == sorted(paths)  # the list rewritten from this run
    with open(listed, "wb") as fh:
        fh.write(b"\x00not json")
    assert programs_ahead.read_list(listed) == []
    jax.config.update("jax_compilation_cache_dir", None)  # cache off: nothing ahead
    assert programs.load_ahead("book A") is None


def test_an_ad_run_loads_ahead_under_its_config_and_finishes(monkeypatch):
    """run_pipeline with risk.method=ad loads the last such run's programs ahead (hint: the config without
    output.dir) and finishes the loading when the run ends, also when it fails; other runs load nothing ahead."""
    from omegaconf import OmegaConf

    from exposure import pipeline

    calls = []
    monkeypatch.setattr(programs, "load_ahead", lambda hint: calls.append(("load", hint)) or "ahead")
    monkeypatch.setattr(programs, "finish_ahead", lambda a: calls.append(("finish", a)))
    monkeypatch.setattr(pipeline, "_run_pipeline", lambda cfg, *a: calls.append(("run",)) or "res")
    ad = OmegaConf.create({"risk": {"method": "ad"}, "output": {"dir": "/tmp/a"}, "x": 1})
    assert pipeline.run_pipeline(ad) == "res"
    hint = pipeline.program_hint(OmegaConf.merge(ad, {"output": {"dir": "/elsewhere"}}))
    assert calls == [("load", hint), ("run",), ("finish", "ahead")] and "/tmp/a" not in hint
    calls.clear()
    for cfg in (OmegaConf.create({"risk": {"method": "none"}}), OmegaConf.create({"x": 1})):
        assert pipeline.run_pipeline(cfg) == "res"
    assert calls == [("run",), ("finish", None)] * 2  # finish_ahead(None): nothing
    calls.clear()
    from exposure.confignode import ConfigNode, to_plain

    node = ConfigNode(to_plain(ad))  # as exposure.api passes it: the same hint
    assert pipeline.program_hint(node) == hint

    def fails(cfg, *a):
        raise RuntimeError("run failed")

    monkeypatch.setattr(pipeline, "_run_pipeline", fails)
    with pytest.raises(RuntimeError):
        pipeline.run_pipeline(ad)
    assert calls == [("load", hint), ("finish", "ahead")]
