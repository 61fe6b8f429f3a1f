"""Errors raised before any compute starts.

Each message names the file (or table), the field/row or counterparty, and what is wrong, so that one line of a
log is enough to fix the input.
"""

from __future__ import annotations


class ScorecardInputError(ValueError):
    """Bad input data or configuration for the scorecard.

    ``source`` is the file or table, ``where`` the column / row / counterparty, ``problem`` the reason.
    """

    def __init__(self, source: str, where: str, problem: str):
        self.source = source
        self.where = where
        self.problem = problem
        super().__init__(f"{source}: {where}: {problem}")
