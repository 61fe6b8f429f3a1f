"""Shared fixtures: the seeded synthetic data set, one pipeline run on it (4-SE intervals) and a live server."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

import scorecard
from scorecard_testlib import compose
from scorecard.synthetic import generate, write_tables
from scorecard.synthetic_exposure import write_exposure_fixture

REPO = Path(__file__).resolve().parents[2]
SEED = 20240601


@pytest.fixture(scope="session")
def synthetic():
    return generate(seed=SEED)


@pytest.fixture(scope="session")
def data_dir(synthetic, tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    write_tables(synthetic, d, "csv")
    write_exposure_fixture(d / "exposure_results.h5", [asdict(p) for p in synthetic.planted], seed=SEED)
    return d


@pytest.fixture(scope="session")
def run_result(data_dir, tmp_path_factory):
    """One run on explicit data files with 4-SE intervals (ci.z=4): the recovery tests compare against lo/hi."""
    out = tmp_path_factory.mktemp("run")
    cfg = compose(f"data.dir={data_dir}", f"exposure.results={data_dir / 'exposure_results.h5'}",
                  f"output.dir={out}", "ci.z=4")
    return scorecard.run(cfg)
