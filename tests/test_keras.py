"""lrlab.keras: the schedule as a serializable Keras LearningRateSchedule (JAX backend)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import lrlab
import lrlab.keras as lk
from lrlab.adapters.keras import keras_ops_value
from lrlab.errors import UsageError
from lrlab.schedules import (
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    inverse_sqrt,
    inverse_time,
    join,
    multistep,
    one_cycle,
    piecewise,
    polynomial,
    step,
    warmup,
    wsd,
)

SCHEDULES = [
    cosine(0.1, 30, 0.001),
    warmup(cosine(0.1, 20), 5, 0.01),
    cosine_restarts(0.2, 4, mult=2.0, decay=0.5),
    one_cycle(0.5, 30, anneal="linear"),
    cyclic(0.01, 0.1, 4, "triangular2"),
    join([step(0.1, 0.5, 3), exponential(0.05, 0.1, staircase=True)], [12]),
    multistep(0.1, [5, 10], 0.5) * 2.0,
    piecewise([4, 9], [0.3, 0.2, 0.1]),
    polynomial(0.1, 20, 0.01, 0.5),
    inverse_time(0.1, 0.3, 2),
    inverse_sqrt(0.1, 6),
    wsd(0.3, 30, 5, 0.3, "1-sqrt"),
]


def _f32_close(got: Any, want: Any) -> None:
    """float32 evaluation against the float64 value: a few float32 ulps of the peak."""
    want = np.asarray(want, dtype=np.float64)
    peak = float(np.max(np.abs(want)))
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=2e-6, atol=2e-6 * peak)


def test_backend_is_jax() -> None:
    assert keras.backend.backend() == "jax"


@pytest.mark.parametrize("s", SCHEDULES, ids=lambda s: s.kind)
def test_values_match_the_schedule(s: lrlab.Schedule) -> None:
    lr = lk.schedule(s)
    assert isinstance(lr, keras.optimizers.schedules.LearningRateSchedule)
    got = [lr(keras.ops.convert_to_tensor(k)) for k in range(40)]
    assert all(str(g.dtype) == "float32" for g in got)
    _f32_close(got, s(np.arange(40)))
    # The keras.ops path (what a TensorFlow backend would use) gives the same values.
    _f32_close([keras_ops_value(s, k) for k in range(40)], s(np.arange(40)))


class _Record(keras.callbacks.Callback):
    """The optimizer's LR before each batch and the kernel after it."""

    def __init__(self) -> None:
        super().__init__()
        self.lrs: list[float] = []
        self.kernels: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.lrs.append(float(self.model.optimizer.learning_rate))

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.kernels.append(float(np.asarray(self.model.layers[-1].kernel.value)[0, 0]))


def _unit_gradient_model(s: lrlab.Schedule) -> keras.Model:
    """y = w * 1 with loss = mean(y): the gradient is exactly 1, so with plain SGD
    each step moves w by exactly -lr."""
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=lk.schedule(s)),
        loss=lambda y_true, y_pred: keras.ops.mean(y_pred),
    )
    return model


@pytest.mark.parametrize("s", [warmup(cosine(0.1, 12), 4), cyclic(0.01, 0.1, 3)], ids=str)
def test_model_fit_applies_the_schedule_each_iteration(s: lrlab.Schedule) -> None:
    model = _unit_gradient_model(s)
    record = _Record()
    n = 18
    x = np.ones((n * 2, 1), dtype="float32")
    model.fit(x, x, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    assert int(model.optimizer.iterations.value) == n
    want = s(np.arange(n))
    _f32_close(record.lrs, want)
    # The LR the jitted train step actually applied: w_k - w_{k+1} (float32 weights near 1).
    applied = -np.diff([0.0, *record.kernels])
    np.testing.assert_allclose(applied, want, rtol=0, atol=1e-6)


def test_get_config_is_the_schedule_config() -> None:
    s = warmup(cosine(0.1, 20), 5, 0.01)
    lr = lk.schedule(str(s))
    assert lr.get_config() == s.to_config()
    again = lk.KerasSchedule.from_config(json.loads(json.dumps(lr.get_config())))
    assert again.schedule == s
    blob = keras.saving.serialize_keras_object(lr)
    assert blob["registered_name"] == "lrlab>KerasSchedule"
    assert keras.saving.deserialize_keras_object(blob).schedule == s


_LOAD = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import lrlab.keras
import keras
model = keras.models.load_model(sys.argv[1])
opt = model.optimizer
print(json.dumps({
    "class": type(opt._learning_rate).__module__ + "." + type(opt._learning_rate).__name__,
    "schedule": str(opt._learning_rate.schedule),
    "iterations": int(keras.ops.convert_to_numpy(opt.iterations)),
    "lr": float(opt.learning_rate),
}))
"""


def _load_in_fresh_process(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LOAD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )


def test_model_save_and_load_without_custom_objects(tmp_path: Path) -> None:
    s = warmup(cosine_restarts(0.1, 6, mult=2.0), 3)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lk.schedule(s)), loss="mse")
    x = np.random.default_rng(0).normal(size=(14, 3)).astype("float32")
    model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)

    done = _load_in_fresh_process(path)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["class"] == "lrlab.adapters.keras.KerasSchedule"
    assert lrlab.parse(got["schedule"]) == s
    assert got["iterations"] == 7
    assert got["lr"] == pytest.approx(s(7), rel=2e-6)

    # Control: without the registration lrlab.keras made, Keras cannot load it.
    registered = keras.saving.get_custom_objects()
    cls = registered.pop("lrlab>KerasSchedule")
    try:
        with pytest.raises(TypeError, match="KerasSchedule"):
            keras.models.load_model(path)
    finally:
        registered["lrlab>KerasSchedule"] = cls
    assert keras.models.load_model(path).optimizer.learning_rate == pytest.approx(s(7), rel=2e-6)


def test_bad_schedule_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"`schedule` of lrlab.keras.schedule\(\).*=\[0.1\]"):
        lk.schedule([0.1])


# -- reduce_on_plateau: PlateauCallback -------------------------------------------------------


def _plateau_fit(callback: Any, epochs: int, seed: int = 0) -> tuple[keras.Model, list[float], Any]:
    """A linear model on noisy targets with a large rate: the validation loss soon plateaus.
    Returns the model, the rate of each epoch (read at its start) and the History."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(size=96)).astype("float32")[:, None]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss="mse")
    rates: list[float] = []
    probe = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: rates.append(
            float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        )
    )
    hist = model.fit(
        x[:64],
        y[:64],
        validation_data=(x[64:], y[64:]),
        batch_size=8,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[callback, probe],
    )
    return model, rates, hist


