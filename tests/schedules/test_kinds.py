"""Every kind against the slow reference in ``schedule_kit.oracle``, plus a
few worked examples computed by hand from the documented formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedule_kit import KINDS, STEPS, assert_close, oracle, oracle_array

import lrlab.schedules as ls

# A float64 formula against the same formula computed another way: rounding
# differences only, relative to the value, or (where two large terms cancel,
# e.g. one_cycle near its floor) to the largest value of the schedule.
RTOL = 1e-12
ATOL = 1e-14


def test_every_registered_kind_has_a_strategy() -> None:
    assert set(ls.registry()) - {"warmup", "join", "clip", "scale"} == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_kind_matches_reference(kind: str, data: st.DataObject) -> None:
    s = data.draw(KINDS[kind])
    want = oracle_array(s)
    assert_close(s(STEPS), want, rtol=RTOL, atol_scale=ATOL, what=str(s))
    ints = np.array([s(int(t)) for t in STEPS])
    assert_close(ints, want, rtol=RTOL, atol_scale=ATOL, what=f"{s} on ints")


# Worked examples: the documented formula evaluated by hand.
@pytest.mark.parametrize(
    ("schedule", "t", "value"),
    [
        (ls.constant(0.3), 10**6, 0.3),
        (ls.step(0.1, 0.5, 10), 29, 0.1 * 0.5**2),
        (ls.exponential(2.0, math.log(2.0), 5), 10, 0.5),  # halves every 5 steps
        (ls.exponential(2.0, math.log(2.0), 5, True), 14, 0.5),  # floor(14 / 5) = 2
        (ls.inverse_time(1.0, 1.0, 10), 30, 0.25),
        (ls.inverse_time(1.0, 1.0, 10, True), 39, 0.25),
        (ls.multistep(1.0, [3, 5], 0.5), 5, 0.25),
        (ls.piecewise([10, 20], [3.0, 2.0, 1.0]), 19, 2.0),
        (ls.polynomial(1.0, 10, 0.0, 2.0), 5, 0.25),
        (ls.polynomial(1.0, 10, 0.2, 1.0), 5, 0.6),
        (ls.cosine(1.0, 10, 0.2), 5, 0.6),
        (ls.cosine_restarts(1.0, 10, 2.0, 0.5), 10, 0.5),  # 2nd cycle: 10..29
        (ls.cosine_restarts(1.0, 10, 2.0, 0.5), 20, 0.25),  # half-way down it
        (ls.cosine_restarts(1.0, 10, 1.0, 0.5, 0.1), 25, 0.1 + 0.9 * 0.25 / 2),
        (ls.one_cycle(1.0, 100, 0.3, 10.0, 100.0, "linear"), 0, 0.1),
        (ls.one_cycle(1.0, 100, 0.3, 10.0, 100.0, "linear"), 29, 1.0),
        (ls.one_cycle(1.0, 100, 0.3, 10.0, 100.0, "linear"), 99, 0.001),
        (ls.one_cycle(1.0, 100, 0.25, 10.0, 100.0, "linear", True), 48, 0.1),
        (ls.cyclic(0.0, 1.0, 4), 6, 0.5),
        (ls.cyclic(0.0, 1.0, 4, "triangular2"), 12, 0.5),  # 2nd cycle, peak 1/2
        (ls.cyclic(0.0, 1.0, 4, "exp_range", 0.5), 2, 0.125),
        (ls.inverse_sqrt(1.0, 4), 16, 0.5),
        (ls.wsd(1.0, 100, 10, 0.2, "1-sqrt"), 85, 1 - math.sqrt(0.25)),
        (ls.wsd(1.0, 100, 10, 0.2, "cosine", 0.5), 90, 0.75),
    ],
    ids=str,
)
def test_worked_example(schedule: ls.Schedule, t: int, value: float) -> None:
    assert schedule(t) == pytest.approx(value, rel=1e-14, abs=1e-16)
    assert oracle(schedule, t) == pytest.approx(value, rel=1e-14, abs=1e-16)


def test_cosine_restarts_is_exact_at_every_restart() -> None:
    # Restarts at 7 * (4**i - 1) / 3 = 0, 7, 35, 147, 595, 2387, 9555: the
    # step itself is the new cycle's peak, in float64 and on ints.
    s = ls.cosine_restarts(1.0, 7, mult=4.0, decay=0.5)
    for i, start in enumerate([0, 7, 35, 147, 595, 2387, 9555, 38227]):
        assert s(start) == 0.5**i
        assert s(np.array([start]))[0] == 0.5**i
        if start:  # the step before is near the bottom of the cycle before
            assert s(start - 1) < 0.05 * 0.5 ** (i - 1)
