"""lrlab against Optax's schedules, in float64 and in float32.

Every case is checked twice: with ``jax_enable_x64`` on, Optax computes in
float64 and must equal lrlab to rtol 1e-12; with it off (JAX's default),
Optax computes in float32 from the parameters rounded to float32, and must
equal lrlab (built from the same rounded numbers) to float32 precision as
defined in ``schedule_kit.assert_float32_equivalent``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_kit import (
    EPS64,
    KINDS,
    assert_close,
    assert_equivalent,
    assert_float32_equivalent,
    f32,
    float32_params,
    jax_x64,
)

import lrlab.schedules as ls

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")
jnp = jax.numpy

SETTINGS = settings(max_examples=20, deadline=None)
# vmap-ed or lrlab-built pieces compile anew for every example
FEWER = settings(max_examples=12, deadline=None)
N = 500
STEPS = np.arange(N)
RTOL = 1e-12
ATOL = 1e-14  # of the largest value: where two terms of that size cancel

Build = Callable[[Callable[[float], float]], tuple[Any, ls.Schedule]]


def check(
    build: Build,
    steps: np.ndarray = STEPS,
    *,
    vmap: bool = False,
    clamp: int | None = None,
    jumps: bool = False,
) -> None:
    """``build(r)`` makes (optax schedule, lrlab schedule) from parameters
    passed through ``r``: identity for float64, float32 rounding for float32.
    ``vmap`` for the Optax schedules that only take one step at a time.

    XLA computes ``t / d`` as ``t * (1/d)``, in float64 too, which puts
    ``49 * (1/49)`` just below 1. Two Optax schedules show it:

    * ``jumps``: a staircase; ``floor(t / d)`` can be one stair late at a
      multiple of ``d`` (exponential_decay(staircase=True), d = 49).
    * ``clamp``: the step is clamped at this horizon before dividing by it
      and the schedule is steep there (polynomial, power < 1):
      ``1 - t/steps`` stays ~1e-16 instead of 0, and ``(1e-16)**0.5`` is
      1e-8 for good. Compared at the clamped step.

    Those cases are judged in float64 as in float32, by backward error: the
    value must be lrlab's at a step within 4 ulps (``assert_equivalent``).
    """

    def run(o: Any) -> np.ndarray:
        got = jax.vmap(o)(jnp.asarray(steps)) if vmap else o(jnp.asarray(steps))
        want = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
        assert got.dtype == want
        return np.asarray(got, dtype=np.float64)

    at = steps if clamp is None else np.minimum(steps, clamp)
    with jax_x64(True):
        o, s = build(lambda x: x)
        if clamp is None and not jumps:
            assert_close(run(o), s(steps), rtol=RTOL, atol_scale=ATOL, what=f"{s} x64")
        else:
            kw = {"rtol": RTOL, "atol_scale": ATOL}
            assert_equivalent(run(o), s, at, eps=EPS64, what=f"{s} x64", **kw)
    with jax_x64(False):
        o, s = build(f32)
        assert_float32_equivalent(run(o), s, at, what=f"{s} f32")


lrs = st.floats(1e-4, 10.0)
fracs = st.floats(0.0, 1.0)


@SETTINGS
@given(lrs, st.integers(1, 60), st.floats(0.05, 1.0), st.booleans(), st.integers(0, 100))
def test_exponential_decay(init: float, steps: int, rate: float, stair: bool, begin: int) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        o = optax.exponential_decay(r(init), steps, r(rate), begin, stair)
        s: ls.Schedule = ls.exponential(r(init), -math.log(r(rate)), steps, stair)
        if begin:  # Optax holds init_value for transition_begin steps
            s = ls.join([ls.constant(r(init)), s], [begin])
        return o, s

    check(build, jumps=stair)


def test_exponential_decay_staircase_is_late_under_xla() -> None:
    # Optax's floor(t / 49) is floor(t * (1/49)) = 0 at t = 49 (float64 too):
    # the stair comes a step late. lrlab's comes on time, also under jit.
    with jax_x64(True):
        o = optax.exponential_decay(1.0, 49, 0.5, staircase=True)
        s = ls.exponential(1.0, math.log(2.0), 49, True)
        # (if this starts failing, XLA or Optax changed: update docs/peers.md)
        assert float(o(jnp.arange(60))[49]) == 1.0  # Optax: still the first stair
        assert s(49) == 0.5 and float(jax.jit(s)(jnp.arange(60))[49]) == 0.5


@SETTINGS
@given(lrs, st.integers(1, 60), st.floats(0.05, 0.99), fracs)
def test_exponential_decay_end_value(init: float, steps: int, rate: float, end: float) -> None:
    # end_value is a floor (for decay_rate < 1): a clip between it and init.
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        floor = r(init * end)
        o = optax.exponential_decay(r(init), steps, r(rate), end_value=floor)
        s = ls.clip(ls.exponential(r(init), -math.log(r(rate)), steps), floor, r(init))
        return o, s

    check(build)


@SETTINGS
@given(lrs, fracs, st.floats(0.1, 4.0), st.integers(1, 400), st.integers(0, 100))
def test_polynomial_schedule(init: float, end: float, power: float, steps: int, begin: int) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        o = optax.polynomial_schedule(r(init), r(init * end), r(power), steps, begin)
        s: ls.Schedule = ls.polynomial(r(init), steps, r(init * end), r(power))
        if begin:
            s = ls.join([ls.constant(r(init)), s], [begin])
        return o, s

    check(build, clamp=begin + steps)


@SETTINGS
@given(lrs, st.integers(1, 400), fracs)
def test_cosine_decay_schedule(init: float, steps: int, alpha: float) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        o = optax.cosine_decay_schedule(r(init), steps, r(alpha))
        return o, ls.cosine(r(init), steps, r(init) * r(alpha))

    check(build)


def warmup_cosine(init: float, peak: float, warmup: int, decay: int, end: float) -> ls.Schedule:
    """Optax's warmup_cosine_decay_schedule: its decay_steps INCLUDE the warmup."""
    return ls.warmup(ls.cosine(peak, decay - warmup, end), warmup, start_lr=init)


