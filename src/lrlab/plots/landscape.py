"""Contour plots of a 2-D surface with one optimizer path per learning rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from lrlab.errors import UsageError

if TYPE_CHECKING:
    from lrlab.landscape import LandscapeResult, Surface

__all__ = ["contour", "plot_trajectories"]

_COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def contour(ax: Axes, surface: Surface, resolution: int = 200) -> None:
    """Draw the contour lines of ``surface`` over its plotting window on ``ax``.

    Levels are geometric between the minimum value and the window's largest
    value for steep surfaces (``surface.log_levels``), filled, lighter towards
    the valley floor; quadratically spaced lines otherwise (so a quadratic bowl
    gets evenly spaced ellipses).
    """
    xs = np.linspace(*surface.xlim, resolution)
    ys = np.linspace(*surface.ylim, resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = torch.from_numpy(np.stack([gx, gy], axis=-1))
    with torch.no_grad():
        z = surface.fn(grid).numpy()
    if surface.log_levels:  # a steep valley: filled, log-spaced bands show its floor
        levels = np.geomspace(max(float(z.min()), 1e-3), float(z.max()), 16)
        ax.contourf(gx, gy, z, levels=levels, norm=LogNorm(), cmap="Greys_r", alpha=0.4)
        ax.contour(gx, gy, z, levels=levels, colors="0.35", linewidths=0.6)
    else:
        # denser rings near the minimum: levels spaced quadratically
        lo, hi = float(z.min()), float(z.max())
        levels = lo + (hi - lo) * np.linspace(0.0, 1.0, 25)[1:] ** 2
        ax.contour(gx, gy, z, levels=levels, cmap="Greys", linewidths=0.7, alpha=0.8)
    mins = np.asarray(surface.minima)
    ax.plot(mins[:, 0], mins[:, 1], marker="*", ls="none", color="gold", mec="black", ms=12)
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _draw_path(ax: Axes, result: LandscapeResult, i: int, color: str) -> None:
    path = result.paths[i]
    ax.plot(path[:, 0], path[:, 1], "-o", color=color, ms=2.5, lw=1.2, label=result.label(i))
    ax.plot(path[0, 0], path[0, 1], "s", color="black", ms=5)


def plot_trajectories(
    result: LandscapeResult,
    ax: Axes | Figure | None = None,
    *,
    layout: str = "panels",
    resolution: int = 200,
) -> Figure:
    """Draw ``result``: the surface's contours and one path per learning rate.

    ``layout="panels"`` puts each LR in its own panel side by side (the
    classic "too small crawls / good / too large oscillates" pictures);
    ``layout="overlay"`` draws every path on one set of axes.  ``ax`` may be
    None (a new figure), a :class:`~matplotlib.figure.Figure` to draw into, or
    an :class:`~matplotlib.axes.Axes` (then the overlay layout is used).  On
    the quadratic each path is labelled against ``2/L`` and ``2/(L+mu)``.
    """
    if layout not in ("panels", "overlay"):
        raise UsageError(
            f"Argument `layout` must be 'panels' or 'overlay'. Received: layout={layout!r}"
        )
    n = len(result.lrs)
    if isinstance(ax, Axes):
        fig = ax.figure
        axes = [ax]
        layout = "overlay"
    else:
        if ax is not None and not isinstance(ax, Figure):
            raise UsageError(
                "Argument `ax` must be None, a matplotlib Figure or Axes. "
                f"Received: ax={type(ax).__name__}"
            )
        panels = n if layout == "panels" else 1
        fig = ax if isinstance(ax, Figure) else Figure(figsize=(3.8 * panels, 3.9))
        axes = list(np.atleast_1d(fig.subplots(1, panels, squeeze=False)[0]))
    for a in axes:
        contour(a, result.surface, resolution)
    for i in range(n):
        target = axes[i] if layout == "panels" else axes[0]
        _draw_path(target, result, i, _COLORS[i % len(_COLORS)])
        if layout == "panels":
            target.set_title(result.label(i), fontsize=10)
    if layout == "overlay":
        axes[0].legend(fontsize=9, loc="upper right")
    s = result.surface
    title = f"{result.optimizer} on {s.name}: {s.formula}, {result.steps} steps"
    if s.stable_lr is not None and s.optimal_lr is not None:
        title += f"\n2/L = {s.stable_lr:.4g}, 2/(L+μ) = {s.optimal_lr:.4g}"
    fig.suptitle(title, fontsize=11)
    if isinstance(fig, Figure):
        fig.tight_layout()
    return fig  # type: ignore[return-value]
