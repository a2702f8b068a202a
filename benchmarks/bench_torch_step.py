"""The per-``step()`` cost of lrlab's PyTorch scheduler against PyTorch's own.

Side by side in one run, each scheduler on its own SGD optimizer (one param
group unless ``--groups``), stepped ``--steps`` times in a tight loop:

* ``ExponentialLR`` and ``LambdaLR`` (with ``lambda t: 0.999 ** t``), PyTorch's
  own;
* ``lrlab.torch.scheduler`` with ``exponential``, ``cosine``,
  ``warmup(cosine)`` and ``one_cycle`` schedules (a schedule's closed form
  costs more the more pieces it has).

Reports ns per ``step()`` and each lrlab scheduler's ratio to ExponentialLR
(target <= 1.0) and LambdaLR.  Apart (``plateau``): ``lrlab.torch.plateau``
against PyTorch's ``ReduceLROnPlateau``, each fed the same noisy metrics (a
step per evaluation, not per update; reported, no target).  The timed runs of the schedulers are
interleaved and each figure is the best of ``--repeat`` rounds, so that
other load on the machine affects them alike.

Usage::

    python benchmarks/bench_torch_step.py            # 2 * 10**5 steps, ~1 minute at most
    python benchmarks/bench_torch_step.py --quick    # 2 * 10**4 steps, seconds

Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

import lrlab.torch
from lrlab import schedules as L


def make_optimizer(groups: int) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(groups)]
    opt = torch.optim.SGD(params, lr=0.1)
    return opt


def contenders(steps: int) -> dict[str, Callable[[torch.optim.Optimizer], Any]]:
    sch = torch.optim.lr_scheduler
    return {
        "torch.ExponentialLR": lambda o: sch.ExponentialLR(o, 0.999),
        "torch.LambdaLR": lambda o: sch.LambdaLR(o, lambda t: 0.999**t),
        "lrlab exponential": lambda o: lrlab.torch.scheduler(
            o, L.exponential(0.1, -math.log(0.999))
        ),
        "lrlab cosine": lambda o: lrlab.torch.scheduler(o, L.cosine(0.1, 10 * steps)),
        "lrlab warmup(cosine)": lambda o: lrlab.torch.scheduler(
            o, L.warmup(L.cosine(0.1, 10 * steps), 100)
        ),
        "lrlab one_cycle": lambda o: lrlab.torch.scheduler(o, L.one_cycle(0.1, 10 * steps)),
    }


def time_steps(sched: Any, steps: int) -> float:
    step = sched.step
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps * 1e9


def time_plateau(steps: int, repeat: int, groups: int) -> dict[str, Any]:
    """ns per ``step(metric)``: PyTorch's ReduceLROnPlateau and lrlab's PlateauLR, interleaved."""
    import random

    rng = random.Random(0)
    metrics = [2.0 + rng.random() for _ in range(steps)]
    makers = {
        "torch.ReduceLROnPlateau": lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
            o, patience=3
        ),
        "lrlab plateau": lambda o: lrlab.torch.plateau(o, L.reduce_on_plateau(0.1, patience=3)),
    }
    best = dict.fromkeys(makers, math.inf)
    for _ in range(repeat):
        for name, make in makers.items():
            sched = make(make_optimizer(groups))
            step = sched.step
            t0 = time.perf_counter()
            for m in metrics:
                step(m)
            best[name] = min(best[name], (time.perf_counter() - t0) / steps * 1e9)
    ref = best["torch.ReduceLROnPlateau"]
    return {
        name: {"ns_per_step": round(ns, 1), "over_ReduceLROnPlateau": round(ns / ref, 3)}
        for name, ns in best.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer steps")
    parser.add_argument("--steps", type=int, help="steps per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (best is kept)")
    parser.add_argument("--groups", type=int, default=1, help="param groups per optimizer")
    args = parser.parse_args(argv)
    steps = args.steps or (2 * 10**4 if args.quick else 2 * 10**5)
    torch.set_num_threads(1)

    makers = contenders(steps)
    best: dict[str, float] = dict.fromkeys(makers, math.inf)
    for _ in range(args.repeat):
        for name, make in makers.items():
            opt = make_optimizer(args.groups)
            sched = make(opt)
            opt.step()  # the canonical order: no step-order warning
            best[name] = min(best[name], time_steps(sched, steps))

    exp_ns, lam_ns = best["torch.ExponentialLR"], best["torch.LambdaLR"]
    rows: list[dict[str, Any]] = [
        {
            "scheduler": name,
            "ns_per_step": round(ns, 1),
            "over_ExponentialLR": round(ns / exp_ns, 3),
            "over_LambdaLR": round(ns / lam_ns, 3),
        }
        for name, ns in best.items()
    ]
    ours = [r for r in rows if r["scheduler"].startswith("lrlab")]
    out = {
        "benchmark": "per-step() cost of LR schedulers",
        "steps_per_run": steps,
        "repeat": args.repeat,
        "param_groups": args.groups,
        "target": "lrlab over_ExponentialLR <= 1.0",
        "schedulers": rows,
        "all_lrlab_met": all(r["over_ExponentialLR"] <= 1.0 for r in ours),
        "plateau": time_plateau(steps, args.repeat, args.groups),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "load_average_1min": os.getloadavg()[0],
        },
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
