"""lrlab's confirmation runs: shared batches, the zero-lag anchor, the adaptive fourth
candidate, the tail-averaged validation score and the one-standard-error preference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrlab.finder import find_lr, ramp
from lrlab.finder._core import (
    _brief,
    _candidates,
    _centered,
    _lrlab_suggestion,
    _next_candidate,
)
from lrlab.finder.rules import ema_debiased


def _regression(n_batches: int = 40) -> tuple[torch.nn.Module, list, tuple]:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 1, generator=g, dtype=torch.float64)
    data = []
    for _ in range(n_batches):
        x = torch.randn(16, 4, generator=g, dtype=torch.float64)
        data.append((x, x @ w + 0.1 * torch.randn(16, 1, generator=g, dtype=torch.float64)))
    xv = torch.randn(64, 4, generator=g, dtype=torch.float64)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1, dtype=torch.float64)
    return model, data, (xv, xv @ w)


def test_every_candidate_trains_on_the_same_batches_in_the_same_order() -> None:
    model, data, val = _regression()
    tagged = list(data)
    ids = {id(x): i for i, (x, _) in enumerate(tagged)}
    seen: list[int] = []

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(out, target)

    class Spy(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.training:
                seen.append(ids[id(x)])
            return self.inner(x)

    spy = Spy(model)
    opt = torch.optim.SGD(spy.parameters(), lr=0.0)
    res = find_lr(
        spy,
        loss_fn,
        tagged,
        opt,
        min_lr=1e-4,
        max_lr=1.0,
        num_steps=20,
        confirm=4,
        confirm_steps=6,
        val_data=val,
    )
    n_sweep = len(res.lrs)
    assert seen[:n_sweep] == [i % len(tagged) for i in range(n_sweep)]
    runs = [seen[n_sweep + 6 * k : n_sweep + 6 * (k + 1)] for k in range(4)]
    assert len(seen) == n_sweep + 24
    # The six batches after the sweep, once per candidate, never fresh ones.
    want = [(n_sweep + i) % len(tagged) for i in range(6)]
    assert runs == [want] * 4
    assert res.steps == n_sweep + 24


def test_anchor_has_no_ema_lag() -> None:
    """A V-shaped sweep with its bottom at step 60: the anchor is exactly that step's rate,
    while the debiased EMA's minimum lags several steps (a factor > 1.5 in rate) behind."""
    lrs = ramp(1e-5, 10.0, 100)
    losses = 0.5 + 0.025 * np.abs(np.arange(100) - 60.0)
    got = _candidates(lrs, losses, 3, 3.0)
    assert got[0] == lrs[60]
    np.testing.assert_allclose(got, [lrs[60], lrs[60] / 3, lrs[60] / 9], rtol=1e-12)
    assert int(np.argmin(ema_debiased(losses, 0.98))) > 63


def test_anchor_ignores_non_finite_losses() -> None:
    lrs = ramp(1e-3, 1.0, 10)
    losses = np.array([3.0, 2.5, 2.0, 1.5, 1.0, 1.2, 2.0, 9.0, np.nan, np.inf])
    # 3-step moving mean: [2.75, 2.5, 2.0, 1.5, 1.2333, 1.4, 4.0667, inf, inf, inf];
    # residuals of the finite part [.25, 0, 0, 0, -.2333, -.2, -2.0667]: MAD 0.2, so the
    # noise of the mean is 1.4826 * 0.2 / sqrt(3) = 0.1712 and 1.4 <= 1.2333 + 0.1712.
    assert _candidates(lrs, losses, 1, 3.0) == [lrs[5]]
    assert _candidates(lrs[:7], np.ones(7), 1, 3.0) == [lrs[6]]  # all flat: the last rate


def test_anchor_is_the_minimum_of_a_clean_curve() -> None:
    lrs = ramp(1e-3, 1.0, 21)
    x = np.log(lrs)
    losses = 1.0 + (x - x[8]) ** 2  # smooth, noise-free: no residual spread
    smooth_min = int(np.argmin(np.convolve(losses, np.ones(3) / 3, mode="same")[1:-1])) + 1
    assert _candidates(lrs, losses, 1, 3.0) == [lrs[smooth_min]]
    assert smooth_min == 8


def test_anchor_of_a_flat_noisy_sweep_is_the_rate_before_the_rise() -> None:
    # A recorded sweep (diabetes, 200-step run, momentum, seed 3: 20 steps from 1e-6 to 10,
    # stopped at divergence). Nothing is learnt until the rate blows it up, and the first
    # batch happens to be an easy one: the smallest moving mean is at the first rate, so
    # anchoring there gave candidates of 1e-6 and below that trained nothing at all.
    lrs = ramp(1e-6, 10.0, 20)
    losses = np.array(
        [0.4939, 1.016, 0.8754, 1.677, 1.361, 0.9304, 0.7272, 1.104, 1.025, 0.6597, 0.7725,
         1.046, 0.8593, 0.7925, 1.475, 2.35, 2.806, 608.9]
    )  # fmt: skip
    assert int(np.argmin(_centered(losses, 1))) == 0
    anchor = _candidates(lrs, losses, 1, 3.0)[0]
    # 0.0264: its moving mean (1.046 + 0.8593 + 0.7925) / 3 = 0.899 is within the noise of
    # the smallest; the next one's window holds the first rising loss (1.475 at 0.144).
    assert anchor == lrs[12]


