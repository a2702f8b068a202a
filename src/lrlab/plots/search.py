"""Figures of a search: validation loss against LR per schedule family, and the search history."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from lrlab.plots._axes import check_ax
from lrlab.plots._tied import tied

if TYPE_CHECKING:
    from lrlab.tune import TrialRow, TuneResult

__all__ = ["best_so_far", "plot_history", "plot_lr_search", "plot_samplers", "spread"]


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
    check_ax(ax)
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
        dots = partial(ax.scatter, s=24, color=color)
        dots([r.lr for r in finite], [r.value for r in finite], marker="o", label=fam)
        # At the top of the axis, out of the legend (the title says what the marks are).
        for marker, kind, off in (("x", "pruned", pruned), ("^", "diverged", diverged)):
            if off:
                dots([r.lr for r in off], [top] * len(off), marker=marker, label=f"_{kind}:{fam}")
    raced = [r for r in rows if r.mean_loss is not None and math.isfinite(r.mean_loss)]
    if raced:
        for r in raced:
            ax.plot([r.lr] * 2, [r.value, r.mean_loss], color="0.5", lw=0.8)
        ax.scatter([r.lr for r in raced], [r.mean_loss for r in raced], marker="D", s=30,
                   color="k", label="finalists: mean over seeds")  # fmt: skip
    best = result.best
    if best is not None and any(r.number == best.number for r in rows):
        y = best.mean_loss if best.mean_loss is not None else best.value
        ax.scatter([best.lr], [y], s=140, facecolors="none", edgecolors="k",
                   label=f"best: lr {best.lr:.3g}")  # fmt: skip
    ax.legend(fontsize=7)


def plot_history(result: TuneResult, ax: Any = None) -> Figure:
    """Each trial's value in trial order, and the best value so far as a step line.

    Pruned trials are grey vertical lines; diverged ones, which have no value,
    triangles at the top of the axes.
    """
    check_ax(ax)
    if ax is None:
        ax = Figure(figsize=(7, 4.5)).add_subplot(1, 1, 1)
    rows = sorted(result.trials, key=lambda r: r.number)
    values = [_value(r) for r in rows]
    shown = [i for i, v in enumerate(values) if math.isfinite(v)]
    xs = [rows[i].number for i in shown]
    ys = [values[i] for i in shown]
    ax.scatter(xs, ys, s=18, color="tab:blue", label="trial")
    if xs:
        best = best_so_far(rows)[shown]
        ax.step(xs, best, where="post", color="tab:red", label="best so far")
    pruned = [r.number for r in rows if r.state == "PRUNED"]
    for n in pruned:
        ax.axvline(n, color="0.85", lw=0.8, zorder=0)
    diverged = [r.number for r, v in zip(rows, values) if abs(v) == math.inf]
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
    return ax.figure


def _value(r: TrialRow) -> float:
    """A completed trial's value (``±inf``: it diverged); ``nan`` for any other trial
    (Optuna never completes a trial with a NaN value)."""
    return float(r.value) if r.state == "COMPLETE" and r.value is not None else math.nan


def best_so_far(trials: Sequence[TrialRow]) -> np.ndarray:
    """The lowest value of the completed trials up to each trial (in the given order);
    ``inf`` until a trial completes with a finite value.

    >>> from types import SimpleNamespace as Row
    >>> best_so_far([Row(state="PRUNED", value=None), Row(state="COMPLETE", value=2.0),
    ...              Row(state="COMPLETE", value=3.0)]).tolist()
    [inf, 2.0, 2.0]
    """
    vals = np.array([_value(r) for r in trials], dtype=float)
    return np.minimum.accumulate(np.where(np.isnan(vals), np.inf, vals))


def spread(trial: TrialRow | None) -> float:
    """The sample standard deviation of a trial's run losses (its folds and seeds): the
    noise in its value; NaN with fewer than two finite runs."""
    runs = [v for v in (trial.run_losses or []) if math.isfinite(v)] if trial else []
    return float(np.std(runs, ddof=1)) if len(runs) > 1 else math.nan


def plot_samplers(results: Mapping[str, TuneResult], cv: int) -> Figure:
    """The same space searched by several samplers (label -> result), side by side.

    Left: each sampler's best value so far against the training steps spent, on a linear
    axis framed on the best found, with the spread (:func:`spread`) of the best trial as a
    band around it; the samplers that end within it are tied (:func:`~lrlab.plots._tied.tied`),
    which the title says.  Right: each trial's value against its rate (dots: completed;
    crosses: pruned, at the mean of the folds they ran), framed on the good region.
    """
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ends: dict[str, tuple[float, float]] = {}
    finite: list[float] = []
    for (label, res), marker in zip(results.items(), "osD^v"):
        trials = sorted(res.trials, key=lambda r: r.number)
        best, ok = best_so_far(trials), np.isfinite(best_so_far(trials))
        spent = np.cumsum([r.steps for r in trials])
        (line,) = ax1.step(spent[ok], best[ok], where="post", marker=marker, ms=4, label=label)
        if ok.any():
            ends[label] = (float(best[-1]), spread(res.best))
        finite += _trials(ax2, trials, label, line.get_color())
    names = tied(ends)
    if names:
        low, noise = min(ends.values())
        width = noise if math.isfinite(noise) and noise > 0 else 0.01 * abs(low)
        ax1.axhspan(low - width, low + width, color="0.5", alpha=0.2, lw=0,
                    label=f"best ± its spread over {cv} folds")  # fmt: skip
        ax1.set_ylim(low - 2.5 * width, max(v for v, _ in ends.values()) + 5 * width)
        said = (
            "all tied" if len(names) == len(ends)
            else f"{names[0]} ahead" if len(names) == 1 else "tied: " + ", ".join(names)
        )  # fmt: skip
        ax1.set_title(f"Best so far against compute ({said})")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
        ax.tick_params(labelsize=9)
    ax1.set_xlabel("training steps spent")
    ax1.set_ylabel(f"best {cv}-fold validation loss so far")
    ax2.set_yscale("log")
    if finite:  # frame the good region; far-off trials would flatten it
        ax2.set_ylim(min(finite) / 1.05, min(finite) * 2.5)
    ax2.set_xscale("log")
    ax2.set_xlabel("peak learning rate")
    ax2.set_ylabel(f"{cv}-fold validation loss")
    ax2.set_title("Every trial: dots completed, crosses pruned")
    return fig


def _trials(ax: Any, trials: list[TrialRow], label: str, color: str) -> list[float]:
    """Each trial's value against its rate: completed dots, pruned crosses (fold mean)."""
    done = [(r.lr, _value(r)) for r in trials if not math.isnan(_value(r))]
    cut = [(r.lr, float(np.mean(r.run_losses))) for r in trials
           if r.state == "PRUNED" and r.run_losses]  # fmt: skip
    ax.plot([x for x, _ in done], [y for _, y in done], "o", ms=5, color=color, label=label)
    ax.plot([x for x, _ in cut], [y for _, y in cut], "x", ms=5, color=color, alpha=0.6)
    return [y for _, y in done if math.isfinite(y)]
