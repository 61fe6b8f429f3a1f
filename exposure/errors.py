"""Errors raised before any compute starts.

Every error names where the problem is (file, config key, trade id) and what is wrong, so that a user
reading one line of an overnight log can fix the input without a debugger.
"""

from __future__ import annotations


class ExposureError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ExposureError, ValueError):
    """A configuration value is missing, malformed or inconsistent.

    ``key`` is the dotted config path (``market.curves.USD.rates[3]``) and ``problem`` the reason.
    """

    def __init__(self, key: str, problem: str, source: str | None = None):
        self.key = key
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {problem}")


class MarketDataError(ExposureError, ValueError):
    """Market data cannot build a curve, surface or credit curve (e.g. a bootstrap has no root)."""


class TradeError(ExposureError, ValueError):
    """A trade cannot be priced; ``trade_id`` names it and ``problem`` says why."""

    def __init__(self, trade_id: str, problem: str, source: str | None = None):
        self.trade_id = trade_id
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}trade '{trade_id}': {problem}")


class CalibrationError(ExposureError, RuntimeError):
    """A model calibration failed to reprice its instruments within tolerance."""


class NonFiniteError(ExposureError, FloatingPointError):
    """A NaN or infinity where a number must be finite; the message names the variable, the netting set or
    trade and the date of the first one (nothing non-finite is ever written to a results file)."""


class ResultsFileError(ExposureError, ValueError):
    """A stored run's file (results.h5, netting_values.h5) cannot be read: the message names the file."""


class ClusterError(ExposureError, RuntimeError):
    """A distributed run lost its cluster, or a chunk failed on a worker for a reason other than an
    ExposureError (those reach the caller unchanged): the message names the chunk's paths and the cause."""
