"""The cost of ``lrlab.optax.find_lr``'s sweep against a hand-written ``jax.jit`` loop.

Both run the same ``--steps`` N updates of the same MLP (float32, SGD with momentum built
with ``optax.inject_hyperparams``, its rate set before each update) on the same batches:

* ``hand_loop``: ``params, state, loss = step(params, state, batch, lr)`` with ``step`` one
  ``jax.jit`` function, each step's loss read as a Python float (as a loop that records
  its losses, and as the sweep must: its stop rule reads every loss);
* ``hand_loop_async``: the same loop reading no loss until the end (JAX's dispatch runs
  ahead of Python), reported beside it;
* ``engine_loop``: the engine's own ``step`` called N times in a plain loop (the
  difference ``sweep - engine_loop`` is the core's bookkeeping and the peers' rules run on
  the curve, a fixed cost of some milliseconds);
* ``sweep``: lrlab's sweep (``confirm=0``, a ramp kept below divergence so that all N
  steps run) driving :class:`lrlab.finder.optax.OptaxEngine` through the core's
  ``range_test``, after a warm-up compile (one step, then the start restored);
* ``find_lr_cold`` and ``hand_loop_cold``: a whole ``find_lr`` call (argument checks,
  compile and sweep) against the hand loop compiled afresh, each from nothing.

The ratio ``sweep / hand_loop`` has the target <= 1.10 (issue 28); beside the wall-clock
figures, the process's CPU time (all its threads) of each, which other processes on a
shared machine disturb less.  Rounds interleave the contenders and each figure is the
best of ``--repeat`` (the whole-call ``cold`` figures: of three, one with ``--quick``),
so that other load on the machine affects them alike; on a loaded machine, more rounds of
fewer steps give steadier best-of figures than the reverse.

Usage::

    python benchmarks/bench_finder_jax.py            # 200 steps, 20 rounds, ~half a minute
    python benchmarks/bench_finder_jax.py --quick    # 60 steps, 3 rounds, seconds

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
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrlab.finder._batches import Batches
from lrlab.finder._settings import SweepSettings
from lrlab.finder._sweep import range_test
from lrlab.finder.optax import OptaxEngine, find_lr

MIN_LR, MAX_LR = 1e-5, 1e-2  # SGD momentum on this MLP stays far from divergence here


def model(width: int, seed: int = 0) -> dict[str, jax.Array]:
    k = jax.random.split(jax.random.key(seed), 3)
    return {
        "w1": jax.random.normal(k[0], (64, width)) / 8.0,
        "b1": jnp.zeros(width),
        "w2": jax.random.normal(k[1], (width, width)) / math.sqrt(width),
        "b2": jnp.zeros(width),
        "w3": jax.random.normal(k[2], (width, 10)) / math.sqrt(width),
    }


def loss_fn(p: Any, batch: Any) -> jax.Array:
    x, y = batch
    h = jax.nn.relu(x @ p["w1"] + p["b1"])
    h = jax.nn.relu(h @ p["w2"] + p["b2"])
    return optax.softmax_cross_entropy_with_integer_labels(h @ p["w3"], y).mean()


def data(n: int, size: int) -> list[tuple[jax.Array, jax.Array]]:
    rng = np.random.default_rng(1)
    return [
        (
            jnp.asarray(rng.normal(size=(size, 64)), jnp.float32),
            jnp.asarray(rng.integers(0, 10, size)),
        )
        for _ in range(n)
    ]


def optimizer() -> optax.GradientTransformation:
    tx: optax.GradientTransformation = optax.inject_hyperparams(optax.sgd)(
        learning_rate=MIN_LR, momentum=0.9
    )
    return tx


def ramp(n: int) -> list[float]:
    t = np.arange(n) / (n - 1)
    return np.exp(math.log(MIN_LR) + t * (math.log(MAX_LR) - math.log(MIN_LR))).tolist()


def hand_step(tx: optax.GradientTransformation) -> Any:
    def update(p: Any, s: Any, batch: Any, lr: Any) -> Any:
        loss, g = jax.value_and_grad(loss_fn)(p, batch)
        s.hyperparams["learning_rate"] = lr
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    return jax.jit(update)


class Clock:
    """Wall time and process CPU time (all threads) of a ``with`` block, in seconds."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    @property
    def both(self) -> tuple[float, float]:
        return self.wall, self.cpu


def hand_loop(
    step: Any, params: Any, tx: Any, batches: list[Any], n: int, sync: bool
) -> tuple[float, float]:
    s, p, losses = tx.init(params), params, []
    lrs = [np.float32(lr) for lr in ramp(n)]
    with Clock() as clock:
        for i in range(n):
            p, s, loss = step(p, s, batches[i % len(batches)], lrs[i])
            if sync:
                losses.append(float(loss))
        jax.block_until_ready(p)
    return clock.both


