"""Configuration: composition, and named errors before any compute for every class of bad input."""

from __future__ import annotations

import os

import pytest

import exposure
from exposure.cli import main
from exposure.errors import ConfigError


def _validate(*overrides):
    return exposure.validate(exposure.compose(["~portfolio", *overrides]))


def test_default_config_composes_and_validates():
    s = _validate()
    assert s.market.currencies == ("USD", "EUR", "GBP")
    assert s.built.model.factor_names[:3] == ("IR:USD", "IR:EUR", "IR:GBP")
    assert len(s.grid.dates) == 24


def test_flat_market_is_flat():
    s = _validate("market=flat", "model=flat")
    curve = s.market.curves["EUR"]
    for t in (0.1, 1.0, 10.0, 60.0):
        assert float(curve.zero_rate(t)) == pytest.approx(0.02, abs=1e-15)


@pytest.mark.parametrize(
    "override, key, words",
    [
        ("model.ir.EUR.volatility=[-0.01]", "model.ir.EUR.volatility", "finite and >= 0"),
        ("model.ir.USD.volatility=[0.01]", "model.ir.USD.volatility", "need 0 breakpoint times, got 2"),
        ("market.fx_vols.EUR.vols=[-0.1]", "market.fx_vols.EUR.vols", ">= 0"),
        ("+market.fx_spots.JPY=150.0", "market.fx_spots.JPY", "unknown currency 'JPY'"),
        ("market.base_currency=CHF", "market.base_currency", "unknown currency 'CHF'"),
        ("simulation.grid='1Y,6M'", "simulation.grid", "out of order"),
        ("simulation.grid='1Y,2Q'", "simulation.grid", "unknown grid entry '2Q'"),
        ("simulation.mpor=2X", "simulation.mpor", "unknown tenor string"),
        ("market.curves.USD.tenors=[1Y,6M,2Y,3Y,5Y,7Y,10Y,15Y,20Y,30Y,40Y]", "market.curves.USD.tenors", "increasing"),
        ("market.credit.CP_A.recovery=1.2", "market.credit.CP_A.recovery", "[0, 1)"),
        ("market.credit.CP_A.spreads_bp=[35,48,-62,70,78]", "market.credit.CP_A.spreads_bp[2]", "> 0 bp"),
        ("model.correlations=[{a: IR:USD, b: IR:XXX, rho: 0.5}]", "model.correlations[0].b", "unknown factor 'IR:XXX'"),
        ("model.correlations=[{a: IR:USD, b: FX:EUR, rho: 1.5}]", "model.correlations[0].rho", "[-1, 1]"),
        ("simulation.paths=0", "simulation.paths", "> 0"),
        ("market.fx_vols.EUR.vols=[0.002,0.002,0.002,0.002,0.002,0.002,0.002]", "market.fx_vols.EUR",
         "no non-negative model vol"),
    ],
)
def test_bad_config_names_the_key(override, key, words):
    with pytest.raises(ConfigError) as info:
        _validate(override)
    assert info.value.key == key, str(info.value)
    assert words in str(info.value)


def test_non_psd_correlation_is_rejected():
    bad = (
        "model.correlations=[{a: IR:USD, b: IR:EUR, rho: 0.9}, {a: IR:USD, b: IR:GBP, rho: 0.9},"
        " {a: IR:EUR, b: IR:GBP, rho: -0.9}]"
    )
    with pytest.raises(ConfigError, match="not positive semi-definite") as info:
        _validate(bad)
    assert info.value.key == "model.correlations"


def test_type_error_at_compose_names_the_key():
    with pytest.raises(ConfigError) as info:
        exposure.compose(["simulation.paths=many"])
    assert "simulation.paths" in str(info.value)


def test_cli_validate_exit_codes(capsys):
    assert main(["validate", "~portfolio"]) == 0
    assert "config OK" in capsys.readouterr().out
    assert main(["validate", "~portfolio", "model.ir.EUR.mean_reversion=-1"]) == 2
    err = capsys.readouterr().err
    assert "model.ir.EUR.mean_reversion" in err and "Traceback" not in err


def test_unquoted_comma_override_names_the_key():
    with pytest.raises(ConfigError, match="quote values") as info:
        exposure.compose(["simulation.grid=1Y,6M"])
    assert info.value.key == "simulation.grid"


def test_unknown_config_group_option_lists_the_bundled_ones(capsys, monkeypatch):
    # `exposure run portfolio=nosuch`: one line at compose (before any compute) naming the group and its options
    from exposure.config.locate import conf_dir

    monkeypatch.setenv("XPOSURE_REPORT_PROCESS", "0")  # no report child for a run that stops at compose
    assert main(["run", "portfolio=nosuch"]) == 2
    err = capsys.readouterr().err
    bundled = ", ".join(sorted(f.rsplit(".", 1)[0] for f in os.listdir(os.path.join(conf_dir(), "portfolio"))))
    assert f"portfolio: 'nosuch' is not a bundled portfolio (conf/portfolio has: {bundled})" in err
    assert "portfolio.trades=" in err and "_schema" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match=r"'nosuch' is not an option of conf/market \(it has: ") as info:
        exposure.compose(["market=nosuch"])
    assert info.value.key == "market"


def test_vol_calibration_modes():
    """bootstrap (default): FX and equity vols are fitted (reports reprice every pillar to 1e-12) and sit
    away from the market's local vols; market: the market's local vols are used as they are."""
    import numpy as np

    boot = _validate()
    reports = boot.built.calibration
    assert {"FX_EUR", "FX_GBP", "EQ_SPX", "EQ_SX5E"} <= set(reports)
    for key in ("FX_EUR", "FX_GBP", "EQ_SPX", "EQ_SX5E"):
        assert reports[key].max_abs_error < 1e-12, key
    mkt = _validate("model.vol_calibration=market")
    assert not any(k.startswith(("FX_", "EQ_")) for k in mkt.built.calibration)
    times, local = boot.market.fx_vols["EUR"].local_vol_piecewise()
    np.testing.assert_allclose(mkt.built.model.fx_vol[0].values, np.asarray(local), rtol=1e-15)
    assert np.max(np.abs(boot.built.model.fx_vol[0].values - np.asarray(local))) > 1e-3
    with pytest.raises(ConfigError):
        exposure.compose(["model.vol_calibration=sometimes"])


def test_compose_leaves_a_calling_hydra_application_initialised(tmp_path):
    """exposure.compose inside another Hydra application must not clear that application's global state."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    (tmp_path / "app.yaml").write_text("x: 1\n")
    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
        before = GlobalHydra.instance().hydra
        cfg = exposure.compose(["simulation.paths=123"])
        assert cfg.simulation.paths == 123
        assert GlobalHydra.instance().is_initialized() and GlobalHydra.instance().hydra is before
        from hydra import compose as hydra_compose

        assert hydra_compose(config_name="app").x == 1
