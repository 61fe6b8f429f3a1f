"""The scriptable entry points the CLI wraps: compose -> validate -> simulate / run.

    cfg = exposure.compose(["market=flat", "simulation.paths=2000"])
    exposure.validate(cfg)            # raises ConfigError naming the key; no compute
    results = exposure.run(cfg)       # the whole chain, written to cfg.output.dir

Only this module and ``cli`` touch Hydra; everything below takes plain config nodes.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from exposure.config.locate import conf_dir
from exposure.errors import ConfigError
from exposure.setup import Setup, path_generator, setup  # noqa: F401  (re-exported)


def compose(overrides: list[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose the Hydra config with ``overrides``; a bad key or type raises ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from exposure.config.schema import register_configs

    register_configs()
    # A calling Hydra application (an @hydra.main script, a notebook that composed its own config) keeps its
    # global state: set it aside for our compose and put it back afterwards.
    caller = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=list(overrides or []))
    except Exception as exc:  # Hydra wraps OmegaConf's validation errors; report them as config errors.
        cause = exc.__cause__ or exc
        full_key = getattr(cause, "full_key", None) or getattr(exc, "full_key", None)
        msg = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if not full_key:
            # Hydra's override errors quote the override text; name its key rather than "overrides".
            hit = [o for o in (overrides or []) if o in str(exc)]
            full_key = hit[0].split("=", 1)[0].lstrip("+~") if hit else "overrides"
            if "Ambiguous value" in msg:
                msg += " (quote values that contain commas: key='1Y,2Y')"
        raise ConfigError(str(full_key), msg, source=conf_dir()) from exc
    finally:
        GlobalHydra.instance().clear()
        if caller is not None:
            GlobalHydra.instance().initialize(caller)


def validate(cfg: DictConfig) -> Setup:
    """Run every check (market, model, grid, portfolio) without calibrating or simulating."""
    return setup(cfg, calibrate=False)


def simulate(cfg: DictConfig, s: Setup | None = None):
    """Simulated states as an xarray Dataset (path, date, factor), t0 included."""
    import numpy as np

    from exposure import __version__
    from exposure.simulation.scenario_io import scenarios_dataset

    s = s or setup(cfg)
    gen = path_generator(cfg, s)
    states = gen.all_states()
    attrs = {
        "seed": int(cfg.simulation.seed),
        "base_currency": s.market.base_currency,
        "asof": s.market.asof.isoformat(),
        "package_version": __version__,
        "numeraire": "base-currency bank account (BA state)",
        "config": OmegaConf.to_yaml(cfg),
    }
    dates = [s.market.asof] + list(s.grid.dates)
    times = np.concatenate([[0.0], s.grid.times])
    return scenarios_dataset(states, dates, times, s.built.model.state_names, attrs)


def run(cfg: DictConfig):
    """The whole chain on the configured market and portfolio; results written under cfg.output.dir."""
    from exposure.pipeline import run_pipeline

    return run_pipeline(cfg)
