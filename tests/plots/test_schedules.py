"""Schedule figures draw exactly the schedule's values."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.errors import UsageError
from lrlab.plots.schedules import plot_decay_factor, plot_schedules, source_schedules


def test_each_curve_is_the_schedule() -> None:
    specs = source_schedules()
    fig = plot_schedules(specs, 50)
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == list(specs)
    for ln, sched in zip(lines, specs.values()):
        x, y = ln.get_data()
        np.testing.assert_array_equal(x, np.arange(50))
        np.testing.assert_array_equal(y, sched(np.arange(50)))


def test_decay_factor_curves_are_ordered_by_k() -> None:
    fig = plot_decay_factor((0.05, 0.1, 0.2), steps=30)
    ys = [ln.get_data()[1] for ln in fig.axes[0].get_lines()]
    np.testing.assert_allclose(ys[1], 0.1 * np.exp(-0.1 * np.arange(30)), rtol=1e-12)
    # a larger decay factor is never above a smaller one after step 0
    assert np.all(ys[0][1:] > ys[1][1:]) and np.all(ys[1][1:] > ys[2][1:])


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_bad_steps(steps: object) -> None:
    with pytest.raises(UsageError, match=r"Argument `steps` must be a positive integer"):
        plot_schedules(["constant(0.1)"], steps)  # type: ignore[arg-type]
