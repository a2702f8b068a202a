"""Figures of training runs: loss curves with a band over seeds, LR curves, effective step sizes.

Every function takes ``histories``: a mapping from a configuration's label to
the list of :class:`~lrlab.train.History` of its seeds (a single History or a
list is accepted too), and returns a :class:`~matplotlib.figure.Figure`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lrlab.errors import UsageError


@runtime_checkable
class History(Protocol):
    """What the figures read of one training run: the fields of a
    :class:`lrlab.train.History`, named here so that this module does not import
    the lab (the lab's ``.figures()`` draws with it)."""

    lr: np.ndarray
    train_loss: np.ndarray
    step_size: np.ndarray
    eval_steps: np.ndarray
    val_loss: np.ndarray
    diverged: bool
    meta: dict[str, Any]


__all__ = ["outliers", "plot_curves", "plot_history", "plot_lr", "plot_small_multiples",
           "plot_step_size", "smooth", "step_sizes"]  # fmt: skip

_COLORS = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

Histories = Mapping[str, Sequence[History]] | Sequence[History] | History

_YLABELS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "val_metric": "validation metric",
    "lr": "learning rate",
}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average: ``out[i] = mean(values[max(0, i-window+1) : i+1])``.

    >>> smooth(np.array([1.0, 2.0, 3.0, 4.0]), 2).tolist()
    [1.0, 1.5, 2.5, 3.5]
    """
    a = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(a) == 0:
        return a.copy()
    c = np.concatenate([[0.0], np.cumsum(a)])
    idx = np.arange(1, len(a) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _normalize(histories: Histories) -> dict[str, list[History]]:
    if isinstance(histories, History):
        return {histories.meta.get("optimizer", "run"): [histories]}
    if isinstance(histories, Mapping):
        out: dict[str, list[History]] = {}
        for k, v in histories.items():
            out[str(k)] = [v] if isinstance(v, History) else list(v)
        return out
    if isinstance(histories, Sequence) and all(isinstance(h, History) for h in histories):
        return {h.meta.get("optimizer", f"run {i}"): [h] for i, h in enumerate(histories)}
    raise UsageError(
        "Argument `histories` must be a History, a list of them or a mapping label -> list. "
        f"Received: {type(histories).__name__}"
    )


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Rows padded with NaN to the longest (diverged runs stop early)."""
    n = max(len(a) for a in arrays)
    out = np.full((len(arrays), n), np.nan)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out


def _figure(
    ax: Axes | Figure | None, size: tuple[float, float] = (7.0, 4.2)
) -> tuple[Figure, Axes]:
    if isinstance(ax, Axes):
        return ax.figure, ax  # type: ignore[return-value]
    if ax is None:
        fig = Figure(figsize=size)
    elif isinstance(ax, Figure):
        fig = ax
    else:
        raise UsageError(
            "Argument `ax` must be None, a matplotlib Figure or Axes. "
            f"Received: ax={type(ax).__name__}"
        )
    return fig, fig.add_subplot(1, 1, 1)


def _two_panels() -> tuple[Figure, Axes, Axes]:
    """A wide figure: the rest on the left, the configurations set apart on the right."""
    fig = Figure(figsize=(11.0, 4.2))
    main, side = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    return fig, main, side


def _frame(axis: Axes, levels: list[tuple[float, float]], below: float, above: float) -> None:
    """Frame the y axis on the curves' levels (as :func:`_band` returns them), with room
    ``below`` and ``above`` as factors, when they are finite and positive."""
    lo, hi = min(lo for lo, _ in levels), max(hi for _, hi in levels)
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo > 0:
        axis.set_ylim(lo / below, hi * above)


