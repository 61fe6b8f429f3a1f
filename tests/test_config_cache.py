"""The frozen stored config kept across processes (exposure.config.cache, used by `exposure whatif`):

- a hit is the ConfigNode that freezing the stored config gives (values, str Enums, YAML text), without building;
- an edited config.yaml, other overrides or another run folder is a miss; ``${...}`` text is never cached;
- the cache off (no JAX cache folder) or a corrupt entry falls back to building, with the same result.
"""

from __future__ import annotations

import enum
import os

import pytest

from exposure import api
from exposure.config import cache
from exposure.config.freeze import freeze
from exposure.confignode import ConfigNode, config_yaml, to_plain


@pytest.fixture
def where(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    monkeypatch.setattr(cache, "_where", lambda: str(folder))
    return folder


def _run_folder(tmp_path, *overrides) -> str:
    """A folder with only the config.yaml a run writes (what _stored_config reads)."""
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "config.yaml").write_text(config_yaml(api.compose(["simulation.paths=64", *overrides])))
    return str(run)


def _leaves(x, path=""):
    """(path, type, value) of every leaf: equality of types too (a str Enum equals its string)."""
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k], f"{path}.{k}")]
    if isinstance(x, (list, tuple)):
        return [leaf for i, v in enumerate(x) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, type(x), x)]


def _same(a: ConfigNode, b: ConfigNode) -> bool:
    return _leaves(to_plain(a)) == _leaves(to_plain(b)) and config_yaml(a) == config_yaml(b)


def test_a_hit_is_the_frozen_stored_config_without_building_it(tmp_path, where):
    run = _run_folder(tmp_path)
    direct = freeze(api._stored_config(run, None))
    assert any(isinstance(v, enum.Enum) for _, _, v in _leaves(to_plain(direct)))  # the check sees Enums
    first = api._frozen_stored_config(run, None)  # a miss: built and stored
    assert _same(first, direct) and len(os.listdir(where)) == 1
    calls = []
    text = open(os.path.join(run, "config.yaml"), "rb").read()
    hit = cache.cached_config(("stored", text, (), os.path.abspath(run)), lambda: calls.append(1), text)
    assert calls == [] and isinstance(hit, ConfigNode) and _same(hit, direct)
    assert _same(api._frozen_stored_config(run, None), direct)
    assert api._frozen_stored_config(run, None).output.dir == os.path.join(run, "aggregate")


def test_edited_config_overrides_and_folders_are_misses(tmp_path, where):
    run = _run_folder(tmp_path)
    assert api._frozen_stored_config(run, None).simulation.paths == 64
    _run_folder(tmp_path, "simulation.seed=7")  # the same folder, another config.yaml
    assert api._frozen_stored_config(run, None).simulation.seed == 7
    got = api._frozen_stored_config(run, ["report.pfe_quantile=0.95"])
    assert got.report.pfe_quantile == 0.95 and _same(got, freeze(api._stored_config(run, ["report.pfe_quantile=0.95"])))
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "config.yaml").write_bytes(open(os.path.join(run, "config.yaml"), "rb").read())
    assert api._frozen_stored_config(str(other), None).output.dir == os.path.join(str(other), "aggregate")
    assert len(os.listdir(where)) == 4


def test_interpolations_cache_off_and_corrupt_entries_build_again(tmp_path, where, monkeypatch):
    calls = []

    def build():
        calls.append(1)
        return ConfigNode({"a": 1})

    assert cache.cached_config(("x",), build, b"a: ${oc.env:HOME}") == ConfigNode({"a": 1})
    assert cache.cached_config(("x",), build, b"a: ${oc.env:HOME}") == ConfigNode({"a": 1})
    assert len(calls) == 2 and not where.exists()  # never stored
    cache.cached_config(("y",), build, b"a: 1")
    (entry,) = where.iterdir()
    entry.write_bytes(b"not a pickle")
    assert cache.cached_config(("y",), build, b"a: 1") == ConfigNode({"a": 1}) and len(calls) == 4
    monkeypatch.setattr(cache, "_where", lambda: None)  # XPOSURE_JAX_CACHE=0
    cache.cached_config(("y",), build, b"a: 1")
    assert len(calls) == 5
