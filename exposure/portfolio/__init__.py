"""Portfolio input: trades, netting sets with CSAs, and past fixings; see ``loader``."""

from exposure.portfolio.loader import Portfolio, load_portfolio

__all__ = ["Portfolio", "load_portfolio"]
