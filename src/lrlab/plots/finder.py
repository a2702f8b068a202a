"""Figure of an LR range test: raw and smoothed loss against the rate, suggestions marked."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from lrlab.finder import FinderResult

__all__ = ["plot_finder"]

_COLORS = {
    "fastai_valley": "tab:orange",
    "fastai_steep": "tab:purple",
    "fastai_minimum": "tab:brown",
    "lightning_steepest": "tab:pink",
    "torch_lr_finder_steepest": "tab:olive",
    "lrlab": "tab:green",
}


def plot_finder(result: FinderResult, ax: Any = None) -> Figure:
    """Plot ``result`` on ``ax`` (a new :class:`~matplotlib.figure.Figure` when ``None``).

    The x axis is logarithmic for an exponential ramp.  Each suggestion is a
    vertical line labelled with its rule (dashed, and labelled "= rule", where
    it falls on an earlier rule's rate); lrlab's range is a shaded band; the
    fitted divergence edge is a dashed red line.
    """
    if ax is None:
        fig = Figure(figsize=(8.5, 4.5), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    lrs, raw, smooth = result.lrs, result.losses, result.smoothed
    ok = np.isfinite(raw)
    ax.plot(lrs[ok], raw[ok], color="0.7", lw=1, label="loss")
    ok = np.isfinite(smooth)
    ax.plot(lrs[ok], smooth[ok], color="tab:blue", lw=2, label="smoothed loss")
    if result.settings.get("mode", "exponential") == "exponential":
        ax.set_xscale("log")
    drawn: list[tuple[float, str]] = []
    for name, s in result.suggestions.items():
        color = _COLORS.get(name, "k")
        if name == "lrlab" and s.high > s.low:
            ax.axvspan(s.low, s.high, color=color, alpha=0.15)
        # Two rules often read the same sweep step: the later line is dashed, so
        # the one beneath shows through its gaps, and its label says so.
        same = next((n for x, n in drawn if math.isclose(x, s.lr, rel_tol=1e-9)), None)
        ax.axvline(
            s.lr,
            color=color,
            lw=2 if name == "lrlab" else 1,
            ls=(0, (4, 3)) if same else "-",
            label=f"{name}: {s.lr:.3g}" + (f" (= {same})" if same else ""),
        )
        drawn.append((s.lr, name))
    if result.divergence_lr is not None:
        ax.axvline(
            result.divergence_lr,
            color="tab:red",
            ls="--",
            lw=1,
            label=f"divergence edge: {result.divergence_lr:.3g}",
        )
    finite = smooth[np.isfinite(smooth)]
    if len(finite):
        # The floor is the lowest loss measured, raw or smoothed: the EMA lags
        # the raw loss down the slope by about 1/(1-beta) steps, so on a short
        # sweep the raw loss falls far below it and must stay in frame.
        lo = min(float(finite.min()), float(np.min(raw[np.isfinite(raw)], initial=np.inf)))
        hi = float(finite[: max(len(finite) // 10, 1)].max())
        pad = 0.1 * max(hi - lo, abs(lo) * 1e-3, 1e-12)
        ax.set_ylim(lo - pad, max(hi, float(np.median(finite))) + 3 * pad)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("LR range test")
    # Outside the axes: the suggestions are lines across the whole height, so
    # any place inside would hide some of them or of the curve.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig
