"""The one training step (lrlab.train._step) that the lab, the range test and the
landscape share: the lab trains exactly as a user's loop with lrlab.torch does, the
divergence rule, the LR of every param group, and the run's checked settings."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

import lrlab.torch
from lrlab import schedules, tasks
from lrlab.errors import UsageError
from lrlab.finder import find_lr
from lrlab.finder.rules import Ema, ema_debiased, ema_plain
from lrlab.train import run
from lrlab.train._step import Driver, diverges
from lrlab.train.loop import RunSettings


@pytest.fixture(scope="module")
def cancer() -> tasks.Task:
    return tasks.get("breast_cancer")


def _user_loop(
    task: tasks.Task, steps: int, every: int, sched_of: object, step_sched: object
) -> tuple[list[float], list[float], list[float], torch.nn.Module]:
    """A plain PyTorch loop driven by an lrlab.torch scheduler: (lrs, losses, val losses)."""
    model = task.make_model(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    sched = sched_of(opt)  # type: ignore[operator]
    batches = task.batches(0)
    lrs, losses, vals = [], [], []
    model.train()
    for t in range(steps):
        x, y = next(batches)
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = task.loss_fn(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        if (t + 1) % every == 0 or t + 1 == steps:
            vl, _ = task.evaluate(model, "val")
            vals.append(vl)
            step_sched(sched, vl)  # type: ignore[operator]
        else:
            step_sched(sched, None)  # type: ignore[operator]
    return lrs, losses, vals, model


def test_a_scheduled_run_is_a_user_loop_with_lrlab_torch_scheduler_bit_for_bit(
    cancer: tasks.Task,
) -> None:
    text = "warmup(cosine(0.05, 60), 7)"
    lrs, losses, vals, _ = _user_loop(
        cancer, 60, 10, lambda o: lrlab.torch.scheduler(o, text), lambda s, v: s.step()
    )
    h = run(cancer, "momentum", schedule=text, steps=60, eval_every=10)
    assert h.lr.tolist() == lrs
    assert h.train_loss.tolist() == losses
    assert h.val_loss.tolist() == vals and len(vals) == 6


def test_a_plateau_run_is_a_user_loop_with_lrlab_torch_plateau_bit_for_bit(
    cancer: tasks.Task,
) -> None:
    rule = schedules.reduce_on_plateau(0.05, factor=0.5, patience=0, threshold=0.02)

    def step(s: lrlab.torch.PlateauLR, v: float | None) -> None:
        if v is not None:
            s.step(v)

    lrs, losses, vals, _ = _user_loop(cancer, 150, 5, lambda o: lrlab.torch.plateau(o, rule), step)
    h = run(cancer, "momentum", schedule=rule, steps=150, eval_every=5)
    assert len(set(lrs)) >= 3  # the rule did reduce
    assert h.lr.tolist() == lrs
    assert h.train_loss.tolist() == losses
    assert h.val_loss.tolist() == vals


def test_the_divergence_rule() -> None:
    assert not diverges(10.0, 10.0)
    assert diverges(math.nextafter(10.0, math.inf), 10.0)
    for bad in (math.nan, math.inf, -math.inf):
        assert diverges(bad, math.inf)


def test_the_driver_takes_the_limit_from_the_first_finite_loss() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.0)
    values = iter([math.inf, 2.0, 19.0, 21.0])
    driver = Driver(lambda _: (w * 0).sum() + next(values), opt, factor=10.0)
    assert driver.step(None) == math.inf and driver.diverged  # non-finite: no limit from it
    assert driver.step(None) == 2.0 and not driver.diverged and driver.limit == 20.0
    assert driver.step(None) == 19.0 and not driver.diverged
    assert driver.step(None) == 21.0 and driver.diverged


def test_the_driver_sets_every_group_by_its_lr_scale_and_skips_a_diverged_update() -> None:
    a = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    c = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = torch.optim.SGD(
        [
            {"params": [a]},
            {"params": [b], "lr_scale": 0.25},
            {"params": [c], "lr": torch.tensor(0.0, dtype=torch.float64), "lr_scale": 2},
        ],
        lr=0.0,
    )
    tensor_lr = opt.param_groups[2]["lr"]
    scale = torch.tensor([1.0], dtype=torch.float64)
    driver = Driver(lambda _: ((a + b + c) * scale).sum(), opt)
    assert driver.step(None, 0.1) == 3.0  # d/dp = 1 for each
    assert [a.item(), b.item(), c.item()] == [1.0 - 0.1, 1.0 - 0.025, 1.0 - 0.2]
    assert opt.param_groups[2]["lr"] is tensor_lr and tensor_lr.item() == 0.2  # filled in place
    scale[0] = math.nan
    assert math.isnan(driver.step(None, 0.1)) and driver.diverged
    assert [a.item(), b.item(), c.item()] == [1.0 - 0.1, 1.0 - 0.025, 1.0 - 0.2]  # no update


def test_a_bad_lr_scale_is_refused_by_name() -> None:
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [w], "lr_scale": -1.0}], lr=0.0)
    with pytest.raises(UsageError, match=r"`lr_scale` of param_groups\[0\].*Received: lr_scale=-1"):
        Driver(lambda _: w.sum(), opt).step(None, 0.1)


def test_the_range_test_honours_lr_scale() -> None:
    """A group at half scale moves half as far in every sweep step."""
    torch.manual_seed(0)
    x = torch.randn(32, 1, dtype=torch.float64)
    data = [(x, 3.0 * x)]
    a = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    b = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    seen: list[tuple[float, float]] = []

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append((a.item(), b.item()))
        return torch.nn.functional.mse_loss(out, y)

    model = torch.nn.Module()
    model.forward = lambda inp: inp * (a + b)  # type: ignore[method-assign]
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr_scale": 0.5}], lr=0.0)
    find_lr(model, loss_fn, data, opt, min_lr=1e-4, max_lr=1e-2, num_steps=5, confirm=0)
    assert len(seen) == 5 and seen[0] == (0.0, 0.0)
    for ai, bi in seen[1:]:
        assert bi == pytest.approx(ai / 2, rel=1e-12)


@pytest.mark.parametrize("debias", [True, False])
def test_the_sweep_stops_on_the_curve_it_reports(debias: bool) -> None:
    """The stop rule and the reported ``smoothed`` curve are one EMA (rules.Ema)."""
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.0)
    res = find_lr(
        torch.nn.Identity(), lambda out, _: (w * w).sum() + 0 * out.sum(),
        [(torch.zeros(1), torch.zeros(1))], opt, min_lr=1e-3, max_lr=100.0, num_steps=80,
        beta=0.9, debias=debias, diverge=3.0, confirm=0,
    )  # fmt: skip
    s = res.smoothed
    assert res.stop_reason == "diverged"
    assert s[-1] > 3.0 * s[:-1].min()
    assert all(s[i] <= 3.0 * s[:i].min() for i in range(1, len(s) - 1))
    want = ema_debiased(res.losses, 0.9) if debias else ema_plain(res.losses, 1 - 0.9)
    assert s.tolist() == want.tolist()


def test_the_streaming_ema_is_the_curve_function() -> None:
    x = np.random.default_rng(0).lognormal(size=50)
    e = Ema(0.98)
    assert [e.add(v) for v in x.tolist()] == ema_debiased(x).tolist()
    p = Ema(0.95, debias=False, smooth_f=0.05)
    assert [p.add(v) for v in x.tolist()] == ema_plain(x).tolist()


def test_run_settings_are_checked_once_and_frozen(cancer: tasks.Task) -> None:
    s = RunSettings.of("breast_cancer", "adam", None, "cosine(0.01, 30)", 30, np.int64(3), None,
                       1e3, 1, {"weight_decay": 0.1})  # fmt: skip
    assert s.task.name == cancer.name and s.seed == 3 and type(s.seed) is int
    assert s.eval_every == cancer.eval_every and s.rule is None
    assert s.lrs == tuple(schedules.parse("cosine(0.01, 30)")(np.arange(30)).tolist())
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.steps = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.options["weight_decay"] = 0.2  # type: ignore[index]
    assert dict(s.options) == {"weight_decay": 0.1}
    with pytest.raises(UsageError, match=r"^Argument `step_size_every` must be a positive "):
        RunSettings.of(cancer, "sgd", None, None, 10, 0, None, 1e3, 0, {})
    with pytest.raises(UsageError, match=r"^Argument `divergence_factor` must be a number greater"):
        RunSettings.of(cancer, "sgd", None, None, 10, 0, None, 1.0, 1, {})
    seed_msg = r"^Argument `seed` must be an integer from -2\*\*63 to 2\*\*64 - 1\. Received: seed="
    with pytest.raises(UsageError, match=seed_msg + "True$"):
        RunSettings.of(cancer, "sgd", None, None, 10, True, None, 1e3, 1, {})
    # torch seeds with 64 bits: 2**64 raised 'Overflow when unpacking long long' from torch
    for bad in (2**64, -(2**63) - 1):
        with pytest.raises(UsageError, match=seed_msg + f"{bad}$"):
            RunSettings.of(cancer, "sgd", None, None, 10, bad, None, 1e3, 1, {})
    for good in (2**64 - 1, -(2**63), np.array(5)):
        assert RunSettings.of(cancer, "sgd", None, None, 10, good, None, 1e3, 1, {}).seed == good


@pytest.mark.parametrize("factor", [np.float32(10.0), np.int64(10), np.array(10.0), math.inf])
def test_divergence_factor_may_be_any_real_number_above_one(
    cancer: tasks.Task, factor: object
) -> None:
    """NumPy scalars and 0-d arrays were refused: the check read only Python int and float."""
    s = RunSettings.of(cancer, "sgd", None, None, 10, 0, None, factor, 1, {})
    assert s.divergence_factor == float(factor) and type(s.divergence_factor) is float  # type: ignore[arg-type]
