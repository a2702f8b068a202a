"""The Keras and JAX builds of a task compute what its torch model computes, from the same
weights: the outputs and the loss on the validation split, and one step of each optimizer
(float32 on all three, so compared to float32 rounding)."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest
import torch

from lrlab import tasks
from lrlab.errors import UsageError
from lrlab.tasks.frameworks import OPTIMIZERS, jax_build, keras_build, operations
from lrlab.train.optimizers import make_optimizer

#: Every built-in task's model kind, small where the defaults are large.
CASES = {
    "quadratic": {},
    "digits": {},
    "breast_cancer": {},
    "diabetes": {},
    "mnist1d_mlp": {"hidden": 16},
    "mnist1d_cnn": {"model": "cnn", "channels": 4},
    "text": {"context": 4, "dim": 6, "hidden": 16},
}


def _task(case: str) -> tasks.Task:
    return tasks.get("mnist1d" if case.startswith("mnist1d") else case, **CASES[case])


def _torch_outputs(task: tasks.Task, x: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    model = task.make_model(seed).float()
    xt = torch.from_numpy(x) if x.dtype.kind != "f" else torch.from_numpy(x).float()
    with torch.no_grad():
        out = model(xt.long() if x.dtype.kind == "i" else xt)
        y = task.y_val.float() if task.y_val.dtype.is_floating_point else task.y_val
        return out.numpy(), float(task.loss_fn(out, y))


@pytest.mark.parametrize("case", list(CASES))
def test_the_three_frameworks_compute_the_same_model(case: str) -> None:
    task = _task(case)
    k, j = keras_build(task, seed=3), jax_build(task, seed=3)
    x, y = k.validation
    want, want_loss = _torch_outputs(task, x, 3)
    scale = float(np.abs(want).max())
    got_k = np.asarray(k.model(x, training=False))
    got_j = np.asarray(j.apply(j.params, jnp.asarray(x)))
    np.testing.assert_allclose(got_k, want, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(got_j, want, rtol=1e-5, atol=1e-5 * scale)
    loss_k = float(k.model.compute_loss(x, y, k.model(x, training=False)))
    loss_j = float(j.loss_fn(j.params, (jnp.asarray(x), jnp.asarray(y))))
    assert loss_k == pytest.approx(want_loss, rel=1e-5)
    assert loss_j == pytest.approx(want_loss, rel=1e-5)


@pytest.mark.parametrize("case", ["digits", "mnist1d_cnn"])
def test_the_batches_are_the_tasks_own(case: str) -> None:
    task = _task(case)
    mine, theirs = jax_build(task, seed=5).batches, task.batches(5)
    for _ in range(3):
        (x, y), (xt, yt) = next(mine), next(theirs)
        assert np.array_equal(x, xt.numpy()) and np.array_equal(y, yt.numpy())


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_one_step_of_each_optimizer_is_torchs(name: str) -> None:
    """Three steps at a constant rate from the same weights: Keras's and Optax's optimizers,
    with PyTorch's defaults set, land on PyTorch's weights (on the quadratic, whose gradients
    are far above every optimizer's eps, where Keras puts eps elsewhere)."""
    task = tasks.get("quadratic", dim=20)
    task = dataclasses.replace(task, x_train=task.x_train.float(), y_train=task.y_train.float())
    lr = 0.01
    model = task.make_model(0).float()
    opt = make_optimizer(name, model.parameters(), lr)
    batches = [next(b) for b in [task.batches(0)] for _ in range(3)]
    for x, y in batches:
        opt.zero_grad()
        task.loss_fn(model(x), y).backward()
        opt.step()
    want = [op[1] for op in operations(model) if op[0] == "dense"]

    k = keras_build(task, name, seed=0, lr=lr)
    for x, y in batches:
        k.model.train_on_batch(x.numpy(), y.numpy())
    got_k = [w for w in k.model.get_weights() if w.ndim == 2]

    j = jax_build(task, name, seed=0)
    tx, params = j.optimizer(lr), j.params
    state = tx.init(params)
    for x, y in batches:
        grads = jax.grad(j.loss_fn)(params, (jnp.asarray(x.numpy()), jnp.asarray(y.numpy())))
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    got_j = [np.asarray(p[0]) for p in params if p and p[0].ndim == 2]
    # Adam's step m / (sqrt(v) + eps) divides two float32 numbers of the gradient's size, and
    # Keras weighs its eps by sqrt(1 - beta2^t): 1e-4 there, float32 rounding elsewhere.
    rtol = 1e-4 if name.startswith("adam") else 1e-5
    for w, gk, gj in zip(want, got_k, got_j, strict=True):
        np.testing.assert_allclose(gk, w, rtol=rtol, atol=1e-7)
        np.testing.assert_allclose(gj, w, rtol=rtol, atol=1e-7)


def test_what_the_builds_do_not_follow_is_refused_by_name() -> None:
    with pytest.raises(UsageError, match=r"^Argument `optimizer` must be one of sgd, .*"
                       r"Received: optimizer='prodigy'$"):  # fmt: skip
        jax_build("diabetes", "prodigy")
    with pytest.raises(UsageError, match=r"Received: model=Conv2d$"):
        operations(torch.nn.Conv2d(1, 1, 3))
    task = tasks.get("diabetes")
    odd = dataclasses.replace(task, loss_fn=torch.nn.MSELoss(reduction="sum"))
    with pytest.raises(
        UsageError,
        match=r"^Argument `loss_fn` must be .*Received: loss_fn=MSELoss\(reduction='sum'\)$",
    ):
        keras_build(odd)
    assert keras.__version__ >= "3"
