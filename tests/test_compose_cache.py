"""The compose cache (exposure.config.compose_cache): a compose of the same conf/ and overrides is the earlier one
unpickled (same config, same flags and types), a changed conf/ file or override composes again, an invalid
override is refused every time, and a second fresh process does not import Hydra."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from exposure import api
from exposure.config import compose_cache, hydra_compose
from exposure.config.freeze import freeze
from exposure.confignode import config_yaml, to_plain
from exposure.errors import ConfigError

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def hydra_calls(tmp_path, monkeypatch):
    """Counts Hydra composes; the cache in tmp_path/cache."""
    monkeypatch.setattr(compose_cache, "_folder", lambda: str(tmp_path / "cache"))
    calls = []
    real = hydra_compose._hydra_compose

    def counted(overrides, config_name):
        calls.append(list(overrides or []))
        return real(overrides, config_name)

    monkeypatch.setattr(hydra_compose, "_hydra_compose", counted)
    return calls


def test_a_second_compose_is_the_first(hydra_calls):
    ov = ["simulation.paths=777", "output.dir=/tmp/somewhere"]
    a, b = api.compose(ov), api.compose(ov)
    assert len(hydra_calls) == 1
    assert a is not b and OmegaConf.to_yaml(a) == OmegaConf.to_yaml(b)
    assert OmegaConf.to_container(a, resolve=True) == OmegaConf.to_container(b, resolve=True)
    assert OmegaConf.get_type(b.simulation) is OmegaConf.get_type(a.simulation)
    assert OmegaConf.is_struct(b) and b.simulation.paths == 777
    assert config_yaml(freeze(a)) == config_yaml(freeze(b)) and to_plain(freeze(a)) == to_plain(freeze(b))
    b.simulation.paths = 5  # the caller's copy: the stored config is not changed
    assert api.compose(ov).simulation.paths == 777 and len(hydra_calls) == 1
    api.compose(["simulation.paths=778", "output.dir=/tmp/somewhere"])  # another override: composed
    api.compose(["market=flat", "simulation.paths=777"]), api.compose(["simulation.paths=777", "market=flat"])
    assert len(hydra_calls) == 4  # the order of overrides is part of the key


@pytest.mark.parametrize("out", ["/tmp/a", "runs/desk", "./runs/b-1.2", "a/b_c/", "runs/2026-12-06/x.y", "/1e5/2"])
def test_another_run_folder_is_the_same_compose_with_hydras_output_dir(hydra_calls, out):
    other = ["portfolio=desk", "simulation.paths=300"]
    api.compose(other + ["output.dir=/somewhere/else"])
    got = api.compose([f"output.dir={out}"] + other)
    assert len(hydra_calls) == 1  # the run folder is not part of the key
    want = hydra_compose._hydra_compose(other + [f"output.dir={out}"], "config")  # Hydra's own reading of the override
    assert OmegaConf.to_yaml(got) == OmegaConf.to_yaml(want) and got.output.dir == out
    assert OmegaConf.to_container(got, resolve=True) == OmegaConf.to_container(want, resolve=True)


@pytest.mark.parametrize("ov", [["output.dir=out"], ["output.dir='/a b'"], ["output.dir=/a", "output.dir=/b"]])
def test_other_run_folder_overrides_stay_in_the_key(hydra_calls, ov):
    assert compose_cache.split_output_dir(ov) == (ov, None)
    api.compose(ov), api.compose(ov)
    assert len(hydra_calls) == 1


def test_a_changed_conf_file_composes_again(hydra_calls, tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf", conf)
    monkeypatch.setenv("XPOSURE_CONF_DIR", str(conf))
    before = api.compose([]).simulation.paths
    sim = conf / "simulation" / "default.yaml"
    text = sim.read_text()
    assert f"paths: {before}" in text
    sim.write_text(text.replace(f"paths: {before}", f"paths: {before + 1}"))
    assert api.compose([]).simulation.paths == before + 1
    assert len(hydra_calls) == 2


def test_an_invalid_override_is_refused_every_time(hydra_calls, tmp_path):
    for _ in range(2):
        with pytest.raises(ConfigError, match="simulation.pathz"):
            api.compose(["simulation.pathz=3"])
    assert len(hydra_calls) == 2 and not list((tmp_path / "cache").glob("*.pkl"))


def test_a_foreign_entry_is_composed_again(hydra_calls, tmp_path):
    path = compose_cache.entry_path(hydra_compose.conf_dir(), "config", [])
    os.makedirs(os.path.dirname(path))
    pathlib.Path(path).write_bytes(b"not a pickle")
    assert api.compose([]).simulation.paths > 0 and len(hydra_calls) == 1


def test_cache_off_composes_every_time(hydra_calls, monkeypatch):
    monkeypatch.setattr(compose_cache, "_folder", lambda: None)
    api.compose([]), api.compose([])
    assert len(hydra_calls) == 2


def test_a_second_fresh_process_does_not_import_hydra(tmp_path):
    probe = ("import sys; from exposure.cli import main; rc = main(['show', 'simulation.paths=321']); "
             "print('HYDRA' if 'hydra' in sys.modules else 'NO-HYDRA', rc)")
    env = dict(os.environ, XPOSURE_JAX_CACHE=str(tmp_path / "cache"))
    out = []
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, env=env)
        assert p.returncode == 0, p.stderr[-3000:]
        out.append(p.stdout)
    assert out[0].endswith("HYDRA 0\n") and out[1].endswith("NO-HYDRA 0\n")
    assert out[0].rsplit("\n", 2)[0] == out[1].rsplit("\n", 2)[0]  # the same `exposure show` text
    assert "paths: 321" in out[1]
