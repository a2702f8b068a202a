"""Figures of schedules: LR curves, and the effect of a decay parameter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from lrlab.errors import UsageError
from lrlab.schedules import Schedule, exponential, parse

__all__ = [
    "SOURCE_SCHEDULES",
    "plot_decay_factor",
    "plot_schedules",
    "save_figure",
    "source_schedules",
]

#: The three decay strategies of lrlab's source document: initial LR 0.1,
#: halved every 10 epochs; ``exp(-0.1 t)``; ``1 / (1 + 0.1 t)``; 50 epochs.
SOURCE_SCHEDULES: tuple[str, ...] = (
    "step(0.1, 0.5, 10)",
    "exponential(0.1, 0.1)",
    "inverse_time(0.1, 0.1)",
)


def source_schedules() -> dict[str, Schedule]:
    """The source's three strategies (:data:`SOURCE_SCHEDULES`), labelled with their formulas."""
    labels = (
        "step decay: 0.1 · 0.5^⌊t/10⌋",
        "exponential decay: 0.1 · e^(−0.1 t)",
        "1/t decay: 0.1 / (1 + 0.1 t)",
    )
    return dict(zip(labels, map(parse, SOURCE_SCHEDULES)))


def _as_schedules(
    specs: Sequence[Schedule | str] | Mapping[str, Schedule | str],
) -> dict[str, Schedule]:
    if isinstance(specs, Mapping):
        return {label: parse(s) for label, s in specs.items()}
    out: dict[str, Schedule] = {}
    for s in specs:
        sched = parse(s)
        out[str(sched) if not isinstance(s, str) else s] = sched
    return out


def plot_schedules(
    specs: Sequence[Schedule | str] | Mapping[str, Schedule | str],
    steps: int,
    *,
    log: bool = False,
    title: str | None = None,
    xlabel: str = "step (epoch)",
    figure: Figure | None = None,
) -> Figure:
    """One labelled curve per schedule over steps ``0 .. steps-1``.

    Each curve is one vectorised call ``schedule(np.arange(steps))``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise UsageError(f"Argument `steps` must be a positive integer. Received: steps={steps!r}")
    scheds = _as_schedules(specs)
    if not scheds:
        raise UsageError("Argument `specs` must name at least one schedule. Received: specs=[]")
    fig = figure or Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    t = np.arange(steps)
    drawstyle = "steps-post" if steps <= 400 else "default"
    for label, sched in scheds.items():
        ax.plot(t, sched(t), label=label, drawstyle=drawstyle, linewidth=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Learning-rate schedules")
    return fig


def plot_decay_factor(
    values: Sequence[float] = (0.05, 0.1, 0.2),
    *,
    lr: float = 0.1,
    steps: int = 50,
    figure: Figure | None = None,
) -> Figure:
    """Exponential decay ``lr · e^(−k t)`` for several ``k``: a larger decay
    factor shrinks the LR sooner; the half-life is ``ln 2 / k`` steps."""
    specs = {f"k = {k:g} (half-life {np.log(2) / k:.1f} steps)": exponential(lr, k) for k in values}
    return plot_schedules(
        specs,
        steps,
        title=f"Effect of the decay factor: {lr:g} · e^(−k t)",
        figure=figure,
    )


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (by the suffix) and return the path."""
    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(
            f"Argument `path` of save_figure() must end in .png, .svg or .pdf. "
            f"Received: path={str(path)!r}"
        )
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=120 if p.suffix.lower() == ".png" else None)
    return p
