"""lrlab's advice: shared batches, exact continuation, the zero-lag anchor, and the rule on
recorded curves (the race, the measured horizon exponent, flat and degenerate scores)."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lrlab.errors import UsageError
from lrlab.finder import THOROUGH_RULE, AdviceRule, edge_lr, find_lr, lattice, ramp
from lrlab.finder._batches import Batches
from lrlab.finder._core import TorchEngine
from lrlab.finder._data import loss_of, val_scorer
from lrlab.finder._state import Snapshot
from lrlab.finder._sweep import Prober
from lrlab.finder._sweep import anchor as _anchor
from lrlab.finder.advice import DEFAULT_RULE, advise, checkpoint_every, lattice_index
from lrlab.finder.rules import centered as _centered
from lrlab.finder.rules import ema_debiased
from lrlab.train._step import Driver


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


def test_every_probe_trains_on_the_same_batches_and_a_continuation_continues_them() -> None:
    model, data, val = _regression(300)
    ids = {id(x): i for i, (x, _) in enumerate(data)}
    seen: list[int] = []

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
        spy, torch.nn.functional.mse_loss, data, opt, min_lr=1e-4, max_lr=1.0, num_steps=20,
        horizon=640, budget=0.25, val_data=val,
    )  # fmt: skip
    n_sweep = len(res.lrs)
    assert seen[:n_sweep] == list(range(n_sweep))
    after = seen[n_sweep:]
    assert len(after) == res.steps - n_sweep == res.advice.steps
    assert res.steps <= 0.25 * 640
    # Split the probes' batches into runs of consecutive batches: each run starts at the
    # first batch after the sweep (a new rate) or where the first stage ended (a
    # continuation), and no batch outside the shared ones is ever drawn.
    starts = [0] + [i for i in range(1, len(after)) if after[i] != after[i - 1] + 1]
    firsts = {after[i] - n_sweep for i in starts}
    stage1 = min(steps for _, steps, _ in res.advice.probes)
    assert firsts <= {0, stage1}
    assert max(after) - n_sweep < max(steps for _, steps, _ in res.advice.probes)
    # Each rate saw batches 0 .. steps-1 after the sweep exactly once, whatever the order.
    want = Counter(n_sweep + i for _, steps, _ in res.advice.probes for i in range(steps))
    assert Counter(after) == want


def test_a_continued_probe_is_bit_identical_to_one_run_of_the_full_length() -> None:
    """The race continues a rate from its saved state: the slow, obviously right reference
    trains the full length in one go from the start; both give the same checkpoints."""

    def prober() -> tuple[Prober, torch.nn.Module]:
        model, data, val = _regression(100)
        model = torch.nn.Sequential(model, torch.nn.Dropout(0.2))  # RNG state matters
        opt = torch.optim.Adam(model.parameters(), lr=0.0)
        snap = Snapshot.take(model, opt)
        batches = Batches(data, needed=21, pairs=True)
        mse, cpu = torch.nn.functional.mse_loss, torch.device("cpu")
        loss = loss_of(model, mse, None, cpu)
        score = val_scorer(model, mse, None, cpu, val)
        engine = TorchEngine(model, opt, Driver(loss, opt))
        return Prober(engine, snap, batches, 3, score, None), model

    fast, m1 = prober()
    fast(0.05, 9)
    fast(0.01, 9)  # another rate in between, as in a race
    got = fast(0.05, 21)
    slow, m2 = prober()
    want = slow(0.05, 21)
    assert got == want and len(want) == 7
    assert fast.spent == 9 + 9 + 12 and slow.spent == 21
    assert all(
        torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values())
    )


def test_anchor_has_no_ema_lag() -> None:
    """A V-shaped sweep with its bottom at step 60: the anchor is exactly that step's rate,
    while the debiased EMA's minimum lags several steps (a factor > 1.5 in rate) behind."""
    lrs = ramp(1e-5, 10.0, 100)
    losses = 0.5 + 0.025 * np.abs(np.arange(100) - 60.0)
    got = _anchor(lrs, losses)
    assert got == lrs[60]
    assert int(np.argmin(ema_debiased(losses, 0.98))) > 63