@st.composite
def warmup_cosines(draw: st.DrawFn) -> dict[str, Any]:
    warmup = draw(st.integers(1, 150))
    return {
        "init_value": draw(st.one_of(st.just(0.0), lrs)),
        "peak_value": draw(lrs),
        "warmup_steps": warmup,
        "decay_steps": warmup + draw(st.integers(1, 300)),
        "end_value": draw(st.one_of(st.just(0.0), lrs)),
    }


def rounded(kw: dict[str, Any], r: Callable[[float], float]) -> dict[str, Any]:
    return {k: r(v) if isinstance(v, float) else v for k, v in kw.items()}


@SETTINGS
@given(warmup_cosines())
def test_warmup_cosine_decay_schedule(kw: dict[str, Any]) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        k = rounded(kw, r)
        return optax.warmup_cosine_decay_schedule(**k), warmup_cosine(*k.values())

    check(build)


def test_warmup_cosine_decay_steps_include_the_warmup() -> None:
    # Optax's decay_steps=100 with 10 warmup steps ends at step 100 (Keras's
    # CosineDecay with the same numbers would end at step 110).
    o = optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100, 0.1)
    s = warmup_cosine(0.0, 1.0, 10, 100, 0.1)
    assert float(o(100)) == pytest.approx(0.1, rel=1e-6) and s(100) == 0.1
    assert s(99) > 0.1 and s(10) == 1.0


@FEWER
@given(st.lists(warmup_cosines(), min_size=1, max_size=3))
def test_sgdr_schedule(kws: list[dict[str, Any]]) -> None:
    # Optax: consecutive warmup-cosines, each lasting its decay_steps.
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        ks = [rounded(kw, r) for kw in kws]
        pieces = [warmup_cosine(*k.values()) for k in ks]
        ends = list(np.cumsum([k["decay_steps"] for k in ks]))[:-1]
        s = ls.join(pieces, [int(e) for e in ends]) if ends else pieces[0]
        return optax.sgdr_schedule(ks), s

    check(build, np.arange(1200))


def linear_onecycle(n: int, peak: float, pct_start: float, pct_final: float, div: float,
                    final_div: float) -> ls.Schedule:  # fmt: skip
    """Optax's linear_onecycle_schedule: straight lines through
    (0, peak/div), (int(pct_start n), peak), (int(pct_final n), peak/div),
    (n, peak/div/final_div), then flat."""
    b1, b2 = int(pct_start * n), int(pct_final * n)
    v0, v1 = peak / div, peak / div * div
    v2 = v1 * (1.0 / div)
    v3 = v2 * (1.0 / final_div)
    return ls.join(
        [ls.polynomial(v0, b1, v1), ls.polynomial(v1, b2 - b1, v2), ls.polynomial(v2, n - b2, v3)],
        [b1, b2],
    )


@FEWER
@given(
    st.integers(10, 400),
    lrs,
    st.floats(0.1, 0.45),
    st.floats(0.55, 0.95),
    st.floats(1.0, 100.0),
    st.floats(1.0, 1e4),
)
def test_linear_onecycle_schedule(
    n: int, peak: float, pct_start: float, pct_final: float, div: float, final_div: float
) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        args = (n, r(peak), pct_start, pct_final, r(div), r(final_div))
        return optax.linear_onecycle_schedule(*args), linear_onecycle(*args)

    check(build, vmap=True)


