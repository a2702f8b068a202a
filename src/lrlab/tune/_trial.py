"""What every trial of a study shares: the surplus marker and its training runs."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import numpy as np

from lrlab import _json

__all__ = [
    "Reaper",
    "Surplus",
    "create_study",
    "run_one",
    "surplus",
    "train_runs",
    "work",
]


class Surplus(Exception):
    """Raised inside a trial that another worker's trial made unnecessary."""


def surplus(trial: Any) -> NoReturn:
    """Mark ``trial`` as made unnecessary by another worker's (no steps spent) and leave it."""
    trial.set_user_attr("lrlab_surplus", True)
    trial.set_user_attr("steps", 0)
    raise Surplus


def train_runs(
    trial: Any,
    task: Any,
    optimizer: str,
    schedule: Any,
    steps: int,
    seeds: Iterable[int],
    folds: list[tuple[Any, Any]] | None,
    *,
    on_eval: Callable[[list[float], int, float, int], None] | None = None,
    after_run: Callable[[int, list[float]], None] | None = None,
) -> float:
    """Train on each seed (each of the ``folds`` in turn); the mean final validation loss.

    ``trial`` records every run's loss (``run_losses``) and the steps spent
    (``steps``, counted to the last evaluation when a callback prunes it).  A
    diverged run ends the trial with ``inf`` (user attribute ``diverged``): the
    mean is ``inf`` whatever the other runs give.  ``on_eval(losses, step,
    val_loss, spent)`` sees each evaluation of a run, ``after_run(k, losses)``
    each run that did not diverge; either may raise ``optuna.TrialPruned``.
    """
    from lrlab.train import run

    splits: list[Any] = [None] if folds is None else list(folds)
    runs = [(seed, split) for seed in seeds for split in splits]
    spent = 0
    losses: list[float] = []

    def evaluated(step: int, val_loss: float) -> None:
        nonlocal spent
        spent = len(losses) * steps + step
        if on_eval is not None:
            on_eval(losses, step, val_loss, spent)

    try:
        for k, (seed, split) in enumerate(runs):
            hist = run(
                task if split is None else task.with_splits(*split),
                optimizer,
                schedule=schedule,
                steps=steps,
                seed=seed,
                on_eval=evaluated,
                step_size_every=10**9,
            )
            spent = len(losses) * steps + int(hist.steps)
            loss = float(hist.final_val_loss)
            diverged = hist.diverged or not math.isfinite(loss)
            losses.append(math.inf if diverged else loss)
            trial.set_user_attr("run_losses", _json.encode(losses))
            if diverged:
                trial.set_user_attr("diverged", True)
                return math.inf
            if after_run is not None:
                after_run(k, losses)
        return float(np.mean(losses))
    finally:
        trial.set_user_attr("steps", int(spent))


def create_study(name: str, storage: Any, sampler: Any, pruner: Any) -> Any:
    """Create or load the minimizing study ``name``; two workers may create it at once."""
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


def work(
    study: Any,
    objective: Callable[[Any], float],
    next_step: Callable[[list[Any]], tuple[int, str]],
    *,
    reap: Reaper | None,
    bar: Any,
) -> None:
    """Run trials of ``study`` one at a time for as long as ``next_step`` says so.

    ``next_step(trials)`` sees the study's trials (after ``reap``) and returns
    ``(done, what)``: the bar shows ``done``; ``what`` is ``"run"`` (one more
    trial), ``"wait"`` (look again in a moment: others' trials may still fail)
    or ``"stop"``.  A lost database connection is waited for up to a minute.
    """
    import optuna

    shown = 0
    lost_since: float | None = None
    while True:
        try:
            if reap is not None:
                reap(study)
            trials = study.get_trials(deepcopy=False)
        except Exception as exc:  # a database restart: wait up to a minute for it
            lost_since = lost_since or time.monotonic()
            if not lost_database(exc) or time.monotonic() - lost_since > 60:
                raise
            time.sleep(1.0)
            continue
        lost_since = None
        done, what = next_step(trials)
        if done > shown:
            bar.update(done - shown)
            shown = done
        if what == "stop":
            return
        if what == "wait":
            time.sleep(0.25)
        else:
            run_one(optuna, study, objective)  # a waiting retry first (Optuna's ask pops it)


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
