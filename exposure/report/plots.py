"""PNG plots (matplotlib, Agg backend): one per netting set and a portfolio overview.

Netting-set plot: EPE(t) with its 95% Monte Carlo band EPE +- 1.96 EE_stderr, -ENE(t) (with ENE_stderr's band
when the results hold it), PFE_q(t) at the report quantile (with PFE_lower/PFE_upper when present), the
counterparty's PFE limit as a step line over its tenor buckets, the counterparty PFE when it has several
netting sets, and E[collateral] when the netting set holds any. EPE, ENE and collateral are discounted,
PFE on attrs pfe_basis (undiscounted by default). Amounts in millions of the base currency.
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from exposure.report import figures

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def _limit_segments(ds: xr.Dataset, cpty: str):
    """[(start, end, level, bucket label)] of the counterparty's limits: each bucket's date range, clipped to the
    exposure dates."""
    import pandas as pd

    if "PFE_limit" not in ds:
        return []
    from exposure.report.settings import parse_bucket

    dates = pd.DatetimeIndex(ds["date"].values)
    asof = pd.Timestamp(ds.attrs.get("asof") or dates[0])
    out = []
    for j in range(ds.sizes["limit"]):
        if str(ds["limit_counterparty"].values[j]) != cpty:
            continue
        label = str(ds["limit_bucket"].values[j])
        b = parse_bucket(label, "limit_bucket")
        lo = asof + pd.DateOffset(months=b.lo[0], days=b.lo[1])
        hi = dates[-1] if b.hi is None else min(dates[-1], asof + pd.DateOffset(months=b.hi[0], days=b.hi[1]))
        if lo < hi:
            out.append((lo, hi, float(ds["PFE_limit"].values[j]), label))
    return out


def _draw_limits(ax, ds, cpty, scale, top: float) -> str:
    """Limit segments; a limit above 3x the plotted exposures is written at the top instead of squashing them."""
    off = []
    for i, (lo, hi, level, label) in enumerate(_limit_segments(ds, cpty)):
        name = label if label != "all" else "limit"
        if top > 0 and level / scale > 3.0 * top:
            off.append(f"{name} {level / scale:,.1f}")
            continue
        ax.hlines(level / scale, lo, hi, color="#c0392b", lw=1.6, ls="--",
                  label=f"PFE limit ({cpty})" if i == 0 else None)
        ax.annotate(name, (lo, level / scale), textcoords="offset points", xytext=(2, 3), fontsize=7,
                    color="#c0392b")
    return f"; PFE limit off scale: {', '.join(off)} M" if off else ""


def _horizon(dates, *profiles):
    """Last date worth plotting: one date after the last value above 0.5% of its profile's maximum (residual
    collateral below the MTA can linger for decades at a level no plot shows)."""
    alive = np.zeros(len(dates), dtype=bool)
    for p in profiles:
        p = np.abs(np.nan_to_num(np.asarray(p, dtype=np.float64)))
        alive |= p > 5e-3 * max(p.max(initial=0.0), 1.0)
    k = int(np.flatnonzero(alive)[-1]) + 1 if alive.any() else len(dates) - 1
    return dates[min(k, len(dates) - 1)]


def netting_set_plot(ds: xr.Dataset, j: int, q: float, path: str) -> str:
    """The netting set j's profile plot written to ``path`` (PNG); returns path."""
    from exposure.report.limits import quantile_index

    qi = quantile_index(ds, q)
    scale = 1.0e6
    dates = ds["date"].values
    ns, cp = str(ds["netting_set"].values[j]), str(ds["counterparty"].values[j])
    epe = ds["EPE"].values[j] / scale
    ene = ds["ENE"].values[j] / scale
    pfe = ds["PFE"].values[j, :, qi] / scale
    fig, ax = figures.ns_figure()
    ax.plot(dates, pfe, color="#2c3e50", lw=1.8, label=f"PFE {100 * q:g}%")
    if "PFE_lower" in ds and "PFE_upper" in ds:
        ax.fill_between(dates, ds["PFE_lower"].values[j, :, qi] / scale, ds["PFE_upper"].values[j, :, qi] / scale,
                        color="#2c3e50", alpha=0.15, lw=0, label="PFE confidence interval")
    ax.plot(dates, epe, color="#2471a3", lw=1.8, label="EPE")
    if "EE_stderr" in ds:
        se = ds["EE_stderr"].values[j] / scale
        ax.fill_between(dates, epe - Z95 * se, epe + Z95 * se, color="#2471a3", alpha=0.25, lw=0,
                        label="EPE ± 1.96 s.e. (MC)")
    ax.plot(dates, -ene, color="#27ae60", lw=1.5, label="-ENE")
    if "ENE_stderr" in ds:
        se = ds["ENE_stderr"].values[j] / scale
        ax.fill_between(dates, -ene - Z95 * se, -ene + Z95 * se, color="#27ae60", alpha=0.25, lw=0,
                        label="ENE ± 1.96 s.e. (MC)")
    if "ExpectedCollateral" in ds and np.any(np.abs(ds["ExpectedCollateral"].values[j]) > 0):
        ax.plot(dates, ds["ExpectedCollateral"].values[j] / scale, color="#d68910", lw=1.3, ls=":",
                label="E[collateral]")
    owners = [str(c) for c in ds["counterparty"].values]
    if owners.count(cp) > 1 and "PFE_cpty" in ds:
        ci = [str(c) for c in ds["cpty"].values].index(cp)
        ax.plot(dates, ds["PFE_cpty"].values[ci] / scale, color="#7d3c98", lw=1.2, ls="-.",
                label=f"PFE {100 * q:g}% counterparty")
    top = float(np.nanmax(np.abs(np.concatenate([pfe, epe, ene]))))
    note = _draw_limits(ax, ds, cp, scale, top)
    coll = ds["ExpectedCollateral"].values[j] if "ExpectedCollateral" in ds else np.zeros(len(dates))
    ax.set_xlim(dates[0], _horizon(dates, epe, ene, pfe, coll))
    ax.axhline(0.0, color="0.4", lw=0.6)
    ccy = ds.attrs.get("base_currency", "")
    ax.set_ylabel(f"{ccy} millions")
    basis = ds.attrs.get("pfe_basis", "undiscounted")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figures.dates_axis(ax)
    figures.freeze_ticks(ax)
    figures.titled(ax, f"Netting set {ns} (counterparty {cp})", 11)
    figures.lay_out(fig, rect=(0, 0.04, 1, 1))
    fig.text(0.01, 0.01, f"EPE, ENE, collateral discounted; PFE {basis}; {int(ds.attrs.get('n_paths', 0))} paths{note}",
             fontsize=7, color="0.35")
    return figures.save_png(fig, path)


