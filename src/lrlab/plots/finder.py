"""Figure of an LR range test: raw and smoothed loss against the rate, suggestions marked."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from lrlab.plots._axes import check_ax

if TYPE_CHECKING:
    from lrlab.finder import FinderResult

__all__ = ["plot_finder", "plot_frameworks"]

#: Each rule's colour, and a name short enough to stand above its line.
_RULES = {
    "fastai_valley": ("tab:orange", "fastai valley"),
    "fastai_steep": ("tab:purple", "fastai steep"),
    "fastai_minimum": ("tab:brown", "fastai min/10"),
    "lightning_steepest": ("tab:pink", "Lightning"),
    "torch_lr_finder_steepest": ("tab:olive", "torch-lr-finder"),
    "lrlab": ("tab:green", "lrlab"),
}


def _spread(want: list[float], gap: float) -> list[float]:
    """Positions near ``want`` (sorted, in 0..1) at least ``gap`` apart, kept in 0..1.

    >>> [round(v, 3) for v in _spread([0.5, 0.5, 0.9], 0.1)]
    [0.45, 0.55, 0.9]
    """
    n = len(want)
    if n == 0:
        return []
    gap = min(gap, 1.0 / n)
    # Pool neighbours that crowd each other into clusters centred on their mean.
    clusters: list[list[float]] = []
    for w in want:
        clusters.append([w])
        while len(clusters) > 1:
            a, b = clusters[-2], clusters[-1]
            a_end = sum(a) / len(a) + gap * (len(a) - 1) / 2
            b_start = sum(b) / len(b) - gap * (len(b) - 1) / 2
            if b_start - a_end >= gap:
                break
            clusters[-2:] = [a + b]
    out: list[float] = []
    for c in clusters:
        mid = sum(c) / len(c)
        out.extend(mid + gap * (i - (len(c) - 1) / 2) for i in range(len(c)))
    shift = max(0.0, out[-1] - 1.0)
    out = [v - shift for v in out]
    shift = max(0.0, -out[0])
    return [v + shift for v in out]


def plot_finder(result: FinderResult, ax: Any = None) -> Figure:
    """Plot ``result`` on ``ax`` (a new :class:`~matplotlib.figure.Figure` when ``None``).

    The x axis is logarithmic for an exponential ramp.  Three curves: the raw
    loss of each batch; the centered moving mean over a tenth of the sweep
    (zero lag: the curve lrlab's rule reads); and the fastai-style EMA that the
    peers' rules read (it lags about ``1 / (1 - beta)`` steps behind the raw
    loss).  Each suggestion is a vertical line labelled on the plot with its
    rule and rate (dashed where it falls on an earlier rule's rate); lrlab's
    range is a shaded band; the fitted divergence edge is a dashed red line.
    """
    check_ax(ax)
    if ax is None:
        fig = Figure(figsize=(8.5, 5.6), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    curves = _curves(ax, result)
    log = result.settings.get("mode", "exponential") == "exponential"
    if log:
        ax.set_xscale("log")
    marks = _suggestion_lines(ax, result)
    raw, finite = result.losses, result.centered[np.isfinite(result.centered)]
    if len(finite):
        lo = min(float(finite.min()), float(np.min(raw[np.isfinite(raw)], initial=np.inf)))
        hi = float(max(finite[: max(len(finite) // 10, 1)].max(), np.median(finite)))
        pad = 0.1 * max(hi - lo, abs(lo) * 1e-3, 1e-12)
        ax.set_ylim(lo - pad, hi + 8 * pad)
    _name_lines(ax, marks, log)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    fig.suptitle("LR range test: the loss as the rate grows, and each rule's suggestion")
    # The legend names the curves; the suggestions carry their names on the plot.
    ax.legend(handles=curves, fontsize=9, loc="lower left")
    return fig


def _curves(ax: Any, result: FinderResult) -> list[Any]:
    """The raw loss, lrlab's centered mean and the peers' EMA, each where it is finite."""

    def line(y: np.ndarray, **style: Any) -> list[Any]:
        ok = np.isfinite(y)
        return ax.plot(result.lrs[ok], y[ok], **style)

    beta = result.settings.get("beta", 0.98)
    return [
        *line(result.losses, color="0.65", lw=1, marker=".", ms=3, label="loss of each batch"),
        *line(result.centered, color="tab:blue", lw=2,
              label="centered mean, 10% of the sweep (read by lrlab's rule)"),
        *line(result.smoothed, color="tab:blue", lw=1, ls="--", alpha=0.7,
              label=f"smoothed loss: EMA, β = {beta:g} (read by the peers' rules; lags)"),
    ]  # fmt: skip


def _suggestion_lines(ax: Any, result: FinderResult) -> list[tuple[float, str, str, bool]]:
    """A vertical line per suggestion (lrlab's range shaded) and at the divergence edge;
    returns each line's rate, name, colour and whether it is lrlab's."""
    drawn: list[tuple[float, str]] = []
    marks: list[tuple[float, str, str, bool]] = []
    for name, s in result.suggestions.items():
        color, short = _RULES.get(name, ("k", name))
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
        marks.append((s.lr, f"{short} {s.lr:.3g}", color, name == "lrlab"))
    edge = result.divergence_lr
    if edge is not None:
        ax.axvline(edge, color="tab:red", ls="--", lw=1, label=f"divergence edge: {edge:.3g}")
        marks.append((edge, f"edge {edge:.3g}", "tab:red", False))
    return marks


def _name_lines(ax: Any, marks: list[tuple[float, str, str, bool]], log: bool) -> None:
    """Each line's name and rate above the plot, over its line: labels of lines closer
    than a label's width are spread apart, each joined to its line by a tick."""
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    x0, x1 = (math.log10(v) for v in ax.get_xlim()) if log else ax.get_xlim()
    marks = sorted(marks)
    want = [((math.log10(x) if log else x) - x0) / (x1 - x0) for x, *_ in marks]
    for (x, text, color, bold), pos in zip(marks, _spread(want, gap=0.034)):
        ax.annotate(
            text, xy=(x, 1.0), xycoords=trans, xytext=(pos, 1.035), textcoords="axes fraction",
            rotation=90, ha="center", va="bottom", fontsize=9, color=color,
            fontweight="bold" if bold else "normal",
            arrowprops={"arrowstyle": "-", "color": color, "lw": 0.8, "shrinkA": 0, "shrinkB": 0},
        )  # fmt: skip


def plot_frameworks(results: dict[str, FinderResult]) -> Figure:
    """One range test per framework, side by side on one loss axis: ``results`` maps a
    panel's title (``"PyTorch"``, ``"Keras (jax backend)"``, ``"JAX + Optax"``) to its
    result.  Each panel shows the loss of each batch, the centered mean lrlab reads and
    lrlab's suggestion with its range, so that equal runs look equal at a glance.
    """
    if not results:
        raise ValueError("plot_frameworks needs at least one result")
    fig = Figure(figsize=(10.5, 4.2), layout="constrained")
    axes = fig.subplots(1, len(results), sharex=True, sharey=True, squeeze=False)[0]
    finite = [r.centered[np.isfinite(r.centered)] for r in results.values()]
    finite = [f for f in finite if len(f)]
    for ax, (title, result) in zip(axes, results.items()):
        ok = np.isfinite(result.losses)
        ax.plot(result.lrs[ok], result.losses[ok], color="0.65", lw=1, marker=".", ms=3,
                label="loss of each batch")  # fmt: skip
        ok = np.isfinite(result.centered)
        ax.plot(result.lrs[ok], result.centered[ok], color="tab:blue", lw=2,
                label="centered mean (read by lrlab)")  # fmt: skip
        s = result.suggestions.get("lrlab")
        if s is not None:
            if s.high > s.low:
                ax.axvspan(s.low, s.high, color="tab:green", alpha=0.15)
            ax.axvline(s.lr, color="tab:green", lw=2, label=f"lrlab {s.lr:.3g}")
        ax.set_title(title if s is None else f"{title}\nlrlab: lr = {s.lr:.3g}", fontsize=11)
        ax.set_xlabel("learning rate")
        if result.settings.get("mode", "exponential") == "exponential":
            ax.set_xscale("log")
    axes[0].legend(fontsize=8, loc="lower left")  # one legend: the panels draw alike
    raw = [r.losses[np.isfinite(r.losses)] for r in results.values()]
    if finite:
        lo = min([float(f.min()) for f in finite] + [float(r.min()) for r in raw if len(r)])
        hi = max(float(max(f[: max(len(f) // 10, 1)].max(), np.median(f))) for f in finite)
        pad = 0.1 * max(hi - lo, abs(lo) * 1e-3, 1e-12)
        axes[0].set_ylim(lo - pad, hi + 8 * pad)
    axes[0].set_ylabel("training loss")
    fig.suptitle("The same range test in each framework: same model, weights and batches")
    return fig
