"""lrlab.train.run against hand-written references: GD closed loop, Adam's first step,
Schedule-Free's eval switching, schedules, determinism and divergence."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import schedulefree
import torch

from lrlab import schedules, tasks
from lrlab.compare import compare
from lrlab.errors import UsageError
from lrlab.train import OPTIMIZERS, resolve_schedule, run


@pytest.fixture(scope="module")
def quad() -> tasks.QuadraticTask:
    return tasks.get("quadratic", mu=0.1, L=10.0, dim=10, n_train=60, n_val=50)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def cancer() -> tasks.Task:
    return tasks.get("breast_cancer")


def _gd_reference(task: tasks.QuadraticTask, lr: np.ndarray, seed: int) -> np.ndarray:
    """Full-batch gradient descent on 0.5*mean((Xw-y)^2) in NumPy: the loss before each step."""
    x, y = task.x_train.numpy(), task.y_train.numpy()[:, 0]
    w = task.make_model(seed).weight.detach().numpy()[0].copy()
    out = []
    for eta in lr:
        r = x @ w - y
        out.append(0.5 * np.mean(r * r))
        w = w - eta * (x.T @ r) / len(y)
    return np.array(out)


def test_sgd_on_the_quadratic_is_gradient_descent(quad: tasks.QuadraticTask) -> None:
    sched = schedules.step(0.15, 0.5, 7)
    h = run(quad, "sgd", schedule=sched, steps=30, seed=2)
    expected_lr = sched(np.arange(30))
    assert np.array_equal(h.lr, expected_lr)
    assert np.allclose(h.train_loss, _gd_reference(quad, expected_lr, 2), rtol=1e-11, atol=0)
    # plain SGD's effective step ||d theta|| / ||g|| is the LR itself
    assert np.allclose(h.step_size, expected_lr, rtol=1e-9, atol=0)
    assert list(h.eval_steps) == [10, 20, 30] and not h.diverged


def test_threshold_two_over_l_on_the_task(quad: tasks.QuadraticTask) -> None:
    for factor in (0.9, 0.99):
        h = run(quad, "sgd", lr=factor * quad.stable_lr, steps=200, seed=0)
        assert not h.diverged and h.train_loss[-1] < h.train_loss[0]
        assert h.final_val_loss < 2 * quad.noise_floor + 0.05
    for factor in (1.1, 1.5):
        h = run(quad, "sgd", lr=factor * quad.stable_lr, steps=200, seed=0)
        assert h.diverged and h.steps < 200
        assert h.final_val_loss == math.inf and math.isnan(h.final_val_metric)
        assert len(h.train_loss) == h.steps + 1  # the exploding loss is kept, no update after it
        assert h.train_loss[-1] > 1e3 * h.train_loss[0]


def test_non_finite_loss_marks_diverged_without_raising(cancer: tasks.Task) -> None:
    h = run(cancer, "sgd", lr=1e30, steps=50, seed=0)
    assert h.diverged and h.steps < 50
    assert not np.isfinite(h.train_loss[-1]) or h.train_loss[-1] > 1e3 * h.train_loss[0]


def test_adam_first_effective_step_is_lr_times_normalised_gradient(cancer: tasks.Task) -> None:
    lr, eps = 0.01, 1e-8
    h = run(cancer, "adam", lr=lr, steps=5, seed=4)
    model = cancer.make_model(4)
    xb, yb = next(cancer.batches(4))
    cancer.loss_fn(model(xb), yb).backward()
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double()
    # Step 1 of Adam: bias-corrected m = g, v = g^2, so delta = lr * g / (|g| + eps).
    expected = lr * torch.linalg.vector_norm(g / (g.abs() + eps)) / torch.linalg.vector_norm(g)
    assert h.step_size[0] == pytest.approx(float(expected), rel=1e-5)
    # it adjusts itself afterwards while the LR stays constant
    assert np.all(h.lr == lr) and np.ptp(h.step_size) > 0.05 * h.step_size[0]


def test_same_seed_gives_a_bit_identical_history(cancer: tasks.Task) -> None:
    a = run(cancer, "momentum", lr=0.05, steps=40, seed=1, eval_every=10)
    b = run(cancer, "momentum", lr=0.05, steps=40, seed=1, eval_every=10)
    c = run(cancer, "momentum", lr=0.05, steps=40, seed=2, eval_every=10)
    for k in ("lr", "train_loss", "step_size", "eval_steps", "val_loss", "val_metric"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_schedule_free_is_evaluated_in_eval_mode(quad: tasks.QuadraticTask) -> None:
    h = run(quad, "schedulefree_sgd", lr=0.05, steps=30, seed=0, eval_every=10)
    model = quad.make_model(0)
    opt = schedulefree.SGDScheduleFree(model.parameters(), lr=0.05)
    opt.train()
    evals, train_mode_evals = [], []
    for t in range(30):
        opt.zero_grad()
        quad.loss_fn(model(quad.x_train), quad.y_train).backward()
        opt.step()
        if (t + 1) % 10 == 0:
            with torch.no_grad():
                train_mode_evals.append(float(quad.loss_fn(model(quad.x_val), quad.y_val)))
                opt.eval()
                evals.append(float(quad.loss_fn(model(quad.x_val), quad.y_val)))
                opt.train()
    assert np.allclose(h.val_loss, evals, rtol=1e-12, atol=0)
    assert not np.allclose(h.val_loss, train_mode_evals, rtol=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains_with_any_schedule(name: str, cancer: tasks.Task) -> None:
    from lrlab.train import DEFAULT_LR

    sched = schedules.cosine(DEFAULT_LR[name], 20)
    h = run(cancer, name, schedule=sched, steps=20, seed=0, eval_every=10)
    assert np.array_equal(h.lr, sched(np.arange(20)))
    assert h.steps == 20 and not h.diverged
    assert np.all(np.isfinite(h.train_loss)) and len(h.val_loss) == 2
    assert h.meta["optimizer"] == name and h.meta["schedule"] == str(sched)


def test_on_eval_sees_every_evaluation_and_its_exceptions_propagate(cancer: tasks.Task) -> None:
    seen: list[tuple[int, float]] = []
    h = run(cancer, "adam", steps=25, eval_every=10, on_eval=lambda s, v: seen.append((s, v)))
    assert seen == list(zip(h.eval_steps.tolist(), h.val_loss.tolist()))
    assert [s for s, _ in seen] == [10, 20, 25]

    class Pruned(Exception):
        pass

    def prune(step: int, value: float) -> None:
        if step >= 20:
            raise Pruned(step)

    with pytest.raises(Pruned) as info:
        run(cancer, "adam", steps=100, eval_every=10, on_eval=prune)
    assert info.value.args == (20,)


def test_lr_and_schedule_together_must_agree_on_the_peak(cancer: tasks.Task) -> None:
    sched = schedules.one_cycle(0.4, 30)
    h = run(cancer, "sgd", lr=0.4, schedule=sched, steps=30)
    assert h.lr.max() == pytest.approx(0.4, rel=1e-12) and h.lr[0] < 0.4
    with pytest.raises(UsageError, match=r"`lr` and `schedule` disagree.*Received: lr=0\.1"):
        run(cancer, "sgd", lr=0.1, schedule=sched, steps=30)
    text = run(cancer, "sgd", schedule="step(0.2, 0.5, 10)", steps=12)
    assert text.lr.tolist() == [0.2] * 10 + [0.1] * 2


def test_reduce_on_plateau_follows_the_validation_loss(cancer: tasks.Task) -> None:
    """The rates of a plateau run are those torch's ReduceLROnPlateau picks from the same
    validation losses, applied from the update after each evaluation; replaying them as a
    piecewise schedule reproduces the run bit for bit."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    steps, every = 150, 5
    kw = {"factor": 0.5, "patience": 0, "threshold": 0.02}
    rule = schedules.reduce_on_plateau(0.05, **kw)  # type: ignore[arg-type]
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    ref = ReduceLROnPlateau(dummy, **kw)  # type: ignore[arg-type]
    seen: list[tuple[int, float]] = []

    def on_eval(step: int, val_loss: float) -> None:
        ref.step(val_loss)
        seen.append((step, dummy.param_groups[0]["lr"]))

    h = run(cancer, "momentum", schedule=rule, steps=steps, eval_every=every, on_eval=on_eval)
    want = np.full(steps, 0.05)
    for step, lr in seen:
        want[step:] = lr
    assert h.lr.tolist() == want.tolist()
    assert len(set(want.tolist())) >= 3  # it did reduce, twice or more
    assert h.meta["schedule"] == str(rule)
    bounds = [t for t in range(1, steps) if want[t] != want[t - 1]]
    replay = run(
        cancer,
        "momentum",
        schedule=schedules.piecewise(bounds, [want[0]] + [want[t] for t in bounds]),
        steps=steps,
        eval_every=every,
    )
    assert np.array_equal(replay.train_loss, h.train_loss)
    assert np.array_equal(replay.val_loss, h.val_loss)
    # the text form works the same, and an `lr` that is not the rule's start is refused
    text = run(cancer, "momentum", schedule=str(rule), steps=steps, eval_every=every)
    assert np.array_equal(text.lr, h.lr)
    with pytest.raises(UsageError, match=r"`lr` and `schedule` disagree.*Received: lr=0\.1"):
        run(cancer, "momentum", lr=0.1, schedule=rule, steps=10)


