"""Racing the finalists: a search's best trials retrained on more seeds, picked by the mean.

A search scores each configuration on one seed (or ``repeats`` seeds), and
among the near-ties at the top of a study that seed's luck often decides: on
``digits`` with Adam, seed 0 scores 0.0025 and 0.005 alike, seeds 1 and 2 lose
9-14% at 0.005.  After the search, :func:`race` trains the ``k`` best
completed trials on ``seeds`` more seeds each (``seed + repeats``, ...; with
``cv`` every fold for each seed) and :class:`~lrlab.tune.TuneResult` picks the
finalist with the lowest mean over all its seeds.

Each confirmation run is one trial of a second study, ``"<study>:finalists"``,
in the same storage, keyed by ``(finalist trial number, seed)``: the search
study's sampler and pruner never see these runs, several workers share the
work and do each run exactly once (a worker claims a run, then yields it to a
lower-numbered trial that claimed it too), a run of a killed worker is failed
by the heartbeat and redone, and a resumed or extended study reuses the runs it
already has.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lrlab._progress import progress_bar
from lrlab.tune._folds import Folds
from lrlab.tune._runs import Runs
from lrlab.tune._worker import Reaper, create_study, surplus, work
from lrlab.tune.storage import has_heartbeat

if TYPE_CHECKING:
    from lrlab.tune._settings import Settings

__all__ = ["SUFFIX", "confirmed", "finalists", "race"]

#: The confirmation study's name is the search study's name with this suffix.
SUFFIX = ":finalists"


def finalists(st: Any, k: int) -> list[Any]:
    """The ``k`` best completed trials of study ``st`` with a finite value (ties: lower number)."""
    import optuna

    done = [
        t
        for t in st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.value is not None and math.isfinite(t.value) and not t.user_attrs.get("lrlab_surplus")
    ]
    return sorted(done, key=lambda t: (t.value, t.number))[:k]


def _pair(t: Any) -> tuple[int, int] | None:
    f, s = t.user_attrs.get("finalist"), t.user_attrs.get("seed")
    return None if f is None or s is None else (int(f), int(s))


def _live(t: Any) -> bool:
    return t.state.name in ("COMPLETE", "RUNNING") and not t.user_attrs.get("lrlab_surplus")


def confirmed(trials: list[Any]) -> dict[tuple[int, int], float]:
    """``{(finalist trial number, seed): loss}`` of the finished runs among ``trials``."""
    return {
        pair: float(t.value)
        for t in trials
        if t.state.name == "COMPLETE" and _live(t) and (pair := _pair(t)) is not None
    }


class _Confirm:
    """One confirmation run per trial: claim an undone ``(finalist, seed)`` pair and train it."""

    def __init__(
        self,
        objective: Callable[[Any], float],
        steps: int,
        folds: Folds,
        finalists: dict[int, Any],
        pairs: list[tuple[int, int]],
        claim_timeout: float = 10.0,
    ) -> None:
        self.objective, self.steps, self.folds = objective, steps, folds
        self.finalists, self.pairs, self.claim_timeout = finalists, pairs, claim_timeout

    def _lower(self, trial: Any) -> list[Any]:
        return [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number]

    def _claim(self, trial: Any) -> tuple[int, int] | None:
        """The pair this trial trains, or ``None`` when every pair is taken.

        Two workers may pick the same pair at once; each records its pick, waits
        until every lower-numbered running trial has recorded one, and the
        higher-numbered of two trials with the same pick yields.
        """
        taken = {_pair(t) for t in self._lower(trial) if _live(t)}
        free = [p for p in self.pairs if p not in taken]
        if not free:
            return None
        pair = free[0]
        trial.set_user_attr("finalist", pair[0])
        trial.set_user_attr("seed", pair[1])
        deadline = time.monotonic() + self.claim_timeout
        while True:
            lower = self._lower(trial)
            unknown = [t for t in lower if _live(t) and t.state.name == "RUNNING" and not _pair(t)]
            if not unknown or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if any(_live(t) and _pair(t) == pair for t in lower):
            return None
        return pair

    def __call__(self, trial: Any) -> float:
        """Train the claimed finalist on its new seed, the objective's own parameters
        replayed (``trial.optuna`` is a ``FixedTrial`` of the finalist's)."""
        import optuna

        from lrlab.schedules import rule_from_config

        pair = self._claim(trial)
        if pair is None:
            surplus(trial)
        number, seed = pair
        best = self.finalists[number]
        cfg = best.user_attrs["config"]
        sched = rule_from_config(cfg["schedule_config"])
        runs = Runs(
            trial, self.objective, steps=self.steps, folds=self.folds, prune=False,
            shown=optuna.trial.FixedTrial(best.params, number=number),
        )  # fmt: skip
        return run_configuration(runs, cfg, sched, seed)


def run_configuration(runs: Runs, config: dict[str, Any], schedule: Any, seed: int) -> float:
    """One finalist's confirmation run on ``seed`` (every fold)."""
    return runs(config, schedule, [seed])


def race(st: Any, store: Any, s: Settings) -> Any:
    """Train the ``s.finalists`` best trials of ``st`` on ``s.finalist_seed_list``; returns
    the confirmation study.

    Nothing is trained while the search is not settled (another worker's
    trial still running on a storage without heartbeats: that worker, or a
    rerun, races the finalists).  No run starts that could take the steps of both
    studies above ``s.budget``.
    """
    import optuna

    cst = create_study(
        st.study_name + SUFFIX, store, optuna.samplers.RandomSampler(), optuna.pruners.NopPruner()
    )
    heartbeat = has_heartbeat(store)
    reap = Reaper(store) if heartbeat else None
    while True:
        if reap is not None:
            reap(st)
        running = [
            t
            for t in st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if not t.user_attrs.get("lrlab_surplus")
        ]
        if not running:
            break
        if not heartbeat:
            return cst
        time.sleep(0.25)
    best = finalists(st, s.finalists)
    pairs = [(t.number, seed) for t in best for seed in s.finalist_seed_list]
    objective = _Confirm(s.objective, s.steps, s.folds, {t.number: t for t in best}, pairs)
    reap_runs = Reaper(store) if heartbeat else None  # its own clock for the runs

    def next_step(trials: list[Any]) -> tuple[int, str]:
        done = set(confirmed(trials))
        busy = {_pair(t) for t in trials if t.state.name == "RUNNING" and _live(t)}
        n_done = sum(p in done for p in pairs)
        if n_done == len(pairs):
            return n_done, "stop"
        if all(p in done or p in busy for p in pairs):
            # without heartbeats the other worker finishes; a rerun redoes a run it lost
            return n_done, "stop" if reap_runs is None else "wait"
        if s.budget is not None:
            searched = st.get_trials(deepcopy=False)
            spent = sum(int(t.user_attrs.get("steps", 0)) for t in searched + trials)
            if spent + s.per_run > s.budget:
                return n_done, "stop"
        return n_done, "run"

    desc = f"finalists {st.study_name}"
    with progress_bar(len(pairs), desc, s.quiet or not pairs, leave=True, unit="run") as bar:
        work(cst, objective, next_step, reap=reap_runs, bar=bar)
    return cst
