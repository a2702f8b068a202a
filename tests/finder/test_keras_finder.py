"""lrlab.finder.keras: the range test on a compiled Keras 3 model (JAX backend here; the torch
backend in a subprocess), through Keras's own train step, restored bit for bit."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import lrlab.keras
from lrlab import _seams
from lrlab.errors import UsageError
from lrlab.finder.keras import KerasEngine, LRFinder, find_lr

N, D, BS = 256, 6, 32


def _data(seed: int = 0, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, D)).astype("float32")
    w = rng.standard_normal((D, 1)).astype("float32")
    y = (x @ w + 0.1 * rng.standard_normal((n, 1))).astype("float32")
    return x, y


def _batches(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x[i : i + BS], y[i : i + BS]) for i in range(0, len(x) - BS + 1, BS)]


def _model(
    lr: Any = 1e-3,
    *,
    optimizer: str = "adam",
    dropout: float = 0.0,
    bn: bool = True,
    reg: str | None = "l2",
) -> keras.Model:
    """A small MLP (l2-regularized, BatchNorm, optional dropout), seeded, compiled."""
    keras.utils.set_random_seed(0)
    layers: list[Any] = [keras.Input((D,))]
    layers.append(keras.layers.Dense(16, activation="relu", kernel_regularizer=reg))
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    if bn:
        layers.append(keras.layers.BatchNormalization())
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    opt = keras.optimizers.Adam(lr) if optimizer == "adam" else keras.optimizers.SGD(lr)
    model.compile(optimizer=opt, loss="mse")
    return model


def _trained(model: keras.Model) -> keras.Model:
    """Two steps of fit first, so that moments, iterations and BatchNorm statistics are not
    their initial values."""
    x, y = _data(1, 64)
    model.fit(x, y, batch_size=BS, epochs=1, shuffle=False, verbose=0)
    return model


def _state(model: keras.Model) -> dict[str, Any]:
    """Every variable's value (model, optimizer, metrics) by path, the optimizer's variables
    themselves and its rate object."""
    opt = model.optimizer
    values = {}
    for group, vs in (
        ("model", model.variables),
        ("optimizer", opt.variables),
        ("metrics", model.metrics_variables),
    ):
        for i, v in enumerate(vs):
            values[f"{group}/{i}/{v.path}"] = np.array(keras.ops.convert_to_numpy(v), copy=True)
    return {
        "values": values,
        "opt_vars": list(opt.variables),
        "rate": _seams.keras_rate(opt),
        "train_function": model.train_function,
    }


def _assert_same(before: dict[str, Any], model: keras.Model) -> None:
    after = _state(model)
    assert list(after["values"]) == list(before["values"])
    for name, a in before["values"].items():
        b = after["values"][name]
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert len(after["opt_vars"]) == len(before["opt_vars"])
    assert all(a is b for a, b in zip(after["opt_vars"], before["opt_vars"]))
    assert after["rate"] is before["rate"]
    assert after["train_function"] is before["train_function"]


def _hand_loop(model: keras.Model, batches: list[Any], lrs: np.ndarray) -> list[float]:
    """Keras's own train_on_batch at the given rates: the reference curve."""
    out = []
    for i, lr in enumerate(lrs.tolist()):
        model.optimizer.learning_rate = lr
        x, y = batches[i % len(batches)]
        out.append(float(model.train_on_batch(x, y, return_dict=True)["loss"]))
    return out


# --------------------------------------------------------------------------- the engine


