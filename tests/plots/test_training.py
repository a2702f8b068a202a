"""Training figures: the plotted lines are the smoothed seed means, bands and LR curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from lrlab.errors import UsageError
from lrlab.plots.training import plot_curves, plot_history, plot_lr, plot_step_size, smooth
from lrlab.train import History


def _h(seed: int, n: int = 40, diverge_at: int | None = None) -> History:
    rng = np.random.default_rng(seed)
    loss = np.exp(-np.arange(n) / 10) + 0.01 * rng.random(n)
    size = 0.1 + 0.01 * rng.random(n)
    m = n if diverge_at is None else diverge_at + 1
    if diverge_at is not None:
        loss[diverge_at] = np.inf
    return History(
        lr=np.linspace(0.1, 0.01, n)[:m],
        train_loss=loss[:m],
        step_size=size[:m],
        eval_steps=np.array([10, 20, 30, 40])[: m // 10],
        val_loss=np.array([0.5, 0.3, 0.2, 0.15])[: m // 10],
        val_metric=np.array([0.6, 0.7, 0.8, 0.85])[: m // 10],
        steps=m if diverge_at is None else diverge_at,
        wall_time=0.1,
        diverged=diverge_at is not None,
        meta={"optimizer": "sgd", "metric_name": "accuracy", "task": "toy", "schedule": "x"},
    )


def test_smooth_is_a_trailing_moving_average() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(57)
    for w in (1, 2, 5, 100):
        naive = np.array([a[max(0, i - w + 1) : i + 1].mean() for i in range(len(a))])
        assert np.allclose(smooth(a, w), naive, rtol=1e-12, atol=1e-14)


def test_curves_plot_the_smoothed_seed_mean_with_a_band() -> None:
    hs = [_h(0), _h(1), _h(2)]
    fig = plot_curves({"a": hs, "b": [_h(3)]}, what="train_loss", window=4)
    ax = fig.axes[0]
    lines = ax.get_lines()
    expected = np.mean([smooth(h.train_loss, 4) for h in hs], axis=0)
    assert np.allclose(lines[0].get_ydata(), expected, rtol=1e-12)
    assert lines[0].get_label() == "a (n=3)" and lines[1].get_label() == "b (n=1)"
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1  # one band: only "a" has several seeds
    verts = bands[0].get_paths()[0].vertices
    rows = np.array([smooth(h.train_loss, 4) for h in hs])
    ys = set(np.round(verts[:, 1], 12))
    assert set(np.round(rows.min(axis=0), 12)) <= ys  # the band runs from the min ...
    assert set(np.round(rows.max(axis=0), 12)) <= ys  # ... to the max over seeds
    assert ax.get_yscale() == "log"


def test_validation_curves_and_diverged_runs() -> None:
    fig = plot_curves({"ok": [_h(0)], "bad": [_h(1, diverge_at=25)]}, what="val_loss")
    lines = fig.axes[0].get_lines()
    assert lines[0].get_xdata().tolist() == [10, 20, 30, 40]
    assert lines[1].get_ydata().tolist() == [0.5, 0.3]
    fig = plot_curves([_h(0)], what="val_metric")
    assert fig.axes[0].get_ylabel() == "validation accuracy"
    with pytest.raises(UsageError, match="Received: what='loss'"):
        plot_curves([_h(0)], what="loss")


def test_lr_and_step_size_figures(tmp_path: Path) -> None:
    h = _h(0)
    fig = plot_lr({"sgd": [h]})
    assert np.array_equal(fig.axes[0].get_lines()[0].get_ydata(), h.lr)
    sparse = _h(1)
    sparse.step_size[1::2] = np.nan  # measured every other step: gaps are held
    fig = plot_step_size({"a": [sparse]}, window=1)
    y = fig.axes[0].get_lines()[0].get_ydata()
    assert np.array_equal(y[1::2], sparse.step_size[0::2][: len(y[1::2])])
    assert fig.axes[0].get_yscale() == "log"
    fig = plot_history(h)
    assert len(fig.axes) == 3
    fig.savefig(tmp_path / "h.png", dpi=40)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_step_size_smooths_past_a_first_step_that_was_not_measured(tmp_path: Path) -> None:
    """A run whose first step size is NaN (0/0 on a zero gradient, or not measured) keeps
    that step blank and smooths the rest: one NaN used to turn the whole trailing mean
    NaN, and the log axis then failed to draw."""
    h = _h(2)
    h.step_size[0] = np.nan
    fig = plot_step_size({"a": [h]}, window=3)
    y = np.asarray(fig.axes[0].get_lines()[0].get_ydata(), dtype=np.float64)
    assert np.isnan(y[0])
    assert np.allclose(y[1:], smooth(h.step_size[1:], 3), rtol=1e-12, atol=0)
    fig.savefig(tmp_path / "s.png", dpi=40)


def test_a_legend_of_many_configurations_goes_below_the_curves() -> None:
    """Up to six entries the legend sits inside the axes; more would cover the curves,
    so they go below the axes (the figure grows to hold them)."""
    few = plot_curves({f"c{i}": [_h(i)] for i in range(3)})
    many = plot_curves({f"c{i}": [_h(i)] for i in range(8)})
    for fig in (few, many):
        fig.canvas.draw()
    boxes = []
    for fig in (few, many):
        ax = fig.axes[0]
        legend = ax.get_legend()
        assert legend is not None
        boxes.append((legend.get_window_extent(), ax.get_window_extent()))
    (leg_few, ax_few), (leg_many, ax_many) = boxes
    assert ax_few.y0 <= leg_few.y0 and leg_few.y1 <= ax_few.y1  # inside
    assert leg_many.y1 < ax_many.y0  # wholly below the axes
    assert len(many.axes[0].get_legend().get_texts()) == 8
    assert many.get_figheight() > few.get_figheight()


def test_two_panels_of_many_configurations_share_the_room_below() -> None:
    """Side by side, two legends below their axes need the rows of the longer one, not
    the sum: the figure grows once (it grew per panel, twice as tall as needed)."""
    many = {f"c{i}": [_h(i)] for i in range(14)}
    apart = [f"c{i}" for i in range(7)]
    both = plot_curves(many, apart=apart)  # 7 set apart, 7 in the rest: 4 rows each
    one = plot_curves({k: many[k] for k in [*apart, "c7", "c8"]}, apart=apart)  # 7 and 2
    assert both.get_figheight() == one.get_figheight()
    both.canvas.draw()
    for ax in both.axes:
        legend = ax.get_legend()
        assert len(legend.get_texts()) == 7
        assert legend.get_window_extent().y1 < ax.get_window_extent().y0  # below the axes


def test_lr_figure_draws_each_seeds_rates_when_they_differ() -> None:
    """A schedule: one line for all seeds.  A plateau rule lowers each seed's rate at its own
    step: every distinct sequence is drawn, one legend entry per configuration."""
    same = [_h(0), _h(1), _h(2)]
    plateau = [_h(s) for s in range(3)]
    for k, h in enumerate(plateau):
        h.lr = np.where(np.arange(len(h.lr)) < 10 + 10 * (k % 2), 0.1, 0.05)
    fig = plot_lr({"cosine": same, "plateau": plateau})
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3  # cosine once; plateau's two distinct sequences (seeds 0 and 2 agree)
    assert np.array_equal(lines[0].get_ydata(), same[0].lr)
    assert {tuple(line.get_ydata()) for line in lines[1:]} == {
        tuple(plateau[0].lr),
        tuple(plateau[1].lr),
    }
    assert lines[1].get_color() == lines[2].get_color() != lines[0].get_color()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["cosine", "plateau"]


def test_drawing_into_given_axes() -> None:
    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    assert plot_lr([_h(0)], ax) is fig
    assert isinstance(fig.axes[0], Axes) and len(fig.axes[0].get_lines()) == 1
    with pytest.raises(UsageError, match=r"Received: ax=str$"):  # named, as in every message
        plot_lr([_h(0)], "axes")  # type: ignore[arg-type]


def _scaled(h: History, factor: float) -> History:
    import dataclasses

    return dataclasses.replace(h, step_size=h.step_size * factor)


def test_step_size_gives_runaway_optimizers_a_panel_of_their_own() -> None:
    """Two optimizers whose steps run 1e12x above the rest no longer flatten the others."""
    groups = {f"opt{i}": [_h(i), _h(i + 10)] for i in range(4)}
    groups["wild"] = [_scaled(_h(7), 1e12)]
    groups["wilder"] = [_scaled(_h(8), 1e15)]
    fig = plot_step_size(groups)
    main, side = fig.axes
    assert {line.get_label().split(" (n=")[0] for line in side.get_lines()} == {"wild", "wilder"}
    lo, hi = main.get_ylim()
    assert hi / lo < 10  # the others fill their own panel
    assert side.get_ylim()[1] > 1e13
    # The runaways: one line each, the largest step size so far over seeds; no band.
    from lrlab.plots.training import step_sizes

    rows = step_sizes(groups)
    for line in side.get_lines():
        r = rows[line.get_label().split(" (n=")[0]]
        np.testing.assert_allclose(line.get_ydata(), np.maximum.accumulate(r.max(axis=0)))
    assert not [c for c in side.collections if isinstance(c, PolyCollection)]
    assert [c for c in main.collections if isinstance(c, PolyCollection)]  # the rest keep it
    # One axis when asked, or when nothing runs away.
    assert len(plot_step_size(groups, split=False).axes) == 1
    assert len(plot_step_size({k: groups[k] for k in ("opt0", "opt1", "opt2")}).axes) == 1


def test_small_multiples_draw_each_configuration_against_the_others() -> None:
    from lrlab.plots.training import plot_small_multiples

    groups = {f"cfg{i}": [_h(i), _h(i + 10)] for i in range(5)}
    fig = plot_small_multiples(groups, what="val_loss")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == list(groups)
    assert len(fig.axes) == 8  # a 2 x 4 grid, the last three hidden
    for ax in shown:  # four others in grey behind the configuration's own mean
        assert len(ax.get_lines()) == 5
    lr = plot_small_multiples(groups, what="lr")
    np.testing.assert_allclose(lr.axes[0].get_lines()[0].get_ydata(), groups["cfg0"][0].lr)
    train = plot_small_multiples(groups, what="train_loss")
    np.testing.assert_allclose(  # the panel's own curve: the smoothed seed mean
        train.axes[0].get_lines()[-1].get_ydata(),
        np.mean([smooth(h.train_loss, 1) for h in groups["cfg0"]], axis=0),
    )
    with pytest.raises(UsageError, match="`what`"):
        plot_small_multiples(groups, what="step_size")
