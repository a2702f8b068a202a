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
