"""The one place lrlab touches another library's private attributes, or Python's module magic.

lrlab's adapters are exact against the frameworks' own schedulers and cheap
per step; three things need more than the frameworks' public API:

* **PyTorch** -- ``lrlab.torch.ScheduleLR.step`` skips ``LRScheduler.step``'s
  generic ``get_lr`` pass (one closed form, one pass over the groups) once the
  first step has gone through it, but keeps its bookkeeping: ``_step_count``,
  ``_last_lr`` (what ``get_last_lr()`` returns), and ``get_lr()``'s warning
  outside a step, read off ``_get_lr_called_within_step``.
* **Keras** -- an optimizer's ``learning_rate`` property evaluates a schedule,
  so whether the rate *is* a schedule is only in ``_learning_rate``; the range test
  puts a variable there for the test (a schedule cannot be assigned a value) and the
  schedule back afterwards through the public setter, and builds an unbuilt model and
  its optimizer from one batch as ``train_on_batch`` does (``_symbolic_build``).
* **Optuna** -- a trial's id and its grid point (system attributes), the storage
  behind Optuna's cache, and which running trials have beaten in the heartbeat table
  (Optuna fails stale heartbeats, but never a trial that has none).

No framework is imported here: each function takes the framework's object.
``tests/test_seams.py`` checks every private name against the installed
PyTorch, Keras and Optuna, so an upgrade that drops one fails there, loudly, and not
as a silent change of behaviour.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = [
    "ClosedFormStep",
    "backend_storage",
    "beating",
    "grid_point",
    "keras_build",
    "keras_rate",
    "keras_set_rate",
    "restored",
    "set_last_lr",
    "trial_id",
    "warn_unless_in_step",
]

#: The private attributes of torch.optim.lr_scheduler.LRScheduler this module uses.
TORCH_SCHEDULER_ATTRS = ("_step_count", "_last_lr", "_get_lr_called_within_step")


class ClosedFormStep:
    """Mixin for a ``torch.optim.lr_scheduler.LRScheduler`` whose every rate is a closed
    form of the step: ``step()`` sets the rates with ``self._rates(step)`` (one closed
    form, one pass over the groups) and keeps ``LRScheduler.step``'s bookkeeping
    (``_step_count``, ``last_epoch``, ``_last_lr``).  The constructor's step, the first
    one after it (PyTorch's own warns when ``scheduler.step()`` comes before
    ``optimizer.step()``) and the deprecated ``step(epoch)`` take PyTorch's own ``step``;
    after them there is nothing to check, only to count.  A mixin rather than a function
    the scheduler calls: ``step()`` runs once per update, and a call costs as much as
    the bookkeeping (``benchmarks/bench_torch_step.py``).
    """

    _step_count: int
    last_epoch: int
    _last_lr: list[Any]

    def _rates(self, step: int) -> list[Any]:
        """Set every group's rate for ``step``; the rates set."""
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advance one step and set every group's LR to its closed form there (for
        ``lrlab.torch.ScheduleLR``, ``scale * schedule(step)``), keeping PyTorch's
        bookkeeping."""
        if epoch is not None or self._step_count <= 1:
            super().step(epoch)  # type: ignore[misc]
            return
        self._step_count += 1
        step = self.last_epoch + 1
        self.last_epoch = step
        self._last_lr = self._rates(step)


def restored(scheduler: Any) -> None:
    """After ``load_state_dict``: the scheduler counts as stepped at least once, as
    after its constructor."""
    scheduler._step_count = max(scheduler._step_count, 1)


def set_last_lr(scheduler: Any, lrs: list[Any]) -> None:
    """Record the LRs just set, which ``get_last_lr()`` returns."""
    scheduler._last_lr = lrs


def warn_unless_in_step(scheduler: Any) -> None:
    """PyTorch's warning when ``get_lr()`` is called outside ``step()``."""
    if not scheduler._get_lr_called_within_step:
        warnings.warn(
            "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
            UserWarning,
            stacklevel=3,
        )


def keras_rate(optimizer: Any) -> Any:
    """What a Keras optimizer was given as its ``learning_rate``: a value (a variable)
    or a ``LearningRateSchedule`` (the public property evaluates the schedule)."""
    return optimizer._learning_rate


def keras_set_rate(optimizer: Any, variable: Any) -> None:
    """Make the Keras optimizer read its rate from ``variable`` (a tracked, non-trainable
    Keras variable), whatever it was given; ``optimizer.learning_rate = original`` puts a
    schedule back and untracks ``variable`` (Keras's setter does both)."""
    optimizer._learning_rate = variable


def keras_build(model: Any, batch: Any) -> None:
    """Build a compiled Keras model, its compiled loss and metrics and its optimizer from one
    ``(x, y, sample_weight)`` batch, without training (``train_on_batch``'s first act)."""
    model._symbolic_build(data_batch=batch)


def trial_id(trial: Any) -> int:
    """The storage's id of the ``optuna.Trial`` ``trial`` (its ``number`` is per study)."""
    return int(trial._trial_id)


def grid_point(trial: Any) -> Any:
    """The ``GridSampler``'s point id of ``trial`` (a system attribute), or ``None``."""
    return trial.study._storage.get_trial_system_attrs(trial._trial_id).get("grid_id")


def backend_storage(study: Any) -> Any:
    """The storage behind Optuna's per-process cache of ``study`` (the database's view)."""
    return getattr(study._storage, "_backend", study._storage)


def beating(storage: Any, trial_ids: list[int]) -> set[int]:
    """Which of ``trial_ids`` have a heartbeat in the RDB ``storage`` (Optuna's own table)."""
    if not trial_ids:
        return set()
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    table = models.TrialHeartbeatModel
    with _create_scoped_session(storage.scoped_session) as session:
        rows = session.query(table.trial_id).filter(table.trial_id.in_(trial_ids)).all()
    return {int(r[0]) for r in rows}
