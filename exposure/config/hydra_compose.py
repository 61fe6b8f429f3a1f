"""Composing the config with Hydra: ``compose(overrides)`` (``exposure.compose``), served from the compose cache
of an earlier process where conf/ and the overrides are the same (exposure.config.compose_cache); a bad key,
type or config-group option raises ConfigError naming the key. The API layer (``exposure.api``, ``cli`` and this
package) is the only one that touches Hydra."""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, OmegaConf

from exposure.config.locate import conf_dir
from exposure.errors import ConfigError


def compose(overrides: list[str] | None = None, config_name: str = "config") -> DictConfig:
    """Compose the Hydra config with ``overrides``; a bad key or type raises ConfigError. A compose of the same
    conf/ and overrides is served from the cache of an earlier process (exposure.config.compose_cache)."""
    from exposure.config import compose_cache

    _check_added_keys(overrides)
    rest, out_dir = compose_cache.split_output_dir(overrides)
    cached = compose_cache.entry_path(conf_dir(), config_name, rest)
    cfg = compose_cache.load(cached)
    if cfg is None:
        cfg = _hydra_compose(rest, config_name)
        compose_cache.store(cached, cfg)
    if out_dir is not None:  # a plain path: what Hydra's `output.dir=PATH` sets (tests/test_compose_cache.py)
        cfg.output.dir = out_dir
    return cfg


def _hydra_compose(overrides: list[str] | None, config_name: str) -> DictConfig:
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
        missing = _missing_option(exc, overrides)
        if missing is not None:
            raise missing from exc
        cause = exc.__cause__ or exc
        full_key = getattr(cause, "full_key", None) or getattr(exc, "full_key", None)
        msg = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if not full_key:
            # Hydra's override errors quote the override text; name its key rather than "overrides".
            hit = [o for o in (overrides or []) if o in str(exc)]
            full_key = hit[0].split("=", 1)[0].lstrip("+~") if hit else "overrides"
            if "Ambiguous value" in msg:
                msg += " (quote values that contain commas: key='1Y,2Y')"
            added = [o for o in (overrides or []) if o.startswith("+") and f"Multiple values for {o[1:].split('=')[0]}."
                     in msg]
            if added:  # `+risk=ad`: the group already has an option in the defaults list
                full_key = added[0][1:].split("=", 1)[0]
                msg = (f"the group is already in the defaults (conf/config.yaml): choose its option with "
                       f"{added[0][1:]} (a leading '+' adds a group that is not there)")
        raise ConfigError(str(full_key), msg, source=conf_dir()) from exc
    finally:
        GlobalHydra.instance().clear()
        if caller is not None:
            GlobalHydra.instance().initialize(caller)


def _missing_option(exc: Exception, overrides: list[str] | None) -> ConfigError | None:
    """Hydra's MissingConfigException for a config-group option that conf/ does not have (``portfolio=nosuch``)
    as a ConfigError naming the group and listing its bundled options (the ConfigStore's schemas left out);
    None for any other error."""
    options, missing = getattr(exc, "options", None), getattr(exc, "missing_cfg_file", None)
    if not options or not missing or "/" not in missing:
        return None
    group, _, name = missing.rpartition("/")
    for o in overrides or []:  # the override that asked for it: its value may hold a "/" (a path given as option)
        key, _, value = o.lstrip("+~").partition("=")
        if missing == f"{key.replace('.', '/')}/{value}":
            group, name = key.replace("/", "."), value
    bundled = ", ".join(sorted(o for o in options if not o.endswith("_schema")))
    if group == "portfolio":
        problem = (f"'{name}' is not a bundled portfolio (conf/portfolio has: {bundled}); for a portfolio file "
                   "use portfolio.trades=PATH, e.g. portfolio.trades=examples/portfolio/bench_1k.yaml (bench-1k)")
    else:
        problem = f"'{name}' is not an option of conf/{group.replace('.', '/')} (it has: {bundled})"
    return ConfigError(group, problem, source=conf_dir())


def _check_added_keys(overrides) -> None:
    """``+section.key=value`` adds a key even to a schema section: refuse a key that the section's dataclass
    schema does not have (``+simulation.path=20000`` would otherwise be accepted and ignored)."""
    from exposure.config.schema import ExposureConfig

    added = [o for o in overrides or [] if o.startswith("+") and not o.startswith("++") and "=" in o]
    schema = OmegaConf.structured(ExposureConfig) if added else None  # built only when there is a key to check
    for o in added:
        key = o[1:].split("=", 1)[0].strip()
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(schema, parent) if parent else schema
        if isinstance(node, DictConfig) and dataclasses.is_dataclass(OmegaConf.get_type(node)) and leaf not in node:
            known = ", ".join(str(k) for k in node.keys())
            raise ConfigError(key, f"not a config key (a typo?); {parent or 'the config'} has: {known}")
