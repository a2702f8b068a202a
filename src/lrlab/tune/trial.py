"""The trial contract: what a search hands the user's objective, and what it hears back.

An objective is any function ``objective(trial) -> float`` that trains one run and
returns the loss to minimize.  The :class:`Trial` holds the search's choice as ready
things (the rate, the optimizer, the schedule over ``trial.steps`` steps, usable in
torch, Keras and Optax alike), the run's seed and fold, and the channel back to the
pruner (:meth:`Trial.report`, :meth:`Trial.should_prune`).  A pruned objective raises
``optuna.TrialPruned``, as every Optuna objective does.

>>> import torch, optuna
>>> from lrlab.tune import tune, Space
>>> def objective(trial):
...     w = torch.nn.Parameter(torch.tensor([3.0]))
...     opt = trial.optimizer([w])
...     sched = trial.scheduler(opt)
...     for step in range(trial.steps):
...         opt.zero_grad(); (w ** 2).sum().backward(); opt.step(); sched.step()
...     return float(w.detach() ** 2)
>>> space = Space(optimizers=("sgd",), schedules=("constant",), lr=(0.01, 0.5))
>>> result = tune(objective, steps=20, trials=4, space=space, storage="memory")
>>> result.n_finished, result.best.optimizer
(4, 'sgd')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from lrlab._checks import shown
from lrlab.errors import UsageError
from lrlab.tune._folds import Folds, Split

__all__ = ["Trial"]


class Trial:
    """One run of one configuration: what the objective trains, and where it reports.

    Attributes:
        lr: the peak learning rate of the run (the schedule's value at its peak).
        optimizer_name: the optimizer chosen, a name of :data:`lrlab.train.OPTIMIZERS`.
        schedule_name: the schedule family chosen (a key of the space's ``families``).
        params: the family's parameters chosen (``{"min_frac": 0.05}``, ...).
        schedule: the :class:`~lrlab.schedules.Schedule` of the run over ``steps``
            steps (or a ``reduce_on_plateau`` rule): ``schedule(t)`` is the rate of
            update ``t``, in torch (:meth:`scheduler`), Keras (``lrlab.keras``) and
            Optax (``lrlab.optax``) alike.
        steps: the training steps of one run.
        seed: this run's seed (``seed``, ``seed + 1``, ... with ``repeats``).
        fold: this run's fold index with ``cv=k`` (``0 .. k-1``), else ``None``.
        number: the Optuna trial's number.
        optuna: the underlying ``optuna.Trial``, for the objective's own
            ``suggest_*`` parameters (recorded beside lrlab's, replayed for the
            finalists' runs); ``None`` in :func:`lrlab.tune.advise`'s trials.
        phase: ``"search"`` (a trial of :func:`~lrlab.tune.tune`), or, in
            :func:`~lrlab.tune.advise`, ``"sweep"`` (the range test's ramp: report the
            batch's loss after every update) and ``"probe"`` (a constant-rate run of
            the race: report the validation loss every ``eval_every`` steps).
        eval_every: how often the search would like a report, in steps (``None``:
            the objective's own choice).
    """

    def __init__(
        self,
        optuna_trial: Any,
        config: dict[str, Any],
        schedule: Any,
        *,
        steps: int,
        seed: int,
        fold: int | None,
        folds: Folds,
        runner: Any,
        eval_every: int | None = None,
    ) -> None:
        self.optuna = optuna_trial
        self.lr = float(config["lr"])
        self.optimizer_name = str(config["optimizer"])
        self.schedule_name = str(config["schedule"])
        self.params = dict(config["params"])
        self.schedule = schedule
        self.steps, self.seed, self.fold = steps, seed, fold
        self.number = int(getattr(optuna_trial, "number", -1))
        self._folds, self._runner = folds, runner
        self.phase, self.eval_every = "search", eval_every

    def __repr__(self) -> str:
        return (
            f"Trial(number={self.number}, optimizer={self.optimizer_name!r}, lr={self.lr:.4g}, "
            f"schedule={self.schedule_name!r}, steps={self.steps}, seed={self.seed}, "
            f"fold={self.fold})"
        )

    def optimizer(self, params: Iterable[Any], **options: Any) -> Any:
        """The chosen torch optimizer over ``params`` at the trial's rate (``options`` go
        to :func:`lrlab.train.make_optimizer`)."""
        from lrlab.train import make_optimizer

        return make_optimizer(self.optimizer_name, params, self.lr, **options)

    def scheduler(self, optimizer: Any) -> Any:
        """The lrlab torch scheduler of :attr:`schedule` for ``optimizer``: call its
        ``step()`` after each ``optimizer.step()`` (a ``reduce_on_plateau`` rule gives a
        :class:`lrlab.torch.PlateauLR`, stepped with the validation loss)."""
        from lrlab.adapters.torch import plateau, scheduler
        from lrlab.schedules import reduce_on_plateau

        if isinstance(self.schedule, reduce_on_plateau):
            return plateau(optimizer, self.schedule)
        return scheduler(optimizer, self.schedule)

    def split(self, y: Any) -> Split:
        """This run's fold ``(train_idx, val_idx)`` over the training examples.

        ``y`` is their labels (a tensor or array of ``n`` rows: ``StratifiedKFold`` for
        integer labels, ``KFold`` otherwise) or their number ``n`` (``KFold``).  The
        folds are the same for every trial of the study (seeded by its ``seed``).
        """
        if self.fold is None:
            raise UsageError(
                "trial.split needs a study with cross-validation (tune(..., cv=k)). "
                f"Received: fold={self.fold}"
            )
        return self._folds.of(y)[self.fold]

    def report(self, value: float, step: int) -> None:
        """Report the validation loss ``value`` after ``step`` training steps of this run.

        The pruner sees it (without ``cv``: the mean of the finished runs' losses and
        this one, on one step axis across runs); the largest reported step of a run
        is the steps it spent, if it ends early.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise UsageError(
                f"Argument `step` of trial.report must be a non-negative integer. "
                f"Received: step={shown(step)}"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UsageError(
                f"Argument `value` of trial.report must be a number. Received: value={shown(value)}"
            ) from None
        self._runner.report(number if not math.isnan(number) else math.inf, step)

    def should_prune(self) -> bool:
        """Whether the pruner stops this trial now (then raise ``optuna.TrialPruned``)."""
        return bool(self._runner.should_prune())

    def count_steps(self, steps: int) -> None:
        """Say how many training steps this run took, when it stopped early without a
        report (a divergence); otherwise a run counts its last reported step, or
        ``steps`` if it reported none."""
        self._runner.count(int(steps))
