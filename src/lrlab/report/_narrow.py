"""A figure laid out for a phone: its panels stacked, its text large enough to read."""

from __future__ import annotations

import math
import pickle
import textwrap

from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.text import Text

__all__ = ["NARROW_IN", "narrow", "smallest_text"]

#: The narrow variant's width (inches) and its smallest text (points): at 110 dpi, shown
#: 358 CSS px wide on a 390 px phone, 9 pt is 9.7 CSS px.
NARROW_IN, MIN_PT = 4.6, 9.0


def smallest_text(fig: Figure) -> float:
    """The size (points) of the smallest text drawn in ``fig``."""
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())
    ]
    return float(min(sizes, default=MIN_PT))


def narrow(fig: Figure) -> Figure:
    """A copy of ``fig`` :data:`NARROW_IN` wide: one column of panels (two for more than
    three), each about as tall for its width as before, no text below :data:`MIN_PT`,
    titles wrapped to the width they have."""
    out: Figure = pickle.loads(pickle.dumps(fig))
    for ax in [a for a in out.axes if not a.get_visible()]:
        out.delaxes(ax)
    axes = out.axes
    if not axes:
        return out
    cols = 1 if len(axes) <= 3 else 2
    rows = math.ceil(len(axes) / cols)
    width, height = fig.get_size_inches()
    box = axes[0].get_position()
    panel = (NARROW_IN - 0.9) / cols
    low = 1.7 if cols > 1 else 2.8
    tall = min(max(panel * box.height * height / (box.width * width), low), 3.4)
    grid = out.add_gridspec(rows, cols)
    for i, ax in enumerate(axes):
        ax.set_subplotspec(grid[i // cols, i % cols])
        if len(ax.get_shared_x_axes().get_siblings(ax)) > 1:  # shared: labels on the outside
            ax.tick_params(which="both", labelbottom=i >= len(axes) - cols,
                           labelleft=i % cols == 0)  # fmt: skip
            ax.set_xlabel(ax.get_xlabel() if i >= len(axes) - cols else "")
            ax.set_ylabel(axes[0].get_ylabel() if i % cols == 0 else "")
        _wrap(ax.title, panel + 0.6)
    for t in out.findobj(Text):
        t.set_fontsize(max(t.get_fontsize(), MIN_PT))
    title = getattr(out, "_suptitle", None)  # matplotlib keeps it private; None: no title
    if title is not None:
        _wrap(title, NARROW_IN)
    titles = title.get_text().count("\n") + 1 if title is not None else 0
    height = rows * (tall + 1.1) + 0.25 * titles
    out.set_size_inches(NARROW_IN, height)
    out.set_size_inches(NARROW_IN, height + _below(out))  # legends judged at this width
    if not isinstance(out.get_layout_engine(), ConstrainedLayoutEngine):
        out.tight_layout()
    return out


def _wrap(t: Text, inches: float) -> None:
    """Break ``t`` into lines that fit ``inches`` at its size (about 0.55 em a character)."""
    chars = max(12, int(inches * 72 / (max(float(t.get_fontsize()), MIN_PT) * 0.55)))
    t.set_text("\n".join(textwrap.fill(line, chars) for line in t.get_text().split("\n")))


def _below(fig: Figure) -> float:
    """Legends drawn below their axes, in one column: the room (inches) they need.

    A legend is moved there when it was already below its axes, or when, at the narrow
    width and its larger text, it no longer fits inside them (it would cover the curves
    and run off the figure)."""
    fig.draw_without_rendering()
    rows = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        below = legend.get_bbox_to_anchor().y0 < ax.bbox.y0
        if below or legend.get_window_extent().width > 0.9 * ax.bbox.width:
            pairs = [(h, t.get_text()) for h, t in zip(legend.legend_handles, legend.get_texts())]
            kept = [(h, label) for h, label in pairs if h is not None]
            rows += len(kept)
            ax.legend([h for h, _ in kept], [label for _, label in kept], loc="upper center",
                      bbox_to_anchor=(0.5, -0.3), fontsize=MIN_PT)  # fmt: skip
    return rows * MIN_PT / 45
