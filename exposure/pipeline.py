"""The one place that wires the stages: setup -> paths -> pricing -> netting/collateral -> measures -> files.

Per chunk of paths (bounded memory), every batch values its trades on every simulation date including t0;
netting-set values stream into the ExposureAggregator (collateral, EPE/ENE sums, exact quantiles), and the
labelled results are written atomically to ``output.dir``: results.h5, ORE-style CSVs, the resolved config,
the calibration report and the list of skipped trades.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import OmegaConf

from exposure.aggregation.values_cube import values_cube
from exposure.api import Setup, path_generator, setup
from exposure.errors import ConfigError
from exposure.pricing.linear import state_abs_max
from exposure.pricing.view import PathView, PricingContext


@dataclasses.dataclass(frozen=True)
class RunResults:
    dataset: object  # xarray.Dataset (the results contract)
    out_dir: str
    files: tuple
    npv: dict  # trade id -> t0 value in base currency

    def summary(self) -> str:
        from exposure.report.summary import summary_text  # the desk summary (exposure/report)

        q = float(self.dataset.attrs.get("report_pfe_quantile", 0.99))
        return summary_text(self.dataset, q) + f"\nresults: {self.out_dir}"


_PRICERS: dict = {}


def _pricing_key(batches, n_ns: int, model, trade_level: bool):
    """Everything the compiled chunk pricer bakes in: batch types, trades (by content), model layout."""
    h = hashlib.sha1()
    for b in batches:
        h.update(type(b).__qualname__.encode())
        h.update(repr(getattr(b, "specs", id(b))).encode())
        h.update(np.asarray(b.netting_set).tobytes())
    return (h.hexdigest(), n_ns, trade_level, model.currencies, model.equity_names, model.dim)


def _pricing_function(batches, n_ns: int, model, trade_level: bool):
    """jit-compiled chunk pricer (states (K, d, P), pres, times (K,), log_num (K,)) -> (netting values
    (K, n_ns, P), trade values or None, numeraire (K, P), fx (n_ccy, K, P)). Cached across runs in the
    process, so a second run of the same portfolio (a warm benchmark, a notebook) does not recompile."""
    key = _pricing_key(batches, n_ns, model, trade_level)
    if key in _PRICERS:
        return _PRICERS[key]

    def price(states, pres, times, log_num):
        view = PathView.from_states(model, states, times, log_num)
        ns = sum(b.netting_values(pre, view, n_ns) for b, pre in zip(batches, pres))
        trades = (jnp.concatenate([b.values(pre, view) for b, pre in zip(batches, pres)], axis=1)
                  if trade_level else None)
        return ns, trades, view.numeraire, view.fx

    _PRICERS[key] = jax.jit(price)
    return _PRICERS[key]


def run_pipeline(cfg, s: Setup | None = None, progress=None) -> RunResults:
    from exposure.aggregation.measures import ExposureAggregator
    from exposure.report import RunProgress, apply_limits, report_settings
    from exposure.results import build_results

    report = report_settings(cfg)  # desk report: limits read and checked before any compute
    progress = progress or RunProgress.for_run(str(cfg.output.dir), show_bar=False)  # run.log at least
    progress.stage("setup")
    s = s or setup(cfg)
    if s.portfolio is None:
        raise ConfigError("portfolio", "no portfolio configured (use `exposure simulate` for scenarios only)")
    market, model, grid, pf = s.market, s.built.model, s.grid, s.portfolio
    times = np.concatenate([[0.0], grid.times])
    dates = (market.asof,) + tuple(grid.dates)
    ctx = PricingContext(market, model, times, pf.fixings, dates)
    batches = list(pf.batches)
    pres = [b.prepare(ctx) for b in batches]
    trade_ids = [tid for b in batches for tid in b.ids]
    trade_ns = np.concatenate([np.asarray(b.netting_set, dtype=int) for b in batches])
    n_ns = len(pf.netting_sets)
    trade_level = bool(cfg.output.trade_level)

    # t0 prices through the same pricers on today's market (one date, one path).
    t0_ctx = PricingContext(market, model, np.zeros(1), pf.fixings, (market.asof,))
    today = PathView.today(model)
    npv0 = np.concatenate([np.asarray(b.values(b.prepare(t0_ctx), today))[0, :, 0] for b in batches])
    _check_finite(npv0, trade_ids)

    price = _pricing_function(batches, n_ns, model, trade_level)
    log_num = jnp.asarray(ctx.numeraire_log_det())
    jtimes = jnp.asarray(times)
    gen = path_generator(cfg, s)
    valuation_index = np.concatenate([[0], 1 + grid.valuation_index])
    closeout_index = None if grid.closeout_index is None else np.concatenate([[0], 1 + grid.closeout_index])
    val_times = times[valuation_index]
    agg = ExposureAggregator(
        pf.netting_sets, gen.n_paths, val_times, valuation_index=valuation_index, closeout_index=closeout_index,
        t0_index=0, currencies=model.currencies, base_currency=market.base_currency,
        quantiles=list(cfg.output.quantiles), trade_netting_index=trade_ns if trade_level else None,
        store_cube=bool(cfg.output.store_cube), spill_dir=str(cfg.output.dir),
    )
    progress.stage("paths", total=gen.n_paths)
    cube = values_cube(bool(cfg.output.store_cube), gen.n_paths)  # netting-set values for `exposure aggregate`
    with agg:
        for start, stop, states in gen.chunks(pad=True):
            # Named errors for rate states beyond a series expansion's range (inside the trace they are NaN).
            x_abs_max = state_abs_max(jnp.stack([states[:, model.ir_state(c), :] for c in range(model.n_ccy)]))
            for b, p in zip(batches, pres):
                if hasattr(b, "check_range"):
                    b.check_range(p, x_abs_max)
            ns, tr, num, fx = price(states, pres, jtimes, log_num)
            n = stop - start
            ns = np.asarray(ns[..., :n])
            if not np.all(np.isfinite(ns)):
                bad = np.argwhere(~np.isfinite(ns))[0]
                raise FloatingPointError(
                    f"non-finite netting-set value in '{pf.netting_sets[bad[1]].id}' at date index {bad[0]}, path {start + bad[2]}")
            agg.add_chunk(start, stop, ns, np.asarray(num[..., :n]), np.asarray(fx[..., :n]),
                          None if tr is None else np.asarray(tr[..., :n]))
            cube.add(start, stop, ns, np.asarray(num[..., :n]), np.asarray(fx[..., :n]), np.asarray(states[..., :n]))
            progress.advance(n)
        progress.stage("measures")
        dfs = np.asarray(market.curves[market.base_currency].discount(val_times))
        measures = agg.finalize(discount_factors=dfs)

    ns_npv = np.zeros(n_ns)
    np.add.at(ns_npv, trade_ns, npv0)
    val_dates = [dates[i] for i in valuation_index]
    ds = build_results(
        measures, [n.id for n in pf.netting_sets], [n.counterparty for n in pf.netting_sets], val_dates,
        trade_ids=trade_ids if trade_level else None, seed=int(cfg.simulation.seed),
        config=OmegaConf.to_yaml(cfg), base_currency=market.base_currency, asof=market.asof,
        extra_attrs={"skipped_trades": "; ".join(f"{t}: {r}" for t, r in pf.skipped) or "none",
                     "n_trades": len(trade_ids)},
    )
    ds["NPV"] = ("netting_set", ns_npv)
    ds = _with_credit(ds, market, pf, val_times)
    ds = apply_limits(ds, report)  # desk: counterparty PFE and PFE limits into the results
    progress.stage("write")
    res = _write(cfg, s, ds, dict(zip(trade_ids, npv0.tolist())))
    files = cube.save(res.out_dir, ds["netting_set"].values, {"NPV": ns_npv, "currencies": list(model.currencies), **ds.attrs},
                      model=model, portfolio=pf)
    return dataclasses.replace(res, files=res.files + tuple(files))


def _with_credit(ds, market, pf, val_times):
    """Survival and default probabilities S(t), 1 - S(t) of every counterparty with a credit curve (and of
    the bank itself) at the exposure dates, on a ``credit_name`` dimension: what CVA/DVA and the scorecard
    read from the saved results."""
    names = [n for n in dict.fromkeys([ns.counterparty for ns in pf.netting_sets] + [market.own_name])
             if n in market.credit]
    if not names:
        return ds
    surv = np.stack([np.asarray(market.credit[n].survival(val_times)) for n in names])
    ds = ds.assign_coords(credit_name=("credit_name", names))
    ds["survival_probability"] = (("credit_name", "date"), surv)
    ds["default_probability"] = (("credit_name", "date"), 1.0 - surv)
    ds["recovery_rate"] = ("credit_name", np.array([float(market.credit[n].recovery) for n in names]))
    return ds


def _check_finite(npv0, trade_ids) -> None:
    bad = [trade_ids[i] for i in np.flatnonzero(~np.isfinite(npv0))]
    if bad:
        raise FloatingPointError(f"t0 price is not finite for trade(s): {', '.join(bad[:10])}")


def _write(cfg, s: Setup, ds, npv: dict) -> RunResults:
    from exposure.results import write_ore_csv, write_results
    from exposure.simulation.scenario_io import atomic_text

    out = str(cfg.output.dir)
    os.makedirs(out, exist_ok=True)
    files = [write_results(ds, os.path.join(out, "results.h5"))]
    if bool(cfg.output.csv):
        files += list(write_ore_csv(ds, out))
    files.append(atomic_text(os.path.join(out, "config.yaml"), OmegaConf.to_yaml(cfg)))
    npv_csv = "TradeId,NPV\n" + "".join(f"{k},{v:.10g}\n" for k, v in npv.items())
    files.append(atomic_text(os.path.join(out, "npv.csv"), npv_csv))
    for ccy, rep in s.built.calibration.items():
        files.append(atomic_text(os.path.join(out, f"calibration_{ccy}.csv"), rep.to_frame().to_csv(index=False)))
    if s.portfolio.skipped:
        text = "TradeId,Reason\n" + "".join(f"{t},\"{r}\"\n" for t, r in s.portfolio.skipped)
        files.append(atomic_text(os.path.join(out, "skipped_trades.csv"), text))
    return RunResults(ds, out, tuple(str(f) for f in files), npv)
