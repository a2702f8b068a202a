"""The arguments of one search, checked once (each error names its argument), defaults
resolved: what the study, the worker loop and the finalists' race read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrlab._checks import int_at_least, positive_int, positive_number, search_seed, shown
from lrlab.errors import UsageError
from lrlab.tasks import Task
from lrlab.tune._folds import Folds
from lrlab.tune._pruners import PRUNERS
from lrlab.tune._samplers import SAMPLERS
from lrlab.tune._tasks import TaskObjective, objective_name, task_labels
from lrlab.tune.space import Space

__all__ = ["Settings", "settings"]


@dataclass(frozen=True)
class Settings:
    """One :func:`~lrlab.tune.tune` call's arguments, checked, with defaults resolved."""

    objective: Callable[[Any], float]
    name: str  # what the study records it ran: the task's name or the function's
    task: Task | None  # the built-in task, when the objective is one
    sampler: str
    target: int
    cv: int | None
    repeats: int
    finalists: int
    finalist_seeds: int
    pruner: str
    space: Space
    storage: str | None
    study: str
    run_dir: str | Path
    steps: int
    eval_every: int
    seed: int
    worker: int
    budget: int | None
    heartbeat_interval: int
    grace_period: int | None
    storage_retry_s: float
    catch: tuple[type[BaseException], ...]
    quiet: bool
    folds: Folds

    @property
    def per_run(self) -> int:  # one configuration on one seed, every fold
        return self.steps * (self.cv or 1)

    @property
    def per_trial(self) -> int:  # every seed, every fold
        return self.per_run * self.repeats

    @property
    def reserve(self) -> int:  # the budget's steps kept for the finalists' runs
        return self.finalists * self.finalist_seeds * self.per_run

    @property
    def finalist_seed_list(self) -> list[int]:  # after the search's own seeds
        return [self.seed + self.repeats + j for j in range(self.finalist_seeds)]

    def meta(self) -> dict[str, Any]:
        """What the study records it ran (checked when it is resumed)."""
        return {
            "task": self.name,
            "objective": self.name,
            "builtin": self.task is not None,
            "sampler": self.sampler,
            "cv": self.cv,
            "repeats": self.repeats,
            "steps": self.steps,
            "seed": self.seed,
            "space": self.space.describe(),
        }


def as_objective(objective: Any) -> tuple[Callable[[Any], float], Task | None]:
    """``(objective, task)``: a task name or :class:`Task` becomes its
    :class:`TaskObjective`; a function of a trial is itself."""
    from lrlab import tasks

    if isinstance(objective, (str, Task)):
        task = tasks.resolve(objective)
        return TaskObjective(task), task
    if callable(objective) and not isinstance(objective, type):
        return objective, None
    raise UsageError(
        "Argument `objective` must be a function of a trial (objective(trial) -> loss), "
        f"a Task or a task name. Received: objective={shown(objective)}"
    )


def check_one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else a :class:`UsageError` naming ``name``."""
    if value not in allowed:
        raise UsageError(
            f"Argument `{name}` must be one of {', '.join(allowed)}. Received: {name}={value!r}"
        )
    return str(value)


def check_catch(catch: Any) -> tuple[type[BaseException], ...]:
    """``catch`` as a tuple of exception classes (one class, or a tuple or list of them)."""
    items = catch if isinstance(catch, (tuple, list)) else (catch,)
    if not all(isinstance(c, type) and issubclass(c, Exception) for c in items):
        raise UsageError(
            "Argument `catch` must be an exception class or a tuple of them. "
            f"Received: catch={shown(catch)}"
        )
    return tuple(items)


def check_study(study: Any) -> str | None:
    """A study name (not blank) or ``None``."""
    if study is not None and not (isinstance(study, str) and study.strip()):
        raise UsageError(
            f"Argument `study` must be a study name (not blank) or None. Received: study={study!r}"
        )
    return study


def check_budget(s: Settings) -> Settings:
    """``s`` if its budget covers one trial and the finalists' runs."""
    if s.budget is not None and s.budget - s.reserve < s.per_trial:
        runs = (
            f" and the finalists' runs ({s.finalists} x {s.finalist_seeds} x {s.per_run} steps)"
            if s.finalists
            else ""
        )
        raise UsageError(
            f"Argument `budget` must cover one trial ({s.per_trial} steps){runs}. "
            f"Received: budget={s.budget}"
        )
    return s