def test_a_step_returns_that_batchs_loss_as_computed_by_hand() -> None:
    """The compiled loss plus the l2 penalty, BatchNorm in training mode, before the update;
    the second step's is its own batch's, not the running mean of the two."""
    model = _trained(_model())
    x, y = _data()
    (x0, y0), (x1, y1) = _batches(x, y)[:2]

    def by_hand(bx: np.ndarray, by: np.ndarray) -> float:
        pred = keras.ops.convert_to_numpy(model(bx, training=True)).astype(np.float64)
        reg = sum(float(keras.ops.convert_to_numpy(v)) for v in model.losses)
        return float(np.mean((by - pred) ** 2)) + reg

    with KerasEngine(model) as engine:
        start = engine.save()
        want0 = by_hand(x0, y0)  # the forward pass moves the BatchNorm statistics: put back
        engine.restore(start)
        got0 = engine.step((x0, y0), 1e-2)
        mid = engine.save()
        want1 = by_hand(x1, y1)
        engine.restore(mid)
        got1 = engine.step((x1, y1), 1e-2)
        engine.restore(start)
    np.testing.assert_allclose(got0, want0, rtol=1e-6)
    np.testing.assert_allclose(got1, want1, rtol=1e-6)
    assert abs(got1 - (got0 + got1) / 2) > 1e-3 * got1  # not the running mean


@pytest.mark.parametrize("kind", ["float", "schedule"])
def test_a_new_rate_is_seen_without_retracing(kind: str) -> None:
    """Plain SGD on a linear model: the update is proportional to the rate, and the jitted
    train step is traced once for all the rates (once more for a schedule's swap)."""
    lr: Any = 0.1 if kind == "float" else keras.optimizers.schedules.ExponentialDecay(0.1, 5, 0.5)
    model = _model(lr, optimizer="sgd", bn=False, reg=None)
    traces = [0]
    step = model.train_step

    def counted(*args: Any) -> Any:
        traces[0] += 1
        return step(*args)

    model.train_step = counted
    x, y = _data()
    batch = _batches(x, y)[0]
    with KerasEngine(model, example=batch) as engine:
        start = engine.save()
        moves = []
        for rate in (0.0, 1e-3, 2.5e-3, 1e-2):
            engine.restore(start)
            engine.step(batch, rate)
            engine.flush()
            moves.append(model.layers[-1].kernel.numpy() - start[0][2])
        engine.restore(start)
    assert traces[0] == 1
    assert np.array_equal(moves[0], np.zeros_like(moves[0]))
    for m, rate in zip(moves[2:], (2.5e-3, 1e-2)):
        np.testing.assert_allclose(m, moves[1] * (rate / 1e-3), rtol=1e-5, atol=2e-7)


def test_restore_is_bit_for_bit_and_repeatable_with_dropout() -> None:
    """The same snapshot restored twice gives the same steps (dropout's seed state included),
    and dropout is on in the step (its loss is not the inference-mode loss)."""
    model = _trained(_model(dropout=0.5, bn=False))
    x, y = _data()
    batches = _batches(x, y)
    with KerasEngine(model) as engine:
        start = engine.save()
        first = [engine.step(b, 1e-2) for b in batches]
        engine.restore(start)
        again = [engine.step(b, 1e-2) for b in batches]
        engine.restore(start)
        bx, by = batches[0]
        inference = float(model.compute_loss(x=bx, y=by, y_pred=model(bx, training=False)))
    assert first == again
    assert abs(first[0] - inference) > 1e-4


# --------------------------------------------------------------------------- find_lr


def test_the_curve_is_a_hand_loop_of_train_on_batch() -> None:
    x, y = _data()
    model = _model(dropout=0.2)
    result = find_lr(model, x, y, batch_size=BS, num_steps=30, max_lr=1.0, confirm=0)
    assert len(result.lrs) == 30 and result.stop_reason == "max_lr"
    want = _hand_loop(_model(dropout=0.2), _batches(x, y), result.lrs)
    np.testing.assert_allclose(result.losses, want, rtol=1e-6)
    assert {"fastai_valley", "lrlab"} <= set(result.suggestions)


def test_a_generator_and_a_py_dataset_give_the_arrays_curve() -> None:
    x, y = _data()
    batches = _batches(x, y)

    class Data(keras.utils.PyDataset):
        def __len__(self) -> int:
            return len(batches)

        def __getitem__(self, i: int) -> Any:
            return batches[i]

    opts: dict[str, Any] = {"num_steps": 20, "max_lr": 1.0, "confirm": 0}
    arrays = find_lr(_model(), x, y, **opts).losses
    gen = (batches[i % len(batches)] for i in range(20))
    np.testing.assert_array_equal(find_lr(_model(), gen, **opts).losses, arrays)
    np.testing.assert_array_equal(find_lr(_model(), Data(), **opts).losses, arrays)


