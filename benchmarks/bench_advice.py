"""How good is LR advice?  Range-test rules, lrlab's rule, LR-free optimizers, TPE vs a grid.

For each task (quadratic, digits, mnist1d, breast_cancer) and optimizer (SGD
with momentum 0.9, Adam) one run measures:

* the reference: the best constant LR of a grid of 21 log-spaced values
  (1e-5 .. 10) x 3 seeds, by the mean final validation loss over the seeds;
* each peer rule (fastai valley / steep / minimum, Lightning steepest,
  torch-lr-finder steepest) run with its origin's own sweep settings, and
  lrlab's rule with its default budget, one range test per seed, then trained
  at the suggested LR with that seed;
* the LR-free optimizers (Prodigy, D-Adaptation Adam) at their defaults;
* TPE over the LR with at most 25% of the grid's steps (finalists' runs
  included): with median pruning, with projected pruning (tune's ``pruner``),
  and with projected pruning and its 3 best trials raced on one more seed
  (tune's ``finalists``), each once per search seed (``--tpe-seeds``, default
  0-4) and each study's best LR trained on the grid's seeds: one study is one
  draw, the count over the search seeds says more.

* the noise floor of the reference itself, from the same grid run on other
  seeds (3-5): the 3-seed grid's best LR (``grid_fresh_seeds``, the reference
  method repeated), each one-seed grid's best LR (``grid_one_seed``: seed
  ``s + 3``'s best trained with seed ``s``), and each seed's own best LR
  (``grid_own_seed``: the parabola in log LR through seed ``s``'s best grid
  point and its neighbours, trained with seed ``s``; in-sample).  A target
  that the reference method misses when repeated on other seeds is below the
  measurement's noise; each seed's own best LR shows how much of an advice's
  seed-to-seed spread is the task's.

For each: the mean final validation loss and metric, their ratios to the grid
best, the suggestion's spread across seeds (max / min), and the training steps
spent to get the advice (mean per seed).  Prints one JSON document.

``diabetes`` (a regression task) is measured too, as a *held-out* case: no
rule was designed or adjusted on it, so its figures are out of sample.  The
summary counts the issue's eight cases and the held-out ones separately.

    python benchmarks/bench_advice.py            # the full measurement
    python benchmarks/bench_advice.py --quick    # 2 tasks, 7-value grid, 2 seeds, 1 search seed
    python benchmarks/bench_advice.py --grid-cache grid.json   # reuse the grid's runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np
import torch

from lrlab import tasks
from lrlab.finder import find_lr_task
from lrlab.train import run

PEERS: dict[str, dict[str, Any]] = {
    "fastai": {
        "rules": ["fastai_valley", "fastai_steep", "fastai_minimum"],
        "opts": {"min_lr": 1e-7, "max_lr": 10.0, "num_steps": 100, "diverge": 4.0},
    },
    "lightning": {
        "rules": ["lightning_steepest"],
        "opts": {"min_lr": 1e-8, "max_lr": 1.0, "num_steps": 100, "diverge": 4.0},
    },
    "torch_lr_finder": {
        "rules": ["torch_lr_finder_steepest"],
        "opts": {
            "min_lr": 1e-7,
            "max_lr": 10.0,
            "num_steps": 100,
            "diverge": 5.0,
            "beta": 0.95,
            "debias": False,
        },
    },
}
OPTIMIZERS = {"momentum": "momentum", "adam": "adam"}
#: Tasks measured for the issue's targets, and tasks no rule was designed on.
TASKS = ["quadratic", "digits", "mnist1d", "breast_cancer"]
HELD_OUT = ["diabetes"]
LR_FREE = {"adam": ["prodigy", "dadapt_adam"], "momentum": []}
#: The TPE variants: tune's ``pruner``, and ``finalists`` raced on ``finalist_seeds`` more seeds.
TPE_VARIANTS: dict[str, dict[str, Any]] = {
    "tpe_median": {"pruner": "median"},
    "tpe_projected": {"pruner": "projected"},
    "tpe_projected_finalists": {"pruner": "projected", "finalists": 3, "finalist_seeds": 1},
}


def _train(task: Any, optimizer: str, lr: float | None, seed: int) -> tuple[float, float, int]:
    h = run(task, optimizer, lr=lr, seed=seed, step_size_every=10**9)
    loss = h.final_val_loss if not h.diverged and math.isfinite(h.final_val_loss) else math.inf
    return loss, h.final_val_metric, int(h.steps)


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if all(math.isfinite(x) for x in xs) else math.inf


def _ratio(a: float, b: float) -> float | None:
    return a / b if math.isfinite(a) and b > 0 else None


def _entry(
    losses: list[float], metrics: list[float], lrs: list[float], steps: list[int], ref: dict
) -> dict[str, Any]:
    loss = _mean(losses)
    metric = float(np.mean(metrics))
    return {
        "lr": float(np.exp(np.mean(np.log(lrs)))) if lrs else None,
        "lrs": lrs,
        "val_loss": loss if math.isfinite(loss) else None,
        "val_metric": metric if math.isfinite(metric) else None,
        "loss_ratio": _ratio(loss, ref["val_loss"]),
        "metric_ratio": _ratio(metric, ref["val_metric"]) if ref["val_metric"] else None,
        "spread": float(max(lrs) / min(lrs)) if lrs else None,
        "advice_steps": float(np.mean(steps)) if steps else 0.0,
    }


def _tpe(
    task: Any,
    optimizer: str,
    budget: int,
    seeds: list[int],
    ref: dict,
    *,
    options: dict[str, Any],
    search_seeds: list[int],
    repeats: int,
) -> dict[str, Any]:
    """TPE on at most ``budget`` steps, once per search seed; each best LR trained on ``seeds``.

    The entry's headline figures are those of the first search seed; the
    ``*_by_search_seed`` lists hold every study's.
    """
    from lrlab.tune import Space, tune

    space = Space(lr=(1e-5, 10.0), optimizers=(optimizer,), schedules=("constant",))
    # Race no more finalists than the budget holds beside one trial (``--quick``'s
    # budget is 2.5 runs: one finalist); the entry says how many were raced.
    wanted = int(options.get("finalists", 0))
    if wanted:
        room = budget // task.steps - repeats
        fits = max(0, room // int(options.get("finalist_seeds", 1)))
        options = {**options, "finalists": min(wanted, fits)}
    studies = []
    for search_seed in search_seeds:
        res = tune(
            task,
            sampler="tpe",
            trials=10**6,
            budget=budget,
            repeats=repeats,
            space=space,
            storage="memory",
            seed=search_seed,
            quiet=True,
            **options,
        )
        lr = float(res.best_params["lr"])
        out = [_train(task, optimizer, lr, s) for s in seeds]
        e = _entry([o[0] for o in out], [o[1] for o in out], [lr], [res.total_steps], ref)
        e["trials"] = len(res.trials)
        e["steps_fraction_of_grid"] = res.total_steps / (4 * budget)
        e["pruned"] = sum(r.state == "PRUNED" for r in res.trials)
        if wanted:
            e["finalists"] = options["finalists"]
        studies.append(e)
    first = dict(studies[0])
    first["search_seeds"] = search_seeds
    for key in ("loss_ratio", "lr", "trials", "steps_fraction_of_grid"):
        first[f"{key}_by_search_seed"] = [e[key] for e in studies]
    return first


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 tasks, 7-value grid, 2 seeds")
    ap.add_argument("--tasks", default=None, help="comma-separated task names")
    ap.add_argument("--optimizers", default=None, help="comma-separated: momentum,adam")
    ap.add_argument("--no-tpe", action="store_true")
    ap.add_argument(
        "--tpe-repeats", type=int, default=1, help="seeds per TPE trial (tune's `repeats`)"
    )
    ap.add_argument(
        "--tpe-seeds", default="0,1,2,3,4", help="search seeds of the TPE studies (default 0-4)"
    )
    ap.add_argument(
        "--grid-cache",
        default=None,
        help="JSON file of the grid's runs: read when present, written after each case",
    )
    args = ap.parse_args(argv)
    search_seeds = [int(x) for x in args.tpe_seeds.split(",")]
    torch.set_num_threads(1)
    names = TASKS + HELD_OUT
    n_grid, seeds = 21, [0, 1, 2]
    if args.quick:
        names, n_grid, seeds = ["quadratic", "breast_cancer"], 7, [0, 1]
        search_seeds = search_seeds[:1]
    if args.tasks:
        names = args.tasks.split(",")
    opts = args.optimizers.split(",") if args.optimizers else list(OPTIMIZERS)
    grid = np.logspace(-5, 1, n_grid).tolist()
    t_start = time.time()
    report: dict[str, Any] = {
        "grid": grid,
        "seeds": seeds,
        "tpe_search_seeds": search_seeds,
        "cases": [],
    }
    for name in names:
        task = tasks.get(name)
        for opt_key in opts:
            opt = OPTIMIZERS[opt_key]
            t0 = time.time()
            rows = _grid_rows(args.grid_cache, task, opt, grid, seeds)
            mean_loss = {lr: _mean([r[0] for r in rs]) for lr, rs in rows.items()}
            best_lr = min(grid, key=lambda lr: mean_loss[lr])
            ref = {
                "lr": best_lr,
                "val_loss": mean_loss[best_lr],
                "val_metric": float(np.mean([r[1] for r in rows[best_lr]])),
                "steps": int(sum(r[2] for rs in rows.values() for r in rs)),
            }
            case: dict[str, Any] = {
                "task": name,
                "optimizer": opt_key,
                "held_out": name in HELD_OUT,
                "metric": task.metric_name,
                "run_steps": int(task.steps),
                "grid_best": ref,
                "grid_curve": {
                    f"{lr:.3g}": mean_loss[lr] if math.isfinite(mean_loss[lr]) else None
                    for lr in grid
                },
                "advice": {},
            }
            per_rule: dict[str, tuple[list, list, list, list]] = {}
            for peer in PEERS.values():
                for s in seeds:
                    r = find_lr_task(task, opt, seed=s, confirm=0, **peer["opts"])
                    for rule in peer["rules"]:
                        acc = per_rule.setdefault(rule, ([], [], [], []))
                        sug = r.suggestions.get(rule)
                        if sug is None:
                            continue
                        loss, metric, _ = _train(task, opt, sug.lr, s)
                        for lst, v in zip(acc, (loss, metric, sug.lr, r.steps)):
                            lst.append(v)
            ranges = []
            for s in seeds:
                r = find_lr_task(task, opt, seed=s)
                sug = r.suggestion
                assert sug is not None
                acc = per_rule.setdefault("lrlab", ([], [], [], []))
                loss, metric, _ = _train(task, opt, sug.lr, s)
                for lst, v in zip(acc, (loss, metric, sug.lr, r.steps)):
                    lst.append(v)
                ranges.append([sug.low, sug.high])
            for rule, acc in per_rule.items():
                case["advice"][rule] = _entry(*acc, ref)
            case["advice"].update(_noise_floor(args.grid_cache, task, opt, grid, seeds, rows, ref))
            case["advice"]["lrlab"]["ranges"] = ranges
            case["advice"]["lrlab"]["ranges_holding_grid_best"] = sum(
                lo <= ref["lr"] <= hi for lo, hi in ranges
            )
            case["advice"]["lrlab"]["advice_steps_fraction_of_run"] = (
                case["advice"]["lrlab"]["advice_steps"] / task.steps
            )
            for free in LR_FREE[opt_key]:
                out = [_train(task, free, None, s) for s in seeds]
                case["advice"][free] = _entry([o[0] for o in out], [o[1] for o in out], [], [], ref)
            if not args.no_tpe:
                for variant, options in TPE_VARIANTS.items():
                    case["advice"][variant] = _tpe(
                        task,
                        opt,
                        ref["steps"] // 4,
                        seeds,
                        ref,
                        options=options,
                        search_seeds=search_seeds,
                        repeats=args.tpe_repeats,
                    )
            case["seconds"] = time.time() - t0
            report["cases"].append(case)
            print(f"{name}/{opt_key} done in {case['seconds']:.0f}s", file=sys.stderr)
    report["summary"] = _summary(report["cases"])
    report["seconds"] = time.time() - t_start
    print(json.dumps(report, indent=1))
    return 0


def _grid_rows(
    cache: str | None, task: Any, opt: str, grid: list[float], seeds: list[int]
) -> dict[float, list[tuple[float, float, int]]]:
    """``{lr: [(val_loss, metric, steps) per seed]}``, read from / added to ``cache``."""
    store: dict[str, Any] = {}
    if cache and os.path.exists(cache):
        with open(cache) as f:
            store = json.load(f)
    key = f"{task.name}/{opt}/{task.steps}"
    have = store.setdefault(key, {})
    rows: dict[float, list[tuple[float, float, int]]] = {}
    for lr in grid:
        rows[lr] = []
        for s in seeds:
            k = f"{lr:.12g}|{s}"
            if k not in have:
                loss, metric, steps = _train(task, opt, lr, s)
                have[k] = [loss if math.isfinite(loss) else None, metric, steps]
            loss, metric, steps = have[k]
            rows[lr].append((math.inf if loss is None else loss, metric, steps))
    if cache:
        with open(cache, "w") as f:
            json.dump(store, f)
    return rows


def _noise_floor(
    cache: str | None,
    task: Any,
    opt: str,
    grid: list[float],
    seeds: list[int],
    rows: dict[float, list[tuple[float, float, int]]],
    ref: dict,
) -> dict[str, dict[str, Any]]:
    """The reference method on other seeds, and each seed's own best LR (see the docstring)."""
    fresh = [s + len(seeds) for s in seeds]
    other = _grid_rows(cache, task, opt, grid, fresh)
    out: dict[str, dict[str, Any]] = {}
    # The 3-seed grid on the fresh seeds, its best LR judged on the reference's seeds.
    lr = min(grid, key=lambda g: _mean([r[0] for r in other[g]]))
    e = _entry(
        [r[0] for r in rows[lr]],
        [r[1] for r in rows[lr]],
        [lr],
        [sum(r[2] for rs in other.values() for r in rs)],
        ref,
    )
    e["spread"] = None  # one choice, not one per seed
    out["grid_fresh_seeds"] = e
    # One-seed grids: seed fresh[k]'s best LR, trained with seed seeds[k].
    picks = [min(grid, key=lambda g, k=k: other[g][k][0]) for k in range(len(seeds))]
    out["grid_one_seed"] = _entry(
        [rows[g][k][0] for k, g in enumerate(picks)],
        [rows[g][k][1] for k, g in enumerate(picks)],
        picks,
        [sum(other[g][k][2] for g in grid) for k in range(len(seeds))],
        ref,
    )
    # Each seed's own best LR, refined between grid points, trained with that seed.
    own = [_refined_best(grid, [rows[g][k][0] for g in grid]) for k in range(len(seeds))]
    runs = [_train(task, opt, lr, s) for lr, s in zip(own, seeds)]
    out["grid_own_seed"] = _entry(
        [o[0] for o in runs],
        [o[1] for o in runs],
        own,
        [sum(rows[g][k][2] for g in grid) for k in range(len(seeds))],
        ref,
    )
    out["grid_own_seed"]["in_sample"] = True
    return out


