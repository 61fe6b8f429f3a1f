"""The capital stage's path-independent part, computed before (or while) the paths are simulated.

    profile_addons(portfolio, market, settings, times) -> ProfileAddons | None

The SA-CCR EAD profile alpha (EE(t) + AddOn(t)) needs the paths only through EE: AddOn(t) of each netting set's
trades, aged to t (``addon_profile``), needs only the trades, the t0 market and the margin terms. A run computes
it on a background thread while the chunks are priced (``exposure.pipeline``) and ``stage.add_capital`` uses it
when it is for the same dates; None (capital off, no profile, the IMM approach, or any error: ``add_capital``
then computes, and raises, exactly as without it).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ProfileAddons:
    """AddOn(t) and "any trade alive at t" per netting set id, each (K,), at ``times`` (years, t0 first)."""

    times: np.ndarray
    addons: dict  # netting set id -> (addon (K,), alive (K,) bool), or None where addon_profile does not apply

    def get(self, netting_set: str, times):
        if not np.array_equal(self.times, np.asarray(times, dtype=np.float64)):
            return None
        return self.addons.get(netting_set)


def profile_addons(portfolio, market, settings, times) -> ProfileAddons | None:
    """ProfileAddons for the run's netting sets with ``add_capital``'s trades and margin terms (the trade
    table's trades added, the margin table's terms overriding the CSA's); None when the stage has no SA-CCR
    profile to make or an input does not read (add_capital reports it)."""
    from exposure.capital.addon_profile import addon_profile
    from exposure.capital.saccr_engine import map_portfolio
    from exposure.capital.saccr_input import read_margin_table, read_trade_table
    from exposure.capital.stage import engine_margin_terms, resolve_inputs

    try:
        if not (settings.enabled and settings.profile and settings.approach != "imm"):
            return None
        settings = resolve_inputs(settings)
        trades = list(map_portfolio(portfolio, market, None, settings.equity_indices))  # MtM plays no part
        if settings.trade_table:
            trades += read_trade_table(settings.trade_table, market.asof)
        overrides = read_margin_table(settings.margin_table) if settings.margin_table else {}
        t = np.array(times, dtype=np.float64)
        by_set: dict = {}
        for tr in trades:
            by_set.setdefault(tr.netting_set, []).append(tr)
        out = {}
        for ns in portfolio.netting_sets:
            terms = overrides.get(ns.id) or engine_margin_terms(ns, market, 0.0, settings.mpor_days)
            out[ns.id] = addon_profile(by_set.get(ns.id, []), dataclasses.replace(terms, collateral=0.0), t,
                                       settings.alpha)
        return ProfileAddons(t, out)
    except Exception:  # noqa: BLE001 - add_capital recomputes and raises the named error in its place
        return None
