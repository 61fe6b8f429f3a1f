"""The composed configuration as every stage below the API sees it: typed, frozen, Hydra-free.

    cfg = exposure.config.freeze(dict_config)      # once, at the API boundary (exposure.api)
    cfg.simulation.paths -> 5000 (int)             # attribute access, as on the schema dataclasses
    cfg.get("capital"), "credit" in cfg.market     # mapping access (collections.abc.Mapping)
    cfg.simulation.paths = 3                       # TypeError: the run's config cannot change under it
    config_yaml(cfg)                               # the YAML text written to config.yaml and results.h5

Values keep the types the schema validated at compose time (int, float, bool, str, the schema's str Enums,
None); mappings become ConfigNodes and lists tuples, so nothing below the API can mutate the run's config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ConfigNode(Mapping):
    """A read-only config section: ``node.key`` or ``node["key"]``; an unknown key raises AttributeError /
    KeyError naming its dotted path."""

    __slots__ = ("_data", "_path", "_yaml")

    def __init__(self, data: Mapping, path: str = "", yaml_text: str | None = None):
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_data", {str(k): _frozen(v, f"{path}.{k}" if path else str(k))
                                           for k, v in data.items()})
        object.__setattr__(self, "_yaml", yaml_text)

    def __getattr__(self, key: str):
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"config has no key '{self._key(key)}'") from None

    def __getitem__(self, key):
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(f"config has no key '{self._key(key)}'") from None

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, key, value):
        raise TypeError(f"the run's config is frozen: cannot set '{self._key(key)}'")

    def __delattr__(self, key):
        raise TypeError(f"the run's config is frozen: cannot delete '{self._key(key)}'")

    def __reduce__(self):  # pickles (a ChunkJob or a worker may carry settings built from it)
        return (ConfigNode, (to_plain(self), self._path, self._yaml))

    def __repr__(self) -> str:
        return f"ConfigNode({self._path or 'config'}: {', '.join(self._data)})"

    def _key(self, key) -> str:
        return f"{self._path}.{key}" if self._path else str(key)


def _frozen(v, path: str):
    if isinstance(v, ConfigNode):
        return v
    if isinstance(v, Mapping):
        return ConfigNode(v, path)
    if _is_list(v):
        return tuple(_frozen(x, f"{path}[{i}]") for i, x in enumerate(v))
    return v


def to_plain(v, enum_values: bool = False):
    """Plain dicts and lists of a ConfigNode tree (Enums kept, or their values with ``enum_values``)."""
    if isinstance(v, Mapping):
        return {k: to_plain(x, enum_values) for k, x in v.items()}
    if _is_list(v):
        return [to_plain(x, enum_values) for x in v]
    return getattr(v, "value", v) if enum_values else v


def _is_list(v) -> bool:
    """A list, a tuple or any other sequence container (an OmegaConf ListConfig passed by a caller below the
    API), not a string."""
    return isinstance(v, Sequence) and not isinstance(v, (str, bytes))


def config_yaml(cfg) -> str:
    """The YAML text of the run's config (the text the API composed), '' for None; a plain mapping or a
    node built without one is dumped with Enums as their values."""
    if cfg is None:
        return ""
    if isinstance(cfg, str):
        return cfg
    text = getattr(cfg, "_yaml", None) if isinstance(cfg, ConfigNode) else None
    if text is not None:
        return text
    import yaml

    return yaml.safe_dump(to_plain(cfg, enum_values=True), sort_keys=False)


def merged(cfg, updates: Mapping) -> ConfigNode:
    """A new ConfigNode: ``cfg`` with the nested ``updates`` written over it (e.g. a bumped risk factor, or a
    revaluation with risk and files off); ``cfg`` itself does not change."""
    def deep(base, upd):
        out = dict(base)
        for k, v in upd.items():
            out[k] = deep(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
        return out

    return ConfigNode(deep(to_plain(cfg), to_plain(updates)))


def program_hint(cfg) -> str | None:
    """The composed config (a ConfigNode, or the DictConfig a caller below the API passes) as JSON without
    output.dir (runs into other folders use the same programs), for exposure.simulation.programs.load_ahead;
    None where it cannot be written out."""
    import json

    try:
        # a DictConfig is a Mapping whose items resolve on access: nothing below the API imports OmegaConf
        plain = to_plain(cfg, enum_values=True)
        plain.get("output", {}).pop("dir", None)
        return json.dumps(plain, sort_keys=True, default=str)
    except Exception:  # noqa: BLE001 - an unresolvable interpolation fails in the run with its own message
        return None
