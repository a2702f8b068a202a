"""``lrlab show``: print a schedule's values."""

from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np

from lrlab.cli._args import STEPS
from lrlab.errors import UsageError
from lrlab.schedules import parse

HELP = "print a schedule's values"
DESCRIPTION = (
    "Print the learning rate of a schedule at steps 0, 1, ..., --steps - 1: "
    "its parsed text form first, then one step per line. The schedule is read from its "
    "text form, e.g. 'warmup(cosine(0.1, 1000), 100)'; see docs/peers.md for every kind."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a schedule's text form, e.g. 'cosine(0.1, 100)'")
    p.add_argument("--steps", type=STEPS, default=20, help="number of steps (default 20)")
    p.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table: aligned text for reading (default); json: the schedule, its config and "
        "the values; csv: step,lr rows with every digit",
    )


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise UsageError(f"Argument `--steps` must be a positive integer. Received: {args.steps}")
    sched = parse(args.spec)
    t = np.arange(args.steps)
    steps, values = t.tolist(), sched(t).tolist()
    if args.format == "json":
        config = sched.to_config()
        print(json.dumps({"schedule": str(sched), "config": config, "step": steps, "lr": values}))
    elif args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["step", "lr"])
        for i, v in zip(steps, values):
            w.writerow([i, repr(v)])
    else:
        print(str(sched))
        print(f"{'step':>8}  lr")
        for i, v in zip(steps, values):
            print(f"{i:>8}  {v:.10g}")
    return 0
