"""The range-test figure marks every suggestion."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from lrlab.errors import UsageError
from lrlab.finder import FinderResult, find_lr


def _sweep(num_steps: int) -> FinderResult:
    """A full-batch sweep of a small regression net, 1e-4 -> 100, to divergence."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = x.sum(dim=1, keepdim=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return find_lr(
        model,
        torch.nn.MSELoss(),
        [(x, y)],
        opt,
        min_lr=1e-4,
        max_lr=100.0,
        num_steps=num_steps,
        confirm=3,
    )


def test_plot_marks_each_suggestion_and_the_edge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = _sweep(60)
    fig = res.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    for name, s in res.suggestions.items():
        assert sum(lab.startswith(f"{name}: {s.lr:.3g}") for lab in labels) == 1
    if res.divergence_lr is not None:
        assert any(lab.startswith("divergence edge") for lab in labels)
    # Each line is named on the plot, with its rate (not in a legend the size of a stamp).
    marks = [t.get_text() for t in ax.texts]
    for name, s in res.suggestions.items():
        assert sum(m.endswith(f" {s.lr:.3g}") for m in marks) >= 1, (name, marks)
    assert len(marks) == len(res.suggestions) + (res.divergence_lr is not None)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 3  # the three curves only
    # The smoothed curve is drawn as recorded, and so is the lag-free one lrlab's rule reads.
    smooth_line = next(line for line in ax.get_lines() if line.get_label().startswith("smoothed"))
    np.testing.assert_allclose(smooth_line.get_ydata(), res.smoothed[np.isfinite(res.smoothed)])
    from lrlab.finder.rules import centered as _centered

    centered = next(line for line in ax.get_lines() if line.get_label().startswith("centered"))
    half = max(1, round(len(res.losses) * 0.05))
    np.testing.assert_allclose(centered.get_ydata(), _centered(res.losses, half))
    out = tmp_path / "f.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_keeps_the_lowest_raw_loss_in_frame() -> None:
    """On a short sweep the EMA lags far above the raw loss; the frame shows both."""
    res = _sweep(30)
    raw_min = float(np.nanmin(res.losses[np.isfinite(res.losses)]))
    smooth_min = float(np.nanmin(res.smoothed[np.isfinite(res.smoothed)]))
    assert raw_min < smooth_min  # the lag this test is about
    lo, hi = res.plot().axes[0].get_ylim()
    assert lo < raw_min < hi


def test_plot_shows_rules_that_agree_as_two_lines() -> None:
    """Two rules on one rate: the later line is dashed and says whose rate it is."""
    res = _sweep(60)
    names = [n for n in res.suggestions if n != "lrlab"]
    first, second = names[0], names[1]
    same = dict(res.suggestions)
    same[second] = dataclasses.replace(same[second], lr=same[first].lr)
    ax = dataclasses.replace(res, suggestions=same).plot().axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    lr = same[first].lr
    a = lines[f"{first}: {lr:.3g}"]
    b = lines[f"{second}: {lr:.3g} (= {first})"]
    assert a.get_linestyle() == "-" and b.get_linestyle() == "--"
    assert a.get_xdata()[0] == b.get_xdata()[0] == lr
    assert a.get_color() != b.get_color()
    others = [lab for n in names[2:] for lab in lines if lab.startswith(f"{n}: ")]
    assert all("(=" not in lab for lab in others)  # the rest keep their solid lines


@pytest.mark.parametrize("ax", ["x", 3, Figure()])
def test_an_ax_that_is_not_an_axes_is_refused_by_name(ax: object) -> None:
    """ax.figure or ax.plot raised an AttributeError: 'str' object has no attribute 'figure'."""
    shown = type(ax).__name__
    with pytest.raises(
        UsageError,
        match=rf"^Argument `ax` must be None or a matplotlib Axes\. Received: ax={shown}$",
    ):
        _sweep(20).plot(ax=ax)


def test_the_frameworks_figure_puts_each_result_in_its_panel_on_one_loss_axis() -> None:
    from lrlab.plots.finder import plot_frameworks

    a, b = _sweep(40), _sweep(30)
    fig = plot_frameworks({"PyTorch": a, "JAX + Optax": b})
    axes = fig.axes
    assert len(axes) == 2 and axes[0].get_ylim() == axes[1].get_ylim()
    for ax, res, title in zip(axes, (a, b), ("PyTorch", "JAX + Optax")):
        s = res.suggestions["lrlab"]
        assert ax.get_title() == f"{title}\nlrlab: lr = {s.lr:.3g}"
        assert ax.get_xscale() == "log"
        raw = ax.lines[0].get_ydata()
        np.testing.assert_array_equal(raw, res.losses[np.isfinite(res.losses)])
        assert any(np.allclose(ln.get_xdata(), [s.lr, s.lr]) for ln in ax.lines[2:])
    lo, _ = axes[0].get_ylim()
    assert lo < min(float(np.nanmin(r.losses)) for r in (a, b))  # the lowest loss is in frame
    with pytest.raises(ValueError, match="at least one result"):
        plot_frameworks({})
