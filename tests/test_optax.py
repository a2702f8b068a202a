"""lrlab.optax: the schedule as a jit-safe Optax learning rate."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrlab
import lrlab.optax as lo
from lrlab.errors import UsageError
from lrlab.schedules import (
    clip,
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
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
    one_cycle(0.5, 30),
    cyclic(0.01, 0.1, 4, "exp_range", 0.99),
    join([step(0.1, 0.5, 3), clip(exponential(0.05, 0.1), 0.01, 0.04)], [12]),
    multistep(0.1, [5, 10], 0.5) * 2.0,
    wsd(0.3, 30, 5, 0.3, "cosine"),
]


def _f32_close(got: Any, want: Any, peak: float) -> None:
    """float32 evaluation against the float64 value: a few ulps of the peak LR."""
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64), want, rtol=4e-7 * 4, atol=4e-7 * 4 * peak
    )


@pytest.mark.parametrize("s", SCHEDULES, ids=lambda s: s.kind)
def test_sgd_applies_the_schedule_over_jitted_steps(s: lrlab.Schedule) -> None:
    opt = optax.sgd(lo.schedule(s))
    grads = jnp.array([0.5, -1.0, 2.0], dtype=jnp.float32)
    params = jnp.zeros(3, dtype=jnp.float32)
    state = opt.init(params)

    @jax.jit
    def update(grads: jax.Array, state: Any) -> tuple[jax.Array, Any]:
        return opt.update(grads, state)

    applied = []
    for _ in range(35):
        updates, state = update(grads, state)
        applied.append(np.asarray(updates))
    assert update._cache_size() == 1  # traced once: no Python branching on the step
    applied_lr = -np.stack(applied) / np.asarray(grads)  # sgd: update = -lr * grad
    want = s(np.arange(35))
    peak = float(np.max(want))
    for col in applied_lr.T:
        _f32_close(col, want, peak)


def test_inject_hyperparams_sees_the_schedule() -> None:
    s = warmup(cosine(0.1, 20), 5)
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=lo.schedule(s))
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    step_fn = jax.jit(opt.update)
    seen = []
    for _ in range(12):
        _, state = step_fn({"w": jnp.ones(2)}, state, params)
        seen.append(float(state.hyperparams["learning_rate"]))  # the LR that update used
    _f32_close(seen, s(np.arange(12)), 0.1)


def test_jit_and_vmap_over_steps() -> None:
    s = cosine_restarts(1.0, 7, mult=1.5, decay=0.8)
    lr = lo.schedule(s)
    steps = jnp.arange(200, dtype=jnp.int32)
    batched = jax.jit(jax.vmap(lr))(steps)
    direct = jax.jit(lr)(steps)
    assert batched.dtype == jnp.float32 and batched.shape == (200,)
    assert np.array_equal(np.asarray(batched), np.asarray(direct))
    _f32_close(batched, s(np.arange(200)), 1.0)
    assert float(lr(0)) == 1.0  # a Python int count works too


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (cosine(0.1, 50, 0.002), optax.cosine_decay_schedule(0.1, 50, alpha=0.02)),
        (
            exponential(0.1, -math.log(0.7), every=4),
            optax.exponential_decay(0.1, 4, 0.7),
        ),
        (
            exponential(0.1, -math.log(0.7), every=4, staircase=True),
            optax.exponential_decay(0.1, 4, 0.7, staircase=True),
        ),
        (polynomial(0.1, 40, 0.01, 2.0), optax.polynomial_schedule(0.1, 0.01, 2.0, 40)),
        (
            warmup(cosine(0.2, 40, 0.01), 10, 0.0),
            optax.warmup_cosine_decay_schedule(0.0, 0.2, 10, 50, 0.01),
        ),
        (
            piecewise([10, 30], [0.1, 0.05, 0.0125]),
            optax.piecewise_constant_schedule(0.1, {10: 0.5, 30: 0.25}),
        ),
    ],
    ids=["cosine", "exponential", "staircase", "polynomial", "warmup_cosine", "piecewise"],
)
def test_agrees_with_optax_builtins(ours: lrlab.Schedule, theirs: Any) -> None:
    steps = jnp.arange(80)
    got = jax.jit(lo.schedule(ours))(steps)
    want = jax.jit(theirs)(steps)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=4e-6, atol=1e-8)


def test_text_and_config_forms() -> None:
    s = one_cycle(0.5, 30)
    assert lo.schedule(str(s)).schedule == s
    assert lo.schedule(s.to_config()).schedule == s
    with pytest.raises(UsageError, match=r"`schedule` of lrlab.optax.schedule\(\).*schedule=0.1"):
        lo.schedule(0.1)


# -- reduce_on_plateau: lrlab.optax.plateau ---------------------------------------------------


@pytest.fixture
def x64() -> Any:
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def _plateau_metrics(seed: int, n: int = 80) -> list[float]:
    rng = np.random.default_rng(seed)
    level, out = 4.0, []
    for _ in range(n):
        r = rng.random()
        if r < 0.25:
            level = max(level - rng.integers(1, 16) / 64, 0.25)
        value = level + rng.integers(0, 12) / 64
        out.append(math.nan if r > 0.985 else math.inf if r > 0.97 else value)
    return out


def _scan_rates(tx: Any, metrics: list[float], dtype: Any) -> np.ndarray:
    params = {"w": jnp.zeros(1, dtype)}

    def one(state: Any, value: Any) -> tuple[Any, Any]:
        _, state = tx.update(params, state, params, value=value)
        return state, state.lr

    _, rates = jax.jit(lambda m: jax.lax.scan(one, tx.init(params), m))(jnp.asarray(metrics, dtype))
    return np.asarray(rates, dtype=np.float64)


@pytest.mark.parametrize(
    "setting",
    [
        {"mode": "min", "threshold_mode": "rel", "patience": 0, "cooldown": 0},
        {"mode": "min", "threshold_mode": "abs", "patience": 3, "cooldown": 2},
        {"mode": "max", "threshold_mode": "rel", "patience": 1, "cooldown": 2},
        {"mode": "max", "threshold_mode": "abs", "patience": 0, "cooldown": 1},
    ],
)
def test_plateau_transformation_is_the_rule_bit_for_bit_in_float64(
    x64: Any, setting: dict[str, Any]
) -> None:
    from lrlab.schedules import reduce_on_plateau

    for seed in range(4):
        rule = reduce_on_plateau(0.3, factor=0.5, threshold=0.01, min_lr=0.004, eps=1e-8, **setting)
        metrics = _plateau_metrics(seed)
        if setting["mode"] == "max":
            metrics = [-m for m in metrics]
        got = _scan_rates(lo.plateau(rule), metrics, jnp.float64)
        want = rule(metrics)
        assert got.tolist() == want.tolist()
        assert len(set(want.tolist())) >= 3


def test_plateau_transformation_in_float32_and_with_accumulation() -> None:
    """In float32, the rule's rates to float32 precision; with ``every=3``, the same as
    optax.contrib.reduce_on_plateau(accumulation_size=3) through the mapping in docs/peers.md."""
    import optax

    from lrlab.schedules import reduce_on_plateau

    metrics = [m for m in _plateau_metrics(7, 120) if math.isfinite(m)]
    rule = reduce_on_plateau(1.0, factor=0.5, patience=1, cooldown=2, threshold=0.01, eps=0.0)
    np.testing.assert_allclose(
        _scan_rates(lo.plateau(rule), metrics, jnp.float32), rule(metrics), rtol=1e-6
    )
    theirs = optax.contrib.reduce_on_plateau(
        factor=0.5, patience=2, cooldown=2, rtol=0.01, atol=0.0, accumulation_size=3
    )
    params = {"w": jnp.zeros(1, jnp.float32)}

    def one(state: Any, value: Any) -> tuple[Any, Any]:
        _, state = theirs.update(params, state, params, value=value)
        return state, state.scale

    _, scales = jax.lax.scan(one, theirs.init(params), jnp.asarray(metrics, jnp.float32))
    ours = _scan_rates(lo.plateau(rule, every=3), metrics, jnp.float32)
    np.testing.assert_allclose(ours, np.asarray(scales, np.float64), rtol=1e-6)
    assert len(set(ours.tolist())) >= 3


def test_plateau_transformation_scales_the_updates_in_a_training_loop() -> None:
    """Chained after plain SGD with a unit rate: each update is -rate * gradient, with the
    rate the rule picks from the losses fed so far."""
    import optax

    from lrlab.schedules import reduce_on_plateau

    rule = reduce_on_plateau(0.1, factor=0.5, patience=0, threshold=0.0)
    tx = optax.chain(optax.sgd(1.0), lo.plateau(rule))
    params = {"w": jnp.array([1.0, -2.0])}
    state = tx.init(params)
    losses = [1.0, 0.9, 0.95, 0.97, 0.8, 0.85]
    step = jax.jit(lambda p, s, v: tx.update(jax.tree.map(jnp.ones_like, p), s, p, value=v))
    for loss, rate in zip(losses, rule(losses)):
        updates, state = step(params, state, loss)
        np.testing.assert_allclose(updates["w"], [-rate, -rate], rtol=1e-6)
    assert int(state[1].reductions) == rule.run(losses)[-1].reductions == 3


def test_plateau_transformation_bad_input() -> None:
    from lrlab.schedules import reduce_on_plateau

    with pytest.raises(UsageError, match=r"Argument `rule` of lrlab\.optax\.plateau"):
        lo.plateau(step(0.1, 0.5, 3))
    with pytest.raises(UsageError, match="Received: every=0"):
        lo.plateau(reduce_on_plateau(0.1), every=0)
    with pytest.raises(UsageError, match="Unknown argument `patient`"):
        lo.plateau("reduce_on_plateau(0.1, patient=2)")
    tx = lo.plateau("reduce_on_plateau(0.1, patience=2)")  # text is a rule too
    assert float(tx.init({"w": jnp.zeros(1)}).lr) == pytest.approx(0.1, rel=1e-7)
