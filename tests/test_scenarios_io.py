"""Scenarios written to HDF5 through the CLI read back as the same labelled array."""

from __future__ import annotations

import numpy as np
import xarray as xr

import exposure
from exposure.cli import main
from exposure.simulation.scenario_io import read_scenarios


def test_cli_simulate_writes_readable_scenarios(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["simulate", "~portfolio", "market=flat", "model=flat", "simulation.paths=64", "simulation.chunk_size=32",
            "simulation.grid='3M,6M,1Y'", f"output.dir={out}"]
    assert main(args) == 0
    ds = read_scenarios(str(out / "scenarios.h5"))
    assert ds["states"].dims == ("path", "date", "factor")
    assert ds.sizes == {"path": 64, "date": 4, "factor": 7}
    assert list(ds["factor"].values[:2]) == ["IR:USD", "BA:USD"]
    assert ds.attrs["seed"] == 42 and ds.attrs["base_currency"] == "USD"
    # The same config in-process gives bit-identical states (seeded, chunk-independent).
    cfg = exposure.compose(args[1:-1] + ["simulation.chunk_size=64"])
    again = exposure.api.simulate(cfg)
    xr.testing.assert_identical(again["states"], ds["states"])
    assert not list(out.glob("*.tmp"))
    np.testing.assert_array_equal(ds["states"].values[:, 0, 0], 0.0)


def test_cli_simulate_is_one_staged_run_folder(tmp_path, monkeypatch, capsys):
    """`exposure simulate` replaces output.dir as one run folder: a crash while writing leaves the previous
    folder byte for byte and no staging folder, a success leaves scenarios.h5 and config.yaml only."""
    import os

    from exposure.simulation import scenario_io

    out = tmp_path / "scen"
    args = ["simulate", "~portfolio", "market=flat", "model=flat", "simulation.paths=64", "simulation.chunk_size=32",
            "simulation.grid='3M,6M'", f"output.dir={out}"]
    assert main(args) == 0
    assert sorted(os.listdir(out)) == ["config.yaml", "scenarios.h5"]
    before = (out / "scenarios.h5").read_bytes()

    def boom(ds, path):
        with open(path + ".tmp-1", "wb") as fh:  # a half-written file, as a crash would leave it
            fh.write(b"half")
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(scenario_io, "write_netcdf_atomic", boom)
    assert main(args[:-1] + ["simulation.seed=7", f"output.dir={out}"]) == 2
    assert "simulated" in capsys.readouterr().err
    assert (out / "scenarios.h5").read_bytes() == before and sorted(os.listdir(out)) == ["config.yaml", "scenarios.h5"]
    assert sorted(os.listdir(tmp_path)) == [".scen.lock", "scen"]
