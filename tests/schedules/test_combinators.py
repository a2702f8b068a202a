"""The combinators: each piece runs in its own time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_kit import KINDS, schedules

import lrlab.schedules as ls

SETTINGS = settings(max_examples=40, deadline=None)
inner = st.one_of(*KINDS.values())


@SETTINGS
@given(inner, st.integers(1, 100), st.floats(0.0, 10.0), st.integers(0, 500))
def test_warmup_ramps_then_runs_the_schedule_from_its_step_0(
    s: ls.Schedule, steps: int, start: float, t: int
) -> None:
    w = ls.warmup(s, steps, start)
    assert w(0) == start
    assert w(steps) == s(0)
    assert w(steps + t) == s(t)
    if t < steps:  # a straight line from start to s(0)
        assert w(t) == pytest.approx(start + (s(0) - start) * t / steps, rel=1e-14, abs=1e-15)
    v = w(np.arange(steps + 1))
    d = np.diff(v)
    assert np.all(d >= -1e-15) or np.all(d <= 1e-15)


@SETTINGS
@given(st.lists(inner, min_size=2, max_size=4), st.data())
def test_join_starts_each_piece_at_its_own_step_0(
    pieces: list[ls.Schedule], data: st.DataObject
) -> None:
    bounds = data.draw(
        st.lists(
            st.integers(0, 300), min_size=len(pieces) - 1, max_size=len(pieces) - 1, unique=True
        ).map(sorted)
    )
    j = ls.join(pieces, bounds)
    starts = [0, *bounds]
    for i, (piece, b) in enumerate(zip(pieces, starts)):
        end = bounds[i] if i < len(bounds) else b + 50
        if end == b:
            continue
        for u in (0, (end - b) // 2, end - b - 1):
            assert j(b + u) == piece(u)
    # vectorised the same piece at the same local step (NumPy's SIMD pow may differ from
    # libm's by an ulp: step(1, 0.0546875, 1) at t=19 gives 1.0468231950016797e-24 against
    # ...799e-24, so the two paths agree to rounding, not bit for bit).  Where a schedule
    # computes a phase (cosine_restarts with mult > 1 finds its cycle starts with
    # expm1/log1p), an ulp of that phase moves the value by an ulp of the *peak*, which
    # near a cycle's end is far from an ulp of the value: cosine_restarts(1.0, 1, 1.125)
    # differs by 1.2e-15 (5.5 eps) at t=37 and by 1.3e-13 relatively at t=184 (value 8.7e-4).
    # So the bound is relative, plus 16 eps of the largest value, as test_invariants uses.
    t = np.arange(0, 400)
    want = [j(int(x)) for x in t]
    top = max(abs(v) for v in want)
    eps = float(np.finfo(float).eps)
    np.testing.assert_allclose(j(t), want, rtol=1e-13, atol=16 * eps * top)


@SETTINGS
@given(schedules(max_leaves=3), st.floats(0.0, 5.0), st.floats(0.0, 5.0))
def test_clip_bounds(s: ls.Schedule, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    c = ls.clip(s, lo, hi)
    t = np.arange(0, 600, 3)
    v, raw = c(t), s(t)
    assert np.all(v >= lo) and np.all(v <= hi)
    inside = (raw >= lo) & (raw <= hi)
    np.testing.assert_array_equal(v[inside], raw[inside])


@SETTINGS
@given(schedules(max_leaves=3), st.floats(0.0, 5.0))
def test_scale_and_its_operator(s: ls.Schedule, f: float) -> None:
    t = np.arange(0, 600, 7)
    for scaled in (s * f, f * s, ls.scale(s, f)):
        assert scaled == ls.scale(s, f)
        np.testing.assert_array_equal(scaled(t), s(t) * f)
    assert str(s * f) == f"{s} * {f!r}"


def test_schedules_do_not_multiply_together() -> None:
    with pytest.raises(TypeError):
        ls.constant(0.1) * ls.constant(0.2)  # type: ignore[operator]


def test_join_of_a_warmup_is_continuous_where_the_pieces_agree() -> None:
    # A hand-made warmup-cosine-then-constant, continuous at both joins.
    s = ls.join([ls.polynomial(0.0, 10, 1.0), ls.cosine(1.0, 90, 0.1), ls.constant(0.1)], [10, 100])
    assert s(10) == 1.0 and s(100) == 0.1
    v = s(np.arange(0, 150))
    assert np.max(np.abs(np.diff(v))) < 0.11