def test_bad_arguments_name_themselves(cancer: tasks.Task) -> None:
    with pytest.raises(
        UsageError, match=r"^Argument `steps` must be a positive integer\. Received: steps=0$"
    ):
        run(cancer, steps=0)
    with pytest.raises(UsageError, match=r"Unknown optimizer 'sgdd'"):
        run(cancer, "sgdd")
    with pytest.raises(UsageError, match=r"Unknown task 'mnist'"):
        run("mnist")
    with pytest.raises(UsageError, match=r"Argument `schedule` must be a Schedule"):
        run(cancer, schedule=lambda t: 0.1)
    with pytest.raises(UsageError, match=r"Received: lr=nan"):
        run(cancer, lr=float("nan"))


@pytest.mark.parametrize("key", ["name", "params"])
def test_make_optimizers_own_arguments_are_not_optimizer_options(
    quad: tasks.QuadraticTask, key: str
) -> None:
    """They went on to make_optimizer next to its own and raised a TypeError there."""
    with pytest.raises(
        UsageError, match=rf"^Argument `{key}` is not an option of run.*Received: {key}=1$"
    ):
        run(quad, "adam", steps=3, **{key: 1})
    spec = {"optimizer": "adam", "options": {key: 1}}
    with pytest.raises(UsageError, match=rf"Argument `{key}`.*Received: {key}=1$"):
        compare(quad, [spec], seeds=1, steps=3)


