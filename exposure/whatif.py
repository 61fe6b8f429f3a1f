"""Pre-deal what-if: proposed trades priced on a stored run's scenarios and added to one netting set.

    V'_n(t, p) = V_n(t, p) + sum_i v_i(t, p)       (base currency, undiscounted, every simulation date and path)

v_i the new trades' values on the stored states (``netting_values.h5`` of a run made with
``output.store_cube=true``: the netting-set values, the states and the calibrated model), then the same
aggregation as a full run (collateral with the netting set's CSA, EPE/ENE/PFE, credit, limits). The change of
each figure is new - before; the limit headroom is limit - peak counterparty PFE per limit bucket. A full run
with the trades added gives the same numbers up to floating-point summation order (the trades are summed into
their netting set in another order; ``tests/test_whatif.py`` bounds the difference).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
import threading

import numpy as np
import pandas as pd

from exposure.aggregation.values_cube import FILE_NAME, NettingValuesCube
from exposure.errors import ConfigError, TradeError
from exposure.confignode import ConfigNode


@dataclasses.dataclass(frozen=True)
class WhatIf:
    """Before/after of a what-if. ``before_cpty``/``after_cpty``: results of the counterparty's netting sets
    (what the table reads; every netting set when the what-if ran under overrides); ``before``/``after``: every netting set, built on first access (``before`` is the
    stored results.h5, ``after`` that with the counterparty's rows replaced), so a caller that reads only the
    table or the counterparty's figures never pays for reading the whole run."""

    netting_set: str
    counterparty: str
    trade_ids: tuple
    table: pd.DataFrame  # Figure, Before, After, Change
    before_cpty: object
    after_cpty: object
    load_before: object = dataclasses.field(default=None, repr=False)  # () -> full "before" Dataset
    full: tuple = dataclasses.field(default=(None, None), repr=False)  # (before, after) when already built

    @functools.cached_property
    def before(self):
        return self.full[0] if self.full[0] is not None else self.load_before()

    @functools.cached_property
    def after(self):
        return self.full[1] if self.full[1] is not None else replace_counterparty(self.before, self.after_cpty,
                                                                                  self.counterparty)


@dataclasses.dataclass(frozen=True)
class _Book:
    """What the aggregation reads of a portfolio: its netting sets (and the trade ids, for clashes)."""

    netting_sets: tuple
    trade_ids: tuple


def read_trades(path: str) -> list:
    """Trades of a YAML/JSON file: a list, or a mapping with a ``trades`` list."""
    import json

    import yaml

    if not os.path.exists(path):
        raise ConfigError("--trade", f"file not found: {path}")
    with open(path) as fh:
        text = fh.read()
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError("--trade", f"cannot parse: {exc}", source=path) from exc
    trades = data.get("trades") if isinstance(data, dict) else data
    if not isinstance(trades, list) or not trades or not all(isinstance(t, dict) for t in trades):
        raise ConfigError("--trade", "expected a list of trades (or a mapping with a 'trades' list)", source=path)
    return trades


def price_on_scenarios(cfg, market, grid, model, states, trades: list, netting_set: str, counterparty: str):
    """(values (K_all, P) summed over ``trades``, t0 value) of the trades on the stored states."""
    from exposure.chunks import pricing_function
    from exposure.portfolio import load_portfolio
    from exposure.pricing.today import today_values
    from exposure.pricing.view import PricingContext

    data = {"netting_sets": {netting_set: {"counterparty": counterparty}},
            "trades": [{**t, "netting_set": netting_set} for t in trades]}
    with tempfile.TemporaryDirectory() as tmp:
        import yaml

        path = os.path.join(tmp, "whatif_trades.yaml")
        with open(path, "w") as fh:
            yaml.safe_dump(data, fh)
        pc = ConfigNode({"trades": path, "netting_sets": None, "fixings": cfg.portfolio.get("fixings"),
                         "on_error": "fail"}, "portfolio")
        pf = load_portfolio(pc, market, grid)
    times = np.concatenate([[0.0], grid.times])
    dates = (market.asof,) + tuple(grid.dates)
    ctx = PricingContext(market, model, times, pf.fixings, dates, grid.reporting_mask())
    t0_ctx = PricingContext(market, model, np.zeros(1), pf.fixings, (market.asof,))
    pres = [b.prepare(ctx) for b in pf.batches]
    pres0 = [b.prepare(t0_ctx) for b in pf.batches]
    # The run's own chunk program (one netting set): traced, lowered and compiled once per trade set and cube
    # shape, then kept across processes (exposure.simulation.programs); eager pricing traced every batch and
    # compiled a dozen small programs in every fresh process.
    args = (np.asarray(states), pres, times, ctx.numeraire_log_det())
    price = pricing_function(pf.batches, 1, model, False, args)
    ns, _, _, _, x_abs_max = price(*args)
    v0 = today_values(pf.batches, pres0, model)  # t0: closed forms on the host (exposure.pricing.today)
    x_abs_max = np.asarray(x_abs_max)
    for b, pre in zip(pf.batches, pres):  # named errors for rate states beyond a series expansion's range
        if hasattr(b, "check_range"):
            b.check_range(pre, x_abs_max)
    total = np.asarray(ns, dtype=np.float64)[:, 0, :]
    npv0 = float(np.asarray(v0, dtype=np.float64).sum())
    if not (np.all(np.isfinite(total)) and np.isfinite(npv0)):
        raise FloatingPointError("a proposed trade has a non-finite value on the stored scenarios")
    return total, npv0, tuple(t.id for t in pf.trades)


def whatif(cfg, run_dir: str, netting_set: str, trades: list, config_yaml: str, stored_book: bool = True,
           stored_results: bool = False, stored_market: bool = False) -> WhatIf:
    """The incremental figures of adding ``trades`` (dicts in the portfolio file's format) to ``netting_set``.
    stored_book: take the netting sets (CSAs) and trade ids stored with the run instead of parsing the book again
    (the caller passes False when the config's portfolio differs from the run's). stored_results: "before" is
    the run's own results.h5 (the caller passes True when ``cfg`` is the stored config without overrides).
    stored_market: take the run's own market snapshot from the cube (the one its scenarios were simulated on)
    instead of building it again (the caller passes True when no override touches ``market``).

    Only the counterparty's netting sets are aggregated (before and after, from the cube): the others do not
    change, and every counterparty figure (PFE_cpty, limits, CVA_cpty) needs only its own sets. The full "after"
    (built on access) is the stored results.h5 with those rows replaced;
    what cannot be replaced row by row (capital, which needs the trades' SA-CCR attributes; portfolio totals
    other than sums; standard errors of totals) is left out of "after" and named in its ``whatif_not_recomputed``
    attribute, never kept stale."""
    from exposure.reaggregate import aggregate_values, stored_grid
    from exposure.report.progress import RunProgress

    path = os.path.join(str(run_dir), FILE_NAME)
    if not os.path.exists(path):
        raise ConfigError("RUN_DIR", f"no {FILE_NAME} in {run_dir}: run it with output.store_cube=true")
    V, N, fx, ids, attrs = NettingValuesCube.read(path)
    if netting_set not in ids:
        raise ConfigError("--netting-set", f"'{netting_set}' is not a netting set of the run ({', '.join(ids)})")
    book = NettingValuesCube.read_book(path) if stored_book else None
    clash_ids = set(book["trade_ids"]) if book is not None else None
    if clash_ids is not None:  # a clash is refused before any market building or pricing
        _check_clash(trades, clash_ids)
    try:
        states, model = NettingValuesCube.read_scenarios(path)
    except KeyError:
        raise ConfigError("RUN_DIR", f"{path} has no scenarios: re-run with this version and output.store_cube=true") from None
    market = NettingValuesCube.read_market(path) if stored_market else None
    if market is None:  # overrides of market.credit, or a cube written before the market was stored
        from exposure.market.snapshot import build_market

        market = build_market(cfg.market)
    grid = stored_grid(cfg, market, attrs)
    if book is not None:
        pf = _Book(**book)
    else:
        from exposure.portfolio import load_portfolio

        pf = load_portfolio(cfg.portfolio, market, grid)
    grid = grid.with_netting_calendars(getattr(ns, "calendar", None) for ns in pf.netting_sets)  # as the run's
    if clash_ids is None:
        _check_clash(trades, set(pf.trade_ids))
    j = ids.index(netting_set)
    cp = pf.netting_sets[j].counterparty
    v, npv0, trade_ids = price_on_scenarios(cfg, market, grid, model, states, trades, netting_set, cp)
    quiet = RunProgress(None, show_bar=False)
    results_h5 = os.path.join(str(run_dir), "results.h5")
    if not (book is not None and stored_results and os.path.exists(results_h5)):
        # overrides (or an older run): both sides from the cube, every netting set
        before = aggregate_values(cfg, market, grid, pf, V, N, fx, attrs, config_yaml, run_dir, quiet)
        V2 = V.copy()
        V2[:, j, :] += v
        npv = np.asarray(attrs["NPV"], dtype=np.float64).copy()
        npv[j] += npv0
        after = aggregate_values(cfg, market, grid, pf, V2, N, fx, attrs, config_yaml, run_dir, quiet, npv=npv)
        return WhatIf(netting_set, cp, trade_ids, _table(before, after, j, cp, cfg), before, after,
                      full=(before, after))
    # The counterparty's netting sets before and after, from the cube (bit for bit the stored run's figures);
    # the other netting sets are the stored results.h5, read only if the caller asks for them.
    sel = [k for k, ns in enumerate(pf.netting_sets) if ns.counterparty == cp]
    sub_pf = _Book(tuple(pf.netting_sets[k] for k in sel), pf.trade_ids)
    sub_attrs = dict(attrs, netting_set_maturity=np.asarray(attrs["netting_set_maturity"])[sel])
    Vs = V[:, sel, :]
    npv = np.asarray(attrs["NPV"], dtype=np.float64)[sel]
    before_cp = aggregate_values(cfg, market, grid, sub_pf, Vs, N, fx, sub_attrs, config_yaml, run_dir, quiet, npv=npv)
    Vs, npv = Vs.copy(), npv.copy()  # (the "before" results may hold views of them)
    Vs[:, sel.index(j), :] += v
    npv[sel.index(j)] += npv0
    after_cp = aggregate_values(cfg, market, grid, sub_pf, Vs, N, fx, sub_attrs, config_yaml, run_dir, quiet, npv=npv)
    return WhatIf(netting_set, cp, trade_ids, _table(before_cp, after_cp, sel.index(j), cp, cfg), before_cp, after_cp,
                  load_before=functools.partial(_stored_results, results_h5))


_RESULTS_LOCK = threading.Lock()
_RESULTS: dict = {}  # (path, mtime, size) -> results Dataset: a server or notebook asks many what-ifs of one run


def _stored_results(path: str):
    """The run's results.h5, read once per process while the file is unchanged (a copy: callers may edit it)."""
    from exposure.results import read_results

    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
    with _RESULTS_LOCK:  # the scorecard server runs what-ifs in worker threads
        if key not in _RESULTS:
            while len(_RESULTS) >= 4:
                _RESULTS.pop(next(iter(_RESULTS)))
            _RESULTS[key] = read_results(path, validate=False)
        return _RESULTS[key].copy(deep=True)


def _check_clash(trades: list, existing: set) -> None:
    clash = sorted({str(t.get("id")) for t in trades} & {str(t) for t in existing})
    if clash:
        raise TradeError(clash[0], "a trade of the run already has this id")


def replace_counterparty(before, part, cp: str):
    """``before`` with the rows of counterparty ``cp`` (its netting sets, its ``cpty`` entry, its limits) taken
    from ``part``, a results Dataset of that counterparty's netting sets only. Sums over netting sets
    (``<X>_total`` = sum of ``X``) are recomputed; any other variable that depends on the changed rows but
    cannot be rebuilt from them is dropped and listed in attrs["whatif_not_recomputed"]."""
    after = before.copy(deep=True)
    ns_ids = [str(x) for x in part["netting_set"].values]
    dropped = []
    for name in list(before.data_vars):
        var = before[name]
        if "netting_set" in var.dims or "cpty" in var.dims or "limit" in var.dims:
            if name not in part:
                dropped.append(name)
                continue
            if var.dtype.kind in "US":  # fixed-width strings would cut a longer new status or reason
                after[name] = after[name].astype(object)
            if "netting_set" in var.dims:
                after[name].loc[{"netting_set": ns_ids}] = part[name].values
            elif "cpty" in var.dims:
                after[name].loc[{"cpty": [cp]}] = part[name].values
            else:
                rows = [str(c) == cp for c in before["limit_counterparty"].values]
                prow = [str(c) == cp for c in part["limit_counterparty"].values]
                after[name][{"limit": np.flatnonzero(rows)}] = part[name].values[np.flatnonzero(prow)]
        elif name.endswith("_total") and name[:-6] in before and "netting_set" in before[name[:-6]].dims \
                and name[:-6] in part:
            after[name] = ((), float(after[name[:-6]].values.sum()), dict(var.attrs))
        elif name.endswith(("_total", "_total_stderr")):
            dropped.append(name)
    after = after.drop_vars(dropped)
    after.attrs["whatif_not_recomputed"] = ", ".join(dropped) or "none"
    return after


def _table(before, after, j: int, cp: str, cfg) -> pd.DataFrame:
    from exposure.report.limits import limits_frame, quantile_index

    q = float(after.attrs["report_pfe_quantile"])
    qi = quantile_index(after, q)
    ci = [str(c) for c in after["cpty"].values].index(cp)
    rows = []

    def add(name, f):
        b, a = f(before), f(after)
        rows.append((name, b, a, a - b))

    add("NPV (netting set)", lambda d: float(d["NPV"].values[j]))
    add("peak EPE (netting set)", lambda d: float(d["EPE"].values[j].max()))
    add(f"peak PFE {100 * q:g}% (netting set)", lambda d: float(d["PFE"].values[j, :, qi].max()))
    add("EEPE (netting set)", lambda d: float(d["EEPE"].values[j]))
    add(f"peak PFE {100 * q:g}% (counterparty {cp})", lambda d: float(d["PeakPFE_cpty"].values[ci]))
    for name in ("CVA", "EAD"):
        if name in after and name in before:
            add(f"{name} (netting set)", lambda d, n=name: float(d[n].values[j]))
        else:
            rows.append((f"{name} (netting set)", np.nan, np.nan, np.nan))
    lb, la = limits_frame(before), limits_frame(after)
    for k in range(len(la)):
        if la.iloc[k]["Counterparty"] == cp:
            hb = float(lb.iloc[k]["Limit"] - lb.iloc[k]["PeakPFE"])
            ha = float(la.iloc[k]["Limit"] - la.iloc[k]["PeakPFE"])
            status = f"{lb.iloc[k]['Status']} -> {la.iloc[k]['Status']}"
            rows.append((f"limit headroom {la.iloc[k]['Bucket']} ({status})", hb, ha, ha - hb))
    return pd.DataFrame(rows, columns=["Figure", "Before", "After", "Change"])


def format_table(t: pd.DataFrame) -> str:
    fmt = lambda x: "n/a" if not np.isfinite(x) else f"{x:,.0f}"  # noqa: E731
    w = max(len(f) for f in t["Figure"])
    lines = [f"{'':<{w}}  {'before':>16}  {'after':>16}  {'change':>16}"]
    lines += [f"{r.Figure:<{w}}  {fmt(r.Before):>16}  {fmt(r.After):>16}  {fmt(r.Change):>16}" for r in t.itertuples()]
    return "\n".join(lines)