def test_anchor_ignores_non_finite_losses() -> None:
    lrs = ramp(1e-3, 1.0, 10)
    losses = np.array([3.0, 2.5, 2.0, 1.5, 1.0, 1.2, 2.0, 9.0, np.nan, np.inf])
    # 3-step moving mean: [2.75, 2.5, 2.0, 1.5, 1.2333, 1.4, 4.0667, inf, inf, inf];
    # residuals of the finite part [.25, 0, 0, 0, -.2333, -.2, -2.0667]: MAD 0.2, so the
    # noise of the mean is 1.4826 * 0.2 / sqrt(3) = 0.1712 and 1.4 <= 1.2333 + 0.1712.
    assert _anchor(lrs, losses) == lrs[5]
    assert _anchor(lrs[:7], np.ones(7)) == lrs[6]  # all flat: the last rate


def test_anchor_is_the_minimum_of_a_clean_curve() -> None:
    lrs = ramp(1e-3, 1.0, 21)
    x = np.log(lrs)
    losses = 1.0 + (x - x[8]) ** 2  # smooth, noise-free: no residual spread
    smooth_min = int(np.argmin(np.convolve(losses, np.ones(3) / 3, mode="same")[1:-1])) + 1
    assert _anchor(lrs, losses) == lrs[smooth_min]
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
    anchor = _anchor(lrs, losses)
    # 0.0264: its moving mean (1.046 + 0.8593 + 0.7925) / 3 = 0.899 is within the noise of
    # the smallest; the next one's window holds the first rising loss (1.475 at 0.144).
    assert anchor == lrs[12]


# ---------------------------------------------------------------- the rule on recorded curves
def _curves(loss: Callable[[float, int], float], every: int) -> Callable[[float, int], list]:
    """A probe whose run at ``lr`` has validation loss ``loss(lr, t)`` at each checkpoint."""

    def probe(lr: float, steps: int) -> list[tuple[int, float]]:
        out = []
        for t in range(every, steps + 1, every):
            out.append((t, loss(lr, t)))
            if not math.isfinite(out[-1][1]):
                break
        return out

    return probe


def _bias_noise(lr: float, t: int) -> float:
    """SGD's textbook trade-off: bias 1 / (lr t) against noise lr; best rate (t / 4) ** -0.5."""
    if lr > 1.0:
        return math.inf
    return 1.0 / (lr * t) + 0.25 * lr


def test_the_measured_exponent_carries_the_race_to_the_run() -> None:
    """Best rate ~ t ** -0.5: the rule measures an exponent near 1/2 from its own probes and
    lands within one lattice step of the best rate for the whole run.  (Two lengths 4x apart
    read on a lattice 0.3 decades apart: a one-step error in a pick is 0.5 in the exponent,
    which the parabola refines to a fraction of that.)"""
    horizon = 6400
    rule = AdviceRule(candidates=4, gap=1, top=0, keep=2, extend=True, alpha_weight=1.0)
    a = advise(0.5, _curves(_bias_noise, checkpoint_every(horizon)), horizon=horizon,
               budget=1500, rule=rule)  # fmt: skip
    assert a.alpha_measured is not None and abs(a.alpha_measured - 0.5) < 0.25
    best = 2.0 / math.sqrt(horizon)  # argmin of 1 / (lr T) + lr / 4
    assert abs(lattice_index(a.lr) - lattice_index(best)) <= 1.0
    assert a.steps <= 1500 and a.lr == pytest.approx(a.pick_lr * a.horizon_factor, rel=1e-12)
    assert "measured" in a.reason and not a.flags
    # The same probes, a fixed prior and no measurement: the exponent is the prior's.
    b = advise(0.5, _curves(_bias_noise, 100), horizon=horizon, budget=1500,
               rule=AdviceRule(alpha_weight=0.0, alpha_prior=0.0))  # fmt: skip
    assert b.alpha == 0.0 and b.lr == lattice(round(lattice_index(b.pick_lr)))


