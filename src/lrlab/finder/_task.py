"""The range test on a lab task (``lrlab find --task``)."""

from __future__ import annotations

from typing import Any

import torch

from lrlab.errors import UsageError
from lrlab.finder._core import _check, find_lr
from lrlab.finder._result import FinderResult

__all__ = ["advice_budget", "find_lr_task"]


def advice_budget(total_steps: int) -> tuple[int, int]:
    """``(sweep_steps, confirm_steps)`` for a training run of ``total_steps`` steps.

    lrlab's advice spends at most a quarter of one run (for runs of 128 steps
    or more): a sweep of 10% of the run (at least 20, at most 100 steps) and
    four confirmation runs sharing what is left of the quarter (at least 3
    steps each).

    >>> advice_budget(500)
    (50, 18)
    >>> advice_budget(200)
    (20, 7)
    """
    sweep = min(max(total_steps // 10, 20), 100)
    confirm = max((total_steps // 4 - sweep) // 4, 3)
    return sweep, confirm


def find_lr_task(
    task: Any,
    optimizer: str = "sgd",
    *,
    seed: int = 0,
    min_lr: float = 1e-6,
    max_lr: float = 10.0,
    num_steps: int | None = None,
    confirm: int = 4,
    confirm_steps: int | None = None,
    quiet: bool = True,
    **options: Any,
) -> FinderResult:
    """Run :func:`~lrlab.finder.find_lr` on a fresh model of ``task``.

    ``task`` is a :class:`lrlab.tasks.Task` or a built-in task name; the model is
    ``task.make_model(seed)``, the batches ``task.batches(seed)``, the optimizer
    :func:`lrlab.train.make_optimizer` (``options`` go to it or, when they are
    :func:`find_lr` options, to the test).  Confirmation runs are scored on the
    task's validation split.  Step counts default to :func:`advice_budget`, and the
    run the advice is for (``horizon``) to ``task.steps``; pass ``horizon`` when the
    suggestion will train for another number of steps.
    """
    import inspect

    from lrlab import tasks
    from lrlab.train import make_optimizer

    if isinstance(task, str):
        task = tasks.get(task)
    if not hasattr(task, "make_model"):
        raise UsageError(f"Argument `task` must be a Task or a task name. Received: task={task!r}")
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr)):
        _check(name, value, "float")  # before the optimizer is made with min_lr (`lr` there)
    sweep, conf = advice_budget(int(task.steps))
    finder_keys = set(inspect.signature(find_lr).parameters) - {
        "model",
        "loss_fn",
        "data",
        "optimizer",
    }
    test_opts = {k: v for k, v in options.items() if k in finder_keys}
    opt_opts = {k: v for k, v in options.items() if k not in finder_keys}
    model = task.make_model(seed)
    opt = make_optimizer(optimizer, model.parameters(), min_lr, **opt_opts)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: intra-op threads only cost (restored below)
    try:
        return _run(
            find_lr,
            model,
            task,
            seed,
            opt,
            min_lr,
            max_lr,
            num_steps,
            sweep,
            confirm,
            confirm_steps,
            conf,
            quiet,
            test_opts,
        )
    finally:
        torch.set_num_threads(threads)


def _run(
    find_lr: Any,
    model: Any,
    task: Any,
    seed: int,
    opt: Any,
    min_lr: float,
    max_lr: float,
    num_steps: int | None,
    sweep: int,
    confirm: int,
    confirm_steps: int | None,
    conf: int,
    quiet: bool,
    test_opts: dict[str, Any],
) -> FinderResult:
    opts = dict(test_opts)
    horizon = opts.pop("horizon", int(task.steps))
    return find_lr(
        model,
        task.loss_fn,
        _Iter(task, seed),
        opt,
        min_lr=min_lr,
        max_lr=max_lr,
        num_steps=sweep if num_steps is None else num_steps,
        confirm=confirm,
        confirm_steps=conf if confirm_steps is None else confirm_steps,
        val_data=(task.x_val, task.y_val),
        horizon=horizon,
        deterministic=int(task.batch_size) >= len(task.x_train),
        quiet=quiet,
        **opts,
    )


class _Iter:
    """An iterable over ``task.batches(seed)`` (each ``iter`` continues the same stream)."""

    def __init__(self, task: Any, seed: int) -> None:
        self.stream = task.batches(seed)

    def __iter__(self) -> Any:
        return self.stream
