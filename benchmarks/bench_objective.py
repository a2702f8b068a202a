"""What the trial contract costs: a search's trials against the same runs called directly.

For each built-in task, the same grid of configurations (every rate of a 4-point grid x
{constant, cosine}, SGD + momentum, 1 seed, no pruning) is trained three ways in one
process, interleaved over ``--rounds`` rounds so that a slow moment of the machine hits
all three alike:

* ``direct``: ``lrlab.train.run`` once per configuration, in a plain loop (no Optuna);
* ``task``: ``tune(task, sampler="grid", pruner="none", storage="memory")``: the built-in
  task as the objective lrlab ships (``TaskObjective``);
* ``objective``: ``tune(objective, ...)`` of a user's objective that trains the same task
  with ``run`` and reports each evaluation, as docs/own-training.md shows.

Printed as JSON: per task the median seconds of each way and the ratios
``task / direct`` and ``objective / task`` (issue 24's target: the objective path within
2% of the task path, a ratio <= 1.02).

    python benchmarks/bench_objective.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from typing import Any

import optuna
import torch

from lrlab import tasks
from lrlab.errors import LrlabWarning
from lrlab.train import run
from lrlab.tune import Space, Trial, tune


def _own(task: tasks.Task) -> Any:
    def objective(trial: Trial) -> float:
        def evaluated(step: int, loss: float) -> None:
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        hist = run(
            task, trial.optimizer_name, schedule=trial.schedule, steps=trial.steps,
            seed=trial.seed, on_eval=evaluated, step_size_every=10**9,
        )  # fmt: skip
        return float(hist.final_val_loss)

    return objective


def _ways(task: tasks.Task, space: Space, steps: int) -> dict[str, Any]:
    configs = [(lr, fam) for lr in space.grid_values()["lr"] for fam in space.schedules]

    def direct() -> None:
        for lr, fam in configs:
            sched = space.build(fam, lr, steps, space.families[fam].defaults)
            run(task, "momentum", schedule=sched, steps=steps, seed=0, step_size_every=10**9)

    kw = dict(sampler="grid", pruner="none", trials=len(configs), space=space,
              storage="memory", steps=steps)  # fmt: skip

    def via_task() -> None:
        tune(task, **kw)  # type: ignore[arg-type]

    def via_objective() -> None:
        tune(_own(task), **kw)  # type: ignore[arg-type]

    return {"direct": direct, "task": via_task, "objective": via_objective}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one small task, two rounds")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", LrlabWarning)
    names = ["breast_cancer"] if args.quick else ["breast_cancer", "digits", "diabetes"]
    rounds = 2 if args.quick else args.rounds
    space = Space(lr=(1e-3, 0.3), optimizers=("momentum",), schedules=("constant", "cosine"),
                  grid_points=4)  # fmt: skip
    out: dict[str, Any] = {"rounds": rounds, "configs": space.grid_size(), "tasks": {}}
    for name in names:
        task = tasks.get(name)
        steps = 40 if args.quick else int(task.steps)
        ways = _ways(task, space, steps)
        times: dict[str, list[float]] = {k: [] for k in ways}
        for _ in range(rounds):
            for k, fn in ways.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        out["tasks"][name] = {
            "steps": steps,
            "seconds": med,
            "task_over_direct": med["task"] / med["direct"],
            "objective_over_task": med["objective"] / med["task"],
        }
        print(f"{name}: {out['tasks'][name]}", file=sys.stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
