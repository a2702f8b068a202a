"""The worker loop: one trial at a time until the study holds its target, the reaper of
killed workers' trials, and the surplus marker of a trial that another worker made
unnecessary."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from lrlab import _seams
from lrlab.tune.storage import StorageUnavailable, lost_database, unavailable

__all__ = [
    "Reaper",
    "StorageUnavailable",
    "Surplus",
    "Terminated",
    "create_study",
    "lost_database",
    "one_line",
    "run_one",
    "stop_on_sigterm",
    "surplus",
    "work",
]


class Terminated(KeyboardInterrupt):
    """SIGTERM during a search: it stops as Ctrl-C does (the running trial is failed at
    once, not left to the heartbeat), and the CLI exits 143."""


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (in the main thread only; the
    previous handler is put back)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Surplus(Exception):
    """Raised inside a trial that another worker's trial made unnecessary."""


def surplus(trial: Any) -> NoReturn:
    """Mark ``trial`` as made unnecessary by another worker's (no steps spent) and leave it."""
    trial.set_user_attr("lrlab_surplus", True)
    trial.set_user_attr("steps", 0)
    raise Surplus


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


def run_one(
    optuna: Any,
    study: Any,
    objective: Callable[[Any], float],
    catch: tuple[type[BaseException], ...] = (),
) -> None:
    """Run one trial of ``study`` (``Study.optimize``, one trial); survive another's tell.

    Another worker may finish this worker's trial first: fail it as stale (a
    heartbeat that came late on a loaded machine; the retry redoes the work),
    or, on SQLite, which has no ``SELECT ... FOR UPDATE``, pop the same waiting
    retry and tell it first (measured by ``benchmarks/bench_kill_resume.py``).
    Optuna's ``tell`` then raises ``ValueError: Cannot tell a FAIL trial`` (and
    an ``AssertionError`` of its bookkeeping on top) or
    ``UpdateFinishedTrialError`` (or the objective's own ``set_user_attr`` does).
    The trial is finished once either way, so this worker drops its result, says
    so in one line, and goes on with the next trial.  An error of the objective itself
    fails the trial with its one-line message (user attribute ``error``) and
    propagates, unless it is one of ``catch``: then the study goes on.
    """
    seen: dict[str, Any] = {}

    def finished() -> Any:  # the trial's state in the database, if it is finished there
        state = _seams.backend_storage(study).get_trial(seen["id"]).state
        return state if state.is_finished() else None

    def tracked(trial: Any) -> float:
        seen["id"], seen["number"] = _seams.trial_id(trial), trial.number
        try:
            value = objective(trial)
        except (optuna.TrialPruned, Surplus):
            seen["returned"] = True
            raise
        except StorageUnavailable:
            seen["returned"] = True  # not the objective's error: the storage's
            raise
        except Exception as exc:
            if isinstance(exc, optuna.exceptions.UpdateFinishedTrialError) or finished():
                seen["returned"] = True  # reaped under it: not the objective's error
                raise
            trial.set_user_attr("error", one_line(exc))
            raise
        except KeyboardInterrupt as exc:  # Optuna fails the trial at once: no one waits on it
            what = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C (KeyboardInterrupt)"
            trial.set_user_attr("error", f"stopped by {what}")
            raise
        seen["returned"] = True
        return value

    try:
        study.optimize(
            tracked,
            n_trials=1,
            catch=(Surplus, *catch),
            gc_after_trial=False,
            show_progress_bar=False,
        )
    except Exception as exc:
        if (gone := unavailable(exc)) is not None:
            # the storage was away for longer than storage_retry_s (Optuna's bookkeeping
            # may fail on top of it): the trial is left to the reaper, which retries it
            raise gone from None
        if not seen.get("returned"):
            raise
        # UpdateFinishedTrialError, ValueError, or Optuna's AssertionError after it: ask
        # the database (Optuna's cache still holds this process's trial as RUNNING)
        state = finished()
        if state is None:
            raise
        _dropped(seen["number"], state)


def _dropped(number: int, state: Any) -> None:
    """Say in one line that trial ``number``'s result was dropped: the database finished it."""
    how = "failed as stale" if state.name == "FAIL" else "finished by another worker"
    print(
        f"lrlab: trial {number} was {how} while this worker ran it (paused, or its heartbeat "
        "late); its result is not recorded",
        file=sys.stderr,
    )


def work(
    study: Any,
    objective: Callable[[Any], float],
    next_step: Callable[[list[Any]], tuple[int, str]],
    *,
    reap: Reaper | None,
    bar: Any,
    catch: tuple[type[BaseException], ...] = (),
) -> None:
    """Run trials of ``study`` one at a time for as long as ``next_step`` says so.

    ``next_step(trials)`` sees the study's trials (after ``reap``) and returns
    ``(done, what)``: the bar shows ``done``; ``what`` is ``"run"`` (one more
    trial), ``"wait"`` (look again in a moment: others' trials may still fail)
    or ``"stop"``.  A database that goes away is waited for by the storage
    (``storage_retry_s``, :class:`~lrlab.tune.storage.Retry`), which raises
    :class:`~lrlab.tune.storage.StorageUnavailable` if it does not come back.
    """
    import optuna

    shown = 0
    while True:
        if reap is not None:
            reap(study)
        trials = study.get_trials(deepcopy=False)
        done, what = next_step(trials)
        if done > shown:
            bar.update(done - shown)
            shown = done
        if what == "stop":
            return
        if what == "wait":
            time.sleep(0.25)
        else:
            run_one(optuna, study, objective, catch)  # a waiting retry first (Optuna's ask pops it)


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
    like Optuna does.  It fails nothing while the database is away or for one
    grace period after this process saw it come back: every living worker's
    heartbeat missed the outage too, and needs that long to beat again.
    """

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.first_seen: dict[int, float] = {}

    def __call__(self, study: Any) -> None:
        import copy
        import warnings

        import optuna

        grace = self.storage.grace_period or 2 * self.storage.heartbeat_interval
        retry = getattr(self.storage, "retry", None)
        running = [
            _seams.trial_id(t)
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        ]
        if retry is not None and retry.recent(grace):
            return  # an outage: the living workers' heartbeats missed it too
        with warnings.catch_warnings():  # experimental since Optuna 2.9, and stable in use
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        beating = (
            _seams.beating(self.storage, running)
            if retry is None
            else retry.call(_seams.beating, self.storage, running)
        )
        silent = set(running) - beating
        now = time.monotonic()
        self.first_seen = {tid: self.first_seen.get(tid, now) for tid in silent}
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


def one_line(exc: BaseException) -> str:
    """``"TypeError: message"``: an exception as one line, as a trial's ``error`` shows it."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