def cosine_onecycle(
    n: int, peak: float, pct_start: float, div: float, final_div: float
) -> ls.Schedule:
    """Optax's cosine_onecycle_schedule: a cosine up from peak/div to peak
    over int(pct_start n) steps, then down to peak/(div final_div) at n.
    lrlab's cosine(lr, steps, min_lr) goes from lr to min_lr either way."""
    b1 = int(pct_start * n)
    v0, v1 = peak / div, peak / div * div
    v2 = v1 * (1.0 / (div * final_div))
    return ls.join([ls.cosine(v0, b1, v1), ls.cosine(v1, n - b1, v2)], [b1])


@FEWER
@given(st.integers(10, 400), lrs, st.floats(0.1, 0.9), st.floats(1.0, 100.0), st.floats(1.0, 1e4))
def test_cosine_onecycle_schedule(
    n: int, peak: float, pct_start: float, div: float, final_div: float
) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        args = (n, r(peak), pct_start, r(div), r(final_div))
        return optax.cosine_onecycle_schedule(*args), cosine_onecycle(*args)

    check(build, vmap=True)


@SETTINGS
@given(
    lrs,
    st.dictionaries(st.integers(0, 400), st.floats(0.0, 3.0), min_size=1, max_size=5),
)
def test_piecewise_constant_schedule(init: float, scales: dict[int, float]) -> None:
    # Optax multiplies by each scale from its boundary on: a piecewise of the
    # running products (a multistep when all scales are equal).
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        bounds = sorted(scales)
        values = [r(init)]
        for b in bounds:
            values.append(values[-1] * r(scales[b]))
        o = optax.piecewise_constant_schedule(r(init), {b: r(v) for b, v in scales.items()})
        return o, ls.piecewise(bounds, values)

    check(build)


@SETTINGS
@given(
    lrs, st.lists(st.integers(0, 400), min_size=1, max_size=5, unique=True), st.floats(0.05, 1.0)
)
def test_piecewise_constant_schedule_equal_scales_is_multistep(
    init: float, bounds: list[int], factor: float
) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        o = optax.piecewise_constant_schedule(r(init), dict.fromkeys(bounds, r(factor)))
        return o, ls.multistep(r(init), sorted(bounds), r(factor))

    check(build)


@FEWER
@given(
    st.lists(st.one_of(*KINDS.values()), min_size=2, max_size=4).flatmap(
        lambda ss: st.tuples(
            st.just(ss),
            st.lists(
                st.integers(0, 400), min_size=len(ss) - 1, max_size=len(ss) - 1, unique=True
            ).map(sorted),
        )
    )
)
def test_join_schedules(case: tuple[list[ls.Schedule], list[int]]) -> None:
    # Optax's join_schedules runs each piece from its own step 0, as lrlab's
    # join; here the pieces are lrlab schedules (they take JAX arrays).
    pieces, bounds = case

    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        # in float32 the pieces run on their parameters rounded to float32, and so
        # must the reference (cyclic's gamma ** t amplifies gamma's rounding t-fold)
        ps = [float32_params(p) for p in pieces] if r is f32 else pieces
        return optax.join_schedules(ps, bounds), ls.join(ps, bounds)

    check(build)


@SETTINGS
@given(st.one_of(st.just(0.0), lrs), lrs, st.integers(1, 300))
def test_warmup_constant_schedule(init: float, peak: float, w: int) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        o = optax.warmup_constant_schedule(r(init), r(peak), w)
        return o, ls.polynomial(r(init), w, r(peak), 1.0)

    check(build)


@SETTINGS
@given(
    st.one_of(st.just(0.0), lrs),
    lrs,
    st.integers(1, 100),
    st.integers(1, 60),
    st.floats(0.05, 0.99),
    st.integers(0, 50),
    st.booleans(),
)
def test_warmup_exponential_decay_schedule(
    init: float, peak: float, w: int, steps: int, rate: float, begin: int, stair: bool
) -> None:
    def build(r: Callable[[float], float]) -> tuple[Any, ls.Schedule]:
        o = optax.warmup_exponential_decay_schedule(
            r(init), r(peak), w, steps, r(rate), begin, stair
        )
        decay: ls.Schedule = ls.exponential(r(peak), -math.log(r(rate)), steps, stair)
        if begin:
            decay = ls.join([ls.constant(r(peak)), decay], [begin])
        return o, ls.join([ls.polynomial(r(init), w, r(peak), 1.0), decay], [w])

    check(build, jumps=stair)
