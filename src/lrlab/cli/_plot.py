"""``lrlab plot``: schedule curves on one figure."""

from __future__ import annotations

import argparse

from lrlab.cli._args import STEPS, figure_file
from lrlab.plots.schedules import (
    SOURCE_SCHEDULES,
    plot_decay_factor,
    plot_schedules,
    save_figure,
    source_schedules,
)

HELP = "plot schedules on one figure"
DESCRIPTION = (
    "Plot one labelled curve per schedule spec. With no spec, draw the source "
    "document's three decay strategies (step, exponential, 1/t) and a second "
    "figure comparing three exponential decay factors."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="*", metavar="SPEC", help="e.g. 'step(0.1, 0.5, 10)'")
    p.add_argument("--steps", type=STEPS, default=50, help="number of steps (default 50)")
    p.add_argument("--out", default="lrlab-schedules.png", help="output .png, .svg or .pdf file")
    p.add_argument("--log", action="store_true", help="log-scale LR axis")


def run(args: argparse.Namespace) -> int:
    figure_file(args.out)
    if args.specs:
        fig = plot_schedules(args.specs, args.steps, log=args.log)
        print(save_figure(fig, args.out))
        return 0
    fig = plot_schedules(
        source_schedules(),
        args.steps,
        log=args.log,
        title="Three decay strategies (initial LR 0.1)",
        xlabel="epoch",
    )
    out = save_figure(fig, args.out)
    second = out.with_name(out.stem + "-decay-factor" + out.suffix)
    save_figure(plot_decay_factor(steps=args.steps), second)
    print(out)
    print(second)
    print("schedules: " + "; ".join(SOURCE_SCHEDULES))
    return 0
