"""The stages after the path loop, shared by a run (``exposure.pipeline``), ``exposure aggregate``
(``exposure.reaggregate``) and ``exposure whatif``: the ExposureAggregator built for the run's dates and XVA
settings, and ``PostSimulation``, which turns its result into the results Dataset (measures, NPV, credit,
capital, XVA, limits).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.aggregation.reduction_choice import run_reduction


@dataclasses.dataclass(frozen=True)
class PostSimulation:
    """The stages after the path loop, shared by a run, ``exposure aggregate`` and ``exposure whatif``: the
    aggregator's result -> measures (Basel EEPE over min(1Y, maturity)) -> results Dataset with NPV, credit,
    capital, XVA and limits. Built by ``make_aggregator`` with the run's dates and XVA settings."""

    cfg: object
    market: object
    portfolio: object
    dates: tuple  # the valuation dates (t0 first)
    val_times: np.ndarray
    discount_factors: np.ndarray  # P(0, t) at the valuation dates, base currency
    xva: object  # exposure.xva settings
    maturities: np.ndarray  # (n_ns,) years to each netting set's last maturity (Basel EEPE horizon cap)

    def capital_ahead(self):
        """``capital.ahead.profile_addons`` for this run's portfolio, market and dates (path independent: a
        run computes it while the paths are priced); None when there is nothing to compute or on any error."""
        from exposure.capital import capital_settings
        from exposure.capital.ahead import profile_addons

        try:
            settings = capital_settings(self.cfg.get("capital"))
        except Exception:  # noqa: BLE001 - results() reads the settings again and raises the named error
            return None
        return profile_addons(self.portfolio, self.market, settings, self.val_times)

    def finalize(self, agg):
        return agg.finalize(discount_factors=self.discount_factors, maturities=self.maturities)

    def results(self, measures, ns_npv, trade_npv: dict | None, config_yaml: str, trade_ids=None,
                extra_attrs: dict | None = None, sensitivities=None, capital_addons=None):
        """The results Dataset; trade_npv: t0 value per trade id (None: the capital stage does not run, as on a
        stored book without trade specs); capital_addons: ``capital.ahead.profile_addons`` for these dates
        (computed while the paths ran), or None."""
        from exposure.report import apply_limits, report_settings
        from exposure.results import build_results
        from exposure.xva import add_xva

        cfg, market, pf = self.cfg, self.market, self.portfolio
        ds = build_results(
            measures, [n.id for n in pf.netting_sets], [n.counterparty for n in pf.netting_sets], list(self.dates),
            trade_ids=trade_ids, seed=int(cfg.simulation.seed), config=config_yaml,
            base_currency=market.base_currency, asof=market.asof, extra_attrs=extra_attrs)
        ds["NPV"] = ("netting_set", np.asarray(ns_npv, dtype=np.float64))
        ds = _with_credit(ds, market, pf, self.val_times)
        if sensitivities is not None:  # exposure.risk, before capital (SA-CVA reads them)
            from exposure.risk import add_sensitivities
            ds = add_sensitivities(ds, sensitivities)
        if trade_npv is not None:  # capital: SA-CCR / IMM EAD, RWA, BA-CVA, SA-CVA, profiles (before KVA)
            from exposure.capital import add_capital, capital_settings

            ds = add_capital(ds, pf, market, capital_settings(cfg.get("capital")), trade_npv, addons=capital_addons)
        ds = add_xva(ds, market.credit, market.own_name, self.xva, measures.functionals)
        if trade_npv is not None and "sensitivity" in ds:  # SA-CVA from the engine's CVA sensitivities
            from exposure.capital import add_sa_cva, capital_settings

            ds = add_sa_cva(ds, market, capital_settings(cfg.get("capital")))
        return apply_limits(ds, report_settings(cfg))  # desk: counterparty PFE and PFE limits