def portfolio_plot(ds: xr.Dataset, frame, q: float, path: str) -> str:
    """Counterparty peak PFE against limits (bars, coloured by status), and the portfolio EPE/ENE profile."""
    plt = figures.plt()
    scale = 1.0e6
    cps = frame[frame["Level"] == "counterparty"]
    label = [c for c in frame.columns if c.startswith("PeakPFE_")][0]
    fig, (a1, a2) = figures.portfolio_figure(max(3.8, 0.3 * len(cps) + 2.0))
    order = cps.sort_values(label, ascending=True, na_position="first")
    y = np.arange(len(order))
    colours = {"breach": "#c0392b", "cannot decide": "#d68910", "ok": "#27ae60"}
    a1.barh(y, np.nan_to_num(order[label].values) / scale,
            color=[colours.get(s, "#7f8c8d") for s in order["LimitStatus"]], alpha=0.85)
    lim = order["Limit"].values / scale
    peaks = np.nan_to_num(order[label].values) / scale
    right = 1.15 * max(peaks.max(initial=0.0), np.nanmax(np.where(lim <= 3.0 * peaks.max(initial=0.0), lim, 0.0),
                                                          initial=0.0), 1e-6)
    a1.scatter(np.minimum(lim, right * 0.995), y, marker="|", s=300, color="black", label="binding limit", zorder=3)
    for yy, v in zip(y, lim):
        if np.isfinite(v) and v > right:
            a1.annotate(f"limit {v:,.1f}M off scale", (right, yy), xytext=(-4, 4), textcoords="offset points", ha="right",
                        fontsize=7)
    a1.set_xlim(0.0, right)
    a1.set_yticks(y, order["Counterparty"].values, fontsize=8)
    a1.set_xlabel(f"peak PFE {100 * q:g}%, {ds.attrs.get('base_currency', '')} millions")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()] + [plt.Rectangle((0, 0), 1, 1, color="#7f8c8d")]
    a1.legend(handles + [a1.collections[-1]], list(colours) + ["no limit", "binding limit"], fontsize=7,
              loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=5, frameon=False)
    a1.grid(axis="x", alpha=0.3)
    dates = ds["date"].values
    a2.plot(dates, ds["EPE"].values.sum(axis=0) / scale, color="#2471a3", lw=1.8, label="sum of EPE")
    a2.plot(dates, -ds["ENE"].values.sum(axis=0) / scale, color="#27ae60", lw=1.5, label="-(sum of ENE)")
    a2.set_xlim(dates[0], _horizon(dates, ds["EPE"].values.sum(axis=0), ds["ENE"].values.sum(axis=0)))
    a2.axhline(0.0, color="0.4", lw=0.6)
    a2.set_ylabel(f"{ds.attrs.get('base_currency', '')} millions")
    a2.grid(alpha=0.3)
    a2.legend(fontsize=8)
    figures.dates_axis(a2)
    figures.freeze_ticks(a1)
    figures.freeze_ticks(a2)
    figures.titled(a1, "Counterparties by peak PFE (colour: limit status)", 10)
    figures.titled(a2, "Portfolio expected exposure (discounted)", 10)
    figures.lay_out(fig)
    return figures.save_png(fig, path)