@pytest.mark.parametrize(
    ("scores", "want"),
    [
        ([1.0, 2.0, 3.0], 1.0 / 3),  # best at the smallest rate: go below it
        ([3.0, 2.0, 1.0], 9.0 * 3),  # best at the largest: go above it
        ([2.0, 1.0, 1.5], 3.0 * math.sqrt(3)),  # interior: halfway to the better neighbour
        ([1.5, 1.0, 2.0], math.sqrt(3)),
        ([math.inf, math.inf, math.inf], 1.0 / 3),  # all blew up: smaller still
    ],
)
def test_next_candidate(scores: list[float], want: float) -> None:
    conf = list(zip([9.0, 1.0, 3.0], [scores[2], scores[0], scores[1]]))  # any order
    assert _next_candidate(conf, 3.0) == pytest.approx(want, rel=1e-12)


def _parabola(lrs: list[float], x_min: float, a: float) -> list[float]:
    return [a * (math.log(lr) - x_min) ** 2 + 1.0 for lr in lrs]


def test_noise_free_scores_give_the_parabola_vertex() -> None:
    lrs = [0.01, 0.03, 0.09]
    ys = _parabola(lrs, math.log(0.04), 0.5)
    traces = [np.full(5, y) for y in ys]  # no spread between iterates: zero standard error
    s = _lrlab_suggestion(lrs, list(zip(lrs, ys)), 0.05, 1.0, traces)
    assert s is not None and s.lr == pytest.approx(0.04, rel=1e-9)


def test_noisy_scores_move_the_pick_down_by_one_standard_error() -> None:
    lrs = [0.01, 0.03, 0.09]
    a = 0.5
    ys = _parabola(lrs, math.log(0.04), a)
    noise = np.array([0.02, -0.02, 0.01, -0.01, 0.0])
    traces = [np.full(5, ys[0]) + noise, np.full(5, ys[1]), np.full(5, ys[2])]
    se = float(np.std(noise, ddof=1)) / math.sqrt(5)
    s = _lrlab_suggestion(lrs, list(zip(lrs, ys)), 0.05, 0.5, traces)
    assert s is not None
    assert s.lr == pytest.approx(0.5 * math.exp(math.log(0.04) - math.sqrt(se / a)), rel=1e-9)
    # Without the per-iterate scores: the plain vertex, times the horizon scale.
    plain = _lrlab_suggestion(lrs, list(zip(lrs, ys)), 0.05, 0.5)
    assert plain is not None and plain.lr == pytest.approx(0.02, rel=1e-9)
    # Very noisy: never below the lower neighbour.
    loud = [ys[0] + 500 * noise, traces[1], traces[2]]
    s = _lrlab_suggestion(lrs, list(zip(lrs, ys)), 0.05, 1.0, loud)
    assert s is not None and s.lr == pytest.approx(0.01, rel=1e-12)


def test_best_at_the_top_yields_to_a_smaller_rate_only_within_one_standard_error() -> None:
    lrs = [0.01, 0.03]
    noise = np.array([0.1, -0.1, 0.05, -0.05])
    se = float(np.std(noise, ddof=1)) / 2
    for gap, want in ((0.5 * se, 0.01), (2.0 * se, 0.03)):
        traces = [1.0 + gap + noise, np.ones(4)]
        conf = [(0.01, 1.0 + gap), (0.03, 1.0)]
        s = _lrlab_suggestion(lrs, conf, 0.0, 1.0, traces)
        assert s is not None and s.lr == pytest.approx(want, rel=1e-12)


def test_score_is_the_mean_validation_loss_over_the_last_quarter() -> None:
    model, data, val = _regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    trace = _brief(model, torch.nn.functional.mse_loss, opt, data[:40], 0.05, val)
    # Replay: 40 steps, the last quarter is steps 30..39, eight evenly spaced evaluations.
    model.load_state_dict(start)
    at = sorted({39 - round(k * 9 / 7) for k in range(8)})
    want = []
    for i, (x, y) in enumerate(data[:40]):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        with torch.no_grad():
            for p in model.parameters():
                assert p.grad is not None
                p.sub_(0.05 * p.grad)
        if i in at:
            with torch.no_grad():
                want.append(float(torch.nn.functional.mse_loss(model(val[0]), val[1])))
    assert len(trace) == 8 and len(set(at)) == 8
    np.testing.assert_allclose(trace, want, rtol=1e-10)


def test_blow_up_scores_inf() -> None:
    model, data, val = _regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    trace = _brief(model, torch.nn.functional.mse_loss, opt, data[:40], 1e6, val)
    assert trace.tolist() == [math.inf]
