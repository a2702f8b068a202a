"""A learning-curve extrapolation carry, replayed paired: measured, not kept (issue 26).

Instead of moving the race's pick by a horizon exponent, each rate that survived the race has
its validation loss extrapolated from the race's length ``L`` to the run's ``H`` along the
straight line of ``log loss`` against ``log step`` fitted over the race's last
``1 - frac`` of steps: ``log loss(H) = fit(L) + w * slope * log(H / L)``.  The advice is the
survivor with the lowest extrapolated loss.  ``w`` (a damping of the extrapolation) is chosen
leave-one-family-out on the suite; the built-in tasks are held out with the ``w`` the whole
suite chooses.  The same cases, seeds, replay and paired scoring as ``bench_advice_paired``.

    python benchmarks/bench_advice_extrapolate.py     # about 10 s, JSON on stdout
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import advice_paired as P
import advice_suite
import bench_advice_paired as B
import numpy as np

from lrlab.finder.advice import DEFAULT_RULE, THOROUGH_RULE, advise, lattice, lattice_index

WS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
Pick = Callable[[B.Row], int]


def _with_curves(case: advice_suite.Case, same: dict[str, Any], sweeps: dict[str, Any],
                 budget: float) -> list[B.Row]:  # fmt: skip
    """:func:`bench_advice_paired.race_rows`, each row with its survivors' race curves."""
    rows = _race_rows(case, same, sweeps, budget)
    task = advice_suite.make(case.family)
    rule = DEFAULT_RULE if budget < 0.5 else THOROUGH_RULE
    for row in rows:
        sw, probe = sweeps[f"{case.key}|{row['seed']}"], B._probe(same, row["seed"])
        a = advise(sw["anchor"], probe, horizon=task.steps,
                   budget=int(budget * task.steps) - sw["sweep_steps"], rule=rule,
                   deterministic=task.full_batch)  # fmt: skip
        held = {round(lattice_index(lr)) for lr, k, v in a.probes
                if k == a.length and math.isfinite(v)}  # fmt: skip
        row["curves"] = {j: probe(lattice(j), a.length) for j in sorted(held)}
    return rows


_race_rows = B.race_rows


def extrapolated(row: B.Row, w: float, frac: float) -> int:
    """The survivor whose loss, extrapolated to the run's length, is lowest."""
    best, pick = math.inf, None
    for j, pts in row["curves"].items() if row["carry"] else ():
        tail = [(t, v) for t, v in pts if t > frac * row["L"] and math.isfinite(v) and v > 0]
        if len(tail) < 3:
            continue
        x, y = np.log([t for t, _ in tail]), np.log([v for _, v in tail])
        slope, icept = np.polyfit(x, y, 1)
        pred = icept + slope * x[-1] + w * slope * math.log(row["H"] / row["L"])
        if pred < best:
            best, pick = pred, j
    return int(row["shipped"]) if pick is None else pick


def _geomean(cases: list[B.Case], budget: float, pick: Pick) -> float:
    per = {c.key: c.r(c.losses([pick(r) for r in c.races[budget]]), c.best) for c in cases}
    return float(P.paired(per, draws=1)["geomean"])


def judged(suite: list[B.Case], held: list[B.Case], budget: float, frac: float) -> dict[str, Any]:
    """Leave-one-family-out on the suite, in sample on it, and held out on the built-in tasks."""
    form = {w: (lambda r, w=w: extrapolated(r, w, frac)) for w in WS}
    picks: dict[str, list[int]] = {}
    for fam in sorted({c.family for c in suite}):
        train = [c for c in suite if c.family != fam]
        pick = form[min(WS, key=lambda w: _geomean(train, budget, form[w]))]
        picks.update({c.key: [pick(r) for r in c.races[budget]] for c in suite if c.family == fam})
    lofo = P.paired({c.key: c.r(c.losses(picks[c.key]), c.best) for c in suite})
    inside = {w: round(_geomean(suite, budget, form[w]), 4) for w in WS}
    w_all = min(inside, key=lambda w: inside[w])
    return {"lofo": lofo, "in_sample_by_w": inside, "w_chosen": w_all,
            "built_in_held_out": round(_geomean(held, budget, form[w_all]), 4)}  # fmt: skip


def main() -> int:
    t0 = time.time()
    B.race_rows = _with_curves
    suite = B.build(advice_suite.cases(list(advice_suite.FAMILIES)), "advice_suite", t0)
    held = B.build(advice_suite.cases(list(advice_suite.DESIGN)), "advice_design", t0)
    out: dict[str, Any] = {}
    for budget in (0.25, 1.0):
        shipped: Pick = lambda r: int(r["shipped"])  # noqa: E731
        out[f"budget_{budget}"] = {
            "shipped": {"suite": round(_geomean(suite, budget, shipped), 4),
                        "built_in": round(_geomean(held, budget, shipped), 4)},
            **{f"extrapolated, tail {1 - f:.0%}": judged(suite, held, budget, f)
               for f in (0.25, 0.5)},
        }  # fmt: skip
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
