"""The Task interface: metrics, batches, model seeding, splits and input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score

from lrlab.errors import UsageError
from lrlab.tasks import Task, accuracy, binary_accuracy, r2, rmse


def _task(n: int = 23, batch: int = 5, **kw: object) -> Task:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n + 8, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    args = dict(
        name="toy",
        kind="regression",
        x_train=x[:n],
        y_train=y[:n],
        x_val=x[n : n + 4],
        y_val=y[n : n + 4],
        x_test=x[n + 4 :],
        y_test=y[n + 4 :],
        model_factory=lambda: torch.nn.Linear(3, 1),
        loss_fn=torch.nn.MSELoss(),
        metric_fn=rmse,
        metric_name="rmse",
        greater_is_better=False,
        batch_size=batch,
        steps=10,
        eval_every=5,
    )
    args.update(kw)
    return Task(**args)  # type: ignore[arg-type]


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((50, 4))
    labels = rng.integers(0, 4, 50)
    got = accuracy(torch.from_numpy(logits), torch.from_numpy(labels))
    assert got == accuracy_score(labels, logits.argmax(1))
    z = rng.standard_normal((50, 1))
    yb = rng.integers(0, 2, (50, 1)).astype(np.float32)
    got = binary_accuracy(torch.from_numpy(z), torch.from_numpy(yb))
    assert got == accuracy_score(yb.ravel(), (z.ravel() > 0).astype(np.float32))
    pred, true = rng.standard_normal((40, 1)), rng.standard_normal((40, 1))
    tp, tt = torch.from_numpy(pred), torch.from_numpy(true)
    assert r2(tp, tt) == pytest.approx(r2_score(true, pred), rel=1e-12)
    assert rmse(tp, tt) == pytest.approx(np.sqrt(mean_squared_error(true, pred)), rel=1e-12)


def test_batches_are_epoch_permutations_and_deterministic() -> None:
    task = _task(n=23, batch=5)
    it = task.batches(seed=3)
    epoch1 = [next(it) for _ in range(4)]  # 23 // 5 = 4 full batches, the rest dropped
    epoch2 = [next(it) for _ in range(4)]
    rows = {tuple(r.tolist()) for xb, _ in epoch1 for r in xb}
    assert len(rows) == 20  # no row twice within an epoch
    assert rows <= {tuple(r.tolist()) for r in task.x_train}
    for xb, yb in epoch1:  # targets travel with their inputs
        assert torch.equal(yb, xb @ torch.tensor([[1.0], [-2.0], [0.5]]))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(epoch1, epoch2))
    again = task.batches(seed=3)
    assert all(torch.equal(next(again)[0], xb) for xb, _ in epoch1 + epoch2)
    other = task.batches(seed=4)
    assert not torch.equal(next(other)[0], epoch1[0][0])


def test_full_batch_yields_the_training_set() -> None:
    task = _task(n=10, batch=64)
    assert task.full_batch
    it = task.batches(0)
    for _ in range(3):
        xb, yb = next(it)
        assert xb is task.x_train and yb is task.y_train


def test_make_model_is_seeded_and_leaves_global_rng_alone() -> None:
    task = _task()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b, c = task.make_model(7), task.make_model(7), task.make_model(8)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, c.weight)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        ref = torch.nn.Linear(3, 1)
    assert torch.equal(a.weight, ref.weight)


def test_evaluate_matches_direct_computation() -> None:
    task = _task()
    model = task.make_model(0)
    loss, value = task.evaluate(model, "test")
    with torch.no_grad():
        out = model(task.x_test)
    assert loss == pytest.approx(float(torch.mean((out - task.y_test) ** 2)), rel=1e-6)
    assert value == pytest.approx(rmse(out, task.y_test), rel=1e-12)
    assert model.training  # restored
    with pytest.raises(UsageError, match="Received: split='dev'"):
        task.evaluate(model, "dev")


def test_with_splits_takes_rows_of_the_training_set() -> None:
    task = _task(n=20)
    fold = task.with_splits([0, 2, 4, 6], torch.tensor([1, 3]))
    assert torch.equal(fold.x_train, task.x_train[[0, 2, 4, 6]])
    assert torch.equal(fold.y_val, task.y_train[[1, 3]])
    assert fold.x_test is task.x_test and fold.name == task.name
    assert task.n_train == 20  # original untouched
    with pytest.raises(UsageError, match=r"`val_idx` must index the 20 training examples"):
        task.with_splits([0, 1], [25])
    with pytest.raises(UsageError, match="`train_idx` must not be empty"):
        task.with_splits([], [1])


def test_invalid_tasks_are_refused_with_the_value() -> None:
    with pytest.raises(UsageError, match=r"`batch_size` must be a positive integer\. Received: "):
        _task(batch=0)
    with pytest.raises(UsageError, match="Received: kind='ranking'"):
        _task(kind="ranking")
    with pytest.raises(UsageError, match=r"len\(x_val\)=4, len\(y_val\)=3"):
        x = torch.zeros(4, 3)
        _task(x_val=x, y_val=torch.zeros(3, 1))
