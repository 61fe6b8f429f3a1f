"""xposure: a JAX Monte Carlo counterparty exposure engine.

float64 is switched on at import (JAX defaults to float32); float32 is an explicit opt-in of the
simulation config whose error against float64 is measured in the benchmarks.
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

__all__ = ["__version__", "compose", "run", "validate"]


def __getattr__(name: str):
    # Lazy so that `import exposure` stays cheap and Hydra is only imported by callers that compose configs.
    if name in ("compose", "run", "validate"):
        from exposure import api

        return getattr(api, name)
    raise AttributeError(name)
