"""lrlab's advice through the trial contract: the sweep and the race as trials of an objective."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
import torch

from lrlab.errors import UsageError
from lrlab.finder import find_lr_task
from lrlab.tune import Trial, advise

CURVATURE = 4.0  # f(w) = CURVATURE / 2 * |w|^2: plain SGD diverges above 2 / CURVATURE = 0.5


def quadratic(trial: Trial) -> float:
    """An own loop on an own model, as a user writes it for both phases."""
    torch.manual_seed(trial.seed)
    w = torch.nn.Parameter(torch.randn(8, dtype=torch.float64))
    opt = trial.optimizer([w])
    sched = trial.scheduler(opt)
    for step in range(1, trial.steps + 1):
        opt.zero_grad()
        noise = 0.05 * torch.randn(8, dtype=torch.float64)  # a stochastic gradient
        loss = 0.5 * CURVATURE * ((w - noise) ** 2).sum()
        loss.backward()
        opt.step()
        sched.step()
        if trial.phase == "sweep":
            trial.report(loss.item(), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        elif trial.eval_every and step % trial.eval_every == 0:
            trial.report(float(0.5 * CURVATURE * (w.detach() ** 2).sum()), step)
    return float(0.5 * CURVATURE * (w.detach() ** 2).sum())


def test_the_sweep_stops_at_the_stability_edge_and_the_advice_is_below_it() -> None:
    res = advise(quadratic, steps=400, min_lr=1e-4, max_lr=10.0)
    assert res.stop_reason == "diverged"
    assert res.divergence_lr is not None and 0.2 < res.divergence_lr < 1.0  # the edge is 0.5
    assert res.lrs[0] == pytest.approx(1e-4, rel=1e-12)
    # the ramp is the sweep trial's schedule: geometric from min_lr to max_lr
    ratio = (10.0 / 1e-4) ** (1 / (res.settings["num_steps"] - 1))
    np.testing.assert_allclose(res.lrs[1:] / res.lrs[:-1], ratio, rtol=1e-12)
    lr = res.suggestion.lr  # type: ignore[union-attr]
    assert res.advice is not None and lr < 0.5 and lr == res.advice.lr
    assert {"fastai_valley", "lrlab"} <= set(res.suggestions)
    # every probe's steps are counted; a rate probed again reran from the start (at most 2x)
    probed = sum(n for _, n, _ in res.advice.probes)
    assert len(res.losses) + probed <= res.steps <= len(res.losses) + 2 * probed


def test_through_the_task_objective_the_sweep_is_find_lr_tasks() -> None:
    """One method, two doors: the same curve; the race's probes train on the seed's own
    batches (find_lr_task's continue the stream after the sweep), so the picks may differ."""
    for name, opt in (("breast_cancer", "momentum"), ("diabetes", "sgd")):
        ours, theirs = advise(name, optimizer=opt), find_lr_task(name, opt)
        assert len(ours.losses) == len(theirs.losses) and ours.stop_reason == theirs.stop_reason
        np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-6)
        np.testing.assert_allclose(ours.lrs, theirs.lrs, rtol=1e-12)
        assert ours.suggestions["fastai_valley"].lr == pytest.approx(
            theirs.suggestions["fastai_valley"].lr, rel=1e-9
        )
        assert ours.advice is not None and len(ours.advice.probes) == len(theirs.advice.probes)  # type: ignore[union-attr]


def test_an_objective_that_does_not_report_its_sweep_is_told_how() -> None:
    def silent(trial: Trial) -> float:
        return 1.0

    with pytest.raises(UsageError, match=r"trial.report\(loss, step\) at every step when "):
        advise(silent, steps=200)
    with pytest.raises(UsageError, match=r"^Argument `steps` must be given"):
        advise(quadratic)
    with pytest.raises(UsageError, match=r"^Argument `min_lr` must be smaller than `max_lr`"):
        advise(quadratic, steps=200, min_lr=1.0, max_lr=0.1)


def test_probes_past_the_edge_lose_the_race() -> None:
    res = advise(quadratic, steps=400, min_lr=1e-3, max_lr=100.0, confirm=5)
    assert res.advice is not None
    best = min(sc for _, _, sc in res.advice.probes)
    past = [sc for lr, _, sc in res.advice.probes if lr > 0.5]
    assert all(sc > best for sc in past) and all(math.isfinite(sc) for sc in [best])
    assert res.suggestion is not None and res.suggestion.lr < 0.5
