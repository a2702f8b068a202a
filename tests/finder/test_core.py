"""The sweep itself: the ramp, the recorded losses, the stop rule, the divergence edge."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrlab.errors import UsageError
from lrlab.finder import edge_lr, find_lr, ramp


def test_exponential_ramp_matches_geomspace() -> None:
    got = ramp(1e-7, 10.0, 100)
    want = np.geomspace(1e-7, 10.0, 100)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert got[0] == 1e-7 and got[-1] == 10.0


def test_linear_ramp() -> None:
    np.testing.assert_allclose(ramp(0.5, 2.5, 5, "linear"), [0.5, 1.0, 1.5, 2.0, 2.5], rtol=1e-15)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # math.log raised 'math domain error'
        (
            (0.0, 1.0, 3),
            r"^Argument `min_lr` must be a positive finite number\. Received: min_lr=0\.0$",
        ),
        ((-1.0, 1.0, 3, "linear"), r"^Argument `min_lr` must be a non-negative .*=-1\.0$"),
        # IndexError on the empty ramp; a TypeError from arange
        (
            (1e-3, 1.0, 0),
            r"^Argument `num_steps` must be a positive integer\. Received: num_steps=0$",
        ),
        ((1e-3, 1.0, "a"), r"^Argument `num_steps` .*Received: num_steps='a'$"),
        # any other mode was quietly linear
        (
            (1e-3, 1.0, 3, "cubic"),
            r"^Argument `mode` must be 'exponential' or 'linear'\. .*'cubic'$",
        ),
    ],
)
def test_a_bad_ramp_is_refused_by_name(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ramp(*args)  # type: ignore[arg-type]


def _scalar_problem(curv: float, w0: float) -> tuple[torch.nn.Module, object, list]:
    """loss = 0.5 * curv * w**2 for a single weight (inputs ignored), float64."""
    model = torch.nn.Linear(1, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.fill_(w0)

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * curv * (model.weight**2).sum() + 0.0 * out.sum()

    data = [(torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64))]
    return model, loss_fn, data


def _reference(lrs: np.ndarray, curv: float, w0: float, beta: float, factor: float) -> list[float]:
    """Plain-Python replay of the sweep: GD on 0.5*c*w^2 and fastai's stop rule."""
    out: list[float] = []
    w, avg, best = w0, 0.0, math.inf
    for i, lr in enumerate(lrs):
        loss = 0.5 * curv * w * w
        out.append(loss)
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        if i > 0 and smooth > factor * best:
            break
        best = min(best, smooth)
        w = w - lr * curv * w
    return out


@pytest.mark.parametrize("curv", [0.5, 4.0])
def test_losses_and_stop_point_match_a_plain_replay(curv: float) -> None:
    model, loss_fn, data = _scalar_problem(curv, 1.5)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    res = find_lr(model, loss_fn, data, opt, min_lr=1e-3, max_lr=100.0, num_steps=80, confirm=0)
    want = _reference(ramp(1e-3, 100.0, 80), curv, 1.5, 0.98, 4.0)
    assert len(res.losses) == len(want)
    np.testing.assert_allclose(res.losses, want, rtol=1e-12)
    assert res.stop_reason == "diverged"
    assert res.steps == len(want)


