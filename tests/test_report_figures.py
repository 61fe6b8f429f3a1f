"""The report plots' cheaper drawing (exposure.report.figures) leaves the pixels as plain matplotlib draws them:
frozen ticks, a pinned title and a single tight_layout against live locators, automatic title and
tight_layout's own savefig; a figure built ahead (build_spares) against one built on demand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from exposure.report import ReportSettings, apply_limits, summary_frame
from exposure.report import figures
from exposure.report.plots import netting_set_plot, portfolio_plot
from test_report import PROFILES, make_results, spec

DATES = pd.date_range("2026-01-15", periods=40, freq="MS").values


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA"))


def _draw(path, ys, fast: bool, title: str) -> np.ndarray:
    plt = figures.plt()
    fig, ax = plt.subplots(figsize=figures.NS_SIZE, dpi=100)
    ax.plot(DATES, ys, label="EPE")
    ax.fill_between(DATES, ys - 0.1 * np.ptp(ys), ys + 0.1 * np.ptp(ys), alpha=0.25, lw=0, label="band")
    ax.set_ylabel("USD millions")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figures.dates_axis(ax)
    if fast:
        figures.freeze_ticks(ax)
        figures.titled(ax, title, 11)
        figures.lay_out(fig, rect=(0, 0.04, 1, 1))
        figures.save_png(fig, str(path))
    else:
        ax.set_title(title, fontsize=11)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        fig.savefig(str(path), format="png")
        plt.close(fig)
    return _pixels(path)


LONG = "Netting set NS_" + "X" * 60 + " (counterparty CP)"  # reaches the y offset text at the top left


@pytest.mark.parametrize("ys, title", [
    (np.sin(np.arange(40) / 6.0) * 3.0 + 1.0, "Netting set NS (counterparty CP)"),  # ordinary ticks
    (1.0e3 + 1.0e-4 * np.arange(40), LONG),  # an offset text on the y axis that pushes the title up
    (-np.linspace(0.0, 4.0e7, 40), LONG)], ids=["ordinary", "offset", "scientific"])  # sci.: multiplier text
def test_frozen_ticks_pinned_title_and_one_layout_draw_the_same_pixels(tmp_path, ys, title):
    live = _draw(tmp_path / "live.png", ys, False, title)
    fast = _draw(tmp_path / "fast.png", ys, True, title)
    assert live.shape == fast.shape
    assert np.array_equal(live, fast), int((live != fast).any(axis=-1).sum())


def test_a_figure_built_ahead_draws_the_same_plots(tmp_path):
    settings = ReportSettings(limits=(spec("CP_A", "0-1Y", 2.2e6), spec("CP_B", "all", 1.5e6)))
    cps = ("CP_A", "CP_B", "CP_B") + tuple(f"CP_{i}" for i in range(5))  # 7 counterparties: a taller portfolio plot
    ds = apply_limits(make_results(PROFILES + PROFILES[:2] * 2 + PROFILES[:1], cpty=cps), settings)
    frame = summary_frame(ds, 0.99)
    out = {}
    for name, ahead in (("demand", False), ("ahead", True)):
        figures._SPARE.clear()
        if ahead:
            figures.build_spares()
            assert set(figures._SPARE) == {"netting_set", "portfolio"}
        out[name] = [_pixels(netting_set_plot(ds, 1, 0.99, str(tmp_path / f"{name}_ns.png"))),
                     _pixels(portfolio_plot(ds, frame, 0.99, str(tmp_path / f"{name}_pf.png")))]
        assert not figures._SPARE  # each spare taken by the first plot of its kind
    for a, b in zip(out["demand"], out["ahead"]):
        assert a.shape == b.shape and np.array_equal(a, b)
