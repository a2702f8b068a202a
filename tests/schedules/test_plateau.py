"""reduce_on_plateau: the rule against PyTorch's ReduceLROnPlateau (bit for bit), Keras's
callback and Optax's contrib.reduce_on_plateau (through the documented argument mapping)."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

import lrlab
from lrlab.errors import ScheduleError
from lrlab.schedules import PlateauState, cosine, parse_rule, reduce_on_plateau


def _metrics(rng: np.random.Generator, n: int, *, special: bool = True) -> list[float]:
    """A noisy, plateauing, sometimes repeating series; values on a 1/64 grid (exact in
    float32, so float32 peers compare them as float64 does), with NaN and inf when asked."""
    level = 4.0
    out: list[float] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.25:
            level = max(level - rng.integers(1, 16) / 64, 0.25)  # an improvement
        elif r < 0.35 and out:
            out.append(out[-1])  # an exact repeat
            continue
        value = level + rng.integers(0, 12) / 64
        if special and r > 0.97:
            value = math.nan if r > 0.985 else math.inf
        out.append(value)
    return out


def _torch_lrs(metrics: list[float], **kw: Any) -> tuple[list[float], list[tuple]]:
    lr = kw.pop("lr")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = ReduceLROnPlateau(opt, **kw)
    lrs, states = [], []
    for m in metrics:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
        states.append((sched.best, sched.num_bad_epochs, sched.cooldown_counter))
    return lrs, states


SETTINGS = [
    dict(zip(("mode", "threshold_mode", "patience", "cooldown"), combo))
    for combo in itertools.product(("min", "max"), ("rel", "abs"), (0, 1, 3), (0, 2))
]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_matches_torch_bit_for_bit(setting: dict[str, Any]) -> None:
    rng = np.random.default_rng(len(str(setting)))
    for trial in range(6):
        kw = {
            **setting,
            "lr": float(rng.choice([0.1, 0.3, 1.0, 1e-6])),
            "factor": float(rng.choice([0.1, 0.5, 0.7])),
            "threshold": float(rng.choice([1e-4, 0.0, 0.01])),
            "min_lr": float(rng.choice([0.0, 1e-3, 0.02])),
            "eps": float(rng.choice([1e-8, 0.0])),
        }
        metrics = _metrics(rng, 80)
        if setting["mode"] == "max":
            metrics = [-m for m in metrics]
        rule = reduce_on_plateau(**kw)
        want, want_states = _torch_lrs(metrics, **dict(kw))
        states = rule.run(metrics)
        assert [s.lr for s in states] == want, (kw, trial)
        assert [(s.best, s.bad, s.cooldown) for s in states] == want_states
        assert rule(metrics).tolist() == want
        assert [s.evaluations for s in states] == list(range(1, len(metrics) + 1))
        changes = sum(a != b for a, b in zip([kw["lr"], *want], want))
        assert states[-1].reductions == changes


def test_the_series_actually_reduces() -> None:
    """The comparison above is not vacuous: the series plateau, and rates do fall."""
    rng = np.random.default_rng(0)
    lrs = reduce_on_plateau(1.0, factor=0.5, patience=1)(_metrics(rng, 80))
    assert lrs[-1] < 1.0 / 8
    assert len(set(lrs.tolist())) >= 4


def test_formula_by_hand() -> None:
    rule = reduce_on_plateau(1.0, factor=0.5, patience=2, cooldown=1, threshold=0.0)
    # improvement, then bad x3 (drop on the 3rd), a cooldown evaluation ignored, bad x3 again
    metrics = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert rule(metrics).tolist() == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert rule.improves(0.5, 1.0) and not rule.improves(1.0, 1.0)
    rel = reduce_on_plateau(1.0, threshold=0.1)
    assert rel.improves(0.89, 1.0) and not rel.improves(0.9, 1.0)
    mx = reduce_on_plateau(1.0, mode="max", threshold=0.1, threshold_mode="abs")
    assert mx.improves(1.11, 1.0) and not mx.improves(1.1, 1.0)


def test_min_lr_and_eps_stop_the_decay() -> None:
    rule = reduce_on_plateau(1.0, factor=0.1, patience=0, min_lr=0.005)
    assert rule([1.0] * 6).tolist() == [1.0, 0.1, 0.010000000000000002, 0.005, 0.005, 0.005]
    # a reduction of eps or less is not made (torch's eps)
    tiny = reduce_on_plateau(1e-8, factor=0.5, patience=0, eps=1e-8)
    assert tiny([1.0] * 4).tolist() == [1e-8] * 4


def test_pure_state_and_replay() -> None:
    rule = reduce_on_plateau(0.1, factor=0.5, patience=1)
    s0 = rule.init()
    assert s0 == PlateauState(lr=0.1, best=math.inf)
    s1 = rule.update(s0, torch.tensor(1.0))  # a 0-d tensor is a metric too
    assert s0 == PlateauState(lr=0.1, best=math.inf)  # unchanged
    assert s1 == PlateauState(lr=0.1, best=1.0, bad=0, cooldown=0, evaluations=1)
    metrics = [1.0, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8]
    whole = rule.run(metrics)
    # resuming from any saved state (as JSON) gives the rest of the uninterrupted run
    for k in range(len(metrics)):
        saved = json.loads(json.dumps(whole[k]._asdict()))
        rest = rule.run(metrics[k + 1 :], PlateauState(**saved))
        assert rest == whole[k + 1 :]
    assert rule.init(0.3).lr == 0.3 and rule.with_lr(0.3).init().lr == 0.3


@pytest.mark.parametrize(
    ("key", "bad"),
    [("lr", -1.0), ("lr", math.inf), ("lr", "0.1"), ("best", math.nan), ("bad", -1),
     ("cooldown", 1.5), ("evaluations", True)],
)  # fmt: skip
def test_a_saved_state_is_checked_field_by_field(key: str, bad: Any) -> None:
    good = reduce_on_plateau(0.1).run([1.0, 2.0])[-1]._asdict()
    assert PlateauState.from_dict(good) == PlateauState(**good)
    with pytest.raises(ScheduleError, match=f"PlateauState holds a bad '{key}'"):
        PlateauState.from_dict({**good, key: bad})
    with pytest.raises(ScheduleError, match="must be a dict with the keys"):
        PlateauState.from_dict({"lr": 0.1})


def test_config_and_text_round_trip() -> None:
    rule = reduce_on_plateau(
        0.1, factor=0.5, patience=3, threshold=0.01, threshold_mode="abs", mode="max",
        cooldown=2, min_lr=1e-4, eps=0.0,
    )  # fmt: skip
    cfg = rule.to_config()
    assert cfg["type"] == "reduce_on_plateau"
    assert reduce_on_plateau.from_config(json.loads(json.dumps(cfg))) == rule
    assert str(rule).startswith("reduce_on_plateau(lr=0.1, factor=0.5, patience=3,")
    assert reduce_on_plateau(0.1) != rule


def test_text_form_parses_back_without_evaluating() -> None:
    rule = reduce_on_plateau(0.1, factor=0.5, patience=3, threshold_mode="abs", mode="max")
    assert reduce_on_plateau.parse(str(rule)) == rule
    assert parse_rule(str(rule)) == rule and parse_rule(rule) is rule
    assert parse_rule("cosine(0.1, 10)") == cosine(0.1, 10)
    assert reduce_on_plateau.parse("reduce_on_plateau(0.1, 0.5, 3)") == reduce_on_plateau(
        0.1, 0.5, 3
    )
    with pytest.raises(ScheduleError, match="driven by a metric, not the step"):
        lrlab.parse("reduce_on_plateau(0.1)")
    with pytest.raises(ScheduleError, match="driven by a metric, not the step"):
        lrlab.from_config(rule.to_config())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reduce_on_plateau()", "Missing argument `lr`"),
        ("reduce_on_plateau(0.1, patient=3)", "Unknown argument `patient`"),
        ("reduce_on_plateau(0.1, 0.5, lr=3)", "Argument `lr` of reduce_on_plateau() given twice"),
        ("reduce_on_plateau(0.1, factor=__import__('os'))", "must be literal numbers"),
        ("reduce_on_plateau(0.1, **{'factor': 0.5})", "not unpacked with **"),
        ("reduce_on_plateau(0.1", "Malformed reduce_on_plateau text"),
        ("cosine(0.1, 10)", "Malformed reduce_on_plateau text"),
        ("reduce_on_plateau(0.1, factor=2)", "Received: factor=2"),
        ("reduce_on_plateau(" + "0," * 10 + ")", "takes at most 9 arguments"),
    ],
)
def test_bad_text_is_named(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        reduce_on_plateau.parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1.0}, "Argument `lr` of reduce_on_plateau() must be a finite number >= 0. "
         "Received: lr=-1.0"),
        ({"lr": 0.1, "factor": 1.0}, "Argument `factor` of reduce_on_plateau() must be a finite "
         "number > 0 and < 1. Received: factor=1.0"),
        ({"lr": 0.1, "patience": -1}, "Argument `patience` of reduce_on_plateau() must be an "
         "integer >= 0. Received: patience=-1"),
        ({"lr": 0.1, "patience": 1.5}, "Received: patience=1.5"),
        ({"lr": 0.1, "mode": "mn"}, "Argument `mode` of reduce_on_plateau() must be one of "
         "'min', 'max'. Received: mode='mn'"),
        ({"lr": 0.1, "threshold_mode": "relative"}, "Received: threshold_mode='relative'"),
        ({"lr": 0.1, "threshold": math.nan}, "Received: threshold=nan"),
        ({"lr": 0.1, "cooldown": -2}, "Received: cooldown=-2"),
        ({"lr": 0.1, "min_lr": -0.1}, "Received: min_lr=-0.1"),
        ({"lr": 0.1, "eps": math.inf}, "Received: eps=inf"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        reduce_on_plateau(**kwargs)
    assert message in str(info.value)


def test_bad_metric_and_config() -> None:
    rule = reduce_on_plateau(0.1)
    with pytest.raises(ScheduleError, match=r"`metric` .* Received: metric='low'"):
        rule.update(rule.init(), "low")
    with pytest.raises(ScheduleError, match="Received: metric=tensor"):
        rule.update(rule.init(), torch.ones(2))
    with pytest.raises(ScheduleError, match="unknown keys \\['patient'\\]"):
        reduce_on_plateau.from_config({"type": "reduce_on_plateau", "lr": 0.1, "patient": 3})
    with pytest.raises(ScheduleError, match="Received: config="):
        reduce_on_plateau.from_config({"type": "cosine", "lr": 0.1})


# -- the other peers, through the argument mapping in docs/peers.md ---------------------------


@pytest.mark.parametrize(
    ("mode", "patience", "cooldown"), list(itertools.product(("min", "max"), (1, 2, 4), (0, 1, 3)))
)
def test_keras_callback_through_the_mapping(mode: str, patience: int, cooldown: int) -> None:
    """keras.callbacks.ReduceLROnPlateau(patience=p, cooldown=c, min_delta=d) is
    reduce_on_plateau(patience=p-1, cooldown=max(c-1, 0), threshold=d, threshold_mode="abs",
    eps=0).  Keras keeps the LR in a float32 variable: compared at float32 precision."""
    import keras

    rng = np.random.default_rng(patience * 10 + cooldown)
    metrics = _metrics(rng, 60, special=False)
    if mode == "max":
        metrics = [-m for m in metrics]
    factor, min_delta, min_lr = 0.5, 0.01, 0.01
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    cb = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", mode=mode, factor=factor, patience=patience,
        cooldown=cooldown, min_delta=min_delta, min_lr=min_lr,
    )  # fmt: skip
    cb.set_model(model)
    cb.on_train_begin()
    want = []
    for epoch, m in enumerate(metrics):
        cb.on_epoch_end(epoch, {"val_loss": m})
        want.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    rule = reduce_on_plateau(
        1.0, factor=factor, patience=patience - 1, cooldown=max(cooldown - 1, 0),
        threshold=min_delta, threshold_mode="abs", mode=mode, min_lr=min_lr, eps=0.0,
    )  # fmt: skip
    got = rule(metrics)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert len(set(want)) >= 3  # the series do trigger reductions


@pytest.mark.parametrize(
    ("patience", "cooldown", "tol"),
    list(itertools.product((1, 2, 4), (0, 1, 3), ("rtol", "atol"))),
)
def test_optax_contrib_through_the_mapping(patience: int, cooldown: int, tol: str) -> None:
    """optax.contrib.reduce_on_plateau(patience=p, cooldown=c, rtol=r) is
    reduce_on_plateau(1.0, patience=p-1, cooldown=c, threshold=r, eps=0) (its ``scale`` is
    the rate); with ``atol=a`` instead, threshold=a and threshold_mode="abs".  Optax keeps
    the scale in the parameters' dtype (float32 here): compared at float32 precision."""
    import jax
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(patience * 10 + cooldown + (tol == "atol"))
    metrics = _metrics(rng, 60, special=False)
    factor, min_scale, t = 0.5, 0.01, 0.01
    tx = optax.contrib.reduce_on_plateau(
        factor=factor, patience=patience, cooldown=cooldown, min_scale=min_scale,
        rtol=t if tol == "rtol" else 0.0, atol=t if tol == "atol" else 0.0,
    )  # fmt: skip
    params = {"w": jnp.zeros(1, jnp.float32)}

    def one(state: Any, value: Any) -> tuple[Any, Any]:
        _, state = tx.update(params, state, params, value=value)
        return state, state.scale

    _, scales = jax.lax.scan(one, tx.init(params), jnp.asarray(metrics, jnp.float32))
    want = np.asarray(scales, dtype=np.float64).tolist()
    rule = reduce_on_plateau(
        1.0, factor=factor, patience=patience - 1, cooldown=cooldown, threshold=t,
        threshold_mode="rel" if tol == "rtol" else "abs", min_lr=min_scale, eps=0.0,
    )  # fmt: skip
    np.testing.assert_allclose(rule(metrics), want, rtol=1e-6)
    assert len(set(want)) >= 3