def check_cv(cv: Any, pruner: str) -> int | None:
    """``cv``: ``None`` or an integer of at least 2 (the Wilcoxon pruner needs it)."""
    if cv is not None:
        int_at_least("cv", cv, 2, "an integer of at least 2 (or None)")
    if pruner == "wilcoxon" and cv is None:
        raise UsageError(
            "Argument `pruner` may be 'wilcoxon' only with cross-validation. "
            "Received: pruner='wilcoxon', cv=None"
        )
    return cv


def check_steps(steps: Any, task: Task | None) -> int:
    """Training steps per run: given, or the task's own."""
    if steps is None and task is not None:
        return int(task.steps)
    if steps is None:
        raise UsageError(
            "Argument `steps` must be given with an objective function: the training steps "
            "of one run (trial.steps; the schedule spans them). Received: steps=None"
        )
    return positive_int("steps", steps)


def counts(**values: Any) -> None:
    """Check ``tune``'s count arguments: ``repeats``, ``finalist_seeds`` and
    ``heartbeat_interval`` positive, ``finalists`` and ``worker`` non-negative."""
    for name, value in values.items():
        low = 0 if name in ("finalists", "worker") else 1
        int_at_least(name, value, low, "a positive integer" if low else "a non-negative integer")


def fold_check(task: Task | None, folds: Folds) -> Folds:
    """``folds``, checked up front on a built-in task's labels (a user objective's labels
    are seen in its first ``trial.split``)."""
    if task is not None and folds.cv is not None:
        folds.of(task_labels(task))
    return folds


def default_eval_every(task: Task | None, steps: int) -> int:
    """Where a pruner first looks: a task's ``eval_every``; an objective's tenth of a run."""
    return int(task.eval_every) if task is not None else max(1, steps // 10)


def check_space(space: Any) -> Space:
    """``space`` (default ``Space()``) if it is a :class:`Space`."""
    space = Space() if space is None else space
    if not isinstance(space, Space):
        raise UsageError(f"Argument `space` must be a lrlab.tune.Space. Received: space={space!r}")
    return space


def settings(
    objective: Any,
    *,
    sampler: Any,
    trials: Any,
    cv: Any,
    repeats: Any,
    finalists: Any,
    finalist_seeds: Any,
    pruner: Any,
    space: Any,
    storage: Any,
    study: Any,
    run_dir: str | Path,
    steps: Any,
    seed: Any,
    worker: Any,
    budget: Any,
    heartbeat_interval: Any,
    grace_period: Any,
    storage_retry_s: Any,
    catch: Any,
    quiet: bool,
) -> Settings:
    """Check :func:`~lrlab.tune.tune`'s arguments, in its order, before any study is
    opened; the :class:`Settings` (each error names its argument)."""
    check_one_of("sampler", sampler, SAMPLERS)
    check_one_of("pruner", pruner, PRUNERS)
    positive_int("trials", trials)
    check_cv(cv, pruner)
    counts(repeats=repeats, finalists=finalists, finalist_seeds=finalist_seeds, worker=worker)
    counts(heartbeat_interval=heartbeat_interval)
    if budget is not None:
        positive_int("budget", budget)
    search_seed("seed", seed)
    if grace_period is not None:
        positive_int("grace_period", grace_period)
    retry_s = positive_number("storage_retry_s", storage_retry_s, allow_zero=True)
    check_study(study)
    fn, task = as_objective(objective)
    n_steps = check_steps(steps, task)
    space = check_space(space)
    name = objective_name(fn)
    s = Settings(
        objective=fn, name=name, task=task, sampler=sampler,
        target=min(trials, space.grid_size()) if sampler == "grid" else trials,
        cv=cv, repeats=repeats, finalists=finalists, finalist_seeds=finalist_seeds,
        pruner=pruner, space=space, storage=storage, study=study or f"{name}-{sampler}",
        run_dir=run_dir, steps=n_steps, eval_every=default_eval_every(task, n_steps),
        seed=seed, worker=worker, budget=budget, heartbeat_interval=heartbeat_interval,
        grace_period=grace_period, storage_retry_s=retry_s, catch=check_catch(catch), quiet=quiet,
        folds=fold_check(task, Folds(cv, seed)),
    )  # fmt: skip
    return check_budget(s)
