"""Figures of a search: validation loss against LR per schedule family, and the search history."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from lrlab.tune import TrialRow, TuneResult

__all__ = ["plot_history", "plot_lr_search"]

_MARKERS = {"COMPLETE": "o", "PRUNED": "x"}


def _axes(ax: Any) -> tuple[Figure, Any]:
    if ax is None:
        fig = Figure(figsize=(7, 4.5))
        return fig, fig.add_subplot(1, 1, 1)
    return ax.figure, ax


def plot_lr_search(result: TuneResult, ax: Any = None) -> Figure:
    """Scatter each finished trial's validation loss against its (peak) LR.

    One panel per optimizer (their rates live on different scales: 0.03 is a
    good rate for SGD + momentum and a diverging one for Adam), sharing the
    loss axis; with ``ax`` given, every trial goes on that one axes.  One colour
    per schedule family; completed trials are dots; pruned trials (crosses) and
    diverged ones (triangles) sit at the top of the axis.  Raced finalists
    (``tune``'s ``finalists``) get a diamond at their mean over all seeds,
    joined to their search value; the best trial is ringed (at its mean when
    raced).  Log-log axes.
    """
    rows = [r for r in result.trials if r.lr is not None]
    finite = [
        r.value for r in rows if r.value is not None and math.isfinite(r.value) and r.value > 0
    ]
    top = max(finite) * 1.5 if finite else 1.0
    families = sorted({r.schedule for r in rows if r.schedule})
    colors = {fam: f"C{i % 10}" for i, fam in enumerate(families)}
    if ax is not None:
        groups: list[tuple[str | None, list[TrialRow]]] = [(None, rows)]
        fig, axes = ax.figure, [ax]
    else:
        names = sorted({str(r.optimizer or "") for r in rows}) or [""]
        groups = [(n, [r for r in rows if str(r.optimizer or "") == n]) for n in names]
        fig = Figure(figsize=(7 if len(groups) == 1 else 4.2 * len(groups) + 0.6, 4.5))
        first = fig.add_subplot(1, len(groups), 1)
        axes = [first] + [
            fig.add_subplot(1, len(groups), i + 1, sharey=first) for i in range(1, len(groups))
        ]
    for a, (name, group) in zip(axes, groups, strict=True):
        _draw_lr_panel(a, result, group, top, colors)
        a.set_xscale("log")
        if finite:
            a.set_yscale("log")
        a.set_xlabel("learning rate (peak)")
        if name:
            a.set_title(name, fontsize=10)
    axes[0].set_ylabel("validation loss")
    title = f"{result.study}: validation loss against LR (at the top: x pruned, ▲ diverged)"
    if len(axes) > 1:
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
    else:
        axes[0].set_title(title if not groups[0][0] else f"{title}\n{groups[0][0]}", fontsize=10)
    return fig


def _draw_lr_panel(
    ax: Any,
    result: TuneResult,
    rows: list[TrialRow],
    top: float,
    colors: dict[str, str],
) -> None:
    for fam, color in colors.items():
        mine = [r for r in rows if r.schedule == fam]
        done = [r for r in mine if r.state == "COMPLETE" and r.value is not None]
        finite = [r for r in done if r.value is not None and math.isfinite(r.value)]
        diverged = [r for r in done if r.value is not None and not math.isfinite(r.value)]
        pruned = [r for r in mine if r.state == "PRUNED"]
        if not done and not pruned:
            continue
        ax.scatter(
            [r.lr for r in finite],
            [r.value for r in finite],
            marker="o",
            s=24,
            color=color,
            label=fam,
        )
        # At the top of the axis, out of the legend (the title says what the marks are).
        for marker, kind, off in (("x", "pruned", pruned), ("^", "diverged", diverged)):
            if off:
                ax.scatter(
                    [r.lr for r in off],
                    [top] * len(off),
                    marker=marker,
                    s=24,
                    color=color,
                    label=f"_{kind}:{fam}",
                )
    raced = [r for r in rows if r.mean_loss is not None and math.isfinite(r.mean_loss)]
    if raced:
        for r in raced:
            ax.plot([r.lr] * 2, [r.value, r.mean_loss], color="0.5", lw=0.8)
        ax.scatter(
            [r.lr for r in raced],
            [r.mean_loss for r in raced],
            marker="D",
            s=30,
            color="k",
            label="finalists: mean over seeds",
        )
    best = result.best
    if best is not None and any(r.number == best.number for r in rows):
        y = best.mean_loss if best.mean_loss is not None else best.value
        ax.scatter(
            [best.lr],
            [y],
            s=140,
            facecolors="none",
            edgecolors="k",
            label=f"best: lr {best.lr:.3g}",
        )
    ax.legend(fontsize=7)


def plot_history(result: TuneResult, ax: Any = None) -> Figure:
    """Each trial's value in trial order, and the best value so far as a step line.

    Pruned trials are grey vertical lines; diverged ones, which have no value,
    triangles at the top of the axes.
    """
    fig, ax = _axes(ax)
    rows = sorted(result.trials, key=lambda r: r.number)
    xs, ys, best_x, best_y = [], [], [], []
    best = math.inf
    for r in rows:
        v = r.value
        if r.state != "COMPLETE" or v is None or not math.isfinite(v):
            continue
        xs.append(r.number)
        ys.append(v)
        best = min(best, v)
        best_x.append(r.number)
        best_y.append(best)
    ax.scatter(xs, ys, s=18, color="tab:blue", label="trial")
    if best_x:
        ax.step(best_x, best_y, where="post", color="tab:red", label="best so far")
    pruned = [r.number for r in rows if r.state == "PRUNED"]
    for n in pruned:
        ax.axvline(n, color="0.85", lw=0.8, zorder=0)
    diverged = [
        r.number
        for r in rows
        if r.state == "COMPLETE" and r.value is not None and not math.isfinite(r.value)
    ]
    if diverged:  # no value to plot: above every value, as in plot_lr_search
        top = max(ys) * 1.5 if ys else 1.0
        ax.scatter(
            diverged, [top] * len(diverged), marker="^", s=24, color="tab:red", label="diverged"
        )
    if ys and min(ys) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation loss")
    said = f"{len(pruned)} pruned, grey" + (f"; {len(diverged)} diverged, ▲" if diverged else "")
    ax.set_title(f"{result.study}: search history ({said})")
    ax.legend(fontsize=7)
    return fig
