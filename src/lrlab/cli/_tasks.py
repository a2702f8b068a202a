"""``lrlab tasks``: the built-in training tasks and their defaults."""

from __future__ import annotations

import argparse
import json

HELP = "list the built-in training tasks"
DESCRIPTION = (
    "List the built-in tasks with their kind, metric, split sizes and defaults. No data is loaded."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from lrlab.tasks import TASK_INFO

    if args.json:
        print(json.dumps([info.to_dict() for info in TASK_INFO.values()], indent=1))
        return 0
    for info in TASK_INFO.values():
        train, val, test = info.sizes
        print(f"{info.name}: {info.summary}")
        print(f"  {info.kind}, metric {info.metric}; train/val/test {train}/{val}/{test}")
        defaults = ", ".join(f"{k}={v!r}" for k, v in info.defaults.items())
        print(f"  defaults: {defaults}")
    return 0
