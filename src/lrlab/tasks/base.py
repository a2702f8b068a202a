"""The :class:`Task` interface: data splits, a model factory, a loss and a metric.

A task is everything a training run needs besides the optimizer: deterministic
train / validation / test tensors, a factory that builds a freshly initialised
model from a seed, the loss that is minimised (a mean over the batch), a metric
reported on the validation set, and defaults for the batch size, the step budget
and how often to evaluate.

Batches are slices of the training tensors under a per-epoch permutation, so a
task pays no ``DataLoader`` overhead.  A user task is built by calling
:class:`Task` directly::

    >>> import torch
    >>> x = torch.linspace(-1, 1, 40).reshape(-1, 1)
    >>> y = 3 * x + 1
    >>> task = Task(
    ...     name="line", kind="regression",
    ...     x_train=x[:30], y_train=y[:30], x_val=x[30:35], y_val=y[30:35],
    ...     x_test=x[35:], y_test=y[35:],
    ...     model_factory=lambda: torch.nn.Linear(1, 1),
    ...     loss_fn=torch.nn.MSELoss(), metric_fn=rmse, metric_name="rmse",
    ...     greater_is_better=False, batch_size=10, steps=100, eval_every=10)
    >>> xb, yb = next(task.batches(seed=0))
    >>> tuple(xb.shape), tuple(yb.shape)
    ((10, 1), (10, 1))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from lrlab._checks import positive_int as _positive_int
from lrlab.errors import UsageError

__all__ = ["Task", "accuracy", "binary_accuracy", "r2", "rmse"]

Kind = Literal["classification", "regression"]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose arg-max logit equals the integer class target."""
    return float((outputs.argmax(dim=-1) == targets).to(torch.float64).mean())


def binary_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows where ``logit > 0`` agrees with the 0/1 target."""
    return float(((outputs > 0).to(targets.dtype) == targets).to(torch.float64).mean())


def rmse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Root mean squared error ``sqrt(mean((outputs - targets)**2))``."""
    diff = (outputs - targets).to(torch.float64)
    return float(torch.sqrt(torch.mean(diff * diff)))


