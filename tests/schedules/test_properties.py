"""Property tests: the text and config forms round-trip, and each kind keeps
its documented shape (value at 0, at each boundary, past the horizon,
monotone pieces, continuity where pieces meet)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_kit import KINDS, schedules

import lrlab
import lrlab.schedules as ls

SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(schedules())
def test_config_round_trip(s: ls.Schedule) -> None:
    config = s.to_config()
    assert config["type"] == s.kind
    again = json.loads(json.dumps(config))  # JSON-safe, and survives it
    assert again == config
    back = lrlab.from_config(again)
    assert back == s and hash(back) == hash(s)
    assert back.to_config() == config


@SETTINGS
@given(schedules())
def test_text_round_trip(s: ls.Schedule) -> None:
    text = str(s)
    back = lrlab.parse(text)
    assert back == s and str(back) == text and repr(s) == text
    assert lrlab.parse(repr(s)) == s
    # the same numbers come out, to the bit (floats print round-trippably)
    t = np.arange(0, 700, 7)
    np.testing.assert_array_equal(back(t), s(t))


@SETTINGS
@given(st.sampled_from(sorted(KINDS)).flatmap(lambda k: KINDS[k]))
def test_keyword_and_positional_text_agree(s: ls.Schedule) -> None:
    from lrlab.schedules._base import format_value

    args = s.args()
    positional = f"{s.kind}({', '.join(format_value(v) for v in args.values())})"
    assert lrlab.parse(positional) == s
    shuffled = ", ".join(f"{k}={format_value(v)}" for k, v in reversed(args.items()))
    assert lrlab.parse(f"{s.kind}({shuffled})") == s


# -- invariants, kind by kind ------------------------------------------------
#
# Each returns (points, where the value is known exactly, as {step: value};
# joins, steps where two pieces meet and the schedule is continuous;
# pieces, step ranges [a, b] on which it is monotone).

Facts = tuple[dict[float, float], list[float], list[tuple[int, int]]]


def _step(s: Any) -> Facts:
    pts = {k * s.every: s.lr * s.factor**k for k in range(5)}
    pts.update({k * s.every - 1: s.lr * s.factor ** (k - 1) for k in range(1, 5)})
    return pts, [], [(0, 10 * s.every)]


def _exponential(s: Any) -> Facts:
    pts = {0: s.lr, 3 * s.every: s.lr * math.exp(-3 * s.k)}
    return pts, ([] if s.staircase else [s.every, 2.5 * s.every]), [(0, 8 * s.every)]


def _inverse_time(s: Any) -> Facts:
    pts = {0: s.lr, 3 * s.every: s.lr / (1 + 3 * s.k)}
    return pts, ([] if s.staircase else [s.every, 2.5 * s.every]), [(0, 8 * s.every)]


def _multistep(s: Any) -> Facts:
    pts: dict[float, float] = {}
    for i, m in enumerate(s.milestones):
        pts[m] = s.lr * s.factor ** (i + 1)
        if m >= 1:
            pts[m - 1] = s.lr * s.factor**i
    return pts, [], [(0, s.milestones[-1] + 10)]


def _piecewise(s: Any) -> Facts:
    pts: dict[float, float] = {s.boundaries[-1] + 10**6: s.values[-1]}
    for i, b in enumerate(s.boundaries):
        pts[b] = s.values[i + 1]
        if b >= 1:
            pts[b - 1] = s.values[i]
    pieces = [(a, b - 1) for a, b in zip((0, *s.boundaries), s.boundaries) if b - 1 > a]
    return pts, [], pieces


def _polynomial(s: Any) -> Facts:
    pts = {0: s.lr, s.steps: s.end_lr, s.steps + 1: s.end_lr, 10**7: s.end_lr}
    return pts, [s.steps], [(0, s.steps + 20)]


def _cosine(s: Any) -> Facts:
    pts = {0: s.lr, s.steps: s.min_lr, 10**7: s.min_lr}
    if s.steps % 2 == 0:
        pts[s.steps // 2] = (s.lr + s.min_lr) / 2
    return pts, [s.steps], [(0, s.steps + 20)]


def _cosine_restarts(s: Any) -> Facts:
    pts, pieces, joins = {}, [], []
    start, length = 0.0, float(s.period)
    for i in range(6):
        if start.is_integer():
            pts[start] = s.min_lr + s.decay**i * (s.lr - s.min_lr)
        pieces.append((math.ceil(start), math.ceil(start + length) - 1))
        start += length
        length *= s.mult
    return pts, joins, [p for p in pieces if p[1] > p[0]]


def _one_cycle(s: Any) -> Facts:
    low = s.max_lr / s.div
    final = low / s.final_div
    ends = s._ends()
    pts = {0: low, s.steps - 1: final, s.steps: final, 10**7: final}
    if float(ends[0]).is_integer():
        pts[ends[0]] = s.max_lr
    if s.three_phase and float(ends[1]).is_integer():
        pts[ends[1]] = low
    cuts = [0.0, *ends]
    pieces = [(math.ceil(a), math.floor(b)) for a, b in itertools.pairwise(cuts)]
    return pts, list(ends[:-1]), [p for p in pieces if p[1] > p[0]]


def _cyclic(s: Any) -> Facts:
    n = s.step_size
    pts: dict[float, float] = {0: s.base_lr}
    for c in range(4):
        pts[2 * c * n] = s.base_lr
        amp = {"triangular": 1.0, "triangular2": 0.5**c, "exp_range": s.gamma ** ((2 * c + 1) * n)}
        pts[(2 * c + 1) * n] = s.base_lr + (s.max_lr - s.base_lr) * amp[s.mode]
    joins = [float(k * n) for k in range(1, 8)]
    pieces = [(k * n, (k + 1) * n) for k in range(8)]
    return pts, joins, pieces


def _inverse_sqrt(s: Any) -> Facts:
    pts = {0: 0.0, s.warmup: s.lr, 4 * s.warmup: s.lr / 2}
    return pts, [s.warmup], [(0, s.warmup), (s.warmup, 10 * s.warmup)]


def _wsd(s: Any) -> Facts:
    d = s.decay_steps
    pts = {s.steps: s.min_lr, 10**7: s.min_lr, s.steps - d: s.lr}
    if s.warmup:
        pts[0] = 0.0
    joins = [s.steps - d, s.steps] + ([s.warmup] if s.warmup else [])
    pieces = [(0, s.warmup), (s.warmup, s.steps - d), (s.steps - d, s.steps + 10)]
    return pts, joins, [p for p in pieces if p[1] > p[0]]


def _constant(s: Any) -> Facts:
    return {0: s.lr, 10**9: s.lr}, [10.5], [(0, 100)]


FACTS: dict[str, Callable[[Any], Facts]] = {
    "constant": _constant,
    "step": _step,
    "exponential": _exponential,
    "inverse_time": _inverse_time,
    "multistep": _multistep,
    "piecewise": _piecewise,
    "polynomial": _polynomial,
    "cosine": _cosine,
    "cosine_restarts": _cosine_restarts,
    "one_cycle": _one_cycle,
    "cyclic": _cyclic,
    "inverse_sqrt": _inverse_sqrt,
    "wsd": _wsd,
}


def test_facts_cover_every_kind() -> None:
    assert set(FACTS) == set(KINDS)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(KINDS)).flatmap(lambda k: KINDS[k]))
def test_invariants(s: ls.Schedule) -> None:
    points, joins, pieces = FACTS[s.kind](s)
    top = max(abs(v) for v in s(np.arange(0, 2000)).tolist() + list(points.values()))
    for t, want in points.items():
        assert math.isclose(s(t), want, rel_tol=1e-12, abs_tol=1e-15 * top), (s, t, s(t), want)
    # continuous where pieces meet: the gap between the two sides closes as
    # they approach (a jump would keep it; power < 1 closes it slowly)
    for b in joins:
        far = abs(s(b - 1e-4) - s(b + 1e-4))
        near = abs(s(b - 1e-8) - s(b + 1e-8))
        assert near <= 0.5 * far + 1e-12 * top, (s, b, far, near)
    # monotone on each piece (either way), to within rounding
    for a, b in pieces:
        v = s(np.arange(a, b + 1))
        d = np.diff(v)
        slack = 1e-13 * top
        assert np.all(d <= slack) or np.all(d >= -slack), (s, a, b)


@SETTINGS
@given(schedules())
def test_values_are_finite_and_non_negative(s: ls.Schedule) -> None:
    v = s(np.array([0, 1, 2, 10, 99, 100, 101, 1000, 10**5, 10**7]))
    assert np.all(np.isfinite(v)) and np.all(v >= 0)


@SETTINGS
@given(schedules(), st.integers(0, 10**6))
def test_pure_and_immutable(s: ls.Schedule, t: int) -> None:
    first = s(t)
    assert s(t) == first  # no hidden state
    try:
        s.lr = 1.0  # type: ignore[attr-defined]
    except AttributeError:
        pass
    else:  # pragma: no cover - a frozen dataclass must refuse
        raise AssertionError("schedule is mutable")
    assert s(t) == first


@pytest.mark.parametrize(
    "s",
    [
        ls.exponential(0.1, -1.0),
        ls.step(0.1, 2.0, 1),
        ls.join([ls.constant(0.1), ls.exponential(0.1, -1.0)], [5]),
    ],
    ids=repr,
)
def test_growth_overflows_to_inf_on_every_path(s: ls.Schedule) -> None:
    # Python's float arithmetic raises OverflowError where NumPy gives inf; a step is the
    # same step whichever way it is passed in.
    with pytest.warns(RuntimeWarning, match="overflow"):
        by_array = s(np.array([10**6]))[0]
    assert by_array == math.inf
    for step in (10**6, 1e6, np.int64(10**6)):
        with pytest.warns(RuntimeWarning, match="overflow"):
            assert s(step) == math.inf


def test_clipped_growth_is_finite_past_the_overflow() -> None:
    c = ls.clip(ls.exponential(0.1, -1.0), 0.0, 1.0)
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert c(10**6) == 1.0
    assert c(3) == 1.0 and c(1) == pytest.approx(0.1 * math.e, rel=1e-15)
