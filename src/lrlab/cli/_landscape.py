"""``lrlab landscape``: optimizer paths on a 2-D surface, one per learning rate."""

from __future__ import annotations

import argparse

from lrlab.cli._args import FINITE, STEPS, figure_file
from lrlab.errors import UsageError

HELP = "optimizer paths on a 2-D loss surface"
DESCRIPTION = (
    "Run a real torch optimizer on a 2-D function from a start point, once per "
    "learning rate, and draw the paths over its contours. On the quadratic each path is "
    "labelled against 2/L and 2/(L+mu)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fn", default="quadratic", help="quadratic, rosenbrock, beale or himmelblau")
    p.add_argument("--optimizer", default="sgd", help="optimizer name (default sgd)")
    p.add_argument(
        "--lrs",
        type=FINITE,
        nargs="+",
        help="learning rates (default: a crawl / good / too-large trio for the function "
        "and the optimizer; Adam's are not SGD's)",
    )
    p.add_argument("--steps", type=STEPS, default=50, help="updates per path (default 50)")
    p.add_argument("--start", type=FINITE, nargs=2, metavar=("X", "Y"), help="start point")
    p.add_argument("--mu", type=FINITE, help="quadratic only: smallest curvature (default 1)")
    p.add_argument("--L", type=FINITE, dest="big_l", help="quadratic only: largest (default 10)")
    p.add_argument(
        "--layout", choices=("panels", "overlay"), default="panels", help="one panel per LR"
    )
    p.add_argument("--out", default="lrlab-landscape.png", help="output .png, .svg or .pdf file")
    p.add_argument("--quiet", action="store_true", help="print only the figure's path")


def run(args: argparse.Namespace) -> int:
    from lrlab.landscape import functions, get_function, trajectories
    from lrlab.plots.landscape import plot_trajectories
    from lrlab.train import check_name

    if args.fn not in functions():
        raise UsageError(f"Unknown function {args.fn!r}. Available: {', '.join(functions())}")
    check_name(args.optimizer)
    params = {k: v for k, v in (("mu", args.mu), ("L", args.big_l)) if v is not None}
    surface = get_function(args.fn, **params)
    out = figure_file(args.out)
    result = trajectories(surface, args.optimizer, args.lrs, args.steps, args.start)
    fig = plot_trajectories(result, layout=args.layout)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    if not args.quiet:
        for i, row in enumerate(result.summary()):
            print(
                f"{result.label(i)}: {row['steps']} steps, f={row['loss']:.4g}, "
                f"distance to minimum {row['distance']:.3g}"
            )
    print(out)
    return 0