@pytest.mark.parametrize(
    ("mode", "threshold_mode", "cooldown"),
    list(itertools.product(("min", "max"), ("rel", "abs"), (0, 2))),
)
def test_the_step_is_one_formula_over_the_array_namespace(
    mode: str, threshold_mode: str, cooldown: int
) -> None:
    """The rule's step on NumPy arrays of states (what the Optax transformation does on
    jnp) is, element by element and bit for bit, update() on Python floats."""
    from lrlab.schedules._xp import NUMPY

    rng = np.random.default_rng(7)
    rule = reduce_on_plateau(
        0.1, factor=0.5, patience=1, threshold=0.05, threshold_mode=threshold_mode,
        mode=mode, cooldown=cooldown, min_lr=0.02, eps=1e-3,
    )  # fmt: skip
    n = 400
    states = [
        PlateauState(
            lr=float(rng.choice([0.1, 0.05, 0.0200001, 0.02])),
            best=float(rng.choice([1.0, math.inf, -math.inf, 0.5])),
            bad=int(rng.integers(0, 3)),
            cooldown=int(rng.integers(0, 3)),
        )
        for _ in range(n)
    ]
    values = _metrics(rng, n)
    lr, best, bad, cool, reduced = rule.step(
        NUMPY,
        np.array([s.lr for s in states]),
        np.array([s.best for s in states]),
        np.array([s.bad for s in states]),
        np.array([s.cooldown for s in states]),
        np.array(values),
    )
    want = [rule.update(s, v) for s, v in zip(states, values)]
    assert lr.tolist() == [w.lr for w in want]
    assert best.tolist() == [w.best for w in want]
    assert bad.tolist() == [w.bad for w in want]
    assert cool.tolist() == [w.cooldown for w in want]
    assert reduced.astype(int).tolist() == [w.reductions for w in want]
    assert 0 < reduced.sum() < n  # both branches were taken
