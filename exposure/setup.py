"""Everything built from the config before any simulation: market, model, grid (with the portfolio's event
dates), portfolio; and the path generator. Below the API layer: takes config nodes, imports no Hydra."""

from __future__ import annotations

import dataclasses

from exposure.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything built from the config before any simulation: market, model, grid, portfolio."""

    market: object
    built: object
    grid: object
    portfolio: object | None


def setup(cfg, calibrate: bool = True) -> Setup:
    """Build and validate every input; raises ConfigError/TradeError before any path is simulated. The garbage
    collector is paused meanwhile (``exposure.gc_pause``: parsing a book allocates tens of thousands of objects
    that all survive, and full collections in a warm process cost more than the parsing)."""
    from exposure.gc_pause import gc_paused

    with gc_paused():
        return _setup(cfg, calibrate)


def _setup(cfg, calibrate: bool) -> Setup:
    from exposure.market.snapshot import build_market
    from exposure.models.build import build_model
    from exposure.simulation.grid import TimeGrid

    _check_simulation(cfg.simulation)
    market = build_market(cfg.market)
    from exposure.market.sanity import check_sanity

    check_sanity(market, getattr(cfg.market, "sanity", "warn"))  # vol > 200%, |rate| > 50%, hazard > 100%
    built = build_model(market, cfg.model, calibrate=calibrate)
    grid = TimeGrid.build(market.asof, cfg.simulation.grid, cfg.simulation.mpor)
    portfolio = None
    if cfg.get("portfolio") is not None:
        from exposure.portfolio import load_portfolio

        portfolio = load_portfolio(cfg.portfolio, market, grid)
        grid = grid.with_netting_calendars(ns.calendar for ns in portfolio.netting_sets)  # close-out dates
        events = getattr(cfg.simulation.get("events", "options"), "value", cfg.simulation.get("events", "options"))
        if events == "fixings":  # linear trades' IBOR coupons fix on the state simulated at their fixing dates
            portfolio = dataclasses.replace(portfolio, batches=tuple(
                b.with_exact_fixings() if hasattr(b, "with_exact_fixings") else b for b in portfolio.batches))
        if events != "none":  # option fixings and exercises on their own dates
            grid = grid.with_events(d for b in portfolio.batches for d in b.event_dates())
    # capital stage inputs (settings, trade/margin tables, SA-CVA sensitivities), checked before any compute
    from exposure.capital import check_inputs

    check_inputs(cfg.get("capital"), market, portfolio)
    from exposure.xva import xva_settings

    xs = xva_settings(cfg, market.asof)  # the xva group and market.funding fail here, before any compute
    if portfolio is not None:  # xva.missing_credit = fail: every counterparty needs a credit curve
        from exposure.xva.adjustments import check_credit

        check_credit(xs, market.credit, market.own_name, [n.id for n in portfolio.netting_sets],
                     [n.counterparty for n in portfolio.netting_sets])
    from exposure.risk import risk_settings

    risk_settings(cfg)  # the risk group likewise
    return Setup(market, built, grid, portfolio)


def _check_simulation(sc) -> None:
    if int(sc.paths) <= 0:
        raise ConfigError("simulation.paths", f"must be > 0 (got {sc.paths})")
    if int(sc.chunk_size) <= 0:
        raise ConfigError("simulation.chunk_size", f"must be > 0 (got {sc.chunk_size})")
    if bool(sc.antithetic) and int(sc.paths) % 2:
        raise ConfigError("simulation.paths", f"antithetic sampling needs an even number of paths (got {sc.paths})")


def path_generator(cfg, s: Setup):
    from exposure.simulation.paths import Discretisation, PathGenerator

    sc = cfg.simulation
    chunk = int(sc.chunk_size)
    if s.portfolio is not None:  # at most what simulation.memory_budget_gb allows (exposure.memory)
        from exposure.memory import run_memory_plan

        chunk = run_memory_plan(cfg, s).chunk_size
    return PathGenerator(
        Discretisation.build(s.built.model, s.grid),
        n_paths=int(sc.paths),
        chunk_size=chunk,
        seed=int(sc.seed),
        antithetic=bool(sc.antithetic),
        dtype=getattr(sc.precision, "value", sc.precision),
        device=getattr(sc.device, "value", sc.device),
    )


