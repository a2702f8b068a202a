"""The search loop: one Optuna study, many workers, exact trial counts, counted steps."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lrlab._checks import int_at_least, positive_int, search_seed
from lrlab._progress import progress_bar
from lrlab.errors import UsageError
from lrlab.tune._finalists import SUFFIX, race
from lrlab.tune._trial import Reaper, create_study, surplus, train_runs, work
from lrlab.tune.result import TuneResult
from lrlab.tune.space import Space
from lrlab.tune.storage import has_heartbeat, open_storage

__all__ = ["PRUNERS", "SAMPLERS", "tune"]

SAMPLERS = ("grid", "random", "tpe")
#: TPE's first trials are independent random draws (Optuna's start-up): with
#: the same seed, exactly the draws of ``sampler="random"``.
TPE_STARTUP_TRIALS = 5
PRUNERS = ("none", "median", "projected", "hyperband", "successive_halving", "wilcoxon")
FINISHED = ("COMPLETE", "PRUNED")


def _sampler(name: str, space: Space, seed: int | None) -> Any:
    import optuna

    if name == "grid":
        return optuna.samplers.GridSampler(space.grid_values(), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS)


def _pruner(name: str, cv: int | None, steps: int, eval_every: int, repeats: int) -> Any:
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "projected":
        return _ProjectedPruner(n_startup_trials=3)
    if name == "median":
        # Without CV the steps are training steps: compare a trial with the others
        # only from half the run on.  Early in a run the larger LRs lead and the
        # curves of near-optimal LRs still cross (a smaller LR catches up, or a
        # larger one over-fits later), so an earlier median prunes the best LR.
        warmup = 0 if cv else steps // 2
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup)
    max_resource = cv * repeats if cv else steps * repeats
    min_resource = 1 if cv else min(eval_every, steps)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=min_resource, max_resource=max_resource, reduction_factor=3
        )
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource)
    return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=1)


class _ProjectedPruner:
    """Prune a trial that could not end below the median even improving like the best did.

    At a reported step ``t`` the trial's value ``v(t)`` is carried to the end
    with the largest improvement any completed trial made from ``t`` to its
    end, ``min_c final_c / v_c(t)``; the trial is pruned when even that
    projection is above the median of the completed trials' final values.  A
    median taken at the same step instead prunes the rates whose curves are
    still falling and cross later (smaller rates, rates under a decaying
    schedule); the projection gives them the credit the finished curves show.
    """

    def __init__(self, n_startup_trials: int) -> None:
        self.n_startup_trials = n_startup_trials

    def prune(self, study: Any, trial: Any) -> bool:
        import optuna

        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        if not math.isfinite(value):
            return True
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len(done) < self.n_startup_trials:
            return False
        finals = [t.value for t in done]  # a completed trial has a value (inf if it diverged)
        # The improvements of every completed trial bound the projection: restricting them to
        # the trial's own schedule family was measured and not kept (benchmarks/bench_pruning.py):
        # all families' curves hold each family's own, and fewer curves prune more.
        pairs = [
            (t.intermediate_values[step], t.value)
            for t in done
            if step in t.intermediate_values
            and t.value is not None
            and math.isfinite(t.value)
            and math.isfinite(t.intermediate_values[step])
        ]
        if not pairs:
            return False
        if all(a > 0 and b > 0 for a, b in pairs) and value > 0:
            projected = value * min(b / a for a, b in pairs)
        else:
            projected = value + min(b - a for a, b in pairs)
        return bool(projected > float(np.median(finals)))


def _folds(task: Any, cv: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``cv`` (train, val) index pairs over the task's training set (stratified for classifiers)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(task.x_train)
    if cv > n:
        raise UsageError(
            f"Argument `cv` must be at most the {n} training examples. Received: cv={cv}"
        )
    x = np.zeros((n, 1))
    if task.kind == "classification":
        y = task.y_train.detach().cpu().numpy().reshape(n, -1)
        y = y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)
        splitter: Any = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        try:
            return [(tr, va) for tr, va in splitter.split(x, y)]
        except ValueError as exc:
            raise UsageError(
                f"Argument `cv` is too large for the smallest class of task {task.name!r}. "
                f"Received: cv={cv} ({exc})"
            ) from None
    return [(tr, va) for tr, va in KFold(n_splits=cv, shuffle=True, random_state=seed).split(x)]


class _Objective:
    """Train one configuration (each seed x each fold), report to the pruner, count steps.

    The runs of a trial are ordered seed-major: seed ``seed``'s folds, then seed
    ``seed + 1``'s, ...  With ``cv`` the trial reports after each run (index
    ``k``): the mean of the runs so far, or, for the Wilcoxon pruner, the run's
    own loss.  Without ``cv`` it reports at every evaluation, on one step axis
    across its runs (run ``k``'s step ``s`` is step ``k * steps + s``), the mean
    of the finished runs' losses and the current one: with one run that is the
    validation loss itself, and the pruner can stop a trial inside any run.
    """

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
        point = trial.study._storage.get_trial_system_attrs(trial._trial_id).get("grid_id")
        return any(
            t.system_attrs.get("grid_id") == point
            and (t.state in (S.COMPLETE, S.PRUNED) or t.number < trial.number)
            for t in live
        )

    def __call__(self, trial: Any) -> float:
        import optuna

        if self._surplus(trial):
            surplus(trial)
        s = self.s
        cfg = s.space.sample(trial, grid=s.sampler == "grid")
        sched = s.space.build(cfg["schedule"], cfg["lr"], s.steps, cfg["params"])
        trial.set_user_attr("config", {**cfg, "schedule_config": sched.to_config()})

        def on_eval(losses: list[float], step: int, val_loss: float, spent: int) -> None:
            if s.folds is None:  # one step axis across the runs
                trial.report((sum(losses) + val_loss) / (len(losses) + 1), spent)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at step {step} of run {len(losses)}")

        def after_run(k: int, losses: list[float]) -> None:
            if s.folds is not None:
                trial.report(losses[-1] if s.pruner == "wilcoxon" else float(np.mean(losses)), k)
                if k < s.repeats * len(s.folds) - 1 and trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after run {k}")

        seeds = range(s.seed, s.seed + s.repeats)
        args = (trial, s.task, cfg["optimizer"], sched, s.steps, seeds, s.folds)
        return train_runs(*args, on_eval=on_eval, after_run=after_run)


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


def tune(
    task: Any,
    *,
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
    steps: int | None = None,
    seed: int = 0,
    worker: int = 0,
    budget: int | None = None,
    heartbeat_interval: int = 5,
    grace_period: int | None = None,
    quiet: bool = True,
) -> TuneResult:
    """Search learning rate, optimizer and schedule for ``task`` with Optuna.

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
        task: a :class:`lrlab.tasks.Task` or a built-in task name.
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
        study: the study name (default ``"<task>-<sampler>"``).
        run_dir: folder of the default SQLite file.
        steps: training steps per run (default ``task.steps``).
        seed: model initialisation / batch order of every run, fold split, sampler seed.
        worker: added to the sampler's seed so that workers sample differently
            (not on a grid: there every worker must map a grid id to the same
            point, and each point runs once).
        budget: stop before a trial could take the study's total steps above this.
        heartbeat_interval, grace_period: heartbeat of RDB storages (seconds).
        quiet: no progress bar (also hidden when stderr is not a terminal).

    Returns:
        A :class:`~lrlab.tune.TuneResult`.
    """
    s = Settings.build(**locals())  # every argument, by name, checked once
    with _quiet_optuna():
        store, shown = open_storage(
            s.storage,
            s.run_dir,
            heartbeat_interval=s.heartbeat_interval,
            grace_period=s.grace_period,
        )
        st = _open_study(store, shown, s)
        _search(st, store, s)
        return TuneResult.from_study(
            st,
            shown,
            target=s.target,
            task=s.task.name,
            finalists_study=_race(st, store, s),
            finalists=s.finalists,
            extra_seeds=s.finalist_seed_list,
            repeats=s.repeats,
        )


@dataclass(frozen=True)
class Settings:
    """The arguments of one :func:`tune` call, checked once, defaults resolved."""

    task: Any
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
    seed: int
    worker: int
    budget: int | None
    heartbeat_interval: int
    grace_period: int | None
    quiet: bool
    folds: list[tuple[np.ndarray, np.ndarray]] | None

    @classmethod
    def build(cls, *, task: Any, trials: int, space: Space | None, **kw: Any) -> Settings:
        """Check ``tune``'s arguments (each error names its argument) and resolve defaults."""
        from lrlab import tasks

        sampler, pruner, cv, budget = kw["sampler"], kw["pruner"], kw["cv"], kw["budget"]
        _check_one_of("sampler", sampler, SAMPLERS)
        _check_one_of("pruner", pruner, PRUNERS)
        positive_int("trials", trials)
        if cv is not None:
            int_at_least("cv", cv, 2, "an integer of at least 2 (or None)")
        if pruner == "wilcoxon" and cv is None:
            raise UsageError(
                "Argument `pruner` may be 'wilcoxon' only with cross-validation. "
                "Received: pruner='wilcoxon', cv=None"
            )
        for name, low in _COUNTS:
            what = "a positive integer" if low else "a non-negative integer"
            int_at_least(name, kw[name], low, what)
        if budget is not None:
            positive_int("budget", budget)
        search_seed("seed", kw["seed"])
        if kw["grace_period"] is not None:
            positive_int("grace_period", kw["grace_period"])
        study = kw["study"]
        if study is not None and not (isinstance(study, str) and study.strip()):
            raise UsageError(
                "Argument `study` must be a study name (not blank) or None. "
                f"Received: study={study!r}"
            )
        task = tasks.get(task) if isinstance(task, str) else task
        if not isinstance(task, tasks.Task):
            raise UsageError(
                f"Argument `task` must be a Task or a task name. Received: task={task!r}"
            )
        steps = int(task.steps) if kw["steps"] is None else positive_int("steps", kw["steps"])
        space = Space() if space is None else space
        if not isinstance(space, Space):
            raise UsageError(
                f"Argument `space` must be a lrlab.tune.Space. Received: space={space!r}"
            )
        s = cls(
            **{**kw, "study": kw["study"] or f"{task.name}-{sampler}", "steps": steps},
            task=task,
            target=min(trials, space.grid_size()) if sampler == "grid" else trials,
            space=space,
            folds=_folds(task, cv, kw["seed"]) if cv else None,
        )
        if budget is not None and budget - s.reserve < s.per_trial:
            runs = (
                f" and the finalists' runs ({s.finalists} x {s.finalist_seeds} x {s.per_run} steps)"
                if s.finalists
                else ""
            )
            raise UsageError(
                f"Argument `budget` must cover one trial ({s.per_trial} steps){runs}. "
                f"Received: budget={budget}"
            )
        return s

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


def _check_one_of(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UsageError(
            f"Argument `{name}` must be one of {', '.join(allowed)}. Received: {name}={value!r}"
        )


#: The count arguments of ``tune`` checked alike, with their least value.
_COUNTS = (
    ("repeats", 1),
    ("finalists", 0),
    ("finalist_seeds", 1),
    ("worker", 0),
    ("heartbeat_interval", 1),
)


def _open_study(store: Any, shown: str, s: Settings) -> Any:
    """Create or load study ``s.study``; a resumed study must be for the same task and settings."""
    # Workers sample differently (seed + 7919 * worker), except on a grid: there the
    # seed shuffles the grid, and every worker must map a grid id to the same point.
    seed = s.seed if s.sampler == "grid" else s.seed + 7919 * s.worker
    st = create_study(
        s.study,
        store,
        _sampler(s.sampler, s.space, seed),
        _pruner(s.pruner, s.cv, s.steps, int(s.task.eval_every), s.repeats),
    )
    meta = {
        "task": s.task.name,
        "sampler": s.sampler,
        "cv": s.cv,
        "repeats": s.repeats,
        "steps": s.steps,
        "seed": s.seed,
        "space": s.space.describe(),
    }
    stored = st.user_attrs.get("lrlab")
    if stored is None:
        st.set_user_attr("lrlab", meta)
    else:
        for key in ("task", "cv", "repeats", "steps"):
            was = stored.get(key, 1 if key == "repeats" else None)  # studies before `repeats`
            if was != meta[key]:
                raise UsageError(
                    f"Argument `study` names a study in {shown} made with "
                    f"{key}={was!r}; "
                    f"it cannot be resumed with {key}={meta[key]!r}. Received: study={s.study!r}"
                )
        # Said even when quiet: a rerun of the same call returns the old study's trials,
        # which is right for a resume and a surprise for anyone who wanted a new search.
        done = sum(t.state.name in FINISHED for t in st.get_trials(deepcopy=False))
        print(
            f"lrlab: resumed study {s.study!r} in {shown} with {done} finished trials "
            "(pass another study= / --study for a new search)",
            file=sys.stderr,
        )
    return st


def _search(st: Any, store: Any, s: Settings) -> None:
    """Run the study's trials until it holds ``s.target`` finished ones or the budget is spent."""
    heartbeat = has_heartbeat(store)
    budget = None if s.budget is None else s.budget - s.reserve

    def next_step(trials: list[Any]) -> tuple[int, str]:
        finished = sum(t.state.name in FINISHED for t in trials)
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
        work(st, _Objective(s), next_step, reap=reap, bar=bar)


def _race(st: Any, store: Any, s: Settings) -> Any:
    """Race the finalists (with ``s.finalists``); the confirmation study, or ``None``."""
    import optuna

    if s.finalists:
        return race(st, store, s)
    try:  # runs of an earlier call that raced: their steps were spent on this study
        return optuna.load_study(study_name=s.study + SUFFIX, storage=store)
    except KeyError:
        return None