def warm_up(stop=None) -> None:
    """Build the first netting-set and portfolio figures ahead (figures.build_spares: matplotlib's first text
    layout, fonts loaded), then draw a throwaway figure with the elements of the real ones (dates axis, bands,
    legend, tight layout, PNG encoding) into memory, in a process that draws the report later
    (exposure.report_process) while it would otherwise wait. Nothing is written. stop(): asked after the spares
    and before the throwaway's drawing; True (the report's job has arrived) ends the warm-up there: the real
    plots drew no faster after the throwaway (0.1-0.2 s of the child's critical path when the job waits), and
    the plots are the same either way."""
    import io

    stop = stop or (lambda: False)
    plt = figures.plt()
    figures.build_spares()
    if stop():
        return
    dates = np.arange("2026-01", "2031-01", 6, dtype="datetime64[M]").astype("datetime64[ns]")
    y = np.linspace(0.0, 1.0, len(dates))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.0, 4.2), dpi=100)
    a1.plot(dates, y, lw=1.8, label="EPE")
    a1.fill_between(dates, y - 0.1, y + 0.1, alpha=0.25, lw=0, label="EPE ± 1.96 s.e. (MC)")
    a1.hlines(0.5, dates[1], dates[4], ls="--", label="limit")
    a1.annotate("limit", (dates[1], 0.5), textcoords="offset points", xytext=(2, 3), fontsize=7)
    a1.set_ylabel("USD millions")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figures.dates_axis(a1)
    figures.freeze_ticks(a1)
    figures.titled(a1, "warm-up", 11)
    a2.barh(np.arange(3), [1.0, 2.0, 3.0], alpha=0.85)
    a2.scatter([1.5, 2.5, 3.5], np.arange(3), marker="|", s=300, zorder=3)
    a2.set_yticks(np.arange(3), ["A", "B", "C"], fontsize=8)
    figures.lay_out(fig, rect=(0, 0.04, 1, 1))
    fig.text(0.01, 0.01, "warm-up", fontsize=7, color="0.35")
    if not stop():
        fig.savefig(io.BytesIO(), format="png", pil_kwargs={"compress_level": figures.PNG_LEVEL})
    plt.close(fig)


def plot_jobs(ds: xr.Dataset, frame, q: float, out_dir: str) -> list:
    """[(key, path, draw)]: the plots of write_plots, each drawn and written to path by draw() (independent of
    one another, so that a caller may draw them in any order or process)."""
    from functools import partial

    from exposure.files import file_stems

    folder = os.path.join(out_dir, "plots")
    p = os.path.join(folder, "portfolio.png")
    jobs = [("portfolio", p, partial(portfolio_plot, ds, frame, q, p))]
    stems = file_stems(ds["netting_set"].values)
    for j, ns in enumerate(ds["netting_set"].values):
        p = os.path.join(folder, f"ns_{stems[str(ns)]}.png")
        jobs.append((str(ns), p, partial(netting_set_plot, ds, j, q, p)))
    return jobs


def write_plots(ds: xr.Dataset, frame, q: float, out_dir: str, runner=None) -> dict:
    """{"portfolio": path, <netting set id>: path} under out_dir/plots. runner(jobs): draws every job of
    ``plot_jobs`` (default: one after the other here; exposure.report_process shares them with a second
    process)."""
    os.makedirs(os.path.join(out_dir, "plots"), exist_ok=True)
    jobs = plot_jobs(ds, frame, q, out_dir)
    if runner is None:
        for _, _, draw in jobs:
            draw()
    else:
        runner(jobs)
    return {key: path for key, path, _ in jobs}
