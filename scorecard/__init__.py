"""Counterparty toxicity scorecard: execution-quality, behavioural and credit metrics per counterparty,
a configurable composite score with class bands, and an HTTP service for routers and pre-trade tools.

Public entry points: ``compose(overrides) -> cfg``, ``run(cfg) -> ScorecardResult``; the CLI is ``scorecard``.
"""

from .errors import ScorecardInputError

__all__ = ["ScorecardInputError", "compose", "run"]


def compose(overrides=None):
    """Compose the Hydra config (see scorecard.cli.compose); Hydra is imported only when called."""
    from .cli import compose as _compose

    return _compose(overrides)


def run(cfg):
    """Compute and write the scorecard (see scorecard.pipeline.run)."""
    from .pipeline import run as _run

    return _run(cfg)