def _raising(batches: list[Any], after: int) -> keras.utils.PyDataset:
    class Failing(keras.utils.PyDataset):
        calls = 0

        def __len__(self) -> int:
            return len(batches)

        def __getitem__(self, i: int) -> Any:
            Failing.calls += 1
            if Failing.calls > after:
                raise RuntimeError("the data source failed")
            return batches[i]

    return Failing()


@pytest.mark.parametrize("kind", ["float", "schedule"])
@pytest.mark.parametrize("outcome", ["finished", "diverged", "raised"])
def test_everything_is_restored_bit_for_bit(outcome: str, kind: str) -> None:
    """Weights, BatchNorm statistics, dropout seed state, Adam's iterations and moments, the
    rate (a value, or the very schedule object), the metrics and the train function, after
    a sweep that finished (and raced), one that diverged and one that raised mid-way."""
    lr: Any = 1e-3 if kind == "float" else lrlab.keras.schedule("cosine(1e-3, 100)")
    model = _trained(_model(lr, dropout=0.2))
    before = _state(model)
    x, y = _data()
    opts: dict[str, Any] = {"num_steps": 20, "horizon": 100}
    if outcome == "finished":
        result = find_lr(model, x, y, max_lr=1e-2, **opts)
        assert result.stop_reason == "max_lr" and result.steps > 20  # the race ran too
    elif outcome == "diverged":
        result = find_lr(model, x, y, min_lr=1.0, max_lr=1e6, **opts)
        assert result.stop_reason in ("diverged", "non-finite")
    else:
        with pytest.raises(RuntimeError, match="the data source failed"):
            find_lr(model, _raising(_batches(x, y), after=12), **opts)
    _assert_same(before, model)
    if kind == "float":
        assert float(model.optimizer.learning_rate) == np.float32(1e-3)
    model.fit(x, y, batch_size=BS, epochs=1, verbose=0)  # and fit still trains it


def test_validation_data_scores_the_race_in_inference_mode() -> None:
    """The validation loss is the compiled loss (with the l2 penalty) in inference mode, of
    the state the steps reached; the race runs on it, and everything is restored."""
    from lrlab.finder.keras import _validation

    x, y = _data()
    xv, yv = _data(2, 64)
    model = _trained(_model(dropout=0.2))
    before = _state(model)
    with KerasEngine(model) as engine:
        start = engine.save()
        val, n_val = _validation(model, (xv, yv), None, engine)
        engine.step(_batches(x, y)[0], 1e-2)
        got = val()
        pred = keras.ops.convert_to_numpy(model(xv, training=False)).astype(np.float64)
        reg = sum(float(keras.ops.convert_to_numpy(v)) for v in model.losses)
        engine.restore(start)
    assert n_val == 64
    np.testing.assert_allclose(got, np.mean((yv - pred) ** 2) + reg, rtol=1e-6)
    result = find_lr(model, x, y, validation_data=(xv, yv), num_steps=20, horizon=100)
    _assert_same(before, model)
    assert result.confirmed and result.confirmations


def test_tf_data_is_read_when_tensorflow_is_installed() -> None:
    tf = pytest.importorskip("tensorflow")
    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(BS)
    opts: dict[str, Any] = {"num_steps": 20, "max_lr": 1.0, "confirm": 0}
    got = find_lr(_model(), ds, **opts).losses
    np.testing.assert_array_equal(got, find_lr(_model(), x, y, **opts).losses)


# --------------------------------------------------------------------------- the callback


