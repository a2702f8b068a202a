"""The narrow variant of a figure: panels stacked, text readable, legends out of the curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lrlab.report._narrow import MIN_PT, NARROW_IN, narrow, smallest_text


def _wide_legend_figure() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(9.5, 5.5))
    ax.plot([1, 2, 3], [3, 1, 2], label="centered mean, 10% of the sweep (read by lrlab's rule)")
    ax.plot(
        [1, 2, 3], [2, 2, 2], label="smoothed loss: EMA, beta = 0.98 (read by the peers' rules)"
    )
    ax.axvline(2.0, color="green")  # drawn, but not in the legend
    ax.legend(handles=ax.lines[:2], loc="lower left", fontsize=7)
    return fig


def test_a_legend_too_wide_for_the_narrow_axes_moves_below_them_with_its_own_entries() -> None:
    fig = _wide_legend_figure()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    small = narrow(fig)
    small.draw_without_rendering()
    ax = small.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == labels  # not every labelled artist
    box, frame = legend.get_window_extent(), ax.get_window_extent()
    assert box.y1 <= frame.y0  # below the curves, not over them
    assert small.get_size_inches()[0] == NARROW_IN and smallest_text(small) >= MIN_PT
    # the wide figure itself is untouched
    assert fig.axes[0].get_legend().get_window_extent().y0 >= fig.axes[0].get_window_extent().y0
    plt.close("all")


def test_a_legend_that_fits_stays_where_it_was() -> None:
    fig, ax = plt.subplots(figsize=(9.5, 5.5))
    ax.plot([1, 2], [1, 2], label="a")
    ax.legend(loc="upper left")
    small = narrow(fig)
    small.draw_without_rendering()
    legend, frame = small.axes[0].get_legend(), small.axes[0].get_window_extent()
    assert legend.get_window_extent().y0 >= frame.y0
    plt.close("all")
