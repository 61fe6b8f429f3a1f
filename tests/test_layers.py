"""One-way layers: nothing below the API imports Hydra or OmegaConf, imports point down the pipeline, and the
config below the API is the frozen ConfigNode the API made."""

from __future__ import annotations

import ast
import pathlib

import pytest

import exposure
from exposure.confignode import ConfigNode, config_yaml

ROOT = pathlib.Path(exposure.__file__).parent
API_LAYER = {"api.py", "cli.py", "__main__.py"}  # and the config/ package (schemas, compose, freeze)
# The pipeline order of the stage packages: a module may import its own package and those before it.
ORDER = ["market", "models", "simulation", "pricing", "portfolio", "aggregation", "xva", "capital", "report"]


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        yield rel, ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_nothing_below_the_api_imports_hydra_or_omegaconf():
    bad = [f"{rel}: {m}" for rel, tree in _modules()
           if rel.parts[0] != "config" and str(rel) not in API_LAYER
           for m in _imports(tree) if m.split(".")[0] in ("hydra", "omegaconf")]
    assert not bad, bad


def test_stage_packages_import_only_earlier_stages():
    bad = []
    for rel, tree in _modules():
        if len(rel.parts) < 2 or rel.parts[0] not in ORDER:
            continue
        own = ORDER.index(rel.parts[0])
        for m in _imports(tree):
            parts = m.split(".")
            if parts[0] == "exposure" and len(parts) > 1 and parts[1] in ORDER and ORDER.index(parts[1]) > own:
                bad.append(f"{rel} imports {m}")
    assert not bad, bad


def test_config_below_the_api_is_frozen_and_typed(tmp_path, monkeypatch):
    from exposure import api, pipeline

    cfg = api.compose(["simulation.paths=64", "simulation.chunk_size=64", "report.plots=false",
                       "report.html=false", f"output.dir={tmp_path / 'out'}"])
    seen = {}

    def spy(c, *a, **k):
        seen["cfg"] = c
        raise RuntimeError("stop here")

    monkeypatch.setattr(pipeline, "run_pipeline", spy)
    with pytest.raises(RuntimeError, match="stop here"):
        api.run(cfg)
    node = seen["cfg"]
    assert isinstance(node, ConfigNode)
    assert isinstance(node.simulation.paths, int) and node.simulation.paths == 64
    assert isinstance(node.output.quantiles, tuple)
    with pytest.raises(TypeError, match="simulation.paths"):
        node.simulation.paths = 3
    with pytest.raises(AttributeError, match="simulation.pathz"):
        node.simulation.pathz  # noqa: B018
    assert "paths: 64" in config_yaml(node) and node.get("no_such_section") is None


def test_a_run_does_not_import_scipy_stats():
    """scipy.stats costs a fresh process about 0.5 s of import: the chain uses scipy.special's ndtr/ndtri."""
    import subprocess
    import sys

    code = ("import sys, exposure.api, exposure.pipeline, exposure.models.build, exposure.models.credit_intensity, "
            "exposure.models.credit_calibration, exposure.capital, exposure.xva, exposure.report, exposure.risk; "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
