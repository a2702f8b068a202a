"""The range test on a lab task (``lrlab find --task``)."""

from __future__ import annotations

import inspect
from typing import Any

import torch

from lrlab._checks import int_at_least, number_in
from lrlab._checks import seed as check_seed
from lrlab.errors import UsageError
from lrlab.finder._core import BUDGET_RULE, HORIZON_RULE, find_lr, torch_range_test
from lrlab.finder._data import resolve_device
from lrlab.finder._result import FinderResult
from lrlab.finder._settings import SweepSettings

__all__ = ["advice_budget", "find_lr_task"]

#: The options :func:`find_lr` checks into its settings, and their defaults there.
_SETTINGS = inspect.signature(SweepSettings.of).parameters
_DEFAULTS = {
    k: p.default for k, p in inspect.signature(find_lr).parameters.items() if k in _SETTINGS
}


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
    total_steps = int_at_least("total_steps", total_steps, 1, "a positive integer")
    budget = number_in("budget", budget, lambda v: 0 < v <= 10, BUDGET_RULE)
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
    device: torch.device | str | None = None,
    **options: Any,
) -> FinderResult:
    """Run :func:`~lrlab.finder.find_lr` on a fresh model of ``task``.

    ``task`` is a :class:`lrlab.tasks.Task` or a built-in task name; the model is
    ``task.make_model(seed)``, the batches ``task.batches(seed)``, the optimizer
    :func:`lrlab.train.make_optimizer` (``options`` go to it or, when they are
    :func:`find_lr` options such as ``confirm``, ``horizon`` or ``rule``, to the
    test).  Probes are scored on the task's validation split.  The sweep's length
    defaults to :func:`advice_budget`, the run the advice is for (``horizon``) to
    ``task.steps``, and the advice spends at most ``budget`` of that run.  ``device``
    (``None``: where the task's model is built) is where the model and batches go.
    """
    from lrlab import tasks
    from lrlab.train.optimizers import make_optimizer, refuse_own

    if isinstance(task, str):
        task = tasks.get(task)
    if not hasattr(task, "make_model"):
        raise UsageError(f"Argument `task` must be a Task or a task name. Received: task={task!r}")
    given = {"min_lr": min_lr, "max_lr": max_lr, "budget": budget, "horizon": int(task.steps)}
    given.update((k, v) for k, v in options.items() if k in _SETTINGS)
    horizon = int_at_least("horizon", given["horizon"], 1, HORIZON_RULE)
    if num_steps is None:
        num_steps, _ = advice_budget(horizon)
    # Every option is checked before the optimizer is made with min_lr (`lr` there).
    s = SweepSettings.of(**{**_DEFAULTS, **given, "num_steps": num_steps})
    seed = check_seed("seed", seed)
    model = _model_of(task, seed)
    where = resolve_device(device, model)
    model = model.to(where)
    opt_opts = {k: v for k, v in options.items() if k not in _SETTINGS}
    refuse_own(
        "find_lr_task", opt_opts, ("lr", "name", "params"),
        "the range test sweeps the rate from `min_lr` to `max_lr` over the task's model, "
        "with the optimizer named by `optimizer`",
    )  # fmt: skip
    opt = make_optimizer(optimizer, model.parameters(), min_lr, **opt_opts)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: intra-op threads only cost (restored below)
    try:
        return torch_range_test(
            s,
            model,
            task.loss_fn,
            task.batches(seed),  # a generator: a restart continues the stream
            opt,
            val_data=(task.x_val, task.y_val),
            deterministic=int(task.batch_size) >= len(task.x_train),
            quiet=quiet,
            device=where,
        )
    finally:
        torch.set_num_threads(threads)


def _model_of(task: Any, seed: int) -> torch.nn.Module:
    """``task.make_model(seed)``, refusing a model instance where the factory belongs
    (it is callable, so it would be called as a factory and fail in its forward)."""
    factory = getattr(task, "model_factory", None)
    if isinstance(factory, torch.nn.Module):
        name = type(factory).__name__
        raise UsageError(
            "Argument `model_factory` of the Task must be a function that builds a new "
            f"model. Received: a {name} instance; pass a factory, "
            f"model_factory=lambda: {name}(...)"
        )
    model = task.make_model(seed)
    if not isinstance(model, torch.nn.Module):
        raise UsageError(
            "Argument `model_factory` of the Task must return a torch.nn.Module. "
            f"Received: it returned {type(model).__name__}"
        )
    return model
