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

__all__ = ["FRAMEWORKS", "advice_budget", "find_lr_task"]

#: Where :func:`find_lr_task` can train a task.
FRAMEWORKS = ("torch", "keras", "jax")

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
    framework: str = "torch",
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

    ``framework`` is where the test trains: ``"torch"``, ``"keras"`` (Keras 3 on its
    configured backend, :func:`lrlab.finder.keras.find_lr`) or ``"jax"`` (Optax,
    :func:`lrlab.finder.optax.find_lr`).  The Keras and JAX builds of the task
    (:mod:`lrlab.tasks.frameworks`) start from the torch model's weights for ``seed``, on
    the same batches, so the three curves agree to float32 rounding.
    """
    from lrlab import tasks
    from lrlab.train.optimizers import make_optimizer, refuse_own

    if framework not in FRAMEWORKS:
        raise UsageError(
            f"Argument `framework` must be one of {', '.join(FRAMEWORKS)}. "
            f"Received: framework={framework!r}"
        )
    task = tasks.resolve(task)
    given = {"min_lr": min_lr, "max_lr": max_lr, "budget": budget, "horizon": int(task.steps)}
    given.update((k, v) for k, v in options.items() if k in _SETTINGS)
    horizon = int_at_least("horizon", given["horizon"], 1, HORIZON_RULE)
    if num_steps is None:
        num_steps, _ = advice_budget(horizon)
    # Every option is checked before the optimizer is made with min_lr (`lr` there).
    chosen = {**_DEFAULTS, **given, "num_steps": num_steps}
    s = SweepSettings.of(**chosen)
    seed = check_seed("seed", seed)
    opt_opts = {k: v for k, v in options.items() if k not in _SETTINGS}
    if framework != "torch":
        return _elsewhere(framework, task, optimizer, seed, chosen, opt_opts, quiet)
    model = _model_of(task, seed)
    where = resolve_device(device, model)
    model = model.to(where)
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


def _elsewhere(
    framework: str,
    task: Any,
    optimizer: str,
    seed: int,
    chosen: dict[str, Any],
    opt_opts: dict[str, Any],
    quiet: bool,
) -> FinderResult:
    """The range test of the task's Keras or JAX build (same weights, same batches)."""
    from lrlab.tasks import frameworks

    if opt_opts:
        raise UsageError(
            f"Argument `{sorted(opt_opts)[0]}` is an option of the torch optimizer, which "
            f"framework={framework!r} does not build: its {optimizer} takes PyTorch's defaults. "
            f"Received: {', '.join(f'{k}={v!r}' for k, v in sorted(opt_opts.items()))}"
        )
    deterministic = int(task.batch_size) >= len(task.x_train)
    if framework == "keras":
        import lrlab.finder.keras as keras_finder

        kb = frameworks.keras_build(task, optimizer, seed=seed, lr=chosen["min_lr"])
        return keras_finder.find_lr(
            kb.model, kb.batches, validation_data=kb.validation,
            deterministic=deterministic, quiet=quiet, **chosen,
        )  # fmt: skip
    import lrlab.finder.optax as optax_finder

    jb = frameworks.jax_build(task, optimizer, seed=seed)
    return optax_finder.find_lr(
        jb.loss_fn, jb.params, jb.optimizer, jb.batches, val_batch=jb.validation,
        deterministic=deterministic, quiet=quiet, **chosen,
    )  # fmt: skip


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
