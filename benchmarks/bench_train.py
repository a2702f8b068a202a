"""The lab's training loop against a minimal hand-written PyTorch loop.

Both do the same updates on the same data and model: the same seeded model,
the same per-epoch permutation batches, ``loss.item()`` every step, and a
validation pass (loss + metric) at the same steps.  The lab additionally sets
the LR from a schedule, measures the effective step size ``||d theta||/||g||``
and checks for divergence.  Runs alternate lab/reference ``--repeats`` times
and the minimum CPU times are compared (ratio = lab / reference; target <= 1.10
on ``digits`` and ``mnist1d``); wall-clock ratios are reported too.  Also
reports steps per second for every built-in task.  Prints JSON.

    python benchmarks/bench_train.py            # full
    python benchmarks/bench_train.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any

import torch

from lrlab import tasks
from lrlab.train import run


def reference_loop(task: tasks.Task, steps: int, lr: float, seed: int, eval_every: int) -> None:
    """A plain PyTorch loop: the same model, batches, updates and evaluations."""
    model = task.make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = task.loss_fn
    x, y, n, bs = task.x_train, task.y_train, len(task.x_train), task.batch_size
    gen = torch.Generator().manual_seed(seed)
    losses = []
    t = 0
    while t < steps:
        if bs >= n:
            order = [(x, y)]
        else:
            perm = torch.randperm(n, generator=gen)
            xs, ys = x[perm], y[perm]
            order = [(xs[i * bs : (i + 1) * bs], ys[i * bs : (i + 1) * bs]) for i in range(n // bs)]
        for xb, yb in order:
            if t >= steps:
                break
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            t += 1
            if t % eval_every == 0 or t == steps:
                model.eval()
                with torch.no_grad():
                    out = model(task.x_val)
                    float(loss_fn(out, task.y_val))
                    task.metric(out, task.y_val)
                model.train()


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of ``fn(*args, **kwargs)``."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn(*args, **kwargs)
    return time.process_time() - c0, time.perf_counter() - w0


def compare_task(task: tasks.Task, steps: int, repeats: int) -> dict[str, Any]:
    """Alternate the reference, the lab (step size measured every step) and the lab
    measuring every 10th step, ``repeats`` times; each timed around the whole call (model
    creation included).  The minimum over repeats is the run least disturbed by other
    processes; CPU time is not inflated by waiting for a core."""
    loops = {
        "reference": lambda r: reference_loop(task, steps, 0.1, r, task.eval_every),
        "lab": lambda r: run(task, "sgd", lr=0.1, steps=steps, seed=r),
        "lab_step_size_every_10": lambda r: run(
            task, "sgd", lr=0.1, steps=steps, seed=r, step_size_every=10
        ),
    }
    cpu: dict[str, list[float]] = {k: [] for k in loops}
    wall: dict[str, list[float]] = {k: [] for k in loops}
    for r in range(repeats):
        for k, fn in loops.items():
            c, w = _timed(fn, r)
            cpu[k].append(c)
            wall[k].append(w)
    ref_cpu, ref_wall = min(cpu["reference"]), min(wall["reference"])
    out: dict[str, Any] = {"steps": steps, "repeats": repeats}
    for k in ("lab", "lab_step_size_every_10"):
        out[k] = {
            "ratio": round(min(cpu[k]) / ref_cpu, 4),
            "ratio_wall_min": round(min(wall[k]) / ref_wall, 4),
            "ratio_wall_median": round(
                statistics.median(wall[k]) / statistics.median(wall["reference"]), 4
            ),
            "steps_per_second": round(steps / min(wall[k]), 1),
        }
    out["ratio"] = out["lab"]["ratio"]
    out["reference_steps_per_second"] = round(steps / ref_wall, 1)
    out["reference_cpu_us_per_step"] = round(1e6 * ref_cpu / steps, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (same for both loops)")
    ap.add_argument("--repeats", type=int, help="alternating repeats per loop")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    steps = 100 if args.quick else 200
    repeats = args.repeats or (5 if args.quick else 40)

    out: dict[str, Any] = {
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "benchmark": "lab training loop vs hand-written PyTorch loop (sgd)",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "target_ratio": 1.10,
        "overhead": {},
        "steps_per_second": {},
    }
    for name in ("digits", "mnist1d"):
        task = tasks.get(name)
        run(task, "sgd", steps=20)  # warm-up (imports, allocator)
        reference_loop(task, 20, 0.1, 0, task.eval_every)
        out["overhead"][name] = compare_task(task, steps, repeats)
    for name in tasks.names():
        task = tasks.get(name)
        n = task.steps
        h = run(task, "sgd", steps=n)
        h2 = run(task, "adam", steps=n)
        out["steps_per_second"][name] = {
            "sgd": round(h.steps / h.wall_time, 1),
            "adam": round(h2.steps / h2.wall_time, 1),
            "steps": n,
            "batch_size": task.batch_size,
        }
    out["ratio_within_target"] = {
        name: out["overhead"][name]["ratio"] <= out["target_ratio"]
        for name in ("digits", "mnist1d")
    }
    out["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