def test_plateau_callback_matches_keras_reduce_lr_on_plateau_through_the_mapping() -> None:
    """Keras's own callback (patience 2, cooldown 2, min_delta 0.01) and lrlab's rule
    (patience 1, cooldown 1, threshold 0.01 absolute, eps 0) in two identical fits: the same
    rate every epoch and the same weights at the end."""
    from lrlab.schedules import reduce_on_plateau

    theirs = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=2, cooldown=2, min_delta=0.01, min_lr=1e-3
    )
    rule = reduce_on_plateau(
        0.3, factor=0.5, patience=1, cooldown=1, threshold=0.01, threshold_mode="abs",
        min_lr=1e-3, eps=0.0,
    )  # fmt: skip
    ours = lk.PlateauCallback(rule)
    m1, r1, h1 = _plateau_fit(theirs, 30)
    m2, r2, h2 = _plateau_fit(ours, 30)
    assert r1 == r2
    assert len(set(r1)) >= 3  # it reduced at least twice
    assert h1.history["val_loss"] == h2.history["val_loss"]
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        assert np.array_equal(a, b)
    # and the rates are the rule's own, replayed on the logged validation losses (float32)
    replay = rule(h2.history["val_loss"])
    _f32_close(np.array(r2[1:]), replay[:-1])
    assert ours.state.evaluations == 30 and ours.state.lr == replay[-1]


def test_plateau_callback_state_carries_over_and_resumes() -> None:
    from lrlab.schedules import PlateauState, reduce_on_plateau

    rule = reduce_on_plateau(0.3, factor=0.5, patience=0, threshold=0.02)
    whole = lk.PlateauCallback(rule)
    _, rates, _ = _plateau_fit(whole, 12)
    first = lk.PlateauCallback(rule)
    _plateau_fit(first, 6)
    saved = json.loads(json.dumps(first.state._asdict()))
    resumed = lk.PlateauCallback(rule, state=PlateauState(**saved))
    assert resumed.state == first.state
    assert resumed.get_config() == {"rule": rule.to_config(), "monitor": "val_loss"}
    assert len(set(rates)) >= 2


def test_plateau_callback_bad_input() -> None:
    from lrlab.schedules import PlateauState, reduce_on_plateau

    with pytest.raises(UsageError, match="Argument `rule` of PlateauCallback"):
        lk.PlateauCallback(cosine(0.1, 10))
    assert lk.PlateauCallback("reduce_on_plateau(0.1, patience=2)").rule.patience == 2
    with pytest.raises(UsageError, match="Argument `monitor`"):
        lk.PlateauCallback(reduce_on_plateau(0.1), monitor="")
    with pytest.raises(UsageError, match="Argument `state`"):
        lk.PlateauCallback(reduce_on_plateau(0.1), state={"lr": 0.1})  # type: ignore[arg-type]
    with pytest.raises(
        UsageError, match="Argument `state` of PlateauCallback\\(\\) holds a bad 'lr'"
    ):
        lk.PlateauCallback(reduce_on_plateau(0.1), state=PlateauState(lr=-1.0, best=1.0))
    cb = lk.PlateauCallback(reduce_on_plateau(0.1), monitor="val_accuracy")
    with pytest.raises(UsageError, match="monitors 'val_accuracy', which this fit does not log"):
        _plateau_fit(cb, 1)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lk.schedule("constant(0.1)")))
    cb = lk.PlateauCallback(reduce_on_plateau(0.1))
    cb.set_model(model)
    with pytest.raises(UsageError, match="learning_rate is a value, not a schedule"):
        cb.on_train_begin()