def _band(
    ax: Axes, x: np.ndarray, rows: np.ndarray, color: str, label: str, band: str
) -> tuple[float, float]:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns after divergence
        mean = np.nanmean(rows, axis=0)
        if band == "minmax":
            lo, hi = np.nanmin(rows, axis=0), np.nanmax(rows, axis=0)
        else:
            sd = np.nanstd(rows, axis=0)
            lo, hi = mean - sd, mean + sd
    ax.plot(x, mean, color=color, lw=1.4, label=f"{label} (n={rows.shape[0]})")
    if rows.shape[0] > 1:
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
    finite = mean[np.isfinite(mean) & (mean > 0)]
    if len(finite) == 0:
        return np.inf, -np.inf
    head = finite[: max(1, len(finite) // 20)]
    return float(finite.min()), float(np.max(head))


def _legend(axis: Axes, fontsize: float) -> float:
    """The axis's legend: inside where it fits; below the axis, in two columns, when it
    names more than six configurations (inside, so many cover the curves).  Returns the
    height (inches) the figure must grow by to hold a legend below the axis."""
    n = len(axis.get_legend_handles_labels()[1])
    if n <= 6:
        axis.legend(fontsize=fontsize)
        return 0.0
    axis.legend(fontsize=fontsize, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2)
    return fontsize / 36 * math.ceil(n / 2)


def _finish(
    fig: Figure, axis: Axes, ylabel: str, fontsize: float = 8, below: float = 0.0
) -> Figure:
    """Label ``axis`` and lay the figure out, taller by the larger of ``below`` (another
    panel's legend) and this axis's legend below it: panels side by side share the room."""
    axis.set_xlabel("step")
    axis.set_ylabel(ylabel)
    below = max(below, _legend(axis, fontsize))
    root = axis.get_figure(root=True)
    if below and isinstance(root, Figure):
        root.set_figheight(root.get_figheight() + below)
    axis.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _finish_apart(fig: Figure, main: Axes, side: Axes, ylabel: str, side_title: str) -> Figure:
    """Label a figure of two panels: the rest, and the configurations set apart."""
    side.set_title(side_title, fontsize=10)
    main.set_title("the rest", fontsize=10)
    side.set_xlabel("step")
    below = _legend(side, 9)
    side.grid(alpha=0.3)
    return _finish(fig, main, ylabel, 9, below)  # the wider figure is shown smaller on the page


def _curve(
    hs: Sequence[History], what: str, window: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The x values and the per-seed rows of one configuration's curve: the training
    loss smoothed over ``window`` steps (default steps/50), or the evaluations."""
    if what == "train_loss":
        n = max(len(h.train_loss) for h in hs)
        w = window if window is not None else max(1, n // 50)
        rows = _stack([smooth(h.train_loss, w) for h in hs])
        return np.arange(rows.shape[1], dtype=np.float64), rows
    longest = max(hs, key=lambda h: len(h.eval_steps))
    return longest.eval_steps.astype(np.float64), _stack([getattr(h, what) for h in hs])


def plot_curves(
    histories: Histories,
    ax: Axes | Figure | None = None,
    *,
    what: str = "train_loss",
    window: int | None = None,
    band: str = "minmax",
    log: bool = True,
    apart: Sequence[str] = (),
) -> Figure:
    """Loss curves, one line per configuration: the mean over seeds with a band.

    ``what="train_loss"`` plots the per-step training loss, smoothed by a
    trailing moving average of ``window`` steps (default ``steps // 50``);
    ``what="val_loss"`` or ``"val_metric"`` plots the evaluations.  The band is
    the min..max over seeds (``band="minmax"``) or mean ± one standard
    deviation (``band="std"``).  The y-range is clipped so a diverged run does
    not flatten the others; the configurations named in ``apart`` (say, the
    ones that blew up) get a second panel with its own scale (new figures only).
    """
    if what not in ("train_loss", "val_loss", "val_metric"):
        raise UsageError(
            "Argument `what` must be 'train_loss', 'val_loss' or 'val_metric'. "
            f"Received: what={what!r}"
        )
    if band not in ("minmax", "std"):
        raise UsageError(f"Argument `band` must be 'minmax' or 'std'. Received: band={band!r}")
    groups = _normalize(histories)
    apart = [a for a in apart if a in groups] if ax is None else []
    if apart and len(apart) < len(groups):
        fig, axis, side = _two_panels()
        panels = [axis, side]
    else:
        fig, axis = _figure(ax)
        panels = [axis]
    levels: dict[Axes, list[tuple[float, float]]] = {a: [] for a in panels}
    for i, (label, hs) in enumerate(groups.items()):
        target = panels[-1] if label in apart else axis
        x, rows = _curve(hs, what, window)
        levels[target].append(_band(target, x, rows, _COLORS[i % len(_COLORS)], label, band))
    if log and what != "val_metric":
        for a in panels:
            a.set_yscale("log")
            _frame(a, levels[a], 1.5, 3)
    ylabel = _YLABELS[what]
    if what == "val_metric":
        metric = next(iter(groups.values()))[0].meta.get("metric_name")
        ylabel = f"validation {metric}" if metric else ylabel
    if len(panels) == 1:
        return _finish(fig, axis, ylabel)
    return _finish_apart(fig, axis, panels[1], ylabel, "own scale: " + ", ".join(apart))


def plot_lr(histories: Histories, ax: Axes | Figure | None = None, *, log: bool = False) -> Figure:
    """The learning rate per step of each configuration (the schedule as run).

    A schedule gives every seed the same rates: one line.  A rule driven by the
    validation loss (``reduce_on_plateau``) can lower them at other steps for
    each seed: every distinct seed's rates are drawn, the others thinner.
    """
    groups = _normalize(histories)
    fig, axis = _figure(ax)
    for i, (label, hs) in enumerate(groups.items()):
        color = _COLORS[i % len(_COLORS)]
        ordered = sorted(hs, key=lambda h: -len(h.lr))
        drawn: list[np.ndarray] = []
        for h in ordered:
            n = len(h.lr)
            if any(np.array_equal(h.lr, d[:n]) for d in drawn):
                continue
            first = not drawn
            axis.plot(
                np.arange(n),
                h.lr,
                color=color,
                lw=1.4 if first else 0.9,
                alpha=1.0 if first else 0.55,
                label=label if first else "_nolegend_",
            )
            drawn.append(h.lr)
    if log:
        axis.set_yscale("log")
    return _finish(fig, axis, "learning rate")


def step_sizes(histories: Histories, window: int | None = None) -> dict[str, np.ndarray]:
    """Each configuration's effective step size ``||delta theta|| / ||g||`` per step, one
    row per seed (NaN-padded past a diverged run's end), smoothed like :func:`plot_curves`."""
    out = {}
    for label, hs in _normalize(histories).items():
        n = max(len(h.step_size) for h in hs)
        w = window if window is not None else max(1, n // 50)
        rows = []
        for h in hs:
            s = h.step_size.copy()
            ok = np.isfinite(s)
            first = int(np.argmax(ok)) if ok.any() else len(s)  # steps before it stay blank
            if ok.any() and not ok.all():  # measured every K steps: hold the last value
                idx = np.where(ok, np.arange(len(s)), 0)
                np.maximum.accumulate(idx, out=idx)
                s[first:] = s[idx[first:]]
            rows.append(np.concatenate([s[:first], smooth(s[first:], w)]))
        out[label] = _stack(rows)
    return out


def outliers(levels: Mapping[str, np.ndarray], factor: float = 1e3) -> list[str]:
    """The labels whose largest value exceeds ``factor`` times the median level of all.

    ``levels`` maps a label to positive values (NaN ignored); the median level is
    the median over labels of each one's median.

    >>> outliers({"a": np.array([1.0, 2.0]), "b": np.array([1.5]), "c": np.array([1.0, 1e9])})
    ['c']
    """
    meds = {k: float(np.nanmedian(v)) for k, v in levels.items() if np.isfinite(v).any()}
    if len(meds) < 3:
        return []
    ref = float(np.median(list(meds.values())))
    return [k for k in meds if float(np.nanmax(levels[k])) > factor * ref]


def plot_step_size(
    histories: Histories,
    ax: Axes | Figure | None = None,
    *,
    window: int | None = None,
    split: bool = True,
) -> Figure:
    """The effective step size ``||delta theta|| / ||g||`` per step, mean over seeds (log scale).

    For plain SGD it equals the LR; for adaptive optimizers it shows how far
    they move the step away from it.  Smoothed like :func:`plot_curves`.  With
    ``split`` (and a new figure), configurations whose step size runs more than
    1000x above the median level of all (see :func:`outliers`) get a second
    panel with its own scale, so they do not flatten the others; there each is
    one line, the largest step size so far over its seeds, so a blow-up reads
    at a glance.
    """
    rows = step_sizes(histories, window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns after divergence
        means = {label: np.nanmean(r, axis=0) for label, r in rows.items()}
    far = outliers(means) if split and ax is None else []
    side = None
    if far and len(far) < len(rows):
        fig, main, side = _two_panels()
    else:
        fig, main = _figure(ax)
    for i, (label, r) in enumerate(rows.items()):
        x, color = np.arange(r.shape[1], dtype=np.float64), _COLORS[i % len(_COLORS)]
        if side is not None and label in far:  # how far it ran away, not its noise
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                peak = np.fmax.accumulate(np.nanmax(r, axis=0))
            side.plot(x, peak, color=color, lw=2, label=f"{label} (n={r.shape[0]})")
        else:
            _band(main, x, r, color, label, "minmax")
    main.set_yscale("log")
    if side is None:
        return _finish(fig, main, "effective step size ‖Δθ‖/‖g‖")
    side.set_yscale("log")
    return _finish_apart(
        fig, main, side, "effective step size ‖Δθ‖/‖g‖",
        "more than 1000× the others: largest so far over seeds",
    )  # fmt: skip


def plot_small_multiples(
    histories: Histories, *, what: str = "val_loss", columns: int = 4
) -> Figure:
    """One small panel per configuration, on shared axes.

    ``what="val_loss"`` or ``"train_loss"``: each panel draws its
    configuration's loss (mean over seeds, min..max band; the training loss
    smoothed as in :func:`plot_curves`) over the others' in light grey, so each
    is seen against the field; ``what="lr"``: each panel draws the rates the
    configuration ran with (every distinct seed's, as :func:`plot_lr`).
    """
    if what not in ("val_loss", "train_loss", "lr"):
        raise UsageError(
            f"Argument `what` must be 'val_loss', 'train_loss' or 'lr'. Received: what={what!r}"
        )
    groups = _normalize(histories)
    n = len(groups)
    cols = max(1, min(columns, n))
    nrows = -(-n // cols)
    fig = Figure(figsize=(11.0, 2.5 * nrows + 0.6))
    axes = np.atleast_1d(fig.subplots(nrows, cols, sharex=True, sharey=True, squeeze=False))
    flat = list(axes.ravel())
    curves = {} if what == "lr" else {label: _curve(hs, what) for label, hs in groups.items()}
    levels = []
    for i, (label, hs) in enumerate(groups.items()):
        axis = flat[i]
        color = _COLORS[i % len(_COLORS)]
        if what == "lr":
            plot_lr({label: hs}, axis)
            axis.get_legend().remove()
            for line in axis.get_lines():
                line.set_color(color)
            axis.set_xlabel("")
            axis.set_ylabel("")
        else:
            for other, (x, rows) in curves.items():
                if other != label:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        axis.plot(x, np.nanmean(rows, axis=0), color="0.8", lw=0.9)
            levels.append(_band(axis, *curves[label], color, label, "minmax"))
            axis.set_yscale("log")
        axis.set_title(label, fontsize=10, color=color)
        axis.grid(alpha=0.3)
        axis.tick_params(labelsize=9)
    for axis in flat[n:]:
        axis.set_visible(False)
    if levels:
        _frame(flat[0], levels, 1.3, 1.5)
    for axis in axes[-1]:
        axis.set_xlabel("step", fontsize=9)
    for axis in axes[:, 0]:
        axis.set_ylabel(_YLABELS[what], fontsize=9)
    fig.tight_layout()
    return fig


def plot_history(history: History, fig: Figure | None = None) -> Figure:
    """One run at a glance: losses, the LR and the effective step size, side by side."""
    if not isinstance(history, History):
        raise UsageError(
            f"Argument `history` must be a History. Received: {type(history).__name__}"
        )
    fig = Figure(figsize=(13.0, 3.8)) if fig is None else fig
    a, b, c = fig.subplots(1, 3)
    label = history.meta.get("optimizer", "run")
    plot_curves({label: [history]}, a)
    if len(history.eval_steps):
        a.plot(
            history.eval_steps, history.val_loss, "o-", color="k", ms=3, lw=1, label="validation"
        )
        a.legend(fontsize=7)
    plot_lr({label: [history]}, b)
    plot_step_size({label: [history]}, c)
    title = f"{history.meta.get('task', '')} · {history.meta.get('schedule', '')}"
    if history.diverged:
        title += " · diverged"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
