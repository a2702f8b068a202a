"""Does a long-running worker's memory stay flat?  RSS of one worker over 200 trials.

Each objective runs in a fresh process: one :func:`lrlab.tune.tune` call of 201 trials
(random sampler, no pruner, a SQLite study as a real worker has) whose objective reads
the process's resident set size (``/proc/self/statm``) when it is entered, so trial
``k + 1`` reads the RSS after trial ``k``.  The objectives:

* ``torch``: a small PyTorch MLP on scikit-learn's digits, built with the trial's
  optimizer and lrlab scheduler (``trial.optimizer``, ``trial.scheduler``), 40 steps;
* ``keras``: the same MLP in Keras 3 (``KERAS_BACKEND``, default ``jax``) with lrlab's
  Keras schedule, as a *user* objective (lrlab has no Keras objective path of its own:
  ``tune`` calls the user's function), calling ``keras.utils.clear_session()`` first
  (Keras's way to drop the models of earlier trials from its global state);
* ``keras_no_clear``: the same without ``clear_session`` (what it costs to forget it).

The check: the RSS after trial 200 within 10% of the RSS after trial 20 (the first 20
trials warm the allocator, the imports' lazy parts, the caches).

Usage (JSON on stdout)::

    python benchmarks/bench_worker_memory.py                 # all three, 200 trials
    python benchmarks/bench_worker_memory.py --objectives torch --trials 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OBJECTIVES = ("torch", "keras", "keras_no_clear")
TOLERANCE = 0.10  # RSS after the last trial within 10% of RSS after trial 20
STEPS = 40


def rss_mb() -> float:
    """This process's resident set size in MiB (``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.data / 16.0).astype("float32"), digits.target.astype("int64")


def torch_objective() -> Any:
    """A small torch objective: a 64-32-10 MLP on digits, ``trial.steps`` batches of 64."""
    import torch
    import torch.nn.functional as F

    x, y = _data()
    xt, yt = torch.from_numpy(x[:1280]), torch.from_numpy(y[:1280])
    xv, yv = torch.from_numpy(x[1400:]), torch.from_numpy(y[1400:])

    def objective(trial: Any) -> float:
        torch.manual_seed(trial.seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )  # fmt: skip
        opt = trial.optimizer(net.parameters())
        sched = trial.scheduler(opt)
        for step in range(trial.steps):
            i = (step * 64) % 1280
            loss = F.cross_entropy(net(xt[i : i + 64]), yt[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            val = float(F.cross_entropy(net(xv), yv))
        trial.report(val, trial.steps)
        return val

    return objective


def keras_objective(clear: bool) -> Any:
    """The same MLP in Keras 3 with lrlab's Keras schedule; ``clear_session()`` first
    when ``clear``."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    import lrlab.keras

    x, y = _data()

    def objective(trial: Any) -> float:
        if clear:
            keras.utils.clear_session()
        keras.utils.set_random_seed(trial.seed)
        net = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
        )
        opt = (keras.optimizers.SGD if trial.optimizer_name == "sgd" else keras.optimizers.Adam)(
            lrlab.keras.schedule(trial.schedule)
        )
        net.compile(
            optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        # 1,280 examples in batches of 64: 20 updates an epoch
        net.fit(x[:1280], y[:1280], batch_size=64, epochs=trial.steps // 20, verbose=0)
        val = float(net.evaluate(x[1400:], y[1400:], verbose=0, batch_size=397))
        trial.report(val, trial.steps)
        return val

    return objective


def child(name: str, trials: int, folder: str) -> dict[str, Any]:
    """Run one worker of ``trials + 1`` trials on ``name``; the RSS after each trial."""
    from lrlab.tune import Space, tune

    inner = torch_objective() if name == "torch" else keras_objective(name == "keras")
    rss: list[float] = []  # rss[k]: after k trials (rss[0]: before the first)

    def objective(trial: Any) -> float:
        rss.append(rss_mb())
        return float(inner(trial))

    start = time.perf_counter()
    res = tune(objective, steps=STEPS, sampler="random", pruner="none", trials=trials + 1,
               space=Space(optimizers=("sgd", "adam"), schedules=("constant", "cosine")),
               storage=f"sqlite:///{folder}/{name}.db", study=name, quiet=True)  # fmt: skip
    wall = time.perf_counter() - start
    at = {k: round(rss[k], 1) for k in (1, 20, 50, 100, 150, 200, trials) if k < len(rss)}
    ratio = rss[trials] / rss[20]
    return {
        "objective": name,
        "trials": trials,
        "finished": res.n_finished - 1,
        "rss_mb_after": at,
        "growth_20_to_last": round(ratio - 1, 4),
        "within_10pct": abs(ratio - 1) <= TOLERANCE,
        "mb_per_trial_after_20": round((rss[trials] - rss[20]) / (trials - 20), 4),
        "s_per_trial": round(wall / (trials + 1), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="trials measured (> 20)")
    parser.add_argument("--objectives", default=",".join(OBJECTIVES))
    parser.add_argument("--child", choices=OBJECTIVES, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trials <= 20:
        parser.error(f"--trials must be more than 20. Received: {args.trials}")
    if args.child:
        print(json.dumps(child(args.child, args.trials, args.folder)))
        return 0
    rows = []
    folder = tempfile.mkdtemp(prefix="lrlab-memory-")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    for name in args.objectives.split(","):
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", name, "--trials",
             str(args.trials), "--folder", folder],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if proc.returncode != 0:
            rows.append({"objective": name, "error": proc.stderr.strip().splitlines()[-1:]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    report = {
        "benchmark": "worker_memory",
        "keras_backend": os.environ.get("KERAS_BACKEND", "jax"),
        "tolerance": TOLERANCE,
        "rows": rows,
    }
    print(json.dumps(report, indent=1))
    return (
        0 if all(r.get("within_10pct") for r in rows if r["objective"] != "keras_no_clear") else 1
    )


if __name__ == "__main__":
    raise SystemExit(main())
