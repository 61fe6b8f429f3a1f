"""The API boundary: a composed Hydra/OmegaConf config -> the frozen ConfigNode every stage below reads."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from exposure.confignode import ConfigNode


def freeze(cfg) -> ConfigNode:
    """ConfigNode of ``cfg`` (a DictConfig; a ConfigNode is returned as is). Interpolations are resolved;
    the YAML text of config.yaml is kept as OmegaConf writes it."""
    if isinstance(cfg, ConfigNode):
        return cfg
    if not isinstance(cfg, DictConfig):
        raise TypeError(f"expected a composed config (exposure.compose), got {type(cfg).__name__}")
    data = OmegaConf.to_container(cfg, resolve=True)
    return ConfigNode(data, "", OmegaConf.to_yaml(cfg))
