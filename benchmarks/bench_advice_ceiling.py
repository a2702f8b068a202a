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
    python benchmarks/bench_advice_ceiling.py --plot docs/advice_ceiling.png

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


#: lrlab's own advice on the suite (real runs, leave-one-family-out; ``docs/choosing.md``,
#: 2026-11-29) and on the built-in tasks: (cost in runs, cases within 5%).
LRLAB = {"suite": ((0.25, 12), (1.0, 19)), "built_in": ((0.25, 5), (1.0, 7))}
SOURCES = {
    "other_seed": "another seed's runs",
    "same_weights_other_batches": "the scored seed's weights, other batches",
    "scored_run_itself": "the scored runs themselves",
}


def plot(report: dict[str, Any], path: str) -> None:
    """Within 5% against cost: the ceilings of each source, lrlab's advice and the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), sharey=True)
    for ax, (name, title) in zip(axes, (("suite", "34 suite cases"), ("built_in", "10 built-in"))):
        n = report[name]["cases"]
        for src, label in SOURCES.items():
            rows = report[name].get(src)
            if rows is None:
                continue
            cost = [e["cost_in_runs"] for e in rows.values()]
            share = [100 * e["at_best_shift"]["within_5pct"] / n for e in rows.values()]
            if src == "scored_run_itself":  # at f = 1 each seed's own best: not a method
                cost, share = cost[:-1], share[:-1]
            ax.plot(cost, share, marker="o", label=label)
        for (cost_, k), budget in zip(LRLAB[name], ("default budget", "budget=1")):
            ax.plot(cost_, 100 * k / n, "k*", ms=13, zorder=5)
            ax.annotate(f"lrlab, {budget}", (cost_, 100 * k / n), textcoords="offset points",
                        xytext=(-8, -16) if cost_ >= 1 else (-8, 8),
                        ha="right" if cost_ >= 1 else "left", fontsize=9)  # fmt: skip
        for level, what in ((75, "target, default budget"), (90, "target, budget=1")):
            ax.axhline(level, color="0.5", ls="--", lw=1)
            ax.text(0.22, level + 1, what, ha="left", fontsize=8, color="0.35")
        ax.set_xscale("log")
        ax.set_xlim(0.2, 32)
        ticks = [0.25, 0.5, 1, 2, 5, 10, 21]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_ylim(0, 102)
        ax.set_xlabel("cost, in training runs (log scale)")
        ax.set_title(f"{title}: within 5% of the grid's best")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("cases within 5% (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=3, frameon=False, fontsize=9,
        title="The best of all 21 rates after a share of the run, moved by the best "
        "in-sample shift, read from:", title_fontsize=9,
    )  # fmt: skip
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", default=None, help="also draw the ceilings to this PNG file")
    args = ap.parse_args(argv)
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
    if args.plot:
        plot(report, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
