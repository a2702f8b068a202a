"""Landscape figures: one panel (or one line) per LR, drawn from the real paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from lrlab.errors import UsageError
from lrlab.landscape import trajectories
from lrlab.plots.landscape import plot_trajectories


def test_panels_side_by_side_with_theory_labels(tmp_path: Path) -> None:
    r = trajectories("quadratic", "sgd", [0.02, 0.18, 0.21], steps=50)
    fig = plot_trajectories(r, resolution=40)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    for i, ax in enumerate(fig.axes):
        assert ax.get_title() == r.label(i)
        path_line = next(ln for ln in ax.get_lines() if ln.get_label() == r.label(i))
        assert np.array_equal(path_line.get_xydata(), r.paths[i])
    assert "2/L = 0.2, 2/(L+μ) = 0.1818" in fig._suptitle.get_text()  # type: ignore[union-attr]
    fig.savefig(tmp_path / "q.png", dpi=40)
    assert (tmp_path / "q.png").stat().st_size > 2_000


def test_overlay_and_given_axes() -> None:
    r = trajectories("himmelblau", "adam", [0.05, 0.2], steps=30)
    fig = plot_trajectories(r, layout="overlay", resolution=40)
    assert len(fig.axes) == 1
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [r.label(0), r.label(1)]
    other = Figure()
    ax = other.add_subplot(1, 1, 1)
    assert plot_trajectories(r, ax, resolution=30) is other
    with pytest.raises(UsageError, match="Received: layout='grid'"):
        plot_trajectories(r, layout="grid")
