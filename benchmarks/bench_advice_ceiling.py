"""How well *could* an advice do at a given cost?  Ceilings for the advice suite's targets.

An advice at ``budget=0.25`` sees a quarter of one run's steps; at ``budget=1``, one run's.
This benchmark asks what far more generous methods reach on the same cases and the same
scoring (:mod:`bench_advice_suite`: mean final validation loss over seeds 0-2 at each
seed's pick, over the best constant rate of the 21-rate grid), from the grid's recorded runs
alone, with no training:

* **short horizon, best shift** -- train *all 21* lattice rates for a fraction ``f`` of the
  run (``21 f`` runs' worth of steps), take the rate with the lowest validation loss at that
  point, and move it ``k`` lattice steps (a factor of about 2 each; the horizon factor of
  lrlab's rule is such a shift).  The shift is chosen *in sample*, the best over the very
  cases it is scored on, so the figures are upper bounds for this family of rules.  The
  runs read are those of another seed (other initial weights and batch order), and, where
  ``suite_grid.py --batch-offset`` has been run, runs from the scored seed's own initial
  weights with another batch order (a real advice's probes start from the scored run's
  weights and draw other batches: they continue the batch stream after the sweep).  Last,
  the runs being scored themselves: the most that any probe of these lengths could see (at
  ``f = 1`` that is each seed's own best rate, not a method).
* **full grid** (``f = 1``, no shift): the reference method itself on other data, 21 full
  runs: the benchmark's noise floor.

    python benchmarks/bench_advice_ceiling.py            # the suite's 34 cases, then the
                                                         # 10 built-in ones; prints JSON

It needs the caches of ``suite_grid.py`` (committed in ``benchmarks/cache``); the
same-weights rows need ``suite_grid.py --batch-offset 1000 --cache
benchmarks/cache/advice_suite_grid_batch1000.json.gz`` (and ``--design`` for the built-in
tasks' ``advice_design_grid_batch1000.json.gz``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

import advice_suite
import suite_grid
from bench_advice_suite import HERE, SEEDS, Grid, load_grids, objective, ratio, summarise

FRACTIONS = (0.06, 0.1, 0.25, 0.5, 1.0)
SHIFTS = tuple(range(-6, 3))
SAME_WEIGHTS = {
    "suite": os.path.join(HERE, "cache", "advice_suite_grid_batch1000.json.gz"),
    "built_in": os.path.join(HERE, "cache", "advice_design_grid_batch1000.json.gz"),
}


def loss_at(row: dict[str, Any], t: float) -> float:
    """The run's validation loss at its last checkpoint at or before step ``t`` (a run that
    diverged before ``t``, or was not finite there: infinite)."""
    if row["loss"] is None and row["steps"] < t:
        return math.inf
    seen = [v for s, v in zip(row["curve_steps"], row["curve"]) if s <= t]
    return math.inf if not seen or seen[-1] is None else float(seen[-1])


def short_horizon_pick(rows: dict[str, Any], seed: int, f: float, steps: int) -> int:
    """The lattice index whose run (``rows``, seed ``seed``) is lowest at ``f`` of the run
    (at ``f = 1``: by the final validation loss, a blown-up run counting as infinite)."""

    def score(j: int) -> float:
        row = rows[f"{j}|{seed}"]
        if f >= 1.0:
            return math.inf if row["loss"] is None else float(row["loss"])
        return loss_at(row, f * steps)

    return min(suite_grid.GRID_J, key=score)


def ceiling(
    cases: list[advice_suite.Case], grids: dict[str, Grid], source: dict[str, Any] | None
) -> dict[str, Any]:
    """Per fraction ``f``: every shift's summary and the in-sample best shift.

    ``source`` None reads the next seed's runs in the grid itself; otherwise the runs of
    ``source`` (same keys) at the scored seed.
    """
    out: dict[str, Any] = {}
    for f in FRACTIONS:
        base = []
        for c in cases:
            g = grids[c.key]
            picks = []
            for i, s in enumerate(SEEDS):
                if source is None:
                    rows, seed = g.rows, SEEDS[(i + 1) % len(SEEDS)]
                else:
                    rows, seed = source[c.key], s
                picks.append(short_horizon_pick(rows, seed, f, g.steps))
            base.append(picks)
        by_shift = {}
        for k in SHIFTS:
            ratios = [
                ratio(grids[c.key], [min(max(j + k, 0), suite_grid.GRID_J[-1]) for j in p])
                for c, p in zip(cases, base)
            ]
            by_shift[k] = (objective(ratios), summarise(ratios))
        best = min(by_shift, key=lambda k: by_shift[k][0])
        out[f"f={f}"] = {
            "cost_in_runs": round(len(suite_grid.GRID_J) * f, 2),
            "best_shift_in_sample": best,
            "at_best_shift": by_shift[best][1],
            "no_shift": by_shift[0][1],
            "within_5pct_by_shift": {str(k): v[1]["within_5pct"] for k, v in by_shift.items()},
            "most_within_5pct_any_shift": max(v[1]["within_5pct"] for v in by_shift.values()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    report: dict[str, Any] = {}
    for name, fams in (("suite", None), ("built_in", list(advice_suite.DESIGN))):
        cases = advice_suite.cases(fams)
        grids = load_grids(cases)
        part: dict[str, Any] = {"cases": len(cases), "other_seed": ceiling(cases, grids, None)}
        part["scored_run_itself"] = ceiling(cases, grids, {k: g.rows for k, g in grids.items()})
        same = suite_grid.load(SAME_WEIGHTS[name])
        if all(len(same.get(c.key, {})) == len(grids[c.key].rows) for c in cases):
            part["same_weights_other_batches"] = ceiling(cases, grids, same)
        else:
            print(f"{name}: no complete same-weights grid; skipped", file=sys.stderr)
        report[name] = part
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