@pytest.mark.parametrize("kind", ["float", "schedule"])
def test_the_callback_sweeps_inside_fit_and_restores(kind: str) -> None:
    """The curve is each batch's own loss (a hand loop of train_on_batch from the same start,
    not fit's running mean), fit stops when the ramp ends, and all is as it was."""
    lr: Any = 1e-3 if kind == "float" else lrlab.keras.schedule("constant(1e-3)")
    model = _trained(_model(lr, dropout=0.2))
    before = _state(model)
    x, y = _data()
    finder = LRFinder(num_steps=20, max_lr=1.0)
    history = model.fit(x, y, batch_size=BS, epochs=50, shuffle=False, verbose=0,
                        callbacks=[finder])  # fmt: skip
    _assert_same(before, model)
    assert len(history.history["loss"]) == 3  # 8 batches an epoch: stopped in the third
    result = finder.result
    assert result is not None and len(result.lrs) == 20 and result.stop_reason == "max_lr"
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-7, 1.0, 20), rtol=1e-12)
    ref = _trained(_model(1e-3, dropout=0.2))  # the same start: a constant schedule is 1e-3
    np.testing.assert_allclose(result.losses, _hand_loop(ref, _batches(x, y), result.lrs),
                               rtol=1e-6)  # fmt: skip
    assert {"fastai_valley", "lrlab"} <= set(result.suggestions) and not result.confirmed


def test_the_callback_stops_fit_when_the_loss_diverges() -> None:
    model = _trained(_model(optimizer="sgd"))
    before = _state(model)
    x, y = _data()
    finder = LRFinder(min_lr=1e-2, max_lr=1e8, num_steps=60)
    model.fit(x, y, batch_size=BS, epochs=20, verbose=0, callbacks=[finder])
    _assert_same(before, model)
    assert finder.result is not None and finder.result.stop_reason in ("diverged", "non-finite")
    assert len(finder.result.lrs) < 60


# --------------------------------------------------------------------------- torch backend

TORCH_SCRIPT = """
import json, os
import keras, numpy as np
from lrlab.finder.keras import LRFinder, find_lr
assert keras.backend.backend() == "torch"
rng = np.random.default_rng(0)
x = rng.standard_normal((256, 6)).astype("float32"); y = x[:, :1] * 2.0
def model(lr, drop=0.2):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dropout(drop), keras.layers.BatchNormalization(),
                          keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    m.fit(x[:64], y[:64], batch_size=32, verbose=0, shuffle=False)
    return m
def state(m):
    vs = m.variables + m.optimizer.variables + m.metrics_variables
    return [keras.ops.convert_to_numpy(v).copy() for v in vs]
def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))
out = {}
for kind in ("float", "schedule"):
    lr = 1e-3 if kind == "float" else keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 1.0)
    m = model(lr); before = state(m)
    r = find_lr(m, x, y, num_steps=20, max_lr=1.0, horizon=100)
    restored = same(before, state(m))
    def hand(drop):
        ref = model(1e-3, drop); out = []  # the same start: the schedule is constant
        for i, rate in enumerate(r.lrs.tolist()):
            ref.optimizer.learning_rate = rate
            b = slice(32 * (i % 8), 32 * (i % 8 + 1))
            out.append(float(ref.train_on_batch(x[b], y[b], return_dict=True)["loss"]))
        return out
    # Without dropout in fit: torch's DataLoader in fit draws from torch's global RNG, from
    # which an unseeded dropout draws its masks, so fit's masks are not train_on_batch's.
    m = model(lr, 0.0); before_fit = state(m)
    cb = LRFinder(num_steps=20, max_lr=1.0)
    m.fit(x, y, batch_size=32, epochs=10, shuffle=False, verbose=0, callbacks=[cb])
    out[kind] = {
        "restored": restored and same(before_fit, state(m)),
        "rate_back": m.optimizer._learning_rate is lr if kind == "schedule" else True,
        "curve": r.losses.tolist(), "hand": hand(0.2), "callback": cb.result.losses.tolist(),
        "hand_no_dropout": hand(0.0),
        "raced": bool(r.confirmed),
    }
print(json.dumps(out))
"""