def test_on_eval_that_cannot_be_called_is_refused_before_training(
    quad: tasks.QuadraticTask,
) -> None:
    """It raised "'int' object is not callable" at the first evaluation, mid-run."""
    with pytest.raises(
        UsageError, match=r"^Argument `on_eval` must be a function .*Received: on_eval=3$"
    ):
        run(quad, steps=3, on_eval=3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # KeyError: 'nope'
        (("nope", None, None, 3), r"^Unknown optimizer 'nope'\. Available: sgd"),
        # 0 and -1 gave no rates at all; 'a' and 2.5 raised numpy's TypeError
        (
            ("sgd", None, None, 0),
            r"^Argument `steps` must be a positive integer\. Received: steps=0$",
        ),
        (("sgd", None, None, -1), r"^Argument `steps` .*Received: steps=-1$"),
        (("sgd", None, None, "a"), r"^Argument `steps` .*Received: steps='a'$"),
        (("sgd", None, None, 2.5), r"^Argument `steps` .*Received: steps=2\.5$"),
    ],
)
def test_resolve_schedule_checks_the_optimizer_and_the_steps(
    args: tuple[object, ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_schedule(*args)  # type: ignore[arg-type]


def test_step_size_every_k_steps(cancer: tasks.Task) -> None:
    full = run(cancer, "adam", steps=12, seed=0)
    sparse = run(cancer, "adam", steps=12, seed=0, step_size_every=5)
    measured = np.isfinite(sparse.step_size)
    assert measured.tolist() == [t % 5 == 0 for t in range(12)]
    assert np.array_equal(sparse.step_size[measured], full.step_size[measured])
    assert np.array_equal(sparse.train_loss, full.train_loss)


def test_cross_validation_fold_trains(cancer: tasks.Task) -> None:
    fold = cancer.with_splits(np.arange(0, 300), np.arange(300, 341))
    h = run(fold, "adam", steps=10, eval_every=5)
    assert h.steps == 10 and len(h.val_loss) == 2


def test_mixed_dtype_model_measures_step_sizes_per_parameter(cancer: tasks.Task) -> None:
    # A model whose parameters do not share a dtype cannot live in one flat buffer.
    class Mixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(30, 1)
            self.scale = torch.nn.Parameter(torch.ones(1, dtype=torch.float64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x) * self.scale.float()

    mixed = dataclasses.replace(cancer, model_factory=Mixed)
    h = run(mixed, "sgd", lr=0.05, steps=10, seed=0)
    assert np.allclose(h.step_size, 0.05, rtol=1e-5)
    again = run(mixed, "sgd", lr=0.05, steps=10, seed=0)
    assert np.array_equal(h.train_loss, again.train_loss)


def test_progress_is_silent_when_stderr_is_not_a_terminal(
    cancer: tasks.Task, capsys: pytest.CaptureFixture[str]
) -> None:
    h = run(cancer, "sgd", steps=15, quiet=False)
    assert h.steps == 15
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
