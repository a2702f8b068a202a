"""``lrlab compare``: several (optimizer, schedule) runs over seeds, tabulated and plotted."""

from __future__ import annotations

import argparse

from lrlab.cli._args import COUNT, FINITE, STEPS, options, writable
from lrlab.errors import UsageError

HELP = "compare optimizer/schedule configurations on a task"
DESCRIPTION = (
    "Train every --run on the task once per seed; print the table and write "
    "results.csv, results.json and the figures (loss, val_loss, lr, step_size .png) to --out."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="a built-in task (see `lrlab tasks`)")
    p.add_argument(
        "--run",
        action="append",
        required=True,
        metavar="'OPT[(k=v,...)]: SCHEDULE'",
        help="e.g. 'sgd: step(0.1, 0.5, 10)' or 'momentum(momentum=0.95): cosine(0.1, 500)'",
    )
    p.add_argument("--seeds", type=COUNT, default=3, help="number of seeds (default 3)")
    p.add_argument("--steps", type=STEPS, help="updates per run (default: the task's)")
    p.add_argument("--eval-every", type=STEPS, help="evaluation interval (default: the task's)")
    p.add_argument("--target", type=FINITE, help="validation loss for 'steps to target'")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task parameter, e.g. --param model=cnn (repeatable)",
    )
    p.add_argument("--out", default="lrlab-compare", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from lrlab.compare import compare, parse_run
    from lrlab.schedules import parse_value
    from lrlab.tasks import get, names

    if args.task not in names():
        raise UsageError(f"Unknown task {args.task!r}. Available: {', '.join(names())}")
    params = {}
    for item in args.param:
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise UsageError(f"Argument `--param` must be KEY=VALUE. Received: --param {item!r}")
        params[key.strip()] = parse_value(value)  # a ScheduleError is one CLI line
    specs = [parse_run(text) for text in args.run]  # bad specs fail before any training
    out = writable(args.out, folder=True)  # and so does a place the results cannot go
    task = get(args.task, **params)
    same = options(args, "seeds steps eval_every quiet")
    result = compare(task, specs, target_loss=args.target, **same)
    out.mkdir(parents=True, exist_ok=True)
    result.to_csv(out / "results.csv")
    result.to_json(out / "results.json")
    for name, fig in result.figures().items():
        fig.savefig(out / f"{name}.png", dpi=110)
    print(result.format_table())
    print(f"best: {result.best.label}")
    print(f"wrote {out}/results.csv, results.json, loss.png, val_loss.png, lr.png, step_size.png")
    return 0
