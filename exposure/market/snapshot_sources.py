"""The file sources under ``cfg.market``: an ORE market file (``market.curve_inputs.ore_market``, with its
conventions and curve configuration) laid underneath the config's quotes, and the curves bootstrapped from
``market.curve_inputs`` (``exposure.market.curve_inputs``). Paths are taken as given, else relative to the project
root; errors raise ConfigError naming the config key.
"""

from __future__ import annotations

from exposure.errors import ConfigError, MarketDataError


def _resolve(path: str, key: str) -> str:
    """``path`` as given, else relative to the project root (the parent of the exposure package)."""
    import os

    if os.path.exists(path):
        return path
    alt = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), path)
    if not os.path.exists(alt):
        raise ConfigError(key, f"file not found: {path}")
    return alt


def with_ore_market(mc, asof, base):
    """``mc`` with the quotes of ``market.curve_inputs.ore_market`` underneath (see ``market.ore_market``)."""
    from exposure.market.config_view import merged

    ore = ore_market_of(mc, asof, base)
    return mc if ore is None else merged(mc, ore.config)


def ore_market_of(mc, asof, base):
    """The ``OreMarket`` of ``market.curve_inputs.ore_market`` (None without one); errors name the config key."""
    ci = getattr(mc, "curve_inputs", None)
    path = getattr(ci, "ore_market", None) if ci is not None else None
    if not path:
        return None
    from exposure.market.ore_market import market_from_ore

    path = _resolve(str(path), "market.curve_inputs.ore_market")
    conventions = None
    cpath = getattr(ci, "ore_conventions", None)
    if cpath:
        from exposure.market.ore_conventions import read_conventions

        ccpath = getattr(ci, "ore_curveconfig", None)
        try:
            conventions = read_conventions(_resolve(str(cpath), "market.curve_inputs.ore_conventions"),
                                           _resolve(str(ccpath), "market.curve_inputs.ore_curveconfig") if ccpath
                                           else None)
        except MarketDataError as exc:
            raise ConfigError("market.curve_inputs.ore_conventions", str(exc)) from None
    try:
        return market_from_ore(path, asof, base, conventions)
    except MarketDataError as exc:
        raise ConfigError("market.curve_inputs.ore_market", str(exc)) from None


def bootstrapped(asof, ci, known):
    """The curves of ``market.curve_inputs`` (None when absent); see ``exposure.market.curve_inputs``."""
    if ci is None:
        return None
    from exposure.market.curve_inputs import build_input_curves

    return build_input_curves(asof, ci, known)