def engine_loop(params: Any, tx: Any, batches: list[Any], n: int) -> tuple[float, float]:
    engine = OptaxEngine(loss_fn, params, tx, tx.init(params))
    start = engine.save()
    engine.step(batches[0], MIN_LR)  # the warm-up compile
    engine.restore(start)
    lrs = ramp(n)
    with Clock() as clock:
        for i in range(n):
            engine.step(batches[i % len(batches)], lrs[i])
    return clock.both


def sweep(params: Any, tx: Any, batches: list[Any], n: int) -> tuple[tuple[float, float], int]:
    engine = OptaxEngine(loss_fn, params, tx, tx.init(params))
    start = engine.save()
    engine.step(batches[0], MIN_LR)  # the warm-up compile
    engine.restore(start)
    settings = settings_for(n)
    with Clock() as clock:
        result = range_test(settings, engine, Batches(batches, needed=settings.draws, pairs=False))
    if result.stop_reason != "max_lr" or engine.traces != 1:
        raise SystemExit(f"the sweep stopped early or retraced: {result.stop_reason}")
    return clock.both, len(result.lrs)


def settings_for(n: int) -> SweepSettings:
    return SweepSettings.of(
        min_lr=MIN_LR, max_lr=MAX_LR, num_steps=n, mode="exponential", beta=0.98,
        debias=True, diverge=4.0, confirm=0, budget=0.25, horizon=None,
        horizon_exponent=None, rule=None,
    )  # fmt: skip


def cold(params: Any, batches: list[Any], n: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    find_lr(loss_fn, params, optimizer(), batches, min_lr=MIN_LR, max_lr=MAX_LR, num_steps=n,
            confirm=0)  # fmt: skip
    t1 = time.perf_counter()
    tx = optimizer()
    hand_loop(hand_step(tx), params, tx, batches, n, sync=True)
    return t1 - t0, time.perf_counter() - t1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 steps, 3 rounds")
    parser.add_argument("--steps", type=int, help="sweep steps N")
    parser.add_argument("--repeat", type=int, help="rounds (best is kept)")
    parser.add_argument("--width", type=int, default=256, help="the MLP's hidden width")
    parser.add_argument("--batch", type=int, default=128, help="batch size")
    args = parser.parse_args(argv)
    n = args.steps or (60 if args.quick else 200)
    repeat = args.repeat or (3 if args.quick else 20)
    params, batches = model(args.width), data(16, args.batch)

    tx = optimizer()
    step = hand_step(tx)
    hand_loop(step, params, tx, batches, 2, sync=True)  # its warm-up compile
    names = ["hand_loop", "hand_loop_async", "engine_loop", "sweep"]
    best, cpu = dict.fromkeys(names, math.inf), dict.fromkeys(names, math.inf)
    cold_best = dict.fromkeys(["find_lr_cold", "hand_loop_cold"], math.inf)

    def keep(name: str, both: tuple[float, float]) -> None:
        best[name], cpu[name] = min(best[name], both[0]), min(cpu[name], both[1])

    for r in range(repeat):
        keep("hand_loop", hand_loop(step, params, tx, batches, n, True))
        keep("hand_loop_async", hand_loop(step, params, tx, batches, n, False))
        keep("engine_loop", engine_loop(params, tx, batches, n))
        took, ran = sweep(params, optimizer(), batches, n)
        keep("sweep", took)
        if r < (1 if args.quick else 3):  # a compile each: a few rounds are enough
            a, b = cold(params, batches, n)
            cold_best["find_lr_cold"] = min(cold_best["find_lr_cold"], a)
            cold_best["hand_loop_cold"] = min(cold_best["hand_loop_cold"], b)
    out = {
        "benchmark": "bench_finder_jax",
        "steps": n,
        "sweep_steps_run": ran,
        "model": f"MLP 64-{args.width}-{args.width}-10, batch {args.batch}, float32, SGD momentum",
        "ms_per_step": {k: round(v / n * 1e3, 4) for k, v in best.items()},
        "seconds": {k: round(v, 4) for k, v in {**best, **cold_best}.items()},
        "ratio_sweep_over_hand_loop": round(best["sweep"] / best["hand_loop"], 3),
        "ratio_engine_loop_over_hand_loop": round(best["engine_loop"] / best["hand_loop"], 3),
        "sweep_fixed_cost_ms": round((best["sweep"] - best["engine_loop"]) * 1e3, 2),
        "cpu_ms_per_step": {k: round(v / n * 1e3, 4) for k, v in cpu.items()},
        "cpu_ratio_sweep_over_hand_loop": round(cpu["sweep"] / cpu["hand_loop"], 3),
        "ratio_sweep_over_hand_loop_async": round(best["sweep"] / best["hand_loop_async"], 3),
        "ratio_find_lr_cold_over_hand_loop_cold": round(
            cold_best["find_lr_cold"] / cold_best["hand_loop_cold"], 3
        ),
        "target_ratio": 1.10,
        "repeat": repeat,
        "jax": jax.__version__,
        "optax": optax.__version__,
        "backend": jax.default_backend(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
