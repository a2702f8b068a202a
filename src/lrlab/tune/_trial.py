"""What every trial of a study shares: the surplus marker and one training run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Reaper", "Surplus", "create_study", "run_one", "train_once"]


class Surplus(Exception):
    """Raised inside a trial that another worker's trial made unnecessary."""


def train_once(
    task: Any,
    optimizer: str,
    schedule: Any,
    steps: int,
    seed: int,
    split: tuple[Any, Any] | None,
    on_eval: Callable[[int, float], None] | None = None,
) -> tuple[float, int]:
    """Train once (on fold ``split`` if given); ``(final val loss or inf, steps run)``."""
    from lrlab.train import run

    task = task if split is None else task.with_splits(*split)
    hist = run(
        task,
        optimizer,
        schedule=schedule,
        steps=steps,
        seed=seed,
        on_eval=on_eval,
        step_size_every=10**9,
    )
    loss = float(hist.final_val_loss)
    if hist.diverged or not math.isfinite(loss):
        loss = math.inf
    return loss, int(hist.steps)


def create_study(name: str, storage: Any, sampler: Any, pruner: Any) -> Any:
    """Create or load the minimizing study ``name``; two workers may create it at once."""
    import time

    import optuna

    def create() -> Any:
        return optuna.create_study(
            storage=storage,
            study_name=name,
            sampler=sampler,
            pruner=pruner,
            direction="minimize",
            load_if_exists=True,
        )

    for _ in range(4):
        try:
            return create()
        except optuna.exceptions.DuplicatedStudyError:  # the other one won: load it
            time.sleep(0.2)
    return create()


def run_one(optuna: Any, study: Any, objective: Callable[[Any], float]) -> None:
    """Run one trial of ``study`` (``Study.optimize``, one trial); survive another's tell.

    Another worker may finish this worker's trial first: fail it as stale (a
    heartbeat that came late on a loaded machine; the retry redoes the work),
    or, on SQLite, which has no ``SELECT ... FOR UPDATE``, pop the same waiting
    retry and tell it first (measured by ``benchmarks/bench_kill_resume.py``).
    Optuna's ``tell`` then raises ``ValueError: Cannot tell a FAIL trial`` (and
    an ``AssertionError`` of its bookkeeping on top) or
    ``UpdateFinishedTrialError``.  The trial is finished once either way, so
    this worker drops its result and goes on.  Any error of the objective
    itself still propagates.
    """
    seen: dict[str, Any] = {}

    def tracked(trial: Any) -> float:
        seen["id"] = trial._trial_id
        try:
            value = objective(trial)
        except (optuna.TrialPruned, Surplus):
            seen["returned"] = True
            raise
        seen["returned"] = True
        return value

    try:
        study.optimize(
            tracked, n_trials=1, catch=(Surplus,), gc_after_trial=False, show_progress_bar=False
        )
    except Exception as exc:
        if lost_database(exc):
            # The database restarted under the trial (Optuna's bookkeeping then fails
            # with an UnboundLocalError of its own): the trial is left to the reaper,
            # which retries it; this worker goes on once the database answers again.
            time.sleep(1.0)
            return
        if not seen.get("returned"):
            raise
        # UpdateFinishedTrialError, ValueError, or Optuna's AssertionError after it: ask
        # the database (Optuna's cache still holds this process's trial as RUNNING)
        storage = getattr(study._storage, "_backend", study._storage)
        if not storage.get_trial(seen["id"]).state.is_finished():
            raise


class Reaper:
    """Fail the trials of killed workers: Optuna's stale heartbeats, and trials with none.

    Optuna fails a ``RUNNING`` trial whose last heartbeat is older than the
    grace period, but never one that has no heartbeat at all: a worker killed
    between creating its trial and its first heartbeat (during the sampler's
    work in ``ask()``) left it ``RUNNING`` for ever, and the other workers
    waited on it.  A reaper also fails a trial it has seen ``RUNNING`` without
    a heartbeat for longer than the grace period, timed on this process's own
    clock (the trial's start time is the creating machine's clock, not the
    database's), and hands it to the storage's stale-trial callback (a retry)
    like Optuna does.
    """

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.first_seen: dict[int, float] = {}

    def __call__(self, study: Any) -> None:
        import copy
        import warnings

        import optuna

        with warnings.catch_warnings():  # experimental since Optuna 2.9, and stable in use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        running = [
            t._trial_id
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        ]
        silent = set(running) - self._beating(running)
        now = time.monotonic()
        self.first_seen = {tid: self.first_seen.get(tid, now) for tid in silent}
        grace = self.storage.grace_period or 2 * self.storage.heartbeat_interval
        for tid, first in list(self.first_seen.items()):
            if now - first <= grace:
                continue
            del self.first_seen[tid]
            try:
                failed = self.storage.set_trial_state_values(
                    tid, state=optuna.trial.TrialState.FAIL
                )
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # it finished, or another worker failed it first
            callback = self.storage.get_heartbeat_stale_trial_callback()
            if failed and callback is not None:
                callback(study, copy.deepcopy(self.storage.get_trial(tid)))

    def _beating(self, trial_ids: list[int]) -> set[int]:
        """Which of ``trial_ids`` have recorded a heartbeat (Optuna's own table)."""
        if not trial_ids:
            return set()
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        table = models.TrialHeartbeatModel
        with _create_scoped_session(self.storage.scoped_session) as session:
            rows = session.query(table.trial_id).filter(table.trial_id.in_(trial_ids)).all()
        return {int(r[0]) for r in rows}


def lost_database(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it arose from) is a lost or refused database
    connection: SQLAlchemy's ``OperationalError`` or ``InterfaceError``."""
    seen = 0
    while exc is not None and seen < 20:
        cls = type(exc)
        if cls.__module__.startswith("sqlalchemy") and any(
            base.__name__ in ("OperationalError", "InterfaceError") for base in cls.__mro__
        ):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
