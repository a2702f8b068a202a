"""Search figures: loss against LR per schedule family, and the history."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from lrlab.errors import UsageError
from lrlab.plots.search import plot_history, plot_lr_search
from lrlab.tune import Space, TuneResult, tune


def test_search_figures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = tune(
        "breast_cancer",
        sampler="random",
        trials=6,
        pruner="none",
        storage="memory",
        space=Space(optimizers=("sgd",), schedules=("constant", "cosine")),
        steps=8,
    )
    fig = res.plot_lr()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    by_family = {c.get_label(): c for c in ax.collections}
    assert all(np.isfinite(r.value) for r in res.trials)  # no diverged trial to set apart
    drawn = 0
    for fam in ("constant", "cosine"):
        rows = [r for r in res.trials if r.schedule == fam]
        if rows:
            xs = by_family[fam].get_offsets()[:, 0]
            np.testing.assert_allclose(sorted(xs), sorted(r.lr for r in rows), rtol=1e-12)
            drawn += len(rows)
    assert drawn == 6
    assert res.best is not None and f"best: lr {res.best.lr:.3g}" in by_family
    hist = res.plot_history()
    step_line = hist.axes[0].get_lines()[0]
    values = [r.value for r in sorted(res.trials, key=lambda r: r.number)]
    np.testing.assert_allclose(step_line.get_ydata(), np.minimum.accumulate(values), rtol=1e-12)
    hist.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_search_figure_marks_the_raced_finalists() -> None:
    res = tune(
        "breast_cancer",
        sampler="random",
        trials=5,
        pruner="none",
        storage="memory",
        space=Space(optimizers=("adam",), schedules=("constant",)),
        steps=20,
        finalists=2,
    )
    ax = res.plot_lr().axes[0]
    by_label = {c.get_label(): c for c in ax.collections}
    raced = sorted((r for r in res.trials if r.mean_loss is not None), key=lambda r: r.lr)
    assert len(raced) == 2
    diamonds = by_label["finalists: mean over seeds"].get_offsets()
    got = sorted(map(tuple, np.asarray(diamonds)))
    np.testing.assert_allclose(got, [(r.lr, r.mean_loss) for r in raced], rtol=1e-12)
    assert res.best is not None
    ring = by_label[f"best: lr {res.best.lr:.3g}"].get_offsets()[0]
    np.testing.assert_allclose(ring, [res.best.lr, res.best.mean_loss], rtol=1e-12)


def test_search_figure_gives_each_optimizer_its_own_panel() -> None:
    """SGD's and Adam's rates live on different scales: one panel each, one loss axis."""
    res = tune(
        "breast_cancer",
        sampler="random",
        trials=10,
        pruner="none",
        storage="memory",
        space=Space(optimizers=("momentum", "adam"), schedules=("constant", "cosine")),
        steps=8,
    )
    names = sorted({r.optimizer for r in res.trials})
    assert names == ["adam", "momentum"]  # seed 0 samples both
    fig = res.plot_lr()
    panels = [a for a in fig.axes if a.get_title() in names]
    assert [a.get_title() for a in panels] == names
    assert panels[1].get_shared_y_axes().joined(panels[0], panels[1])
    for name, ax in zip(names, panels, strict=True):
        mine = sorted(r.lr for r in res.trials if r.optimizer == name)
        fams = [c for c in ax.collections if c.get_label() in ("constant", "cosine")]
        xs = sorted(float(x) for c in fams for x in c.get_offsets()[:, 0])
        np.testing.assert_allclose(xs, mine, rtol=1e-12)
    assert res.best is not None
    ringed = [a for a in panels if any(c.get_label().startswith("best: lr") for c in a.collections)]
    assert [a.get_title() for a in ringed] == [res.best.optimizer]
    # Given one axes, every trial goes on it.
    one = Figure().add_subplot(1, 1, 1)
    res.plot_lr(ax=one)
    xs = [
        x
        for c in one.collections
        if c.get_label() in ("constant", "cosine")
        for x in c.get_offsets()[:, 0]
    ]
    assert len(xs) == 10


def test_search_figures_mark_pruned_and_diverged_trials_apart() -> None:
    """A diverged trial has no value: it is a triangle at the top, not a dot or a cross."""
    res = tune(
        "quadratic",
        sampler="random",
        trials=8,
        pruner="median",
        storage="memory",
        space=Space(lr=(1e-4, 100.0), optimizers=("sgd",), schedules=("constant",)),
        steps=40,
    )
    ok = [r for r in res.trials if r.state == "COMPLETE" and np.isfinite(r.value)]
    diverged = [r for r in res.trials if r.state == "COMPLETE" and not np.isfinite(r.value)]
    pruned = [r for r in res.trials if r.state == "PRUNED"]
    assert ok and diverged and pruned  # seed 0 gives all three
    ax = res.plot_lr().axes[0]
    by_label = {c.get_label(): np.asarray(c.get_offsets()) for c in ax.collections}
    top = max(r.value for r in ok + pruned) * 1.5  # above every finite value
    for label, rows, ys in (
        ("constant", ok, [r.value for r in ok]),
        ("_pruned:constant", pruned, [top] * len(pruned)),
        ("_diverged:constant", diverged, [top] * len(diverged)),
    ):
        got = sorted(map(tuple, by_label[label]))
        np.testing.assert_allclose(got, sorted(zip([r.lr for r in rows], ys)), rtol=1e-12)
    assert "▲ diverged" in ax.get_title()
    hist = res.plot_history().axes[0]
    marks = {c.get_label(): np.asarray(c.get_offsets()) for c in hist.collections}
    np.testing.assert_array_equal(marks["diverged"][:, 0], [r.number for r in diverged])
    assert np.all(marks["diverged"][:, 1] > max(r.value for r in ok))  # above every value
    lo, hi = hist.get_xlim()  # every mark inside the axes, the last trial's too
    assert lo < min(r.number for r in res.trials) and max(r.number for r in res.trials) < hi
    np.testing.assert_array_equal(marks["trial"][:, 0], [r.number for r in ok])
    assert f"{len(diverged)} diverged" in hist.get_title()


def test_samplers_figure_draws_each_samplers_best_so_far_and_the_noise_band() -> None:
    """No gaps on a log scale: the best so far on a linear axis, the best trial's fold
    spread as a band around the best found, and 'tied' for the samplers inside it."""
    from lrlab.plots._tied import tied
    from lrlab.plots.search import best_so_far, plot_samplers, spread

    space = Space(optimizers=("sgd",), schedules=("constant",))
    results = {
        name: tune("breast_cancer", sampler=sampler, trials=4, pruner="none", cv=2,
                   storage="memory", space=space, steps=8, seed=1)
        for name, sampler in (("random search", "random"), ("grid search", "grid"))
    }  # fmt: skip
    fig = plot_samplers(results, cv=2)
    left, right = fig.axes
    lines = {line.get_label(): line for line in left.get_lines() if line.get_label()[0] != "_"}
    assert set(lines) == set(results) and left.get_yscale() == "linear"
    for name, res in results.items():
        trials = sorted(res.trials, key=lambda r: r.number)
        np.testing.assert_array_equal(lines[name].get_xdata(), np.cumsum([r.steps for r in trials]))
        np.testing.assert_allclose(lines[name].get_ydata(), best_so_far(trials), rtol=1e-12)
    ends = {k: (min(r.value for r in res.trials), spread(res.best)) for k, res in results.items()}
    low, noise = min(ends.values())
    runs = min(results.values(), key=lambda r: r.best.value).best.run_losses
    assert noise == pytest.approx(np.std(runs, ddof=1), rel=1e-12)
    (band,) = [p for p in left.patches if p.get_label().startswith("best ± its spread")]
    y0, height = band.get_y(), band.get_height()
    np.testing.assert_allclose([y0, y0 + height], [low - noise, low + noise], rtol=1e-12)
    names = tied(ends)
    said = "all tied" if len(names) == 2 else f"{names[0]} ahead"
    assert said in left.get_title()
    dots = {line.get_label(): line for line in right.get_lines() if line.get_marker() == "o"}
    for name, res in results.items():
        assert sorted(dots[name].get_xdata()) == sorted(r.lr for r in res.trials)
    assert right.get_xscale() == "log"


def test_the_tie_rule_is_the_best_s_spread() -> None:
    from lrlab.plots._tied import tied

    # b is best (1.0 ± 0.05): a at 1.04 is within it, c at 1.06 is not; a's own wide
    # spread does not matter, nor does a NaN mean
    measured = {"a": (1.04, 0.5), "b": (1.0, 0.05), "c": (1.06, 0.0), "d": (math.nan, 1.0)}
    assert tied(measured) == ["a", "b"]
    assert tied({"a": (1.0, math.nan), "b": (1.0, 0.1), "c": (1.0 + 1e-12, 0.1)}) == ["a", "b"]
    assert tied({"a": (math.inf, 0.1)}) == []


def test_best_so_far_ignores_unfinished_and_nan_trials() -> None:
    from types import SimpleNamespace as Row

    from lrlab.plots.search import best_so_far

    rows = [
        Row(state="COMPLETE", value=3.0),
        Row(state="PRUNED", value=1.0),  # a pruned trial's partial value does not count
        Row(state="COMPLETE", value=float("nan")),
        Row(state="COMPLETE", value=2.5),
        Row(state="FAIL", value=None),
    ]
    assert best_so_far(rows).tolist() == [3.0, 3.0, 3.0, 2.5, 2.5]


@pytest.mark.parametrize("plot", [plot_lr_search, plot_history])
@pytest.mark.parametrize("ax", ["x", Figure()])
def test_an_ax_that_is_not_an_axes_is_refused_by_name(plot: Any, ax: object) -> None:
    """ax.figure or ax.scatter raised an AttributeError: 'str' object has no attribute ..."""
    shown = type(ax).__name__
    with pytest.raises(
        UsageError,
        match=rf"^Argument `ax` must be None or a matplotlib Axes\. Received: ax={shown}$",
    ):
        plot(TuneResult("s", "sqlite://", "quadratic", 0), ax=ax)
