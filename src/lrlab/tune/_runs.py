"""One configuration's runs: the objective called once per seed and fold, its reports
passed to the pruner on one axis, its steps counted, a divergence recorded."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lrlab import _json
from lrlab.errors import UsageError
from lrlab.tune._folds import Folds
from lrlab.tune.trial import Trial

__all__ = ["Runs", "as_loss"]


class Runs:
    """The runs of one Optuna trial: ``objective(trial)`` for each seed, each fold in turn.

    The runs are ordered seed-major: every fold of ``seeds[0]``, then of
    ``seeds[1]``, ...  Without ``cv`` the trial reports at every report of a run,
    on one step axis across its runs (run ``k``'s step ``s`` is step
    ``k * steps + s``), the mean of the finished runs' losses and the current one:
    with one run that is the reported loss itself, and the pruner can stop a trial
    inside any run.  With ``cv`` it reports after each run (index ``k``): the mean
    of the runs so far, or, for the Wilcoxon pruner, the run's own loss.

    The Optuna trial records every run's loss (``run_losses``) and the steps spent
    (``steps``; a run counts its last reported step when it ends early, else
    ``steps``).  A run that returns NaN or an infinite loss diverged: the trial
    ends with ``inf`` (user attribute ``diverged``), whatever the other runs give.
    """

    def __init__(
        self,
        trial: Any,
        objective: Callable[[Trial], float],
        *,
        steps: int,
        folds: Folds,
        prune: bool = True,
        wilcoxon: bool = False,
        shown: Any = None,
    ) -> None:
        self.trial, self.objective, self.steps, self.folds = trial, objective, steps, folds
        self.shown = trial if shown is None else shown  # what the objective sees as trial.optuna
        self.prune, self.wilcoxon = prune, wilcoxon
        self.losses: list[float] = []
        self.spent = 0
        self._ran: int | None = None  # the current run's steps so far

    def report(self, value: float, step: int) -> None:
        """One report of the current run (see :meth:`Trial.report`)."""
        self._ran = step
        total = len(self.losses) * self.steps + step
        self.spent = total
        if self.prune and self.folds.cv is None:
            self.trial.report((sum(self.losses) + value) / (len(self.losses) + 1), total)

    def should_prune(self) -> bool:
        """Whether Optuna's pruner stops the trial (only between reports, without ``cv``)."""
        return self.prune and self.folds.cv is None and bool(self.trial.should_prune())

    def count(self, steps: int) -> None:
        """The current run took ``steps`` training steps."""
        self._ran = steps
        self.spent = len(self.losses) * self.steps + steps

    def __call__(self, config: dict[str, Any], schedule: Any, seeds: Sequence[int]) -> float:
        """Train ``config`` (with its ``schedule``) on every seed and fold; the mean loss."""
        import optuna

        folds: list[int | None] = [None] if self.folds.cv is None else list(range(self.folds.cv))
        runs = [(seed, fold) for seed in seeds for fold in folds]
        try:
            for k, (seed, fold) in enumerate(runs):
                self._ran = None
                t = Trial(
                    self.shown, config, schedule, steps=self.steps, seed=seed, fold=fold,
                    folds=self.folds, runner=self,
                )  # fmt: skip
                loss = as_loss(self.objective(t))
                self.spent = len(self.losses) * self.steps + (
                    self.steps if self._ran is None else self._ran
                )
                self.losses.append(loss)
                self.trial.set_user_attr("run_losses", _json.encode(self.losses))
                if not math.isfinite(loss):
                    self.trial.set_user_attr("diverged", True)
                    return math.inf
                if self.prune and self.folds.cv is not None:
                    mean = float(np.mean(self.losses))
                    self.trial.report(loss if self.wilcoxon else mean, k)
                    if k < len(runs) - 1 and self.trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after run {k}")
            return float(np.mean(self.losses))
        finally:
            self.trial.set_user_attr("steps", int(self.spent))


def as_loss(value: Any) -> float:
    """The objective's return as a loss: NaN and infinities are a divergence (``inf``)."""
    try:
        loss = float(value)
    except (TypeError, ValueError):
        raise UsageError(
            "The objective must return the loss to minimize (a number). "
            f"Received: {type(value).__name__} {value!r}"[:300]
        ) from None
    return loss if math.isfinite(loss) else math.inf
