"""Immutable pytree dataclasses (equinox style without the dependency).

``@pytree_dataclass`` makes a frozen dataclass whose fields are JAX leaves unless declared with
``static_field()``, which puts them in the treedef (hashable metadata such as names or currency codes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax


def static_field(**kwargs: Any) -> Any:
    """A dataclass field that is static (part of the treedef, not a traced leaf)."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def pytree_dataclass(cls: type) -> type:
    """Freeze ``cls`` and register it with JAX: leaves are the non-static fields."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=meta)
