"""``lrlab report``: the whole learning-rate study in one page."""

from __future__ import annotations

import argparse
import sys

from lrlab._progress import on_terminal
from lrlab.cli._args import SEED, options, writable

HELP = "run the whole learning-rate study and write an HTML report"
DESCRIPTION = (
    "Run the learning-rate study on real training (schedules, a loss surface, "
    "schedules and optimizers on a task, the range test, grid/random/Bayesian "
    "search with cross-validation) and write a self-contained index.html with "
    "the figures, tables and raw results."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="lrlab-report", help="output folder (default ./lrlab-report)")
    p.add_argument("--task", default="digits", help="built-in task (default digits)")
    p.add_argument("--seed", type=SEED, default=0, help="seed; same seed, same numbers")
    p.add_argument("--quick", action="store_true", help="small budgets (same page, fast)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--study",
        default=None,
        help="instead, the report of this stored search (yours or lrlab's), read back "
        "without training",
    )
    p.add_argument(
        "--storage", default=None, help="the study's storage (as for `lrlab tune`; default SQLite)"
    )


def run(args: argparse.Namespace) -> int:
    from lrlab.report import build_report

    writable(args.out, folder=True)  # before the study's minute, not after it

    def progress(label: str) -> None:
        if not args.quiet and not on_terminal():
            print(f"report: {label} ...", file=sys.stderr, flush=True)

    rep = build_report(
        args.out, progress=progress, **options(args, "task seed quick force quiet study storage")
    )
    print(f"wrote {rep.index} ({rep.seconds:.0f} s)")
    return 0
