"""The advice suite's reference: 21 constant rates x 3 seeds per case, with validation curves.

Every case of :mod:`advice_suite` is trained at the 21 rates ``10 ** ((3 j - 50) / 10)``,
``j = 0..20`` (1e-5 .. 10, a factor of about 2 apart: :func:`lrlab.finder.lattice`), on
seeds 0, 1 and 2, with the lab's own :func:`lrlab.train.run`.  Each run records its final
validation loss and metric and its validation loss at 64 checkpoints (every
``max(steps // 64, 1)`` updates), which is what lets a rule that trains a few of these rates
for part of the run be replayed offline (``bench_advice_suite.py``).  Evaluating more often
does not change the run: evaluation draws no random numbers and changes no weight.

    python benchmarks/suite_grid.py --cache benchmarks/cache/advice_suite_grid.json.gz
    python benchmarks/suite_grid.py --cache ... --workers 2      # two processes

The cache is read when present and only missing runs are trained; it is written after each
case.  Prints a JSON summary (per case: the grid's best rate and loss).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import math
import multiprocessing as mp
import os
import sys
import time
from typing import Any

import advice_suite
import torch

from lrlab.finder import lattice

SEEDS = [0, 1, 2]
GRID_J = list(range(21))


def checkpoint_every(steps: int) -> int:
    return max(steps // 64, 1)


def train_one(case: advice_suite.Case, j: int, seed: int, batch_offset: int = 0) -> dict[str, Any]:
    """One run of the grid: final loss (None if diverged), metric, steps, the val curve.

    With ``batch_offset`` the run starts from seed ``seed``'s initial weights but draws its
    batches from seed ``seed + batch_offset``: the same model on the same data, the batch
    order alone changed.
    """
    from lrlab.train import run

    torch.set_num_threads(1)
    task = advice_suite.make(case.family)
    if batch_offset:
        batches = type(task).batches
        task = dataclasses.replace(task)  # a copy: make() caches the task per process
        object.__setattr__(task, "batches", lambda s: batches(task, s + batch_offset))
    h = run(
        task,
        case.optimizer,
        lr=lattice(j),
        seed=seed,
        eval_every=checkpoint_every(task.steps),
        step_size_every=10**9,
        **case.options,
    )
    loss = h.final_val_loss
    ok = not h.diverged and math.isfinite(loss)
    return {
        "loss": loss if ok else None,
        "metric": float(h.final_val_metric) if ok else None,
        "steps": int(h.steps),
        "curve_steps": [int(s) for s in h.eval_steps],
        "curve": [float(v) if math.isfinite(v) else None for v in h.val_loss],
    }


def load(path: str) -> dict[str, Any]:
    if path and os.path.exists(path):
        with gzip.open(path, "rt") as f:
            data: dict[str, Any] = json.load(f)
            return data
    return {}


def save(path: str, store: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    # mtime=0: the same runs give the same bytes, so a rewrite shows no change in git.
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as z:
        z.write(json.dumps(store, separators=(",", ":")).encode())
    os.replace(tmp, path)


def _work(args: tuple[str, int, int, int]) -> tuple[str, int, int, dict[str, Any]]:
    key, j, seed, offset = args
    everything = advice_suite.cases([*advice_suite.FAMILIES, *advice_suite.DESIGN])
    case = next(c for c in everything if c.key == key)
    return key, j, seed, train_one(case, j, seed, offset)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--families", default=None, help="comma-separated (default: the suite's)")
    ap.add_argument("--design", action="store_true", help="lrlab's built-in tasks instead")
    ap.add_argument(
        "--seeds",
        default=",".join(map(str, SEEDS)),
        help="comma-separated seeds to train (default 0,1,2; the paired reference picks its best "
        "rate on 3,4,5, cached apart, and is scored on the runs of 0,1,2)",
    )
    ap.add_argument(
        "--batch-offset",
        type=int,
        default=0,
        help="start from seed s's weights but draw batches from seed s + this (the noise floor "
        "of a grid that shares everything with the scored runs but their batch order)",
    )
    args = ap.parse_args(argv)
    seeds = [int(v) for v in args.seeds.split(",")]
    store = load(args.cache)
    fams = args.families.split(",") if args.families else None
    if args.design:
        fams = list(advice_suite.DESIGN)
    todo = []
    for case in advice_suite.cases(fams):
        have = store.setdefault(case.key, {})
        for j in GRID_J:
            for s in seeds:
                if f"{j}|{s}" not in have:
                    todo.append((case.key, j, s, args.batch_offset))
    print(f"{len(todo)} runs to train", file=sys.stderr)
    t0 = time.time()
    done = 0
    with mp.get_context("fork").Pool(args.workers) as pool:
        for key, j, s, row in pool.imap_unordered(_work, todo, chunksize=4):
            store[key][f"{j}|{s}"] = row
            done += 1
            if done % 63 == 0 or done == len(todo):
                save(args.cache, store)
                print(f"  {done}/{len(todo)} runs, {time.time() - t0:.0f}s", file=sys.stderr)
    save(args.cache, store)
    summary = {}
    for case in advice_suite.cases(fams):
        rows = store[case.key]
        means = {}
        for j in GRID_J:
            ls = [rows[f"{j}|{s}"]["loss"] for s in seeds]
            means[j] = sum(ls) / len(ls) if all(v is not None for v in ls) else math.inf
        jb = min(means, key=lambda j: means[j])
        summary[case.key] = {"best_lr": lattice(jb), "best_j": jb, "val_loss": means[jb]}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
