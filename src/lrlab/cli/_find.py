"""``lrlab find``: the LR range test on a task; prints the suggestions and lrlab's range."""

from __future__ import annotations

import argparse

from lrlab import _json
from lrlab.cli._args import FINITE, POSITIVE, SEED, STEPS, figure_file, options

HELP = "run the LR range test on a task"
DESCRIPTION = (
    "Run the LR range test (exponential ramp, smoothed loss, divergence stop) on "
    "a fresh model of a task, print each rule's suggestion and lrlab's own (a short race of "
    "rates carried to the run's length) with its range and the reason, and draw the curve."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="a built-in task (see `lrlab tasks`)")
    p.add_argument("--optimizer", default="sgd", help="optimizer name (default sgd)")
    p.add_argument(
        "--framework",
        default="torch",
        help="where the test trains: torch (default), keras (Keras 3 on $KERAS_BACKEND, jax "
        "when unset) or jax (Optax); the same model from the same weights on the same batches",
    )
    p.add_argument("--min-lr", type=POSITIVE, default=1e-6, help="start of the ramp (default 1e-6)")
    p.add_argument("--max-lr", type=POSITIVE, default=10.0, help="end of the ramp (default 10)")
    p.add_argument(
        "--steps", type=STEPS, default=None, help="sweep steps (default: 10%% of the task's run)"
    )
    p.add_argument("--mode", default="exponential", help="exponential (default) or linear")
    p.add_argument("--seed", type=SEED, default=0, help="model and batch seed (default 0)")
    p.add_argument(
        "--horizon",
        type=STEPS,
        default=None,
        help="steps of the run the advice is for (default: the task's own run)",
    )
    p.add_argument(
        "--horizon-exponent",
        type=FINITE,
        default=None,
        help="fix the horizon exponent: lrlab's pick is scaled by (probe / run steps) ** this "
        "(default: the rule's, 1/2; 0.75-1 for runs that over-fit before their end)",
    )
    p.add_argument(
        "--budget",
        type=POSITIVE,
        default=0.25,
        help="the fraction of one run's steps the advice may spend (default 0.25; 1 races the "
        "candidates for longer)",
    )
    p.add_argument("--out", default=None, help="write the figure here (.png, .svg, .pdf)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import os

    from lrlab.finder import find_lr_task

    out = figure_file(args.out) if args.out else None
    if args.framework == "keras":
        os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras's own default, TensorFlow, is absent
    result = find_lr_task(
        args.task,
        args.optimizer,
        framework=args.framework,
        num_steps=args.steps,
        quiet=False,
        **options(args, "seed min_lr max_lr mode horizon_exponent budget"),
        **({} if args.horizon is None else {"horizon": args.horizon}),
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        result.plot().savefig(out, dpi=120, bbox_inches="tight")
    if args.json:
        print(_json.dumps(result.to_dict(), indent=1))
    else:
        print(result.summary())
        s = result.suggestion
        if s is not None:
            print(f"suggested lr: {s.lr:.3g} ({s.span()})")
        if out is not None:
            print(f"figure: {out}")
    return 0