def test_the_leaders_slope_is_its_loss_falling_per_doubling_and_moves_the_exponent() -> None:
    """``Advice.slope`` from the leader's own checkpoints, against the formula; a negative
    ``alpha_slope`` carries a still-falling leader less far, and the reason says why."""
    horizon = 6400
    every = checkpoint_every(horizon)
    probe = _curves(_bias_noise, every)
    a = advise(0.5, probe, horizon=horizon, budget=1500)
    lead = min((v, lr) for lr, n, v in a.probes if n == a.length)[1]  # the best at the end
    curve = probe(lead, a.length)

    def window(n: int) -> float:
        vs = [v for t, v in curve if 0.75 * n < t <= n]
        return sum(vs) / len(vs)

    assert a.slope is not None
    want = math.log(window(a.length // 2) / window(a.length)) / math.log(2)
    assert a.slope == pytest.approx(want, rel=1e-12) and a.slope > 0  # still falling
    assert a.alpha == DEFAULT_RULE.alpha_prior  # alpha_slope = 0: the slope is only reported
    b = advise(0.5, probe, horizon=horizon, budget=1500,
               rule=dataclasses.replace(DEFAULT_RULE, alpha_slope=-0.2))  # fmt: skip
    assert b.alpha == pytest.approx(max(0.0, 0.5 - 0.2 * a.slope), rel=1e-12)
    assert b.lr >= a.lr and "still falls" in b.reason


def test_full_batch_has_no_horizon_factor_in_the_thorough_mode_only() -> None:
    probe = _curves(_bias_noise, 100)
    a = advise(0.5, probe, horizon=6400, budget=3200, deterministic=True)  # thorough
    assert a.alpha == 0.0 and "full batch" in a.reason
    assert a.lr == lattice(round(lattice_index(a.pick_lr)))
    # At a quarter of a run the probes are short enough that the factor still applies.
    b = advise(0.5, probe, horizon=6400, budget=1500, deterministic=True)
    c = advise(0.5, probe, horizon=6400, budget=1500, deterministic=False)
    assert b.alpha == DEFAULT_RULE.alpha_prior and "full batch" not in b.reason
    assert (b.lr, b.pick_lr) == (c.lr, c.pick_lr) and b.lr < b.pick_lr


def test_probes_that_learn_nothing_fall_back_to_the_largest_that_held() -> None:
    # Every rate's loss stays at chance (2.3026 = ln 10) except the largest, which blows up:
    # the scores carry no information, so the pick is the largest rate that held, unshifted.
    def stuck(lr: float, t: int) -> float:
        return math.inf if lr > 0.02 else 2.3026 + 1e-4 * math.sin(1e3 * lr + t)

    a = advise(0.01, _curves(stuck, 10), horizon=640, budget=150)
    held = [lr for lr, _, v in a.probes if math.isfinite(v)]
    assert a.flags == ["no_progress"] and "no probe improved" in a.reason
    assert a.lr == a.pick_lr == max(held) and a.alpha == 0.0 and a.horizon_factor == 1.0
    # The same scores that *did* improve from the first checkpoint are merely flat.
    b = advise(0.01, _curves(lambda lr, t: stuck(lr, t) * (1 + 1 / t), 10), horizon=640,
               budget=150)  # fmt: skip
    assert "no_progress" not in b.flags


@pytest.mark.parametrize(("value", "flags"), [(0.337, ["flat"]), (0.0, ["zero_loss", "flat"])])
def test_flat_or_exactly_zero_scores_take_the_middle_candidate(value: float, flags: list) -> None:
    rule = AdviceRule(candidates=5, gap=1, top=0, keep=0, extend=False)
    # The losses fall over time (the runs learn) but end alike across the rates.
    a = advise(0.01, _curves(lambda lr, t: value * (1 + 1 / t), 10), horizon=640, budget=150,
               rule=rule)  # fmt: skip
    assert a.flags == flags and "flat scores: the middle candidate" in a.reason
    tried = sorted(round(lattice_index(lr)) for lr, _, _ in a.probes)
    assert tried == [6, 7, 8, 9, 10]
    assert a.pick_lr == lattice(8) and a.alpha_measured is None
    assert a.alpha == rule.alpha_prior


def test_every_probe_blowing_up_advises_below_them_all() -> None:
    a = advise(0.01, _curves(lambda lr, t: math.inf, 10), horizon=640, budget=150)
    assert a.flags == ["all_blew_up"]
    assert a.lr < min(lr for lr, _, _ in a.probes)


def test_tiny_validation_is_flagged() -> None:
    a = advise(0.5, _curves(_bias_noise, 10), horizon=640, budget=150, n_val=20)
    assert "tiny_validation" in a.flags and "tiny_validation" in a.reason


@settings(max_examples=60, deadline=None)
@example(  # CI's find: a leader at 1e18 whose half-way loss is 2.7e-306; their ratio underflowed
    table=[0.0, 0.0, 2.1755616023580644e18] + [0.0] * 35 + [2.6871756203411357e-306, 0.0],
    budget=40,
    horizon=128,
    anchor=40.0,
)
@given(
    table=st.lists(
        st.floats(min_value=0.0, max_value=1e30, allow_nan=False), min_size=40, max_size=40
    ),
    budget=st.integers(min_value=1, max_value=3000),
    horizon=st.integers(min_value=1, max_value=20000),
    anchor=st.floats(min_value=1e-9, max_value=1e3),
)
def test_any_finite_losses_give_advice_within_the_budget(
    table: list[float], budget: int, horizon: int, anchor: float
) -> None:
    """Never a crash on finite losses (zeros, huge values, ties), never over budget once the
    first probe ran, and the advice is a positive rate inside its own range."""
    every = checkpoint_every(horizon)

    def probe(lr: float, steps: int) -> list[tuple[int, float]]:
        j = round(lattice_index(lr))
        return [(t, table[(j * 7 + t // every) % 40]) for t in range(every, steps + 1, every)]

    a = advise(anchor, probe, horizon=horizon, budget=budget)
    assert math.isfinite(a.lr) and a.lr > 0 and a.low <= a.lr <= a.high
    first = min(s for _, s, _ in a.probes)
    assert a.steps <= max(budget, first)


def test_edge_lr_survives_a_sweep_that_reaches_exactly_zero() -> None:
    """The crash of issue 14: a loss of exactly 0.0 and no non-finite one."""
    lrs = ramp(1e-3, 10.0, 30)
    losses = np.concatenate([np.linspace(1.0, 0.0, 20), [0.0, 0.0, 0.5, 3.0, 9.0, 40.0]])
    assert edge_lr(lrs, losses) is None or edge_lr(lrs, losses) > 0
    assert edge_lr(lrs[:5], np.zeros(5)) is None


def test_find_lr_on_a_loss_that_hits_zero_gives_advice() -> None:
    """A hinge loss on separable data is exactly 0.0 once every margin is met."""
    g = torch.Generator().manual_seed(1)
    y = torch.sign(torch.randn(256, generator=g))
    x = torch.randn(256, 2, generator=g) + 3.0 * y[:, None]
    data = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def hinge(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.relu(1.0 - out[:, 0] * t).mean()

    res = find_lr(model, hinge, data, opt, min_lr=1e-3, max_lr=100.0, num_steps=40,
                  horizon=400, val_data=(x[:64], y[:64]))  # fmt: skip
    assert (res.losses == 0.0).any()
    s = res.suggestion
    assert s is not None and math.isfinite(s.lr) and s.lr > 0
    assert res.advice is not None and res.advice.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # a TypeError, or a ValueError ('cannot convert float NaN to integer'), from the race
        (
            {"candidates": "a"},
            r"^Argument `candidates` must be a non-negative integer\. Received: candidates='a'$",
        ),
        (
            {"alpha_weight": math.nan},
            r"^Argument `alpha_weight` must be a number in \[0, 1\]\. Received: alpha_weight=nan$",
        ),
        # each of these ran, quietly meaning something else
        ({"candidates": -1}, r"^Argument `candidates` .*Received: candidates=-1$"),
        ({"gap": 0}, r"^Argument `gap` must be a positive integer\. Received: gap=0$"),
        ({"keep": -1}, r"^Argument `keep` .*Received: keep=-1$"),
        (
            {"stage_split": 2.0},
            r"^Argument `stage_split` must be a number in \(0, 1\)\. Received: stage_split=2\.0$",
        ),
        ({"flat_tol": -1.0}, r"^Argument `flat_tol` .*Received: flat_tol=-1\.0$"),
        (
            {"flat_pick": "x"},
            r"^Argument `flat_pick` of AdviceRule must be 'middle' or 'largest'\. .*='x'$",
        ),
        (
            {"extend": "x"},
            r"^Argument `extend` of AdviceRule must be True or False\. Received: extend='x'$",
        ),
        ({"range_steps": -1}, r"^Argument `range_steps` .*Received: range_steps=-1$"),
        ({"alpha_slope": math.nan}, r"^Argument `alpha_slope` .*Received: alpha_slope=nan$"),
    ],
)
def test_a_bad_rule_is_refused_when_made(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError, match=message):
        AdviceRule(**kwargs)


def test_the_rules_in_use_are_valid_and_numbers_are_normalised() -> None:
    assert AdviceRule(alpha_weight=1, candidates=np.int64(4)).to_dict()["alpha_weight"] == 1.0
    assert type(AdviceRule(candidates=np.int64(4)).candidates) is int
    assert dataclasses.replace(THOROUGH_RULE, candidates=0, keep=0).candidates == 0
