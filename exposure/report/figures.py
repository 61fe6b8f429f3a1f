"""The report plots' matplotlib figures (Agg): built, ticked, laid out and encoded at the least drawing cost.

A report plot's cost is its text layout (tick labels, legend, title: measured by tight_layout, then again by the
draw), its tick objects and its PNG encoding. Each helper here removes a repeat of that work and leaves the
pixels as they were (the plots of exposure.report.plots were compared pixel by pixel on the bundled example, the
desk book and issue 9's ORE CSA book; tests/test_report_figures.py holds them to it):

- ``freeze_ticks``: the tick locations and labels computed once, when the axis limits are final, instead of by
  every extent query of tight_layout and the draw (AutoDateLocator runs dateutil rules each time);
- ``titled``: the title pinned where matplotlib's automatic placement puts it, without that placement's
  extent queries at each layout and draw;
- ``lay_out``: tight_layout once and no layout engine left behind (savefig would draw the figure once more);
- ``ns_figure``/``portfolio_figure``: figures and tick objects built ahead by ``build_spares`` while the report
  process waits for the results (exposure.report_process), taken by the first plot of each kind;
- ``save_png``: zlib level 3 instead of PIL's 6: about a quarter less encoding time, files about 5-8% larger,
  same pixels.
"""

from __future__ import annotations

import numpy as np

from exposure.results import _atomic

NS_SIZE = (8.0, 4.2)  # netting-set plot, inches at 100 dpi
PORTFOLIO_WIDTH = 11.0
PNG_LEVEL = 3  # zlib level (PIL default 6)

# {kind: (figure, axes)} built ahead by build_spares and taken by the first plot of that kind.
_SPARE: dict = {}


def plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as pyplot

    return pyplot


def ns_figure():
    """(figure, axes) of a netting-set plot: the spare one when built ahead, else a new one."""
    spare = _SPARE.pop("netting_set", None)
    return spare if spare is not None else plt().subplots(figsize=NS_SIZE, dpi=100)


def portfolio_figure(height: float):
    """(figure, (bars axes, profile axes)) of the portfolio plot, ``height`` inches tall."""
    spare = _SPARE.pop("portfolio", None)
    if spare is None:
        return plt().subplots(1, 2, figsize=(PORTFOLIO_WIDTH, height), dpi=100,
                              gridspec_kw={"width_ratios": [1.1, 1.0]})
    spare[0].set_size_inches(PORTFOLIO_WIDTH, height)
    return spare


def build_spares(ticks: int = 8) -> None:
    """One netting-set and one portfolio figure built now, each axis with ``ticks`` tick objects (about a tenth
    of a plot's drawing time, spent by the report process while it would otherwise wait for the results)."""
    for kind, build in (("netting_set", ns_figure), ("portfolio", lambda: portfolio_figure(3.8))):
        old = _SPARE.pop(kind, None)
        if old is not None:
            plt().close(old[0])
        fig, axes = build()
        for ax in np.atleast_1d(axes):
            ax.xaxis.get_major_ticks(ticks)
            ax.yaxis.get_major_ticks(ticks)
        _SPARE[kind] = (fig, axes)


def dates_axis(ax) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def freeze_ticks(ax) -> None:
    """Both axes' ticks and labels computed once, now that the limits are final (call it after the last
    plotting and set_xlim), and fixed. Labels are formatted from all the locator's ticks, as the draw does
    (ConciseDateFormatter's depend on their neighbours), then only those in view are kept, so that no tick
    objects are built for ticks never drawn. Same ticks, labels and offset text as the live ones."""
    from matplotlib.ticker import FixedFormatter, FixedLocator

    for axis in (ax.xaxis, ax.yaxis):
        locs = np.asarray(axis.get_majorticklocs(), dtype=np.float64)
        fmt = axis.get_major_formatter()
        labels = fmt.format_ticks(locs)
        lo, hi = sorted(axis.get_view_interval())
        tol = 1e-10 * (hi - lo)  # matplotlib's own in-view test (transforms._interval_contains_close)
        keep = (locs >= lo - tol) & (locs <= hi + tol)
        fixed = FixedFormatter([t for t, k in zip(labels, keep) if k])
        fixed.set_offset_string(fmt.get_offset())
        axis.set_major_locator(FixedLocator(locs[keep]))
        axis.set_major_formatter(fixed)


def titled(ax, text: str, fontsize: float) -> None:
    """The axes' title, after freeze_ticks: pinned at y=1 (axes.titlepad above the axes), where the automatic
    placement puts it when nothing sticks out above the axes (ticks below, no offset text on the y axis);
    automatic where a y offset text could push it up."""
    auto = bool(ax.yaxis.get_major_formatter().get_offset())
    ax.set_title(text, fontsize=fontsize, y=None if auto else 1.0)


def lay_out(fig, **tight) -> None:
    """tight_layout once, then no layout engine: tight_layout leaves a placeholder engine behind, for which
    savefig draws the whole figure once more (without rendering) before the real draw."""
    fig.tight_layout(**tight)
    fig.set_layout_engine(None)


def save_png(fig, path: str) -> str:
    """The figure written to ``path`` as a PNG (never a half-written file), then closed."""
    _atomic(path, lambda tmp: fig.savefig(tmp, format="png", pil_kwargs={"compress_level": PNG_LEVEL}))
    plt().close(fig)
    return path