def _refined_best(grid: list[float], losses: list[float]) -> float:
    """The vertex of the parabola in ``log lr`` through the best grid point and its neighbours."""
    i = int(np.argmin(losses))
    if not 0 < i < len(grid) - 1 or not all(math.isfinite(v) for v in losses[i - 1 : i + 2]):
        return grid[i]
    y0, y1, y2 = losses[i - 1 : i + 2]
    curvature = y0 - 2 * y1 + y2
    offset = 0.5 * (y0 - y2) / curvature if curvature > 0 else 0.0
    step = math.log(grid[i + 1] / grid[i])
    return float(grid[i] * math.exp(offset * step))


def _summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's cases and the held-out ones, each summarised by :func:`_summarise`."""
    return {
        "targets": _summarise([c for c in cases if not c.get("held_out")]),
        "held_out": _summarise([c for c in cases if c.get("held_out")]),
    }


def _summarise(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per method: cases within 5% / 10% of the grid-best loss, median ratio, worst ratio."""
    methods = sorted({m for c in cases for m in c["advice"]})
    out = {}
    for m in methods:
        ratios = [
            c["advice"][m]["loss_ratio"] if c["advice"][m]["loss_ratio"] is not None else math.inf
            for c in cases
            if m in c["advice"]
        ]
        spreads = [c["advice"][m]["spread"] for c in cases if m in c["advice"]]
        spreads = [s for s in spreads if s is not None]
        out[m] = {
            "cases": len(ratios),
            "within_1pct": sum(r <= 1.01 for r in ratios),
            "within_5pct": sum(r <= 1.05 for r in ratios),
            "within_10pct": sum(r <= 1.10 for r in ratios),
            "median_ratio": float(np.median(ratios)) if ratios else None,
            "worst_ratio": float(max(ratios)) if ratios and math.isfinite(max(ratios)) else None,
            "max_spread": max(spreads) if spreads else None,
            "spread_under_1_5": sum(s < 1.5 for s in spreads),
        }
        by_seed = [
            r if r is not None else math.inf
            for c in cases
            for r in c["advice"].get(m, {}).get("loss_ratio_by_search_seed", [])
        ]
        if by_seed:
            out[m]["studies"] = len(by_seed)
            out[m]["studies_within_1pct"] = sum(r <= 1.01 for r in by_seed)
            out[m]["studies_within_5pct"] = sum(r <= 1.05 for r in by_seed)
        key = "ranges_holding_grid_best"
        held = [c["advice"][m] for c in cases if key in c["advice"].get(m, {})]
        if held:
            out[m][key] = sum(a[key] for a in held)
            out[m]["ranges"] = sum(len(a["ranges"]) for a in held)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
