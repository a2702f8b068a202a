"""The Keras range test's cost: ``lrlab.keras.find_lr``'s sweep against the same steps of
``model.fit``, and against a community-style LR-finder callback (issue 28's target: the sweep
within 1.10x of ``fit``).

A small MLP on sklearn's digits (64 inputs, two hidden layers of 64, 10 classes, sparse
categorical cross-entropy, Adam), the data tiled to exactly ``N * 32`` samples so that one
epoch of ``fit(batch_size=32, shuffle=False)`` is the same ``N`` batches, in the same order,
that the sweep takes.  Three ways, each on its own model (compiled and warmed by one untimed
round, so the compile is in no timing):

* ``fit``: ``model.fit`` for the ``N`` steps at a constant rate: the floor.
* ``lrlab``: ``find_lr(model, x, y, num_steps=N, confirm=0, diverge=1e30)``: the sweep
  alone (no race; no early stop), its snapshot and bit-for-bit restore included.
* ``community``: the callback most blog posts and the ``keras_lr_finder`` package use: save
  the weights to a file (``model.save_weights``) at ``on_train_begin``, read the rate and
  the logged loss and set the next rate in ``on_train_batch_end``, stop on ``diverge`` (4,
  here ``1e30`` as lrlab's) times the best loss, load the weights back at ``on_train_end``.
  It records ``fit``'s running mean rather than each batch's loss, and cannot set the rate
  of an optimizer given a schedule.  In Keras 3 ``save_weights`` covers the optimizer's
  variables too; ``not_restored`` lists, per way, the variables that one call left changed
  (measured: the community's leaves the dropout seed state and the metrics).  It is timed
  inside the same ``fit`` call.

Also ``lrlab_schedule``: ``find_lr`` on a model whose optimizer was given a
``LearningRateSchedule``; the test traces the train function once more per call (a variable
takes the schedule's place), which is timed with it.  The rounds alternate the ways so that a
slow moment of the machine hits all.  Prints JSON: median seconds per way and the ratios
``lrlab / fit``, ``lrlab / community``, ``lrlab_schedule / fit``; the same from the fastest
round of each way, and the median process CPU time (steadier on a shared machine).

    python benchmarks/bench_finder_keras.py [--quick] [--rounds N] [--steps N]
        [--backend jax|torch]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 rounds of 30 steps")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--backend", choices=("jax", "torch"), default="jax")
    return p.parse_args()


ARGS = _args()
os.environ["KERAS_BACKEND"] = ARGS.backend
# One intra-op thread, as the lab's other benchmarks: on 2 shared cores, more threads spin
# against each other (the torch backend's fit took 0.24 s a step with the default).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from lrlab.errors import LrlabWarning  # noqa: E402
from lrlab.keras import find_lr  # noqa: E402

BATCH = 32


def _model(lr: Any = 1e-3, dropout: bool = False) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            *([keras.layers.Dropout(0.2)] if dropout else []),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _values(model: keras.Model) -> dict[str, np.ndarray]:
    """Every variable of the model, its optimizer and its metrics, by path."""
    vs = model.variables + model.optimizer.variables + model.metrics_variables
    return {f"{i}:{v.path}": np.array(keras.ops.convert_to_numpy(v)) for i, v in enumerate(vs)}


class CommunityLRFinder(keras.callbacks.Callback):
    """The common Keras LR-finder callback (blog posts, ``keras_lr_finder``): exponential
    ramp per batch, weights saved to a file and loaded back, nothing else restored."""

    def __init__(
        self, min_lr: float, max_lr: float, steps: int, path: str, diverge: float = 4.0
    ) -> None:
        super().__init__()
        self.min_lr, self.path, self.diverge = min_lr, path, diverge
        self.factor = (max_lr / min_lr) ** (1.0 / max(steps - 1, 1))
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.best = float("inf")

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.model.save_weights(self.path)
        self.model.optimizer.learning_rate = self.min_lr

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        lr = float(self.model.optimizer.learning_rate)
        loss = float((logs or {})["loss"])
        self.lrs.append(lr)
        self.losses.append(loss)
        if loss > self.diverge * self.best:
            self.model.stop_training = True
        self.best = min(self.best, loss)
        self.model.optimizer.learning_rate = lr * self.factor

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.model.load_weights(self.path)


def main() -> None:
    warnings.simplefilter("ignore", LrlabWarning)
    warnings.simplefilter("ignore", UserWarning)
    rounds, steps = (2, 30) if ARGS.quick else (ARGS.rounds, ARGS.steps)
    d = load_digits()
    idx = np.resize(np.arange(len(d.data)), steps * BATCH)
    x = (d.data[idx] / 16.0).astype("float32")
    y = d.target[idx].astype("int32")
    lo, hi = 1e-5, 1.0
    models = {"fit": _model(), "lrlab": _model(), "community": _model()}
    models["lrlab_schedule"] = _model(keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9))
    tmp = tempfile.mkdtemp()
    last: dict[str, Any] = {}

    def fit() -> None:
        models["fit"].fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)

    def lrlab(name: str = "lrlab") -> None:
        last[name] = find_lr(models[name], x, y, batch_size=BATCH, num_steps=steps, min_lr=lo,
                             max_lr=hi, diverge=1e30, confirm=0)  # fmt: skip

    def community() -> None:
        cb = CommunityLRFinder(lo, hi, steps, os.path.join(tmp, "w.weights.h5"), diverge=1e30)
        models["community"].fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0,
                                callbacks=[cb])  # fmt: skip
        last["community"] = cb

    ways = {"fit": fit, "lrlab": lrlab, "community": community,
            "lrlab_schedule": lambda: lrlab("lrlab_schedule")}  # fmt: skip
    for fn in ways.values():  # a round untimed: the compile, first-call allocations
        fn()
    times: dict[str, list[float]] = {k: [] for k in ways}
    cpu: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(rounds):
        for k, fn in ways.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    cb = last["community"]
    dropout = {"lrlab": _model(dropout=True), "community": _model(dropout=True)}
    for m in dropout.values():  # a model with dropout and state to restore
        m.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    not_restored = {}
    for name, m in dropout.items():
        before = _values(m)
        if name == "lrlab":
            find_lr(m, x, y, num_steps=steps, min_lr=lo, max_lr=hi, confirm=0)
        else:
            cb2 = CommunityLRFinder(lo, hi, steps, os.path.join(tmp, "d.weights.h5"))
            m.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[cb2])
        after = _values(m)
        not_restored[name] = [k for k in before if not np.array_equal(before[k], after[k])]
    out = {
        "backend": ARGS.backend,
        "keras": keras.__version__,
        "steps": steps,
        "rounds": rounds,
        "seconds": med,
        "seconds_per_step": {k: v / steps for k, v in med.items()},
        "lrlab_over_fit": med["lrlab"] / med["fit"],
        "lrlab_over_community": med["lrlab"] / med["community"],
        "lrlab_schedule_over_fit": med["lrlab_schedule"] / med["fit"],
        "fastest_seconds": best,
        "fastest_lrlab_over_fit": best["lrlab"] / best["fit"],
        "fastest_lrlab_over_community": best["lrlab"] / best["community"],
        "cpu_seconds": cpu_med,
        "cpu_lrlab_over_fit": cpu_med["lrlab"] / cpu_med["fit"],
        "lrlab_curve_points": len(last["lrlab"].losses),
        "community_curve_points": len(cb.losses),
        "community_lrs_logged_first_last": [cb.lrs[0], cb.lrs[-1]],
        "not_restored": not_restored,
        "community_loss_first_last": [cb.losses[0], cb.losses[-1]],
        "lrlab_loss_first_last": [float(last["lrlab"].losses[0]), float(last["lrlab"].losses[-1])],
    }
    print(json.dumps(out, indent=1))
    print(f"lrlab/fit {out['lrlab_over_fit']:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