def make_aggregator(cfg, market, pf, grid, n_paths: int, currencies, spill_dir: str, trade_netting_index=None,
                    maturities=None, model=None, memory_budget_bytes=None, reduction=None):
    """(ExposureAggregator, PostSimulation) for simulated dates [t0] + grid.dates: valuation and close-out
    indices, and the XVA date weights (known before the simulation, so the aggregator streams their standard
    errors). maturities: (n_ns,) netting-set maturities in years (default: from the portfolio's trades);
    model: the CrossAssetModel (its credit intensities for xva.wwr.model=stochastic_intensity);
    memory_budget_bytes: the quantile stores' in-memory limit (exposure.memory; default the aggregator's);
    reduction: "jax" or "numpy" (default: simulation.reduction resolved for this run's size)."""

    from exposure.aggregation.measures import ExposureAggregator
    from exposure.xva import path_functionals, xva_settings

    times = np.concatenate([[0.0], grid.times])
    dates = (market.asof,) + tuple(grid.dates)
    valuation_index = np.concatenate([[0], 1 + grid.valuation_index])
    closeout_index = None if grid.closeout_index is None else np.concatenate([[0], 1 + grid.closeout_index])
    if grid.set_closeout_index is not None:  # each netting set closes out on its own calendar
        closeout_index = np.vstack([np.zeros((1, grid.set_closeout_index.shape[1]), int), 1 + grid.set_closeout_index])
    val_times = times[valuation_index]
    xva = xva_settings(cfg, market.asof)
    dfs = np.exp(market.curves[market.base_currency].log_discount_np(val_times))
    agg = ExposureAggregator(
        pf.netting_sets, n_paths, val_times, valuation_index=valuation_index, closeout_index=closeout_index,
        t0_index=0, currencies=tuple(currencies), base_currency=market.base_currency,
        quantiles=list(cfg.output.quantiles), trade_netting_index=trade_netting_index,
        store_cube=bool(cfg.output.store_cube), spill_dir=spill_dir,
        reduction=reduction or reduction_backend(cfg, len(pf.netting_sets), len(valuation_index), n_paths),
        **({} if memory_budget_bytes is None else {"memory_budget_bytes": int(memory_budget_bytes)}),
        **path_functionals(xva, market.credit, market.own_name, pf.netting_sets, val_times, dfs, model=model))
    if maturities is None:
        from exposure.capital.imm import netting_set_maturities  # (capital is imported only where it runs)

        maturities = netting_set_maturities(pf, market)
    post = PostSimulation(cfg, market, pf, tuple(dates[i] for i in valuation_index), val_times, dfs, xva,
                          np.asarray(maturities, dtype=np.float64))
    return agg, post


def reduction_backend(cfg, n_ns: int = 0, k: int = 0, n_paths: int = 0) -> str:
    """simulation.reduction resolved for a run of n_ns netting sets, k exposure dates (t0 included) and n_paths
    paths: "auto" is the compiled JAX reduction on an accelerator and, on a CPU, from
    aggregation.reduction_choice.CPU_JAX_WORK netting sets x dates x paths on (NumPy below it)."""
    return run_reduction(cfg, n_ns, k, n_paths)


def _with_credit(ds, market, pf, val_times):
    """Survival and default probabilities S(t), 1 - S(t) of every counterparty with a credit curve (and of
    the bank itself) at the exposure dates, on a ``credit_name`` dimension: what CVA/DVA and the scorecard
    read from the saved results."""
    names = [n for n in dict.fromkeys([ns.counterparty for ns in pf.netting_sets] + [market.own_name])
             if n in market.credit]
    if not names:
        return ds
    surv = np.stack([market.credit[n].survival_np(val_times) for n in names])
    ds = ds.assign_coords(credit_name=("credit_name", names))
    return ds.assign({"survival_probability": (("credit_name", "date"), surv),  # one merge for the three
                      "default_probability": (("credit_name", "date"), 1.0 - surv),
                      "recovery_rate": ("credit_name", np.array([float(market.credit[n].recovery) for n in names]))})
