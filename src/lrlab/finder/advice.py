"""lrlab's own LR advice: race a few rates on a lattice, then carry the winner to the run's length.

The rule is pure: it sees the range test's anchor (the last rate that did not
hurt), the run's length ``horizon`` and a step budget, and it asks a *probe*
for validation losses.  ``probe(lr, steps)`` trains a run at the constant rate
``lr`` up to ``steps`` updates (continuing it if it was probed before) and
returns its checkpoints ``[(step, val_loss), ...]`` so far, one every
``every = max(horizon // 64, 1)`` updates.  :func:`lrlab.find_lr` gives it
a probe that trains your model from the very same starting state on the very
same batches for every rate; the advice benchmark gives it one that reads
recorded runs, which is how each free choice of the rule was made on one part
of the suite and judged on the rest (``docs/choosing.md``).

The steps:

1. **Candidates** on the lattice ``lattice(j) = 10 ** ((3 j - 50) / 10)`` (a
   factor of about 2 apart, 1e-5 and 1e-2 and 10 on it): ``candidates`` rates
   ``gap`` lattice steps apart, the largest ``top`` steps below the anchor.
2. **Stage one**: each trains for ``L1`` steps.  If the best is at an end of
   the tried range, one more candidate beyond that end (``extend``).
3. **Stage two** (when ``keep < candidates``): ``keep`` candidates continue to
   ``L2``, as long as the budget allows: the best and its neighbours, the
   smaller first (a longer run's best rate is smaller), or the ``keep`` best
   by score (``keep_by_score``).
4. **Scores**: the mean validation loss of the checkpoints in the last quarter
   of a length.  A run that blew up scores ``inf``.
5. **The pick** at the final length: the best candidate, refined by a parabola
   in ``j`` through it and its neighbours.  When the finite scores are all
   within ``flat_tol`` of each other (flat, saturated or exactly zero), no
   candidate is better than another: the middle one (or the largest,
   ``flat_pick="largest"``) is taken and the reason says so.  When, besides,
   no probe improved on its own first checkpoint (``no_progress``: the runs
   learned nothing yet, as a recurrent net often does at first), the scores
   say nothing about the rates: the pick is the largest candidate that held,
   with no horizon factor.
6. **The horizon**: the best rate of a run of ``t`` steps is taken to scale
   like ``t ** -alpha``.  ``alpha`` is measured from the same runs, from the
   pick at a quarter of the final length and at the final length, and mixed
   with a prior: ``alpha = w * measured + (1 - w) * prior``, clipped to
   ``[0, alpha_max]``.  Without gradient noise (full batch) ``alpha = 0``
   unless ``full_batch_horizon``: the default rule keeps the factor there
   too (its probes are short, and a too-large rate overfits the validation
   set later in the run), the thorough rule drops it.
   The advice is the lattice rate nearest ``pick * (length / horizon) ** alpha``,
   never above the largest candidate that did not blow up.
7. **The range**: ``range_steps`` lattice steps either side of the advice.

>>> round(lattice(10), 12), round(lattice(20), 12)
(0.01, 10.0)
>>> round(lattice_index(0.01), 9)
10.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lrlab import _json
from lrlab._checks import int_at_least, number_in
from lrlab.errors import UsageError

__all__ = [
    "DEFAULT_RULE",
    "THOROUGH_RULE",
    "Advice",
    "AdviceRule",
    "Probe",
    "advise",
    "carry",
    "checkpoint_every",
    "default_rule",
    "horizon_exponent",
    "lattice",
    "lattice_index",
    "score",
]

#: ``probe(lr, steps) -> [(step, val_loss), ...]``: the checkpoints of a constant-``lr`` run.
Probe = Callable[[float, int], Sequence[tuple[int, float]]]


def lattice(j: float) -> float:
    """The ``j``-th rate of lrlab's lattice, ``10 ** ((3 j - 50) / 10)`` (0.3 decades apart)."""
    return float(10.0 ** ((3.0 * j - 50.0) / 10.0))


def lattice_index(lr: float) -> float:
    """The (fractional) lattice index of ``lr``: the inverse of :func:`lattice`."""
    return (10.0 * math.log10(lr) + 50.0) / 3.0