@pytest.mark.slow  # a fresh interpreter importing torch and Keras: 10-15 s on 2 shared cores
def test_the_torch_backend_in_a_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(lrlab.keras.__file__).parents[1]),
                                         env.get("PYTHONPATH", "")])  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TORCH_SCRIPT)], capture_output=True, text=True,
        env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for kind in ("float", "schedule"):
        got = out[kind]
        assert got["restored"] and got["rate_back"] and got["raced"], kind
        np.testing.assert_allclose(got["curve"], got["hand"], rtol=1e-6)
        np.testing.assert_allclose(got["callback"], got["hand_no_dropout"], rtol=1e-6)


# --------------------------------------------------------------------------- bad input


class _FixedRate(keras.optimizers.SGD):
    """An optimizer whose rate is a read-only property."""

    @property
    def learning_rate(self) -> float:  # type: ignore[override]
        return 0.01


def _one_shot(n: int) -> Iterator[Any]:
    x, y = _data()
    batches = _batches(x, y)
    return (batches[i % len(batches)] for i in range(n))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("uncompiled", r"^Argument `model` must be compiled .*Received: an uncompiled model="),
        ("fixed rate", r"^Argument `model` must be compiled with a Keras optimizer whose "
                       r"learning_rate the test can set .*Received: optimizer=_FixedRate"),
        ("short generator", r"^Argument `x` must give at least 20 batches .*held 7$"),
        ("x without y", r"^Argument `y` must be given with arrays `x` .*Received: y=None$"),
        ("batch_size 0", r"^Argument `batch_size` must be a positive integer of at most the "
                         r"256 samples .*Received: batch_size=0$"),
        ("batch_size 2.5", r"^Argument `batch_size` .*Received: batch_size=2\.5$"),
        ("batch_size too big", r"^Argument `batch_size` .*Received: batch_size=1000$"),
        ("batch_size with a generator", r"^Argument `batch_size` must be None when `x` is a "
                                        r"dataset or a generator"),
        ("y with a generator", r"^Argument `y` must be None when `x` is a dataset"),
        ("not data", r"^Argument `x` must be a NumPy array .*Received: x="),
        ("wrong shape", r"^Argument `x` must hold batches that fit the model's inputs"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_anything_trains(case: str, message: str) -> None:
    x, y = _data()
    model = _model()
    args: tuple[Any, ...] = (x, y)
    kwargs: dict[str, Any] = {"num_steps": 20}
    if case == "uncompiled":
        model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(1)])
    elif case == "fixed rate":
        model.compile(optimizer=_FixedRate(), loss="mse")
    elif case == "short generator":
        args = (_one_shot(7),)
    elif case == "x without y":
        args = (x,)
    elif case.startswith("batch_size "):
        kwargs["batch_size"] = {"0": 0, "2.5": 2.5, "too big": 1000}.get(case.split(" ", 1)[1])
        if case == "batch_size with a generator":
            args, kwargs["batch_size"] = (_one_shot(40),), 8
    elif case == "y with a generator":
        args = (_one_shot(40), y)
    elif case == "not data":
        args = ("data.csv",)
    elif case == "wrong shape":
        model = keras.Sequential([keras.layers.Dense(1)])  # unbuilt: built on the first batch
        model.compile(optimizer="sgd", loss="mse")
        model.build((None, D + 1))
    before = _state(model) if model.compiled and model.built else None
    with pytest.raises(UsageError, match=message):
        find_lr(model, *args, **kwargs)
    if before is not None:
        _assert_same(before, model)
        assert int(model.optimizer.iterations) == 0


def test_a_generator_that_ends_in_the_race_is_refused_with_the_model_restored() -> None:
    model = _trained(_model())
    before = _state(model)
    with pytest.raises(UsageError, match=r"Argument `x` ended after 22 batches, but the range "
                       r"test needs up to 100"):  # fmt: skip
        find_lr(model, _one_shot(22), num_steps=20, horizon=400)
    _assert_same(before, model)


def test_the_callback_refuses_a_bad_option_and_an_uncompiled_model() -> None:
    with pytest.raises(UsageError, match=r"^Argument `num_steps` must be at least 5"):
        LRFinder(num_steps=3)
    model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(1)])
    with pytest.raises(UsageError, match=r"^Argument `model` must be compiled"):
        KerasEngine(model)
