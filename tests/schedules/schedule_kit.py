"""Shared by the schedule tests: strategies, a slow reference, tolerances.

* ``KINDS`` maps every registered kind to a hypothesis strategy of valid
  instances; ``schedules()`` also nests them in the combinators.
* :func:`oracle` is the reference: one plain Python function per kind,
  written from the documented formula with loops and ifs (not from the
  implementation), evaluated at one integer step.
* :func:`assert_close` compares arrays with a relative tolerance plus an
  absolute one scaled by the largest value in the comparison, which is what
  "float64 at 1e-12" or "float32 at its precision" means for a difference of
  two large numbers that nearly cancel.
"""

from __future__ import annotations

import contextlib
import decimal
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import strategies as st

import lrlab.schedules as ls

EPS32 = float(np.finfo(np.float32).eps)  # 1.19e-7
EPS64 = float(np.finfo(np.float64).eps)  # 2.22e-16

# Steps every comparison looks at: all of the first HORIZON, plus far ones.
HORIZON = 400
FAR = (1_000, 4_321, 12_345)
STEPS = np.array([*range(HORIZON), *FAR], dtype=np.int64)


def assert_close(
    actual: Any,
    expected: Any,
    *,
    rtol: float,
    atol_scale: float = 0.0,
    top: float | None = None,
    what: str = "",
) -> None:
    """``|a - e| <= rtol * |e| + atol_scale * top`` element-wise, ``top``
    being ``max|e|`` unless given (the largest LR of the whole schedule)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(e)), what
    if top is None:
        top = float(np.max(np.abs(e))) if e.size else 0.0
    err = np.abs(a - e)
    bound = rtol * np.abs(e) + atol_scale * top
    bad = np.flatnonzero(err > bound)
    if bad.size:
        i = int(bad[0])
        raise AssertionError(
            f"{what}: {bad.size} of {e.size} differ; first at index {i}: "
            f"got {a.flat[i]!r}, expected {e.flat[i]!r} "
            f"(rel {err.flat[i] / max(abs(e.flat[i]), 1e-300):.3g}, rtol {rtol:g}, "
            f"atol {atol_scale:g} * {top:g})"
        )


def assert_equivalent(
    actual: Any,
    s: ls.Schedule,
    steps: Any,
    *,
    eps: float,
    ulps_t: float = 4.0,
    rtol: float = 0.0,
    atol_scale: float = 0.0,
    atol: float = 0.0,
    what: str = "",
) -> None:
    """``actual``, ``s`` evaluated at ``steps`` in a float type of epsilon
    ``eps``, is right to that precision: each value lies between lrlab's
    float64 values at the steps ``t * (1 -/+ ulps_t * eps)``, give or take
    ``rtol * |value| + atol_scale * max|value| + atol``.

    Rounding ``t / every`` (XLA computes it as ``t * (1/every)``) is the
    same as moving the step by an ulp or two: harmless where the schedule is
    smooth, but at a staircase step or a restart it can land on either side
    of the jump, and just before the end of a ``power < 1`` polynomial the
    value is that steep.  This is the result's backward error, in ulps of
    the step.
    """
    a = np.asarray(actual, dtype=np.float64)
    t = np.asarray(steps, dtype=np.float64)
    mid = np.asarray(s(t), dtype=np.float64)
    lo = np.asarray(s(t * (1.0 - ulps_t * eps)), dtype=np.float64)
    hi = np.asarray(s(t * (1.0 + ulps_t * eps)), dtype=np.float64)
    tol = rtol * np.abs(mid) + atol_scale * float(np.max(np.abs(mid))) + atol
    low = np.minimum(np.minimum(lo, mid), hi) - tol
    high = np.maximum(np.maximum(lo, mid), hi) + tol
    assert a.shape == mid.shape, (a.shape, mid.shape)
    bad = np.flatnonzero(~((a >= low) & (a <= high)))
    if bad.size:
        i = int(bad[0])
        raise AssertionError(
            f"{what}: {bad.size} of {a.size} outside the precision; first at step "
            f"{t[i]:g}: got {a[i]!r}, lrlab {mid[i]!r} (range {low[i]!r}..{high[i]!r})"
        )


def assert_float32_equivalent(
    actual: Any, s: ls.Schedule, steps: Any, *, ulps_v: float = 8.0, what: str = ""
) -> None:
    """Float32 precision: :func:`assert_equivalent` with float32's epsilon,
    4 ulps of the step and ``ulps_v`` ulps of the schedule's largest value.

    Below float32's smallest normal number (1.2e-38) XLA on the CPU flushes
    results to zero (``0.5 * 1.1754944e-38`` is 0.0 in JAX, 5.877472e-39 in
    NumPy), so there the precision is that number, absolutely."""
    assert_equivalent(
        actual,
        s,
        steps,
        eps=EPS32,
        atol_scale=ulps_v * EPS32,
        atol=float(np.finfo(np.float32).tiny),
        what=what,
    )


def float32_params(s: ls.Schedule) -> ls.Schedule:
    """``s`` with every float argument rounded to float32: the schedule a
    float32 evaluation really computes (JAX turns each Python float constant
    into float32 first, and e.g. ``0.99999 ** 400`` amplifies that 400-fold)."""

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, float):
            return f32(v)
        return v

    try:
        return ls.from_config(walk(s.to_config()))
    except ls.ScheduleError:  # pragma: no cover - rounding broke a constraint
        return s


def f32(x: float) -> float:
    """``x`` rounded to float32 and back: the value a float32 peer really uses."""
    return float(np.float32(x))


@contextlib.contextmanager
def jax_x64(enabled: bool = True) -> Iterator[None]:
    """JAX with float64 on (or off) inside the block, as it was after."""
    import jax

    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


# -- strategies -------------------------------------------------------------

lrs = st.floats(1e-4, 10.0)
lrs0 = st.one_of(st.just(0.0), lrs)
ints = st.integers


def _sorted_unique(n_min: int, n_max: int, lo: int, hi: int) -> st.SearchStrategy[list[int]]:
    return st.lists(ints(lo, hi), min_size=n_min, max_size=n_max, unique=True).map(sorted)


def _valid(build: Any) -> Any:
    """Call ``build`` and give None when lrlab refuses the combination."""

    def make(*args: Any, **kwargs: Any) -> Any:
        try:
            return build(*args, **kwargs)
        except ls.ScheduleError:
            return None

    return make


_piecewise = _sorted_unique(1, 5, 0, 300).flatmap(
    lambda b: st.builds(
        ls.piecewise, st.just(b), st.lists(lrs0, min_size=len(b) + 1, max_size=len(b) + 1)
    )
)

KINDS: dict[str, st.SearchStrategy[ls.Schedule]] = {
    "constant": st.builds(ls.constant, lrs0),
    "step": st.builds(ls.step, lrs, st.floats(0.05, 1.0), ints(1, 50)),
    "exponential": st.builds(
        ls.exponential, lrs, st.floats(-0.002, 1.0), ints(1, 50), st.booleans()
    ),
    "inverse_time": st.builds(
        ls.inverse_time, lrs, st.floats(0.0, 5.0), ints(1, 50), st.booleans()
    ),
    "multistep": st.builds(ls.multistep, lrs, _sorted_unique(1, 5, 0, 300), st.floats(0.05, 2.0)),
    "piecewise": _piecewise,
    "polynomial": st.builds(ls.polynomial, lrs, ints(1, 300), lrs0, st.floats(0.1, 4.0)),
    "cosine": st.builds(ls.cosine, lrs, ints(1, 300), lrs0),
    "cosine_restarts": st.builds(
        ls.cosine_restarts,
        lrs,
        ints(1, 50),
        # (a mult within ~1e-13 of 1 puts restarts within rounding of integer
        # steps, where only the documented 16-ulp rule decides: not tested)
        st.one_of(st.sampled_from([1.0, 2.0, 3.0, 1.5]), st.floats(1.001, 3.0)),
        st.floats(0.0, 1.0),
        lrs0,
    ),
    "one_cycle": st.builds(
        _valid(ls.one_cycle),
        lrs,
        ints(2, 300),
        st.floats(0.01, 0.99),
        st.floats(1.0, 100.0),
        st.floats(1.0, 1e4),
        st.sampled_from(["cos", "linear"]),
        st.booleans(),
    ).filter(lambda s: s is not None),
    "cyclic": st.builds(
        ls.cyclic,
        lrs0,
        lrs,
        ints(1, 50),
        st.sampled_from(["triangular", "triangular2", "exp_range"]),
        st.floats(0.98, 1.0),
    ),
    "inverse_sqrt": st.builds(ls.inverse_sqrt, lrs, ints(1, 100)),
    "wsd": st.builds(
        _valid(ls.wsd),
        lrs,
        ints(2, 300),
        ints(0, 150),
        st.floats(0.01, 1.0),
        st.sampled_from(["linear", "cosine", "1-sqrt"]),
        lrs0,
    ).filter(lambda s: s is not None),
}

leaves: st.SearchStrategy[ls.Schedule] = st.one_of(*KINDS.values())


def _combine(inner: st.SearchStrategy[ls.Schedule]) -> st.SearchStrategy[ls.Schedule]:
    join = st.lists(inner, min_size=2, max_size=3).flatmap(
        lambda ss: st.builds(ls.join, st.just(ss), _sorted_unique(len(ss) - 1, len(ss) - 1, 0, 300))
    )
    clip = st.tuples(inner, lrs0, lrs0).map(
        lambda a: ls.clip(a[0], min(a[1], a[2]), max(a[1], a[2]))
    )
    return st.one_of(
        st.builds(ls.warmup, inner, ints(1, 60), lrs0),
        join,
        clip,
        st.builds(ls.scale, inner, st.one_of(st.just(0.0), st.floats(1e-3, 5.0))),
    )


COMBINATORS = ("warmup", "join", "clip", "scale")


def schedules(max_leaves: int = 4) -> st.SearchStrategy[ls.Schedule]:
    """Any schedule: a kind, or kinds nested in combinators."""
    return st.recursive(leaves, _combine, max_leaves=max_leaves)


# -- the reference ----------------------------------------------------------


def oracle(s: ls.Schedule, t: int) -> float:
    """The learning rate of ``s`` at integer step ``t``, the slow plain way."""
    k = s.kind
    a: Any = s
    if k == "constant":
        return a.lr
    if k == "step":
        return a.lr * a.factor ** (t // a.every)
    if k in ("exponential", "inverse_time"):
        p = t // a.every if a.staircase else t / a.every
        if k == "exponential":
            return a.lr * math.exp(-a.k * p)
        return a.lr / (1 + a.k * p)
    if k == "multistep":
        passed = sum(1 for m in a.milestones if t >= m)
        return a.lr * a.factor**passed
    if k == "piecewise":
        i = 0
        for b in a.boundaries:
            if t >= b:
                i += 1
        return a.values[i]
    if k == "polynomial":
        if t >= a.steps:
            return a.end_lr
        return (a.lr - a.end_lr) * (1 - t / a.steps) ** a.power + a.end_lr
    if k == "cosine":
        if t >= a.steps:
            return a.min_lr
        return a.min_lr + (a.lr - a.min_lr) * (1 + math.cos(math.pi * t / a.steps)) / 2
    if k == "cosine_restarts":
        # cycle by cycle, in 40-digit decimals: summing float lengths would
        # err by ~1 ulp a cycle (hundreds of cycles when mult is near 1).
        # Documented: a restart within 16 ulps of the step is reached.
        near = Decimal(16 * EPS64 * t)
        with decimal.localcontext(prec=40):
            start, length, cycle = Decimal(0), Decimal(a.period), 0
            while t + near >= start + length:
                start += length
                length *= Decimal(a.mult)
                cycle += 1
            frac = float(max(t - start, Decimal(0)) / length)
        peak = (a.lr - a.min_lr) * a.decay**cycle
        return a.min_lr + peak * (1 + math.cos(math.pi * frac)) / 2
    if k == "one_cycle":
        return _one_cycle(a, t)
    if k == "cyclic":
        return _cyclic(a, t)
    if k == "inverse_sqrt":
        if t < a.warmup:
            return a.lr * t / a.warmup
        return a.lr * math.sqrt(a.warmup / t)
    if k == "wsd":
        return _wsd(a, t)
    if k == "warmup":
        if t < a.steps:
            top = oracle(a.schedule, 0)
            return a.start_lr + (top - a.start_lr) * t / a.steps
        return oracle(a.schedule, t - a.steps)
    if k == "join":
        piece, begin = a.schedules[0], 0
        for b, nxt in zip(a.boundaries, a.schedules[1:]):
            if t >= b:
                piece, begin = nxt, b
        return oracle(piece, t - begin)
    if k == "clip":
        v = oracle(a.schedule, t)
        if v < a.min_lr:
            return a.min_lr
        if v > a.max_lr:
            return a.max_lr
        return v
    if k == "scale":
        return oracle(a.schedule, t) * a.factor
    raise AssertionError(f"no oracle for {k}")


def _one_cycle(a: Any, t: int) -> float:
    low = a.max_lr / a.div
    final = low / a.final_div
    n = a.steps
    if a.three_phase:
        phases = [
            (a.pct_start * n - 1, low, a.max_lr),
            (2 * a.pct_start * n - 2, a.max_lr, low),
            (n - 1, low, final),
        ]
    else:
        phases = [(a.pct_start * n - 1, low, a.max_lr), (n - 1, a.max_lr, final)]
    if t >= n - 1:
        return final
    begin = 0.0
    for end, v0, v1 in phases:
        if t <= end:
            x = (t - begin) / (end - begin)
            if a.anneal == "cos":
                return v1 + (v0 - v1) * (1 + math.cos(math.pi * x)) / 2
            return v0 + (v1 - v0) * x
        begin = end
    raise AssertionError("past the last phase")


def _cyclic(a: Any, t: int) -> float:
    s = a.step_size
    cycle = t // (2 * s)  # 0-based
    pos = t - cycle * 2 * s
    rise = pos / s if pos <= s else (2 * s - pos) / s
    if a.mode == "triangular":
        amp = 1.0
    elif a.mode == "triangular2":
        amp = 0.5**cycle
    else:
        amp = a.gamma**t
    return a.base_lr + (a.max_lr - a.base_lr) * rise * amp


def _wsd(a: Any, t: int) -> float:
    d = round(a.decay_frac * a.steps)
    if t < a.warmup:
        return a.lr * t / a.warmup
    if t >= a.steps:
        return a.min_lr
    if t <= a.steps - d:
        return a.lr
    x = (t - (a.steps - d)) / d
    if a.decay == "linear":
        shape = 1 - x
    elif a.decay == "cosine":
        shape = (1 + math.cos(math.pi * x)) / 2
    else:
        shape = 1 - math.sqrt(x)
    return a.min_lr + (a.lr - a.min_lr) * shape


def oracle_array(s: ls.Schedule, steps: Any = STEPS) -> np.ndarray:
    return np.array([oracle(s, int(t)) for t in steps], dtype=np.float64)
