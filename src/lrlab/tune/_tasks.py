"""The built-in tasks as objectives lrlab ships: a :class:`~lrlab.tasks.Task` searched
through the same trial contract as the user's own training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lrlab.tasks import Task
from lrlab.tune.trial import Trial

__all__ = ["TaskObjective", "objective_name", "task_labels"]


def task_labels(task: Task) -> np.ndarray | int:
    """What a task's folds split: a classifier's integer labels (stratified), else its
    number of training examples."""
    if task.kind != "classification":
        return len(task.x_train)
    y = task.y_train.detach().cpu().numpy().reshape(len(task.x_train), -1)
    return (y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)).astype(np.int64)


@dataclass(frozen=True)
class TaskObjective:
    """Train ``task``'s model with the trial's optimizer and schedule for ``trial.steps``
    steps (on the trial's fold of the training split with ``cv``); the final
    validation loss.  Each evaluation is reported, and a pruned trial stops there."""

    task: Task

    @property
    def name(self) -> str:
        """The task's name (what a study records it ran)."""
        return self.task.name

    def __call__(self, trial: Trial) -> float:
        import optuna

        from lrlab.train import run

        if trial.phase == "sweep":
            return self._sweep(trial)
        task = self.task
        if trial.fold is not None:
            task = task.with_splits(*trial.split(task_labels(task)))

        def evaluated(step: int, val_loss: float) -> None:
            trial.report(val_loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step}")

        hist = run(
            task,
            trial.optimizer_name,
            schedule=trial.schedule,
            steps=trial.steps,
            seed=trial.seed,
            on_eval=evaluated,
            step_size_every=10**9,
            eval_every=trial.eval_every if trial.phase == "probe" else None,
        )
        trial.count_steps(int(hist.steps))
        return float("inf") if hist.diverged else float(hist.final_val_loss)

    def _sweep(self, trial: Trial) -> float:
        """The range test's ramp: every update's batch loss reported, up to the stop rule
        (the run itself only stops on a non-finite loss)."""
        from lrlab.train import run

        hist = run(
            self.task, trial.optimizer_name, schedule=trial.schedule, steps=trial.steps,
            seed=trial.seed, eval_every=trial.steps, step_size_every=10**9,
            divergence_factor=1e300,
        )  # fmt: skip
        for k, loss in enumerate(hist.train_loss.tolist()):
            trial.report(loss, k + 1)
            if trial.should_prune():
                break
        return float(hist.train_loss[-1])


def objective_name(objective: Any) -> str:
    """What a study records as the objective it ran: a task's name, else the function's
    qualified name (``module.qualname``)."""
    if isinstance(objective, TaskObjective):
        return objective.name
    module = getattr(objective, "__module__", None) or ""
    name = getattr(objective, "__qualname__", None) or type(objective).__qualname__
    return f"{module}.{name}" if module else str(name)