def test_plain_ema_option_stops_like_torch_lr_finder() -> None:
    model, loss_fn, data = _scalar_problem(2.0, 1.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    res = find_lr(
        model,
        loss_fn,
        data,
        opt,
        min_lr=1e-3,
        max_lr=100.0,
        num_steps=80,
        beta=0.95,
        debias=False,
        diverge=5.0,
        confirm=0,
    )
    lrs = ramp(1e-3, 100.0, 80)
    w, s, best, n = 1.0, 0.0, math.inf, 0
    for i, lr in enumerate(lrs):
        loss = w * w
        n += 1
        s = loss if i == 0 else 0.05 * loss + 0.95 * s
        if i > 0 and s > 5.0 * best:
            break
        best = min(best, s)
        w -= lr * 2.0 * w
    assert len(res.losses) == n
    np.testing.assert_allclose(res.smoothed[-1], s, rtol=1e-12)


def test_non_finite_loss_stops_the_sweep() -> None:
    model, _, data = _scalar_problem(1.0, 1.0)
    calls = 0

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        value = (model.weight**2).sum()
        return value * (math.nan if calls == 12 else 1.0)

    res = find_lr(
        model,
        loss_fn,
        data,
        torch.optim.SGD(model.parameters(), lr=0.0),
        min_lr=1e-6,
        max_lr=1e-3,
        num_steps=50,
        confirm=0,
    )
    assert res.stop_reason == "non-finite"
    assert len(res.losses) == 12 and math.isnan(res.losses[-1])


def test_divergence_point_on_the_quadratic_task_is_two_over_l() -> None:
    """Full-batch SGD on `quadratic`: the detected edge is within one ramp step of 2/L."""
    from lrlab import tasks
    from lrlab.finder import find_lr_task

    for big_l in (10.0, 3.0):
        task = tasks.get("quadratic", mu=0.1, L=big_l)
        res = find_lr_task(task, "sgd", min_lr=1e-4, max_lr=10.0, num_steps=60, confirm=0)
        step = math.log((10.0 / 1e-4) ** (1 / 59))
        assert res.divergence_lr is not None
        assert abs(math.log(res.divergence_lr / (2.0 / big_l))) < step
        assert res.stop_reason == "diverged"


def test_edge_lr_recovers_curvature_from_an_exact_blow_up() -> None:
    lam = 7.0
    lrs = ramp(1e-3, 10.0, 60)
    losses, f = [], 1.0
    for lr in lrs:
        losses.append(f)
        f *= (1 - lr * lam) ** 2
        if f > 1e12:
            break
    got = edge_lr(lrs, np.array(losses))
    assert got is not None
    assert got == pytest.approx(2 / lam, rel=1e-6)


def test_edge_lr_is_none_without_a_blow_up() -> None:
    lrs = ramp(1e-3, 1e-2, 30)
    assert edge_lr(lrs, np.linspace(2.0, 1.0, 30)) is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"min_lr": 1.0, "max_lr": 0.1}, "Received: min_lr=1.0, max_lr=0.1"),
        ({"num_steps": 0}, "Received: num_steps=0"),
        ({"num_steps": 3}, "at least 5"),
        ({"mode": "cubic"}, "Received: mode='cubic'"),
        ({"min_lr": -1.0}, "Received: min_lr=-1.0"),
        ({"diverge": math.nan}, "Argument `diverge`"),
        ({"confirm": -1}, "Received: confirm=-1"),
    ],
)
def test_bad_arguments_raise_usage_errors(kwargs: dict, fragment: str) -> None:
    model, loss_fn, data = _scalar_problem(1.0, 1.0)
    with pytest.raises(UsageError, match="Argument") as info:
        find_lr(model, loss_fn, data, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)
    assert fragment in str(info.value)


def test_empty_data_is_a_usage_error() -> None:
    model, loss_fn, _ = _scalar_problem(1.0, 1.0)
    with pytest.raises(UsageError, match="Argument `data`"):
        find_lr(model, loss_fn, [], torch.optim.SGD(model.parameters(), lr=0.1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # "'NoneType' object is not iterable" / "'int' object is not callable" from inside
        ({"data": None}, r"^Argument `data` must be an iterable of .*Received: data=NoneType$"),
        (
            {"loss_fn": None},
            r"^Argument `loss_fn` must be a function .*Received: loss_fn=NoneType$",
        ),
        # IndexError at batch[1]; a lone tensor was read as rows (inputs = row 0, targets = row 1)
        ({"data": [(torch.ones(1, 1),)]}, r"^Argument `data` must yield .*tuple of length 1$"),
        (
            {"data": [torch.ones(2, 1)]},
            r"^Argument `data` must yield .*Received: a batch of type Tensor$",
        ),
        # IndexError or TypeError when the probes scored on it, after the sweep
        ({"val_data": 3}, r"^Argument `val_data` must be one .*Received: val_data=int$"),
        ({"val_data": [(1, 2)]}, r"^Argument `val_data` must be one .*=list of length 1$"),
    ],
)
def test_data_loss_and_validation_batch_of_the_wrong_shape_are_refused(
    kwargs: dict,  # type: ignore[type-arg]
    message: str,
) -> None:
    model, loss_fn, data = _scalar_problem(1.0, 1.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(UsageError, match=message):
        find_lr(model, **{"loss_fn": loss_fn, "data": data, "optimizer": opt, **kwargs})


def test_param_groups_keep_their_lr_scale() -> None:
    """A group with ``lr_scale`` trains at that fraction of the rate, as lrlab.torch and the
    lab's loop set it; the sweep records the base rate."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(
        [{"params": model[0].parameters(), "lr_scale": 0.1}, {"params": model[1].parameters()}],
        lr=0.5,
    )
    seen: list[tuple[float, float]] = []

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
        return torch.nn.functional.mse_loss(out, y)

    x = torch.randn(32, 3)
    res = find_lr(model, loss_fn, [(x, x.sum(1, keepdim=True))], opt, num_steps=10, confirm=0)
    assert len(seen) == len(res.lrs) == 10
    for (scaled, plain), lr in zip(seen, res.lrs):
        assert plain == lr and scaled == pytest.approx(0.1 * lr, rel=1e-15)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5]  # restored
