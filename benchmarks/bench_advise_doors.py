"""One method, two doors: ``lrlab.tune.advise`` through the task's objective against
``lrlab.finder.find_lr_task`` on the advice suite's cases and seeds.

For every case of the suite (:mod:`advice_suite`) and seed 0-2 both doors give lrlab's
advice at the default budget; each pick (a lattice rate) is scored by the grid's run at
that rate and seed (:mod:`suite_grid`'s cache), as ``bench_advice_suite`` scores its
real runs.  Printed: how often the two picks agree, the mean lattice distance between
them, each door's ratio to the grid's best (per case, and the geometric mean over
cases) and the steps each spent.  Where they differ, it is by design: the sweep is the
same (the same model, batches and rates), but ``advise``'s probes are fresh runs of the
objective on the seed's own batch order, where ``find_lr_task``'s probes continue the
batch stream after the sweep; and a rate the race continues is rerun from the start, so
``advise`` spends more steps.  The families with weight decay in the suite are run
without it by both doors (``advise`` takes no optimizer options).

    python benchmarks/bench_advise_doors.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings

import advice_suite
import numpy as np
from bench_advice_suite import SEEDS, load_grids, ratio

from lrlab.errors import LrlabWarning
from lrlab.finder import find_lr_task
from lrlab.finder.advice import lattice_index
from lrlab.tune import advise


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two families")
    args = p.parse_args()
    warnings.simplefilter("ignore", LrlabWarning)
    cases = advice_suite.cases(["wine_logreg", "blobs_mse"] if args.quick else None)
    grids = load_grids(cases)
    rows, same, dist = {}, 0, []
    t0 = time.time()
    for n, c in enumerate(cases):
        task = advice_suite.make(c.family)
        picks: dict[str, list[int]] = {"find_lr_task": [], "advise": []}
        spent: dict[str, list[float]] = {"find_lr_task": [], "advise": []}
        for s in SEEDS:
            for door, res in (
                ("find_lr_task", find_lr_task(task, c.optimizer, seed=s)),
                ("advise", advise(task, optimizer=c.optimizer, seed=s)),
            ):
                assert res.suggestion is not None
                picks[door].append(round(lattice_index(res.suggestion.lr)))
                spent[door].append(res.steps / task.steps)
            same += picks["advise"][-1] == picks["find_lr_task"][-1]
            dist.append(abs(picks["advise"][-1] - picks["find_lr_task"][-1]))
        rows[c.key] = {
            door: {"picks": picks[door], "ratio": ratio(grids[c.key], picks[door]),
                   "steps_fraction": float(np.mean(spent[door]))}
            for door in picks
        }  # fmt: skip
        print(f"[{n + 1}/{len(cases)}] {c.key}: {rows[c.key]} ({time.time() - t0:.0f} s)",
              file=sys.stderr)  # fmt: skip

    def gmean(door: str) -> float:
        r = [min(rows[k][door]["ratio"], 2.0) for k in rows]
        return float(math.exp(np.mean(np.log(r))))

    out = {
        "cases": len(rows),
        "trials": len(rows) * len(SEEDS),
        "same_pick": same,
        "mean_lattice_distance": float(np.mean(dist)),
        "geomean_ratio_to_grid_best": {d: gmean(d) for d in ("find_lr_task", "advise")},
        "advise_over_find_lr_task_geomean": gmean("advise") / gmean("find_lr_task"),
        "steps_fraction_mean": {
            d: float(np.mean([rows[k][d]["steps_fraction"] for k in rows]))
            for d in ("find_lr_task", "advise")
        },
        "per_case": rows,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
