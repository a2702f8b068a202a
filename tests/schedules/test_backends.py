"""One formula, four ways to evaluate it: Python ints, NumPy, torch, JAX.

The same schedule must give the same numbers on every backend: rtol 1e-14
(plus 1e-15 of the schedule's largest value, for the one-ulp differences of
``math.cos`` and ``np.cos`` where ``1 + cos`` nearly cancels) in float64,
and float32 precision (``schedule_kit.assert_float32_equivalent``, against
the schedule with its parameters rounded to float32) under ``jax.jit``
without x64.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from schedule_kit import (
    EPS32,
    STEPS,
    assert_close,
    assert_float32_equivalent,
    float32_params,
    jax_x64,
    schedules,
)

import lrlab.schedules as ls

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy

RTOL = 1e-14
ATOL = 1e-15


@settings(max_examples=20, deadline=None)  # two jit compiles an example
@given(schedules())
def test_every_backend_gives_the_same_values(s: ls.Schedule) -> None:
    ref = s(STEPS)
    assert isinstance(ref, np.ndarray) and ref.dtype == np.float64 and ref.shape == STEPS.shape
    top = float(np.max(np.abs(ref)))
    kw = {"rtol": RTOL, "atol_scale": ATOL, "top": top}

    ints = [s(int(t)) for t in STEPS]
    assert all(type(v) is float for v in ints)
    assert_close(ints, ref, what=f"{s} ints", **kw)

    got = s(torch.as_tensor(STEPS))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    assert_close(got.numpy(), ref, what=f"{s} torch", **kw)

    with jax_x64(True):
        got = jax.jit(s)(jnp.asarray(STEPS))
        assert isinstance(got, jax.Array) and got.dtype == jnp.float64
        assert_close(np.asarray(got), ref, what=f"{s} jax.jit x64", **kw)

    with jax_x64(False):
        got = jax.jit(s)(jnp.asarray(STEPS))
        assert isinstance(got, jax.Array) and got.dtype == jnp.float32
        got64 = np.asarray(got, dtype=np.float64)
        assert_float32_equivalent(got64, float32_params(s), STEPS, what=f"{s} f32")


S = ls.warmup(ls.cosine(0.1, 100, 0.01), 10)


def test_return_types() -> None:
    assert type(S(3)) is float
    assert type(S(np.int64(3))) is float
    assert type(S(3.5)) is float
    a = S([1, 2, 3])
    assert isinstance(a, np.ndarray) and a.dtype == np.float64
    b = S(np.arange(12, dtype=np.int32).reshape(3, 4))
    assert b.dtype == np.float64 and b.shape == (3, 4)
    assert b[2, 3] == S(11)
    z = S(np.array(7))
    assert isinstance(z, np.ndarray) and z.shape == () and z == S(7)
    tt = S(torch.arange(5, dtype=torch.int64))
    assert isinstance(tt, torch.Tensor) and tt.dtype == torch.float64 and tt.shape == (5,)
    assert S(torch.arange(5, dtype=torch.float32)).dtype == torch.float64
    with jax_x64(False):
        j = S(jnp.arange(5))
        assert isinstance(j, jax.Array) and j.dtype == jnp.float32
    with jax_x64(True):
        assert S(jnp.arange(5)).dtype == jnp.float64
    with pytest.raises(TypeError, match="A schedule takes a step"):
        S("3")


def test_jax_grad_and_vmap_trace_through() -> None:
    # Traceable: a gradient with respect to the (float) step exists, and
    # vmap gives the same as a call on the array.
    with jax_x64(True):
        g = jax.grad(lambda t: S(t))(jnp.float64(50.0))
        h = 1e-6
        assert float(g) == pytest.approx((S(50.0 + h) - S(50.0 - h)) / (2 * h), rel=1e-6)
        v = jax.vmap(S)(jnp.arange(200))
        np.testing.assert_array_equal(np.asarray(v), np.asarray(S(jnp.arange(200))))


@pytest.mark.parametrize("x64", [False, True])
def test_staircases_change_on_the_step_under_jit(x64: bool) -> None:
    # XLA compiles t / every into t * (1/every), and floor(41 * (1/41)) is 0:
    # without a correction, a staircase changes one step late under jit.
    with jax_x64(x64):
        # the periods that go wrong uncorrected (in float32 or float64), and others
        for every in (1, 41, 47, 49, 103, 187):
            on = np.arange(1, 40) * every
            both = jnp.asarray(np.concatenate([on, on - 1]))
            for s in (
                ls.step(1.0, 0.5, every),
                ls.exponential(1.0, np.log(2.0), every, True),
                ls.inverse_time(1.0, 1.0, every, True),
            ):
                got, before = np.split(np.asarray(jax.jit(s)(both), dtype=np.float64), 2)
                # float32's exp(-27) is good to ~27 ulps
                assert_close(got, s(on), rtol=1e-14 if x64 else 64 * EPS32, what=str(s))
                assert np.all(before > got)
            c = ls.cyclic(0.0, 1.0, every, "triangular2")
            assert np.asarray(jax.jit(c)(jnp.asarray(2 * every * np.arange(1, 30) + every))) == (
                pytest.approx(0.5 ** np.arange(1, 30), rel=1e-6)
            )


@pytest.mark.parametrize("mult", [1.0, 2.0, 3.0, 4.0, 1.25, 1.5, 2.4067643])
@pytest.mark.parametrize("period", [1, 5, 7, 20, 41])
def test_restart_steps_are_peaks_in_float32(mult: float, period: int) -> None:
    # Every integer restart step starts the new cycle, in float32 under jit
    # too (float32 pow or log put 4**1 or log(m)/log(m) an ulp off).
    s = ls.cosine_restarts(1.0, period, mult, decay=0.99)
    starts, length = [0.0], float(period)
    while starts[-1] + length < 2_000:
        starts.append(starts[-1] + length)
        length *= mult
    restarts = np.array([b for b in starts if float(b).is_integer()], dtype=np.int64)
    with jax_x64(False):
        got = np.asarray(jax.jit(s)(jnp.asarray(restarts)), dtype=np.float64)
    # exact starts only: 1.25 and 2.4067643 have non-integer ones after a while
    want = 0.99 ** np.arange(len(starts))[np.isin(starts, restarts)]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    np.testing.assert_allclose(s(restarts), want, rtol=1e-14)


def test_polynomial_reaches_end_lr_in_float32() -> None:
    # (steps - t) / steps is exactly 0 from the horizon on, where 1 - t/steps
    # under jit would be ~6e-8, and (6e-8)**0.5 ~ 2.4e-4 for ever after.
    with jax_x64(False):
        for steps in (41, 47, 49, 97):
            s = ls.polynomial(1.0, steps, 0.0, 0.5)
            tail = np.asarray(jax.jit(s)(jnp.arange(steps, steps + 50)))
            assert np.all(tail == 0.0)
