"""Pruners replayed on recorded curves: what each one saves and what it throws away.

A study's outcome depends on which trials its sampler happened to draw, so
comparing pruners by running studies mixes their effect with the sampler's
luck.  This benchmark takes that luck out:

1. per task, a random search over the default space (2 optimizers x 4 schedule
   families and their parameters) runs every trial to the end without pruning,
   recording each trial's validation curve and final loss;
2. each pruner then replays the same trials in the same ``--orders`` random
   orders: at each of a trial's evaluation steps it is asked, with exactly the
   trials completed so far in the replay, whether to prune; a pruned trial
   stops there and does not count as completed.

The pruners are lrlab's own (``tune``'s ``median`` and ``projected``, the same
objects ``tune`` uses) and two measured alternatives, not kept:
``projected_family_seen``, which prunes no trial of a schedule family (unless
it diverges) until one of that family has completed, and
``projected_own_family``: the projection with the improvements of the trial's
own schedule family only (all completed trials standing in until one of its
family has finished).  Per task and pruner it prints the share of the
unpruned steps spent, the mean number of the 5 best trials pruned, and how
often the best surviving trial is within 1% of the best of all (and its mean
ratio to it).  Prints JSON.

    python benchmarks/bench_pruning.py            # 4 tasks, 100 trials (60 on mnist1d), 200 orders
    python benchmarks/bench_pruning.py --quick    # breast_cancer, 30 trials, 20 orders
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np
import optuna

from lrlab.tune import tune
from lrlab.tune._projected import ProjectedPruner as _ProjectedPruner
from lrlab.tune._pruners import make_pruner as _pruner


class _OwnFamily(_ProjectedPruner):
    """``projected`` with the improvements of the trial's own schedule family only."""

    def _envelope(self, done: list[Any], trial: Any) -> list[Any]:
        own = [t for t in done if t.params.get("schedule") == trial.params.get("schedule")]
        return own or done


class _FamilySeen(_ProjectedPruner):
    """``projected`` once a trial of the same schedule family has completed; before, only
    a diverged trial is pruned."""

    def prune(self, study: Any, trial: Any) -> bool:
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if any(t.params.get("schedule") == trial.params.get("schedule") for t in done):
            return super().prune(study, trial)
        return not math.isfinite(trial.intermediate_values[trial.last_step])


class _Never:
    """No pruning: every trial runs to its end."""

    def prune(self, study: Any, trial: Any) -> bool:
        return False


def _pruners(steps: int) -> dict[str, Any]:
    """Each replayed rule's pruner; ``median`` and ``projected`` are ``tune``'s own."""
    projected = _pruner("projected", None, steps, 1, 1)
    n = projected.n_startup_trials
    return {
        "none": _Never(),
        "median": _pruner("median", None, steps, 1, 1),
        "projected": projected,
        "projected_family_seen": _FamilySeen(n),
        "projected_own_family": _OwnFamily(n),
    }


def record(task: str, trials: int, seed: int) -> list[Any]:
    """Every trial of an unpruned random search, run to its end."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/curves.db"
        res = tune(task, sampler="random", trials=trials, pruner="none", storage=url, seed=seed)
        study = optuna.load_study(study_name=res.study, storage=url)
        return [
            t
            for t in study.get_trials(deepcopy=True)
            if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
        ]


def replay(
    recorded: list[Any], order: np.ndarray, pruner: Any
) -> tuple[int, set[int], list[tuple[int, float]]]:
    """(steps spent, indices pruned, trace) of one replay.

    The trace has, after each trial, the steps spent so far and the best final
    loss of the trials completed so far.
    """
    study = optuna.create_study()  # in memory: the trials completed so far in this replay
    spent, pruned, best = 0, set(), math.inf
    trace: list[tuple[int, float]] = []
    for i in order:
        t = recorded[i]
        cut = None
        seen: dict[int, float] = {}
        for step, value in sorted(t.intermediate_values.items()):
            seen[step] = value
            running = optuna.trial.create_trial(
                params=t.params,
                distributions=t.distributions,
                intermediate_values=dict(seen),
                state=optuna.trial.TrialState.RUNNING,
            )
            if pruner.prune(study, running):
                cut = step
                break
        if cut is None:
            study.add_trial(t)
            spent += int(t.user_attrs["steps"])
            best = min(best, t.value)
        else:
            pruned.add(int(i))
            spent += cut
        trace.append((spent, best))
    return spent, pruned, trace


def at_budget(trace: list[tuple[int, float]], budget: int) -> float:
    """The best final loss found by the trials that fit in ``budget`` steps."""
    fits = [b for spent, b in trace if spent <= budget]
    return fits[-1] if fits else math.inf


BUDGETS = (8, 16)  # in runs of the task's length


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--orders", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.quick:
        cases = {"breast_cancer": 30}
    else:
        cases = {"digits": 100, "breast_cancer": 100, "diabetes": 100, "mnist1d": 60}
    orders = args.orders or (20 if args.quick else 200)
    out: dict[str, Any] = {"orders": orders, "seed": args.seed, "tasks": {}}
    start = time.time()
    for task, n in cases.items():
        t0 = time.time()
        recorded = record(task, n, args.seed)
        finals = np.array([t.value for t in recorded])
        ok = np.isfinite(finals)
        best = float(finals[ok].min())
        top5 = set(np.argsort(np.where(ok, finals, np.inf))[:5].tolist())
        full = sum(int(t.user_attrs["steps"]) for t in recorded)
        steps = max(max(t.intermediate_values) for t in recorded if t.intermediate_values)
        rng = np.random.default_rng(args.seed)
        perms = [rng.permutation(len(recorded)) for _ in range(orders)]
        row: dict[str, Any] = {"trials": len(recorded), "unpruned_steps": full}
        for rule, pruner in _pruners(steps).items():
            shares, top, within, ratio = [], [], [], []
            budgeted: dict[int, list[float]] = {b: [] for b in BUDGETS}
            for perm in perms:
                spent, pruned, trace = replay(recorded, perm, pruner)
                got = trace[-1][1]
                shares.append(spent / full)
                top.append(len(top5 & pruned))
                within.append(got <= 1.01 * best)
                ratio.append(got / best)
                for b in BUDGETS:
                    budgeted[b].append(at_budget(trace, b * steps) / best)
            row[rule] = {
                "share_of_steps": round(float(np.mean(shares)), 4),
                "top5_pruned": round(float(np.mean(top)), 3),
                "best_within_1pct": round(float(np.mean(within)), 3),
                "best_ratio_mean": round(float(np.mean(ratio)), 4),
            }
            for b, r in budgeted.items():
                arr = np.array(r)
                row[rule][f"budget_{b}_runs"] = {
                    "within_1pct": round(float(np.mean(arr <= 1.01)), 3),
                    "ratio_median": round(float(np.median(arr)), 4),
                    "ratio_p90": round(float(np.quantile(arr, 0.9)), 4),
                }
        row["seconds"] = round(time.time() - t0, 1)
        out["tasks"][task] = row
        print(f"{task}: {row}", file=sys.stderr)
    out["seconds"] = round(time.time() - start, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
