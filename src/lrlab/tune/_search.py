"""The search: :func:`tune` opens (or resumes) one Optuna study, runs its trials through
the user's objective (or a built-in task's) until it holds its target, and races the
finalists."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lrlab import _seams
from lrlab._progress import progress_bar
from lrlab.errors import LrlabWarning, UsageError
from lrlab.tune._finalists import SUFFIX, race
from lrlab.tune._pruners import make_pruner
from lrlab.tune._runs import Runs
from lrlab.tune._samplers import make_sampler
from lrlab.tune._settings import Settings, check_study, settings
from lrlab.tune._worker import Reaper, create_study, stop_on_sigterm, surplus, work
from lrlab.tune.result import TuneResult
from lrlab.tune.space import Space
from lrlab.tune.storage import has_heartbeat, open_storage

__all__ = ["load", "tune"]

FINISHED = ("COMPLETE", "PRUNED")


def tune(
    objective: Any,
    *,
    steps: int | None = None,
    sampler: str = "tpe",
    trials: int = 40,
    cv: int | None = None,
    repeats: int = 1,
    finalists: int = 0,
    finalist_seeds: int = 1,
    pruner: str = "projected",
    space: Space | None = None,
    storage: str | None = None,
    study: str | None = None,
    run_dir: str | Path = "lrlab-runs",
    seed: int = 0,
    worker: int = 0,
    budget: int | None = None,
    heartbeat_interval: int = 5,
    grace_period: int | None = None,
    storage_retry_s: float = 60.0,
    catch: type[Exception] | tuple[type[Exception], ...] = (),
    quiet: bool = True,
) -> TuneResult:
    """Search learning rate, optimizer and schedule for ``objective`` with Optuna.

    ``objective`` is the user's training, ``objective(trial) -> loss``: it trains one
    run with the trial's choice (:class:`~lrlab.tune.Trial`: ``trial.lr``,
    ``trial.optimizer(params)``, ``trial.scheduler(optimizer)``, ``trial.schedule``
    over ``trial.steps`` steps, ``trial.seed``, ``trial.fold``), may report its
    validation loss (``trial.report(loss, step)``; raise ``optuna.TrialPruned`` when
    ``trial.should_prune()``), and returns the loss to minimize.  A built-in task's
    name or a :class:`lrlab.tasks.Task` is the objective lrlab ships for it (the same
    code path: ``tune("digits")`` and an objective that trains digits give the same
    trials).  With ``cv=k`` the objective is called once per fold (``trial.split(y)``
    gives the fold's indices), with ``repeats=r`` once per seed; the trial's value is
    the mean.  A NaN or infinite loss is a diverged trial (value ``inf``), never a best.
    An exception fails the trial with its one-line message (user attribute ``error``)
    and reaches the caller, unless it is one of ``catch``: then the study goes on
    (for at most ``trials`` failed trials in one call).  Ctrl-C or SIGTERM fails the
    running trial at once (it is not retried: another trial takes its place in the
    count, and no other worker waits out the grace period) and raises
    ``KeyboardInterrupt`` (:class:`~lrlab.tune._worker.Terminated` for SIGTERM).

    The study's *target* is ``trials`` finished (complete or pruned) trials in
    total: rerunning with the same ``study`` and ``storage`` resumes it, and
    several workers (processes, machines) on one study together finish exactly
    ``trials`` -- a worker that would start trial ``target + 1`` marks it as
    surplus (``FAIL``, user attribute ``lrlab_surplus``) before any training.
    On RDB storages (heartbeat) a worker waits while other workers' trials are
    running, so a trial of a killed worker is failed by the heartbeat (or, if
    it never beat, after the grace period of silence), retried, and the study
    still ends with exactly ``trials`` finished (a waiting retry counts as
    running; on a grid, each point finishes once); on journal storages (no
    heartbeat) it stops instead, and a rerun tops the study up.

    Args:
        objective: a function of a :class:`~lrlab.tune.Trial` returning the loss, a
            :class:`lrlab.tasks.Task` or a built-in task name.
        steps: training steps per run (``trial.steps``; the schedule spans them);
            required for a function, default ``task.steps`` for a task.  A run
            counts its last reported step when it ends early, else ``steps``.
        sampler: ``"grid"`` (the LR grid x optimizers x families of ``space``;
            the target is capped at the grid's size), ``"random"`` or ``"tpe"``.
        trials: the number of finished trials the study should hold.
        cv: ``None`` trains on the training split and scores on the validation
            split; ``k >= 2`` runs k folds (``StratifiedKFold`` for classifiers,
            ``KFold`` otherwise, on the training split) and scores the mean
            validation loss of the folds, reported after each fold.
        repeats: train each configuration this many times, with the seeds
            ``seed, seed + 1, ...`` (with ``cv``: every fold for each seed), and
            score the mean.  One seed's best LR is partly that seed's luck (on
            ``digits`` with Adam, seed 0 scores 0.0025 and 0.005 alike, seeds 1
            and 2 lose 9-14% at 0.005).  The pruner sees the running mean, so a
            bad configuration is usually stopped in its first run; but each
            trial costs ``repeats`` runs, so at small budgets more single-seed
            trials find better rates (``docs/choosing.md``).
        pruner: ``"none"``, ``"median"``, ``"projected"``, ``"hyperband"``,
            ``"successive_halving"`` or ``"wilcoxon"`` (for ``cv``; per-fold losses).
            ``"projected"`` (the default; after 3 completed trials, from the
            first evaluation) prunes a trial only if, improving from now to
            the end as much as the most-improving completed trial did, it
            would still end above the median of their final losses: it needs
            no warm-up, and it keeps the slow rates whose curves cross late.
            ``"median"`` prunes a trial whose best validation loss so far is
            worse than the median of the completed trials at the same step,
            after 3 completed trials and, without ``cv``, not before half of
            ``steps``: earlier, the curves of good LRs still cross (a smaller LR
            catches up later, a larger one over-fits later), and a median at
            an early step prunes the LR that is best at the end.  Measured
            with TPE at a quarter of a 21-point grid's steps, over 90 studies
            (``docs/choosing.md``): ``"projected"`` lands within 1% of the
            grid's best in 66, ``"median"`` in 59.
        space: the :class:`~lrlab.tune.Space` (default ``Space()``).
        storage: see :mod:`lrlab.tune.storage` (default: a SQLite file in ``run_dir``).
        study: the study name (default ``"<task>-<sampler>"``, for a function
            ``"<module>.<name>-<sampler>"``).  A study records what it ran (the
            objective's name, ``cv``, ``repeats``, ``steps``, the space): resuming
            it with another is refused, saying what differs.
        run_dir: folder of the default SQLite file.
        seed: model initialisation / batch order of every run, fold split, sampler seed.
        worker: added to the sampler's seed so that workers sample differently
            (not on a grid: there every worker must map a grid id to the same
            point, and each point runs once).
        budget: stop before a trial could take the study's total steps above this.
        heartbeat_interval, grace_period: heartbeat of RDB storages (seconds).
        storage_retry_s: how long (seconds) a database that went away is waited for:
            every storage operation is retried with backoff (0.1 s doubling to 2 s)
            until the database answers again, and the search goes on where it was
            (nothing lost or run twice: exactly ``trials`` finish).  If it does not
            answer within ``storage_retry_s`` of one outage,
            :class:`~lrlab.tune.storage.StorageUnavailable` (a ``ConnectionError``)
            is raised, naming the storage with its password redacted; a rerun resumes
            the study.  ``0`` gives up at the first lost connection.  A storage must
            answer when it is opened (a ``UsageError`` otherwise), and a SQLite file
            must be writable (checked before any training).
        catch: exception classes of the objective that fail its trial and let the
            study go on (Optuna's ``catch``).
        quiet: no progress bar (also hidden when stderr is not a terminal).

    Returns:
        A :class:`~lrlab.tune.TuneResult`.
    """
    s = settings(
        objective, sampler=sampler, trials=trials, cv=cv, repeats=repeats,
        finalists=finalists, finalist_seeds=finalist_seeds, pruner=pruner, space=space,
        storage=storage, study=study, run_dir=run_dir, steps=steps, seed=seed, worker=worker,
        budget=budget, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
        storage_retry_s=storage_retry_s, catch=catch, quiet=quiet,
    )  # fmt: skip
    with _quiet_optuna(), stop_on_sigterm():
        store, shown = open_storage(
            s.storage, s.run_dir, heartbeat_interval=s.heartbeat_interval,
            grace_period=s.grace_period, storage_retry_s=s.storage_retry_s, writable=True,
        )  # fmt: skip
        st = _open_study(store, shown, s)
        _search(st, store, s)
        result = TuneResult.from_study(
            st, shown, target=s.target, task=s.name, finalists_study=_race(st, store, s),
            finalists=s.finalists, extra_seeds=s.finalist_seed_list, repeats=s.repeats,
        )  # fmt: skip
    if (note := result.edge_note()) is not None:
        warnings.warn(note, LrlabWarning, stacklevel=2)
    return result


class _Objective:
    """One trial of the search: sample a configuration, run it on every seed and fold
    (:class:`~lrlab.tune._runs.Runs`), record it; or, if it would be one too many,
    mark it surplus before any training."""

    def __init__(self, s: Settings) -> None:
        self.s = s

    def _surplus(self, trial: Any) -> bool:
        """Whether this trial would run one too many.

        It would when ``target`` trials numbered below it finished, are running
        or wait to be retried (a retry of a killed worker's trial takes its
        place in the count: without it, a new trial and the retry both ran, 9
        finished for a target of 8).  On a grid it also would when its grid
        point finished in another trial, or runs or waits in a lower-numbered
        one: each point runs once.
        """
        import optuna

        S = optuna.trial.TrialState
        live = [
            t
            for t in trial.study.get_trials(
                deepcopy=False, states=(S.COMPLETE, S.PRUNED, S.RUNNING, S.WAITING)
            )
            if t.number != trial.number and not t.user_attrs.get("lrlab_surplus")
        ]
        if sum(t.number < trial.number for t in live) >= self.s.target:
            return True
        if self.s.sampler != "grid":
            return False
        point = _seams.grid_point(trial)
        return any(
            t.system_attrs.get("grid_id") == point
            and (t.state in (S.COMPLETE, S.PRUNED) or t.number < trial.number)
            for t in live
        )

    def __call__(self, trial: Any) -> float:
        if self._surplus(trial):
            surplus(trial)
        s = self.s
        cfg = s.space.sample(trial, grid=s.sampler == "grid")
        sched = s.space.build(cfg["schedule"], cfg["lr"], s.steps, cfg["params"])
        trial.set_user_attr("config", {**cfg, "schedule_config": sched.to_config()})
        ours = set(trial.params)
        runs = Runs(
            trial, s.objective, steps=s.steps, folds=s.folds, wilcoxon=s.pruner == "wilcoxon"
        )
        try:
            return runs(cfg, sched, range(s.seed, s.seed + s.repeats))
        finally:
            own = {k: v for k, v in trial.params.items() if k not in ours}
            if own:
                trial.set_user_attr("user_params", own)


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs errors only; torch runs single-threaded (restored afterwards).

    The lab's models are small: intra-op threads only add overhead, and with
    several workers on one machine they oversubscribe the cores (10x slower
    measured on 2 cores).
    """
    import optuna
    import torch

    level = optuna.logging.get_verbosity()
    threads = torch.get_num_threads()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)
        torch.set_num_threads(threads)


def _open_study(store: Any, shown: str, s: Settings) -> Any:
    """Create or load study ``s.study``; a resumed study must be for the same task and settings."""
    # Workers sample differently (seed + 7919 * worker), except on a grid: there the
    # seed shuffles the grid, and every worker must map a grid id to the same point.
    seed = s.seed if s.sampler == "grid" else s.seed + 7919 * s.worker
    st = create_study(
        s.study,
        store,
        make_sampler(s.sampler, s.space, seed),
        make_pruner(s.pruner, s.cv, s.steps, s.eval_every, s.repeats),
    )
    meta = s.meta()
    stored = st.user_attrs.get("lrlab")
    if stored is not None:
        _same_run(stored, meta, shown, s.study)
    st.set_user_attr("lrlab", {**(stored or meta), "target": s.target})  # the latest target
    if stored is not None:
        # Said even when quiet: a rerun of the same call returns the old study's trials,
        # which is right for a resume and a surprise for anyone who wanted a new search.
        done = sum(t.state.name in FINISHED for t in st.get_trials(deepcopy=False))
        print(
            f"lrlab: resumed study {s.study!r} in {shown} with {done} finished trials "
            "(pass another study= / --study for a new search)",
            file=sys.stderr,
        )
    return st


def _same_run(stored: dict[str, Any], meta: dict[str, Any], shown: str, study: str) -> None:
    """Refuse to resume a study made by another objective, space, ``cv``, ``repeats`` or
    ``steps``, saying what differs (studies of older lrlab lack some keys: not checked)."""
    stored = {"objective": stored.get("task"), "repeats": 1, **stored}
    for key in ("objective", "cv", "repeats", "steps", "space"):  # not "builtin": as "objective"
        if key in stored and stored[key] != meta[key]:
            raise UsageError(
                f"Argument `study` names a study in {shown} made with {key}={stored[key]!r}; "
                f"it cannot be resumed with {key}={meta[key]!r}. Received: study={study!r}"
            )


def _search(st: Any, store: Any, s: Settings) -> None:
    """Run the study's trials until it holds ``s.target`` finished ones or the budget is spent."""
    heartbeat = has_heartbeat(store)
    budget = None if s.budget is None else s.budget - s.reserve
    errors_before: list[int] = []  # failed trials (caught errors) when this call began

    def next_step(trials: list[Any]) -> tuple[int, str]:
        finished = sum(t.state.name in FINISHED for t in trials)
        errors = sum(t.state.name == "FAIL" and "error" in t.user_attrs for t in trials)
        errors_before.append(errors)
        if errors - errors_before[0] >= s.target:  # with `catch`: every trial fails
            return finished, "stop"
        running = sum(
            t.state.name == "RUNNING" and not t.user_attrs.get("lrlab_surplus") for t in trials
        )
        waiting = sum(t.state.name == "WAITING" for t in trials)
        if finished >= s.target:
            return finished, "stop"
        if budget is not None:
            spent = sum(int(t.user_attrs.get("steps", 0)) for t in trials)
            if spent + s.per_trial > budget:
                return finished, "stop"
        if finished + running >= s.target and not waiting:
            # Without heartbeats a killed worker's trial stays RUNNING for ever: waiting
            # could hang, so stop; a rerun tops the study up if one failed.
            return finished, "wait" if heartbeat else "stop"
        return finished, "run"

    reap = Reaper(store) if heartbeat else None
    with progress_bar(s.target, f"tune {s.study}", s.quiet, leave=True, unit="trial") as bar:
        work(st, _Objective(s), next_step, reap=reap, bar=bar, catch=s.catch)


def _race(st: Any, store: Any, s: Settings) -> Any:
    """Race the finalists (with ``s.finalists``); the confirmation study, or ``None``."""
    import optuna

    if s.finalists:
        return race(st, store, s)
    try:  # runs of an earlier call that raced: their steps were spent on this study
        return optuna.load_study(study_name=s.study + SUFFIX, storage=store)
    except KeyError:
        return None


def load(
    study: str, storage: str | None = None, *, run_dir: str | Path = "lrlab-runs"
) -> TuneResult:
    """The :class:`~lrlab.tune.TuneResult` of the stored study ``study`` (and its
    finalists' runs), read back without training: for :func:`lrlab.report.build_report`
    and anyone who wants to look at a study again.  ``storage`` as for :func:`tune`.

    Raises:
        UsageError: there is no study of that name in the storage (the message lists
            the studies there).
    """
    import optuna

    if check_study(study) is None:
        raise UsageError("Argument `study` must be a study name (not blank). Received: study=None")
    with _quiet_optuna():
        store, shown = open_storage(storage, run_dir)
        names = [n for n in optuna.get_all_study_names(store) if not n.endswith(SUFFIX)]
        if study not in names:
            there = ", ".join(repr(n) for n in sorted(names)) or "none"
            raise UsageError(
                f"Argument `study` must name a study in {shown} (there: {there}). "
                f"Received: study={study!r}"
            )
        st = optuna.load_study(study_name=study, storage=store)
        try:
            confirm = optuna.load_study(study_name=study + SUFFIX, storage=store)
        except KeyError:
            confirm = None
        meta = st.user_attrs.get("lrlab") or {}
        raced = [] if confirm is None else confirm.get_trials(deepcopy=False)
        pairs = {
            (int(t.user_attrs["finalist"]), int(t.user_attrs["seed"]))
            for t in raced
            if "finalist" in t.user_attrs and "seed" in t.user_attrs
        }
        done = sum(t.state.name in FINISHED for t in st.get_trials(deepcopy=False))
        return TuneResult.from_study(
            st, shown, target=int(meta.get("target", done)), task=str(meta.get("objective",
            meta.get("task", "?"))), finalists_study=confirm, finalists=len({f for f, _ in pairs}),
            extra_seeds=sorted({s for _, s in pairs}), repeats=int(meta.get("repeats", 1)),
        )  # fmt: skip