def checkpoint_every(horizon: int) -> int:
    """Steps between two validation checkpoints of a probe: ``max(horizon // 64, 1)``."""
    return max(int(horizon) // 64, 1)


def score(checkpoints: Sequence[tuple[int, float]], length: int) -> float:
    """The mean loss of the checkpoints in ``(0.75 length, length]`` (the last one if none is).

    ``inf`` when a checkpoint up to ``length`` is not finite: the run blew up on the way.

    >>> score([(2, 9.0), (4, 3.0), (6, 2.0), (8, 1.0)], 8)
    1.0
    >>> score([(2, 9.0), (4, 3.0), (6, 2.0), (8, 1.0)], 6)
    2.0
    >>> score([(2, 1.0), (4, float("nan"))], 4)
    inf
    """
    upto = [(s, v) for s, v in checkpoints if s <= length]
    if not upto or not all(math.isfinite(v) for _, v in upto):
        return math.inf  # never evaluated, or blew up on the way
    window = [v for s, v in upto if s > 0.75 * length] or [upto[-1][1]]
    return float(np.mean(window))


@dataclass(frozen=True)
class AdviceRule:
    """The free choices of lrlab's advice (see the module docstring for each step).

    The defaults (and :data:`THOROUGH_RULE`'s) were chosen on the advice suite by
    ``benchmarks/bench_advice_suite.py``, and judged leave-one-family-out there
    and on lrlab's built-in tasks, on which no choice was made
    (``docs/choosing.md``, "On tasks it was never tuned on").
    """

    candidates: int = 3
    gap: int = 2
    top: int = 0
    keep: int = 2
    keep_by_score: bool = False
    extend: bool = True
    stage_split: float = 0.5
    alpha_weight: float = 0.0
    alpha_prior: float = 0.5
    alpha_max: float = 1.0
    alpha_slope: float = 0.0
    flat_tol: float = 0.03
    flat_pick: str = "middle"
    range_steps: int = 3
    full_batch_horizon: bool = True

    def __post_init__(self) -> None:
        # Checked when made, so a bad rule fails before anything trains, by name.
        counts = {"candidates": 0, "gap": 1, "top": 0, "keep": 0, "range_steps": 0}
        for name, low in counts.items():
            what = "a positive integer" if low else "a non-negative integer"
            object.__setattr__(self, name, int_at_least(name, getattr(self, name), low, what))
        for name in ("keep_by_score", "extend", "full_batch_horizon"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(
                    f"Argument `{name}` of AdviceRule must be True or False. "
                    f"Received: {name}={getattr(self, name)!r}"
                )
        numbers: dict[str, tuple[Callable[[float], bool], str]] = {
            "stage_split": (lambda v: 0 < v < 1, "a number in (0, 1)"),
            "alpha_weight": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
            "alpha_prior": (lambda v: v >= 0, "a non-negative finite number"),
            "alpha_max": (lambda v: v >= 0, "a non-negative finite number"),
            "alpha_slope": (lambda v: True, "a finite number"),
            "flat_tol": (lambda v: v >= 0, "a non-negative finite number"),
        }
        for name, (ok, what) in numbers.items():
            object.__setattr__(self, name, number_in(name, getattr(self, name), ok, what))
        if self.flat_pick not in ("middle", "largest"):
            raise UsageError(
                "Argument `flat_pick` of AdviceRule must be 'middle' or 'largest'. "
                f"Received: flat_pick={self.flat_pick!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The rule for the default budget (a quarter of a run), chosen on the advice suite.
DEFAULT_RULE = AdviceRule()
#: The rule for ``budget >= 0.5`` (the thorough mode), chosen on the suite at ``budget=1``.
THOROUGH_RULE = AdviceRule(candidates=4, range_steps=2, full_batch_horizon=False)


def default_rule(budget: float) -> AdviceRule:
    """The rule chosen for ``budget`` (a fraction of one run): the thorough one from 0.5 up."""
    return THOROUGH_RULE if budget >= 0.5 else DEFAULT_RULE


@dataclass(frozen=True)
class Advice:
    """What the rule found, and why.

    Attributes:
        lr: the advice: a constant rate for a run of ``horizon`` steps.
        low, high: the range around it.
        pick_lr: the best rate at the longest probe, before the horizon factor.
        horizon_factor: ``lr / pick_lr``.
        alpha: the horizon exponent used; ``alpha_measured`` the one the probes gave
            (``None`` when they could not give one).
        slope: how fast the leader's validation loss still fell over the race's second
            half, ``log(score(L / 2) / score(L)) / log 2`` (``None`` when it cannot say).
        length: the longest probe's steps; ``steps`` every probe step spent.
        probes: ``(lr, steps, score)`` of every probe at its final length.
        flags: what was unusual (``"flat"``, ``"no_progress"``, ``"zero_loss"``,
            ``"all_blew_up"``, ``"tiny_validation"``).
        reason: one line saying how the advice came about.
    """

    lr: float
    low: float
    high: float
    pick_lr: float
    horizon_factor: float
    alpha: float
    alpha_measured: float | None
    length: int
    steps: int
    probes: list[tuple[float, int, float]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    slope: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (:mod:`lrlab._json`'s convention)."""
        d: dict[str, Any] = _json.encode(asdict(self))
        return d


def _best_index(
    js: list[int], ys: list[float], flat_tol: float, flat_pick: str = "middle"
) -> tuple[float, bool]:
    """The best lattice index among ``js`` (scores ``ys``), parabola-refined; and whether flat.

    Flat scores give the middle finite candidate, or the largest (``flat_pick="largest"``).
    """
    finite = [(j, y) for j, y in zip(js, ys) if math.isfinite(y)]
    if not finite:
        return float(min(js)), False
    if len(finite) >= 2:
        vals = [y for _, y in finite]
        lo, hi = min(vals), max(vals)
        if hi - lo <= flat_tol * max(abs(lo), 1e-12) or hi == 0.0:
            fj = sorted(j for j, _ in finite)
            return float(fj[-1] if flat_pick == "largest" else fj[(len(fj) - 1) // 2]), True
    order = sorted(zip(js, ys))
    xs = [j for j, _ in order]
    vs = [y for _, y in order]
    k = int(np.argmin(vs))
    best = float(xs[k])
    if 0 < k < len(xs) - 1 and all(math.isfinite(v) for v in vs[k - 1 : k + 2]):
        x0, x1, x2 = xs[k - 1 : k + 2]
        y0, y1, y2 = vs[k - 1 : k + 2]
        if x1 - x0 == x2 - x1:
            h = x1 - x0
            curv = y0 - 2 * y1 + y2
            if curv > 0:
                best = float(np.clip(x1 + 0.5 * h * (y0 - y2) / curv, x0, x2))
    return best, False


def _survivors(scores: dict[int, float], keep: int, gap: int, by_score: bool) -> list[int]:
    """The candidates that race on: the ``keep`` best by score, or (``by_score=False``) the
    best and its neighbours, below first (the best rate of a longer run is smaller).

    >>> _survivors({4: 1.0, 5: 0.5, 6: 0.7, 7: 0.9}, 3, 1, False)
    [5, 4, 6]
    >>> _survivors({4: 1.0, 5: 0.5, 6: 0.7, 7: 0.9}, 3, 1, True)
    [5, 6, 7]
    """
    ok = {j: v for j, v in scores.items() if math.isfinite(v)}
    if not ok:
        return []
    if by_score:
        return sorted(ok, key=lambda j: (ok[j], -j))[:keep]
    best = min(ok, key=lambda j: (ok[j], -j))
    order = [best]
    for k in range(1, len(scores) + 1):
        order += [j for j in (best - k * gap, best + k * gap) if j in ok]
    return order[:keep]


class _Race:
    """The probes run so far: each lattice index's checkpoints, length and the steps spent."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.curves: dict[int, Sequence[tuple[int, float]]] = {}
        self.reached: dict[int, int] = {}
        self.spent = 0

    def run(self, j: int, length: int) -> float:
        """Train (or continue) lattice rate ``j`` to ``length`` steps; its score there."""
        self.curves[j] = self.probe(lattice(j), length)
        done = self.curves[j][-1][0] if self.curves[j] else 0
        self.spent += max(min(done, length) - self.reached.get(j, 0), 0)
        self.reached[j] = length
        return score(self.curves[j], length)

    def held(self) -> list[int]:
        """The rates whose probe did not blow up."""
        return [j for j in self.curves if math.isfinite(score(self.curves[j], self.reached[j]))]


def _race(
    anchor_lr: float, race: _Race, budget: int, rule: AdviceRule, every: int
) -> tuple[int, list[int]]:
    """Steps 1-3: the candidates, stage one, the extension and stage two.

    Returns the final length and the rates that reached it.
    """
    j_anchor = math.floor(lattice_index(anchor_lr) + 1e-9)
    cands = [j_anchor - rule.top - rule.gap * i for i in range(max(rule.candidates, 1))]
    n_slots = len(cands) + (1 if rule.extend else 0)
    racing = 0 < rule.keep < len(cands)
    stage1 = rule.stage_split * budget if racing else budget
    length = max(int(stage1 // n_slots) // every * every, every)
    s1: dict[int, float] = {}
    for j in cands:
        if race.spent + length > budget and s1:
            break
        s1[j] = race.run(j, length)
    tried = sorted(s1)
    if rule.extend and len(tried) >= 2 and race.spent + length <= budget:
        best = min(tried, key=lambda j: (s1[j], j))
        if best == tried[-1] and math.isfinite(s1[best]):
            s1[best + rule.gap] = race.run(best + rule.gap, length)
        elif best == tried[0]:
            s1[best - rule.gap] = race.run(best - rule.gap, length)
    if racing:
        alive = _survivors(s1, rule.keep, rule.gap, rule.keep_by_score)
        room = (budget - race.spent) // max(len(alive), 1)
        length2 = length + int(room) // every * every
        if alive and length2 > length:
            for j in alive:
                race.run(j, length2)
            return length2, sorted(alive)
    return length, sorted(s1)


def _measured_alpha(
    race: _Race, length: int, every: int, j_long: float, flat_tol: float
) -> float | None:
    """The horizon exponent the probes show: the pick at a quarter of ``length`` against
    the pick ``j_long`` at ``length`` (``None`` when fewer than two runs got there or flat)."""
    short = max(length // 4 // every * every, every)
    if short >= length:
        return None
    at_short = {j: score(c, short) for j, c in race.curves.items() if race.reached[j] >= short}
    if len(at_short) < 2:
        return None
    j_short, flat = _best_index(list(at_short), list(at_short.values()), flat_tol)
    return None if flat else 0.3 * (j_short - j_long) / math.log10(length / short)


def advise(
    anchor_lr: float,
    probe: Probe,
    *,
    horizon: int,
    budget: int,
    rule: AdviceRule | None = None,
    deterministic: bool = False,
    n_val: int | None = None,
) -> Advice:
    """Run the rule: probes within ``budget`` steps, the advice for a run of ``horizon`` steps.

    ``rule=None`` takes :func:`default_rule` for the budget's share of the run.
    """
    if rule is None:
        rule = default_rule(budget / max(horizon, 1))
    every = checkpoint_every(horizon)
    flags = ["tiny_validation"] if n_val is not None and n_val < 50 else []
    race = _Race(probe)
    length, survivors = _race(anchor_lr, race, budget, rule, every)
    curves = race.curves
    final = {j: score(curves[j], length) for j in survivors}
    finite = [j for j in final if math.isfinite(final[j])]
    probes = [(lattice(j), n, score(curves[j], n)) for j, n in sorted(race.reached.items())]
    if not finite:
        flags.append("all_blew_up")
        j_low = min(curves) - rule.gap
        lr = lattice(j_low)
        return Advice(
            lr, lattice(j_low - rule.range_steps), lr, lr, 1.0, 0.0, None, length, race.spent,
            probes, flags,
            f"every probe blew up; {lr:.3g}, one step below the smallest probe",
        )  # fmt: skip
    vals = [final[j] for j in finite]
    if min(vals) == 0.0:
        flags.append("zero_loss")
    j_long, flat = _best_index(list(final), list(final.values()), rule.flat_tol, rule.flat_pick)
    stalled = (
        flat
        and min(vals) > 0.0
        and all(curves[j][0][1] - final[j] <= rule.flat_tol * curves[j][0][1] for j in finite)
    )
    if stalled:
        # No probe learned anything: their scores say nothing about the rates.  The
        # sweep's anchor is the best evidence left: the largest candidate that held.
        flags.append("no_progress")
        j_long, flat = float(max(race.held())), False
    elif flat:
        flags.append("flat")
    alpha_measured = (
        None if flat or stalled else _measured_alpha(race, length, every, j_long, rule.flat_tol)
    )
    slope = None if stalled else _leader_slope(race, final, length)
    exact = deterministic and not rule.full_batch_horizon
    alpha = 0.0 if exact or stalled else horizon_exponent(rule, alpha_measured, slope)
    j_top = max(race.held() if stalled else finite)  # never above a rate that blew up
    j_final = carry(j_long, alpha, horizon=horizon, length=length, top=j_top)
    lr, pick = lattice(j_final), lattice(j_long)
    if stalled:
        what, how = f"no probe improved: the largest that held, {pick:.3g}", "no horizon factor"
    else:
        what = f"flat scores: the {rule.flat_pick} candidate" if flat else f"best at {pick:.3g}"
        how = _how(alpha, alpha_measured, exact, rule, slope)
    reason = f"{len(curves)} probes, longest {length} steps; {what}; {how}"
    reason += f" -> {lr:.3g} for {horizon} steps" + (f" [{', '.join(flags)}]" if flags else "")
    return Advice(
        lr=lr,
        low=lattice(j_final - rule.range_steps),
        high=lattice(min(j_final + rule.range_steps, j_top + 1)),
        pick_lr=pick,
        horizon_factor=lr / pick,
        alpha=alpha,
        alpha_measured=alpha_measured,
        length=length,
        steps=race.spent,
        probes=probes,
        flags=flags,
        reason=reason,
        slope=slope,
    )


def carry(j_pick: float, alpha: float, *, horizon: int, length: int, top: int) -> int:
    """Step 6's carry: the lattice index of the advice for a run of ``horizon`` steps from the
    race's pick ``j_pick`` at ``length`` steps.

    A run ``horizon / length`` times longer wants a rate ``(horizon / length) ** -alpha`` times
    smaller, ``alpha log10(horizon / length) / 0.3`` lattice steps down, rounded, and never
    above ``top``, the largest rate that held.

    >>> carry(20, 0.5, horizon=800, length=200, top=25)  # 4x longer: 1 step down
    19
    >>> carry(20, 0.5, horizon=100, length=200, top=18)  # never carried up; capped at top
    18
    """
    shift = alpha * math.log10(horizon / length) / 0.3 if horizon > length else 0.0
    return min(round(j_pick - shift), top)


def horizon_exponent(rule: AdviceRule, measured: float | None, slope: float | None) -> float:
    """Step 6's ``alpha``: the prior, mixed with the measured exponent (``alpha_weight``) and
    moved by the leader's slope (``alpha_slope``), clipped to ``[0, alpha_max]``.

    >>> horizon_exponent(AdviceRule(), 0.9, 1.0)
    0.5
    >>> round(horizon_exponent(AdviceRule(alpha_weight=0.5, alpha_slope=-0.25), 0.9, 1.0), 12)
    0.45
    """
    a = rule.alpha_prior if measured is None else measured
    alpha = rule.alpha_weight * a + (1 - rule.alpha_weight) * rule.alpha_prior
    if slope is not None:
        alpha += rule.alpha_slope * slope
    return float(np.clip(alpha, 0.0, rule.alpha_max))


def _leader_slope(race: _Race, final: dict[int, float], length: int) -> float | None:
    """How fast the best survivor's loss still fell over the race's second half, per doubling
    of its steps: ``log(score(L / 2) / score(L)) / log 2`` (``None`` where it cannot say)."""
    ok = {j: v for j, v in final.items() if math.isfinite(v) and v > 0}
    if not ok:
        return None
    lead = min(ok, key=lambda j: (ok[j], -j))
    half = score(race.curves[lead], length // 2)
    if not (math.isfinite(half) and half > 0):
        return None
    return (math.log(half) - math.log(ok[lead])) / math.log(2)


def _how(
    alpha: float, measured: float | None, exact: bool, rule: AdviceRule, slope: float | None
) -> str:
    """How the reason words the horizon factor."""
    if exact:
        return "full batch: no horizon factor"
    if rule.alpha_slope and slope is not None:
        return (
            f"horizon exponent {alpha:.2f} (the leader's loss still falls {slope:.2f} per doubling)"
        )
    if measured is None or rule.alpha_weight == 0:
        seen = "" if measured is None else f"; the probes measured {measured:.2f}"
        return f"horizon exponent {alpha:.2f} (prior{seen})"
    return f"horizon exponent {alpha:.2f} (measured {measured:.2f})"
