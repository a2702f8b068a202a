"""The ``ax`` check the figures that draw on one Axes share."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes

from lrlab.errors import UsageError


def check_ax(ax: Any) -> None:
    """Refuse an ``ax`` that is neither ``None`` nor an Axes, by name."""
    if ax is not None and not isinstance(ax, Axes):
        raise UsageError(
            f"Argument `ax` must be None or a matplotlib Axes. Received: ax={type(ax).__name__}"
        )
