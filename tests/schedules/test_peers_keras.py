"""lrlab against Keras 3's learning-rate schedules (JAX backend).

Keras computes in float32 (``floatx``; and its ``ops.cos``/``ops.floor``
return float32 even for float64 input, so float64 is not available to
compare against).  So every parameter is first rounded to float32 (the
numbers Keras really uses), lrlab builds the schedule from those, and the
Keras values must be lrlab's to float32 precision as defined in
``schedule_kit.assert_float32_equivalent``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_kit import assert_float32_equivalent, f32

import lrlab.schedules as ls

keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
jnp = jax.numpy
ks = keras.optimizers.schedules

# Keras recompiles its ops for every new float constant: ~0.1-0.5 s an example.
SETTINGS = settings(max_examples=16, deadline=None)
N = 500
STEPS = np.arange(N)

lr32 = st.floats(1e-4, 10.0).map(f32)
frac32 = st.floats(0.0, 1.0).map(f32)


def keras_values(schedule: Any, steps: np.ndarray = STEPS, *, vmap: bool = False) -> np.ndarray:
    t = jnp.asarray(steps)
    # CosineDecay with warmup branches with ops.cond, which wants one step.
    out = jax.vmap(schedule)(t) if vmap else schedule(t)
    assert out.dtype == jnp.float32
    return np.asarray(out, dtype=np.float64)


@SETTINGS
@given(lr32, st.integers(1, 60), st.floats(0.05, 1.0).map(f32), st.booleans())
def test_exponential_decay(lr: float, decay_steps: int, rate: float, staircase: bool) -> None:
    # lr * rate**(t / decay_steps) = lr * exp(-k t / every), k = -ln(rate).
    k = ks.ExponentialDecay(lr, decay_steps, rate, staircase)
    s = ls.exponential(lr, -math.log(rate), decay_steps, staircase)
    assert_float32_equivalent(keras_values(k), s, STEPS, what=str(s))


@SETTINGS
@given(lr32, st.integers(1, 60), st.floats(0.0, 5.0).map(f32), st.booleans())
def test_inverse_time_decay(lr: float, decay_steps: int, rate: float, staircase: bool) -> None:
    k = ks.InverseTimeDecay(lr, decay_steps, rate, staircase)
    s = ls.inverse_time(lr, rate, decay_steps, staircase)
    assert_float32_equivalent(keras_values(k), s, STEPS, what=str(s))


@SETTINGS
@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=5, unique=True)
    .map(sorted)
    .flatmap(
        lambda b: st.tuples(st.just(b), st.lists(lr32, min_size=len(b) + 1, max_size=len(b) + 1))
    )
)
def test_piecewise_constant_decay_boundary_gets_the_old_value(
    case: tuple[list[int], list[float]],
) -> None:
    # Keras: values[i] while step <= boundaries[i]; lrlab (like torch and
    # Optax): the new value from the boundary on. So Keras's boundaries are
    # lrlab's minus one, exactly.
    boundaries, values = case
    k = keras_values(ks.PiecewiseConstantDecay(boundaries, values))
    s = ls.piecewise([b + 1 for b in boundaries], values)
    np.testing.assert_array_equal(k, s(STEPS).astype(np.float32))
    for b, before, after in zip(boundaries, values, values[1:]):
        assert k[b] == np.float32(before) and k[b + 1] == np.float32(after)
    # ...and the same boundaries in lrlab would give the new value one step early
    same = ls.piecewise(boundaries, values)
    assert same(boundaries[0]) == values[1] != k[boundaries[0]] or values[0] == values[1]


@SETTINGS
@given(lr32, st.integers(1, 400), frac32, st.floats(0.1, 4.0).map(f32))
def test_polynomial_decay(lr: float, decay_steps: int, end_ratio: float, power: float) -> None:
    end = f32(lr * end_ratio)
    k = ks.PolynomialDecay(lr, decay_steps, end, power)
    s = ls.polynomial(lr, decay_steps, end, power)
    # Both clamp the step at decay_steps first, so float32's rounding moves
    # the clamped step: past the end Keras's 1 - t/decay_steps is ~1e-7, not
    # 0, and (1e-7)**power with power < 1 leaves it above end_lr for good.
    clamped = np.minimum(STEPS, decay_steps)
    assert_float32_equivalent(keras_values(k), s, clamped, what=str(s))


def test_polynomial_decay_default_end_is_not_zero() -> None:
    # Keras's end_learning_rate defaults to 1e-4, lrlab's end_lr to 0.
    k = ks.PolynomialDecay(0.1, 10)
    assert float(k(10)) == pytest.approx(1e-4, rel=1e-6)
    assert ls.polynomial(0.1, 10)(10) == 0.0
    assert ls.polynomial(0.1, 10, 1e-4)(10) == pytest.approx(1e-4, rel=1e-15)


def keras_cycle_polynomial(lr: float, d: int, end: float, power: float, cycles: int) -> ls.Schedule:
    """Keras's PolynomialDecay(cycle=True) over its first ``cycles`` cycles.

    Cycle k >= 2 covers steps (k-1)d+1 .. kd with horizon kd; with local time
    u = t - (k-1)d - 1 its value is end + (lr - end) * ((d-1)/(kd))**power *
    (1 - u/(d-1))**power: a polynomial over d - 1 steps.
    """
    pieces: list[ls.Schedule] = [ls.polynomial(lr, d, end, power)]
    for k in range(2, cycles + 1):
        top = end + (lr - end) * ((d - 1) / (k * d)) ** power
        pieces.append(ls.polynomial(top, d - 1, end, power))
    return ls.join(pieces, [(k - 1) * d + 1 for k in range(2, cycles + 1)])


@SETTINGS
@given(lr32, st.integers(2, 60), frac32, st.floats(0.5, 3.0).map(f32))
def test_polynomial_decay_cycle_is_a_join_over_a_finite_horizon(
    lr: float, decay_steps: int, end_ratio: float, power: float
) -> None:
    end = f32(lr * end_ratio)
    k = keras_values(ks.PolynomialDecay(lr, decay_steps, end, power, cycle=True))
    s = keras_cycle_polynomial(lr, decay_steps, end, power, N // decay_steps + 1)
    # At t = k*d Keras takes ceil(t / d) in float32, computed as t * (1/d):
    # it may land in the next cycle. Elsewhere it is the join, to float32.
    edge = (STEPS % decay_steps == 0) & (STEPS > 0)
    assert_float32_equivalent(k[~edge], s, STEPS[~edge], what=str(s)[:200])
    for t in STEPS[edge]:
        nxt = end + (lr - end) * (1 - t / (t + decay_steps)) ** power
        assert k[t] == pytest.approx(s(int(t)), rel=1e-6, abs=1e-6 * lr) or k[t] == pytest.approx(
            nxt, rel=1e-5
        )


@SETTINGS
@given(lr32, st.integers(1, 400), frac32)
def test_cosine_decay(lr: float, decay_steps: int, alpha: float) -> None:
    # lr * ((1 - alpha) * cos_part + alpha) = cosine with min_lr = alpha * lr.
    k = ks.CosineDecay(lr, decay_steps, alpha)
    s = ls.cosine(lr, decay_steps, lr * alpha)
    assert_float32_equivalent(keras_values(k), s, STEPS, what=str(s))


@SETTINGS
@given(lr32, st.integers(1, 300), frac32, lr32, st.integers(1, 150))
def test_cosine_decay_with_warmup_excludes_warmup_from_decay_steps(
    initial: float, decay_steps: int, alpha: float, target: float, warmup_steps: int
) -> None:
    # Keras ramps initial -> warmup_target over warmup_steps, THEN decays over
    # decay_steps more: lrlab's warmup(), whose schedule runs in its own time.
    k = ks.CosineDecay(initial, decay_steps, alpha, warmup_target=target, warmup_steps=warmup_steps)
    s = ls.warmup(ls.cosine(target, decay_steps, target * alpha), warmup_steps, start_lr=initial)
    kv = keras_values(k, vmap=True)
    assert_float32_equivalent(kv, s, STEPS, what=str(s))
    # the decay ends warmup_steps + decay_steps in, not decay_steps in
    end = warmup_steps + decay_steps
    if end < N:
        assert kv[end] == pytest.approx(target * alpha, rel=1e-5, abs=1e-6 * target)


@settings(max_examples=10, deadline=None)
@given(
    lr32,
    st.integers(1, 60),
    st.one_of(st.sampled_from([1.0, 2.0, 3.0]), st.floats(1.0, 3.0).map(f32)),
    frac32,
    frac32,
)
def test_cosine_decay_restarts(
    lr: float, first: int, t_mul: float, m_mul: float, alpha: float
) -> None:
    # Keras: lr * ((1 - alpha) * m_mul**i * cos_part + alpha): the floor is
    # alpha * lr in every cycle and the peaks fall by m_mul.
    k = ks.CosineDecayRestarts(lr, first, t_mul, m_mul, alpha)
    s = ls.cosine_restarts(lr, first, t_mul, m_mul, lr * alpha)
    steps = np.arange(1000)
    assert_float32_equivalent(keras_values(k, steps), s, steps, what=str(s))
