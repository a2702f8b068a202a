"""The range test on a lab task (``lrlab find --task``)."""

from __future__ import annotations

from typing import Any

import torch

from lrlab._checks import int_at_least, positive_number
from lrlab.errors import UsageError
from lrlab.finder._core import HORIZON_RULE, find_lr
from lrlab.finder._result import FinderResult

__all__ = ["advice_budget", "find_lr_task"]


def advice_budget(total_steps: int, budget: float = 0.25) -> tuple[int, int]:
    """``(sweep_steps, probe_steps)`` for a training run of ``total_steps`` steps.

    lrlab's advice spends ``budget`` of one run (a quarter by default): a sweep
    of 10% of the run (at least 20, at most 100 steps) and the probes of its
    race in what is left.

    >>> advice_budget(500)
    (50, 75)
    >>> advice_budget(500, budget=1.0)
    (50, 450)
    """
    sweep = min(max(total_steps // 10, 20), 100)
    return sweep, max(int(budget * total_steps) - sweep, 0)


def find_lr_task(
    task: Any,
    optimizer: str = "sgd",
    *,
    seed: int = 0,
    min_lr: float = 1e-6,
    max_lr: float = 10.0,
    num_steps: int | None = None,
    budget: float = 0.25,
    quiet: bool = True,
    **options: Any,
) -> FinderResult:
    """Run :func:`~lrlab.finder.find_lr` on a fresh model of ``task``.

    ``task`` is a :class:`lrlab.tasks.Task` or a built-in task name; the model is
    ``task.make_model(seed)``, the batches ``task.batches(seed)``, the optimizer
    :func:`lrlab.train.make_optimizer` (``options`` go to it or, when they are
    :func:`find_lr` options such as ``confirm``, ``horizon`` or ``rule``, to the
    test).  Probes are scored on the task's validation split.  The sweep's length
    defaults to :func:`advice_budget`, the run the advice is for (``horizon``) to
    ``task.steps``, and the advice spends at most ``budget`` of that run.
    """
    import inspect

    from lrlab import tasks
    from lrlab.train import make_optimizer

    if isinstance(task, str):
        task = tasks.get(task)
    if not hasattr(task, "make_model"):
        raise UsageError(f"Argument `task` must be a Task or a task name. Received: task={task!r}")
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr)):
        positive_number(name, value)  # before the optimizer is made with min_lr (`lr` there)
    finder_keys = set(inspect.signature(find_lr).parameters) - {
        "model",
        "loss_fn",
        "data",
        "optimizer",
    }
    test_opts = {k: v for k, v in options.items() if k in finder_keys}
    opt_opts = {k: v for k, v in options.items() if k not in finder_keys}
    horizon = int_at_least("horizon", test_opts.pop("horizon", int(task.steps)), 1, HORIZON_RULE)
    sweep, _ = advice_budget(horizon)
    model = task.make_model(seed)
    opt = make_optimizer(optimizer, model.parameters(), min_lr, **opt_opts)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: intra-op threads only cost (restored below)
    try:
        return find_lr(
            model,
            task.loss_fn,
            _Iter(task, seed),
            opt,
            min_lr=min_lr,
            max_lr=max_lr,
            num_steps=sweep if num_steps is None else num_steps,
            budget=budget,
            val_data=(task.x_val, task.y_val),
            horizon=horizon,
            deterministic=int(task.batch_size) >= len(task.x_train),
            quiet=quiet,
            **test_opts,
        )
    finally:
        torch.set_num_threads(threads)


class _Iter:
    """An iterable over ``task.batches(seed)`` (each ``iter`` continues the same stream)."""

    def __init__(self, task: Any, seed: int) -> None:
        self.stream = task.batches(seed)

    def __iter__(self) -> Any:
        return self.stream