def r2(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (1 is perfect, 0 the mean)."""
    o = outputs.to(torch.float64).reshape(-1)
    t = targets.to(torch.float64).reshape(-1)
    ss_res = torch.sum((t - o) ** 2)
    ss_tot = torch.sum((t - t.mean()) ** 2)
    return float(1.0 - ss_res / ss_tot)


@dataclass(frozen=True, eq=False)
class Task:
    """A supervised learning problem, ready to train on.

    Attributes:
        name: short name (``"digits"``).
        kind: ``"classification"`` or ``"regression"``.
        x_train, y_train, x_val, y_val, x_test, y_test: the splits as tensors
            (first dimension = examples).
        model_factory: a zero-argument callable returning a new ``torch.nn.Module``;
            :meth:`make_model` calls it under a fixed seed.
        loss_fn: ``loss_fn(outputs, targets)`` returns the *mean* loss over the batch.
        metric_fn: ``metric_fn(outputs, targets)`` returns a float (see :meth:`metric`).
        metric_name: what ``metric_fn`` measures (``"accuracy"``, ``"r2"``, ``"rmse"``).
        greater_is_better: whether a larger metric is better (accuracy, r2) or not (rmse).
        batch_size: training batch size (``>= len(x_train)`` means full batch).
        steps: the default step budget.
        eval_every: evaluate on the validation set every this many steps.
        params: the parameters the task was built with (for display and re-creation).
    """

    name: str
    kind: Kind
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    model_factory: Callable[[], torch.nn.Module]
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    metric_fn: Callable[[torch.Tensor, torch.Tensor], float]
    metric_name: str
    greater_is_better: bool = True
    batch_size: int = 64
    steps: int = 500
    eval_every: int = 50
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise UsageError(
                "Argument `kind` must be 'classification' or 'regression'. "
                f"Received: kind={self.kind!r}"
            )
        for name in ("batch_size", "steps", "eval_every"):
            _positive_int(name, getattr(self, name))
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
                raise UsageError(
                    f"Arguments `x_{split}` and `y_{split}` must be torch tensors. "
                    f"Received: {type(x).__name__} and {type(y).__name__}"
                )
            if len(x) != len(y):
                raise UsageError(
                    f"Arguments `x_{split}` and `y_{split}` must have the same length. "
                    f"Received: len(x_{split})={len(x)}, len(y_{split})={len(y)}"
                )
        if len(self.x_train) == 0 or len(self.x_val) == 0:
            raise UsageError(
                "The train and validation splits must not be empty. Received: "
                f"len(x_train)={len(self.x_train)}, len(x_val)={len(self.x_val)}"
            )

    # ----------------------------------------------------------------- models
    def make_model(self, seed: int) -> torch.nn.Module:
        """A new model whose initial weights depend only on ``seed``.

        The factory runs under ``torch.manual_seed(seed)`` inside a forked RNG, so
        the caller's global torch RNG state is left untouched.
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            return self.model_factory()

    def metric(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """The task's metric (named :attr:`metric_name`) of ``outputs`` against ``targets``."""
        return float(self.metric_fn(outputs, targets))

    # ----------------------------------------------------------------- batches
    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return len(self.x_train)

    @property
    def full_batch(self) -> bool:
        """True when every batch is the whole training set (then SGD is gradient descent)."""
        return self.batch_size >= self.n_train

    def batches(self, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Infinite iterator of ``(x, y)`` training batches.

        Each epoch draws a fresh permutation from a ``torch.Generator`` seeded with
        ``seed`` and yields consecutive slices of ``batch_size`` examples; a last
        partial slice is dropped so every batch has the same size.  When the batch
        is the whole training set, the tensors themselves are yielded every time.
        """
        x, y, n, bs = self.x_train, self.y_train, self.n_train, self.batch_size
        if bs >= n:
            while True:
                yield x, y
        gen = torch.Generator().manual_seed(int(seed))
        per_epoch = n // bs
        while True:
            perm = torch.randperm(n, generator=gen)
            xs, ys = x[perm], y[perm]
            for i in range(per_epoch):
                yield xs[i * bs : (i + 1) * bs], ys[i * bs : (i + 1) * bs]

    # -------------------------------------------------------------- evaluation
    def evaluate(self, model: torch.nn.Module, split: str = "val") -> tuple[float, float]:
        """``(mean loss, metric)`` of ``model`` on split ``"train"``, ``"val"`` or ``"test"``."""
        if split not in ("train", "val", "test"):
            raise UsageError(
                f"Argument `split` must be 'train', 'val' or 'test'. Received: split={split!r}"
            )
        x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out = model(x)
            loss = float(self.loss_fn(out, y))
            value = self.metric(out, y)
        model.train(was_training)
        return loss, value

    # ----------------------------------------------------------------- copies
    def with_splits(
        self,
        train_idx: Sequence[int] | torch.Tensor | Any,
        val_idx: Sequence[int] | torch.Tensor | Any,
    ) -> Task:
        """A copy whose train set is ``x_train[train_idx]`` and validation set ``x_train[val_idx]``.

        Used for cross-validation folds; the test set is unchanged.  Indices refer
        to *this* task's training set.
        """
        n = self.n_train
        idx = []
        for arg, raw in (("train_idx", train_idx), ("val_idx", val_idx)):
            t = torch.as_tensor(raw, dtype=torch.long).reshape(-1)
            if t.numel() == 0:
                raise UsageError(f"Argument `{arg}` must not be empty. Received: {arg}=[]")
            if int(t.min()) < -n or int(t.max()) >= n:
                raise UsageError(
                    f"Argument `{arg}` must index the {n} training examples. "
                    f"Received: indices from {int(t.min())} to {int(t.max())}"
                )
            idx.append(t)
        tr, va = idx
        return dataclasses.replace(
            self,
            x_train=self.x_train[tr],
            y_train=self.y_train[tr],
            x_val=self.x_train[va],
            y_val=self.y_train[va],
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary: name, kind, metric, split sizes, defaults and parameters."""
        return {
            "name": self.name,
            "kind": self.kind,
            "metric": self.metric_name,
            "n_train": len(self.x_train),
            "n_val": len(self.x_val),
            "n_test": len(self.x_test),
            "batch_size": self.batch_size,
            "steps": self.steps,
            "eval_every": self.eval_every,
            "params": dict(self.params),
        }

    def __repr__(self) -> str:
        return (
            f"Task(name={self.name!r}, kind={self.kind!r}, n_train={len(self.x_train)}, "
            f"n_val={len(self.x_val)}, n_test={len(self.x_test)}, batch_size={self.batch_size}, "
            f"steps={self.steps}, metric={self.metric_name!r})"
        )
