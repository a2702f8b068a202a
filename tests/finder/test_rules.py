"""The peer rules, checked against hand-derived answers and (for Lightning) the real library."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab.finder.rules import (
    ema_debiased,
    ema_plain,
    fastai_minimum,
    fastai_steep,
    fastai_valley,
    lightning_steepest,
    torch_lr_finder_steepest,
    valley_index,
)


def test_ema_debiased_by_hand() -> None:
    # beta = 0.9: a1 = 0.1*2 = 0.2 -> 0.2/0.1 = 2; a2 = 0.18 + 0.4 = 0.58 -> 0.58/0.19
    got = ema_debiased(np.array([2.0, 4.0]), beta=0.9)
    np.testing.assert_allclose(got, [2.0, 0.58 / 0.19], rtol=1e-12)


def test_ema_plain_by_hand() -> None:
    got = ema_plain(np.array([2.0, 4.0, 0.0]), smooth_f=0.25)
    np.testing.assert_allclose(got, [2.0, 2.5, 1.875], rtol=1e-15)


def test_valley_index_of_a_long_descent() -> None:
    """30 equal points, a 50-point strict descent, then a rise.

    The longest strictly decreasing subsequence takes one of the flat points and
    the 50 descending ones (51 points) and ends at 79; fastai's bookkeeping sets
    start = 79 - 51 = 28, sections = 17, index = 28 + 17 + 8 = 53.
    """
    curve = np.concatenate(
        [np.full(30, 10.0), 10.0 - 0.1 * np.arange(1, 51), 5.0 + np.arange(1, 21)]
    )
    assert valley_index(curve) == 53


def _constant_smooth(values: np.ndarray) -> np.ndarray:
    """Raw losses whose debiased EMA (beta 0.98) equals ``values`` exactly."""
    beta = 0.98
    raw = np.empty_like(values)
    prev_avg = 0.0
    for i, v in enumerate(values):
        avg = v * (1 - beta ** (i + 1))
        raw[i] = (avg - beta * prev_avg) / (1 - beta)
        prev_avg = avg
    return raw


def test_fastai_rules_on_a_known_smoothed_curve() -> None:
    n = 100
    lrs = np.geomspace(1e-7, 10.0, n)
    # A slightly *rising* plateau (no ties for round-off to break), the descent, a rise.
    smooth = np.concatenate(
        [10.0 + 1e-3 * np.arange(30), 10.0 - 0.1 * np.arange(1, 51), 5.0 + np.arange(1, 21)]
    )
    raw = _constant_smooth(smooth)
    np.testing.assert_allclose(ema_debiased(raw), smooth, rtol=1e-9)
    skip = n // 10
    valley = fastai_valley(lrs, raw)
    assert valley is not None
    # Trimmed curve: plateau 0..19, descent 20..69 -> lds 51 ending at 69, start 18,
    # sections 17, index 18 + 17 + 8 = 43, i.e. 53 in sweep coordinates.
    assert valley.index == skip + 43 == 53
    assert valley.lr == lrs[valley.index]
    mini = fastai_minimum(lrs, raw)
    assert mini is not None and mini.index == 79
    assert mini.lr == pytest.approx(lrs[79] / 10, rel=1e-12)
    steep = fastai_steep(lrs, raw)
    assert steep is not None
    # Each descent step falls 0.1 per log step; the first falls 10.029 -> 9.9, the most.
    assert steep.index == 29


def test_lightning_rule_matches_lightning_itself() -> None:
    from lightning.pytorch.tuner.lr_finder import _LRFinder

    rng = np.random.default_rng(0)
    n = 100
    lrs = np.geomspace(1e-8, 1.0, n)
    raw = 2.3 - 0.8 / (1 + np.exp(-(np.log10(lrs) + 3))) + 0.05 * rng.standard_normal(n)
    raw[-3:] = [5.0, 9.0, float("nan")]
    finder = _LRFinder(mode="exponential", lr_min=1e-8, lr_max=1.0, num_training=n)
    finder.results = {"lr": lrs.tolist(), "loss": ema_debiased(raw).tolist()}
    want = finder.suggestion()
    got = lightning_steepest(lrs, raw)
    assert got is not None and want is not None
    assert got.lr == want


def test_torch_lr_finder_rule_by_hand() -> None:
    n = 40
    lrs = np.geomspace(1e-5, 1.0, n)
    raw = np.full(n, 3.0)
    raw[22] = 0.0  # the plain EMA drops by 0.15 there, the steepest point of np.gradient
    got = torch_lr_finder_steepest(lrs, raw)
    assert got is not None
    smooth = ema_plain(raw)
    grad = np.gradient(smooth[10:-5])
    assert got.index == 10 + int(np.argmin(grad)) == 21
    assert got.lr == lrs[21]


def test_rules_return_none_on_too_short_curves() -> None:
    lrs, raw = np.geomspace(1e-3, 1.0, 3), np.array([1.0, 0.9, 0.8])
    assert lightning_steepest(lrs, raw) is None
    assert torch_lr_finder_steepest(lrs, raw) is None
