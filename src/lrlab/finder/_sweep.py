"""The range test's framework-neutral core: the ramp, the sweep with its stop rule, the
race's probes, the anchor, the peers' rules and lrlab's advice, from one :class:`Engine`.

An engine is one framework's training as the test drives it: ``save()`` a snapshot of
everything a step changes, ``restore(snapshot)``, ``train()`` mode, and ``step(batch, lr)``,
one update at rate ``lr`` whose return value is that batch's loss before the update.  The
torch finder (:mod:`lrlab.finder._core`), the Keras finder (:mod:`lrlab.finder.keras`) and
the Optax finder (:mod:`lrlab.finder.optax`) are three engines over this one module, so
the three give the same curve and suggestions for the same training.

The sweep trains for up to ``num_steps`` steps while the rate grows from
``min_lr`` to ``max_lr``::

    exponential:  lr_i = min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))
    linear:       lr_i = min_lr + (max_lr - min_lr) * i / (num_steps - 1)

recording the loss of each batch *before* its step.  The loss is smoothed by a
bias-corrected exponential moving average ``s_i = a_i / (1 - beta^(i+1))``,
``a_i = beta a_{i-1} + (1 - beta) x_i``, and the sweep stops once ``s_i`` exceeds
``diverge * min(s_0..s_i)`` or a loss is not finite.

lrlab's own suggestion races candidates: the sweep gives an anchor, the last
rate that did not hurt (:func:`anchor`); a few rates on lrlab's lattice below it train
from the very same starting state on the very same batches, the best continue, and the
winner is carried to the run's length with a horizon exponent measured from the same runs
(:mod:`lrlab.finder.advice`).  Every step of sweep and probes is counted in
``result.steps``, within ``budget`` of one run.  The engine's state is restored at the
end, whether the test finished, diverged or raised.

This module imports no framework.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from lrlab._checks import number_in, positive_int
from lrlab._progress import progress_bar
from lrlab.errors import UsageError
from lrlab.finder._result import FinderResult
from lrlab.finder._settings import SweepSettings, too_short, why
from lrlab.finder.advice import Advice, advise, checkpoint_every, lattice, lattice_index
from lrlab.finder.rules import RULES, Ema, Suggestion, centered, centered_half

__all__ = [
    "Draw",
    "Engine",
    "Prober",
    "anchor",
    "edge_lr",
    "ramp",
    "range_test",
    "result_of",
    "suggestions",
    "sweep",
]


class Engine(Protocol):
    """One framework's training, as the range test drives it.

    An engine may also carry a ``diverged`` attribute, read after each step: true when
    its own rule (the torch driver's loss limit) says the step diverged though the loss
    it returned is finite.
    """

    def save(self) -> Any:
        """A snapshot of everything a step changes (weights, optimizer state, non-trainable
        state, RNG state)."""

    def restore(self, state: Any) -> None:
        """Put a snapshot back (many times for one snapshot; also in a ``finally``)."""

    def train(self) -> None:
        """Training mode before a run of steps (dropout on); a no-op where there is none."""

    def step(self, batch: Any, lr: float) -> float:
        """One update at rate ``lr`` on ``batch``; that batch's loss before the update
        (non-finite: diverged)."""


class Draw(Protocol):
    """A source of batches (:class:`lrlab.finder._batches.Batches`)."""

    def next(self) -> Any:
        """The next batch."""


def _diverged(engine: Any, value: float) -> bool:
    return not math.isfinite(value) or bool(getattr(engine, "diverged", False))


def ramp(min_lr: float, max_lr: float, num_steps: int, mode: str = "exponential") -> np.ndarray:
    """The sweep's rates, ``num_steps`` values from ``min_lr`` to ``max_lr`` inclusive.

    >>> [round(float(v), 12) for v in ramp(1e-3, 1e-1, 3)]
    [0.001, 0.01, 0.1]
    >>> ramp(0.0, 1.0, 3, "linear").tolist()
    [0.0, 0.5, 1.0]
    """
    if mode not in ("exponential", "linear"):
        raise UsageError(
            f"Argument `mode` must be 'exponential' or 'linear'. Received: mode={mode!r}"
        )
    num_steps = positive_int("num_steps", num_steps)
    low = 0.0 if mode == "linear" else math.nextafter(0.0, 1.0)
    what = "a non-negative finite number" if mode == "linear" else "a positive finite number"
    min_lr = number_in("min_lr", min_lr, lambda v: v >= low, what)
    max_lr = number_in("max_lr", max_lr, lambda v: v >= low, what)
    t = np.arange(num_steps, dtype=np.float64) / max(num_steps - 1, 1)
    if mode == "exponential":
        out = np.exp(math.log(min_lr) + t * (math.log(max_lr) - math.log(min_lr)))
    else:
        out = min_lr + t * (max_lr - min_lr)
    out[0], out[-1] = min_lr, max_lr
    return out


def edge_lr(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """Estimate the stability edge ``2 / lambda`` from the diverging tail of a sweep.

    Past the edge of stability the loss of plain gradient steps grows like the
    mode of largest curvature ``lambda``: ``log f_{i+1} - log f_i ≈ log (1 - lr_i lambda)^2``.
    The tail is the run of steps after the smallest raw loss whose losses are
    at least ``10 *`` that minimum (where the unstable mode dominates); a
    1-D least-squares fit of ``lambda`` to the per-step log-loss increments
    there gives the edge.  ``None`` when the sweep never diverged.  Exact for
    full-batch gradient descent on a quadratic; a diagnostic elsewhere
    (momentum moves the true edge to ``2 (1 + m) / lambda``).
    """
    x = np.asarray(losses, dtype=np.float64)
    lr = np.asarray(lrs, dtype=np.float64)[: len(x)]
    # The sweep up to its first non-finite loss; a loss of exactly 0 has no logarithm, so
    # the fit reads only positive losses (a sweep may reach 0.0 and stop on a later rise).
    bad = np.flatnonzero(~np.isfinite(x))
    n = int(bad[0]) if len(bad) else len(x)
    x, lr = x[:n], lr[:n]
    if int(np.count_nonzero(x > 0)) < 3:
        return None
    k = int(np.argmin(x))
    tail = [i for i in range(k + 1, n) if x[i] >= 10.0 * x[k]]
    if len(tail) < 2:
        return None
    idx = np.arange(tail[0], n - 1)  # not empty: the tail has two steps
    idx = idx[(x[idx] > 0) & (x[idx + 1] > 0)]
    if len(idx) < 1:
        return None
    inc = np.log(x[idx + 1]) - np.log(x[idx])
    steps = lr[idx]

    def sse(lam: float) -> float:
        pred = np.log(np.maximum((1.0 - steps * lam) ** 2, 1e-300))
        return float(np.sum((pred - inc) ** 2))

    # 1/lr_max .. 100/lr_start bracket, golden-section on log(lambda) after a coarse scan.
    grid = np.exp(np.linspace(math.log(1e-3 / steps[-1]), math.log(1e3 / steps[0]), 400))
    vals = np.array([sse(g) for g in grid])
    j = int(np.argmin(vals))
    a, b = math.log(grid[max(j - 1, 0)]), math.log(grid[min(j + 1, len(grid) - 1)])
    phi = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        c, d = b - phi * (b - a), a + phi * (b - a)
        if sse(math.exp(c)) < sse(math.exp(d)):
            b = d
        else:
            a = c
    lam = math.exp((a + b) / 2)
    return 2.0 / lam


def sweep(
    s: SweepSettings, lrs: np.ndarray, engine: Engine, batches: Draw, bar: Any
) -> tuple[np.ndarray, str]:
    """The ramp ``lrs``: one step per rate until the smoothed loss diverges;
    ``(losses, stop reason)``."""
    ema = Ema(s.beta, s.debias)
    losses: list[float] = []
    best, stop = math.inf, "max_lr"
    for i, lr in enumerate(lrs.tolist()):
        losses.append(engine.step(batches.next(), lr))
        bar.update(1)
        if _diverged(engine, losses[-1]):
            stop = "non-finite"
            break
        smooth = ema.add(losses[-1])
        if i > 0 and smooth > s.diverge * best:
            stop = "diverged"
            break
        best = min(best, smooth)
    return np.asarray(losses, dtype=np.float64), stop


class Prober:
    """The real probe of :func:`lrlab.finder.advice.advise`: constant-rate runs of the engine.

    Every rate starts from the state the test found (``start``, the engine's snapshot) and
    trains on the same batches in the same order (drawn once, after the sweep, and held),
    so that scores differ by the rate alone.  A rate probed again continues from where it
    stopped (its state is kept), which at a constant rate is exactly the longer run.
    """

    def __init__(
        self,
        engine: Engine,
        start: Any,
        batches: Draw,
        every: int,
        val: Callable[[], float] | None,
        bar: Any,
    ) -> None:
        self.engine, self.start, self.batches, self.every = engine, start, batches, every
        self.val, self.bar = val, bar
        self.shared: list[Any] = []
        self.runs: dict[float, tuple[Any, int, list[tuple[int, float]], list[float]]] = {}
        self.spent = 0

    def __call__(self, lr: float, steps: int) -> list[tuple[int, float]]:
        state, done, points, window = self.runs.get(lr, (self.start, 0, [], []))
        if (points and not math.isfinite(points[-1][1])) or done >= steps:
            return list(points)
        self.engine.restore(state)
        self.engine.train()
        while len(self.shared) < steps:
            self.shared.append(self.batches.next())
        points, window = list(points), list(window)
        for i in range(done, steps):
            value = self.engine.step(self.shared[i], lr)
            self.spent += 1
            if self.bar is not None:
                self.bar.update(1)
            if _diverged(self.engine, value):
                points.append((i + 1, math.inf))
                break
            window.append(value)
            if (i + 1) % self.every == 0:
                v = self.val() if self.val is not None else float(np.mean(window))
                points.append((i + 1, v))
                window = []
                if not math.isfinite(v):
                    break
        self.runs[lr] = (self.engine.save(), steps, points, window)
        return list(points)


def range_test(
    s: SweepSettings,
    engine: Engine,
    batches: Draw,
    *,
    val: Callable[[], float] | None = None,
    n_val: int | None = None,
    deterministic: bool = False,
    quiet: bool = True,
    label: str = "lr range test",
) -> FinderResult:
    """The sweep, then (room and an anchor permitting) the race; the engine's state is
    restored after both, whatever happens.

    Args:
        s: the checked options (:meth:`SweepSettings.of`).
        engine: the framework's training (:class:`Engine`).
        batches: where the steps' batches come from (at most ``s.draws`` are drawn).
        val: the validation loss of the engine's current state; ``None``: probes are scored
            by their training loss.
        n_val: the validation set's size (a tiny one is flagged in the advice).
        deterministic: the gradients are exact (full batch).
        quiet: no progress bar.
        label: the progress bar's label.
    """
    ramp_lrs = ramp(s.min_lr, s.max_lr, s.num_steps, s.mode)
    every = checkpoint_every(s.horizon)
    short = too_short(s, every)
    start = engine.save()
    bar = progress_bar(s.num_steps + max(s.room, 0), label, quiet)
    advice: Advice | None = None
    probe_steps = 0
    try:
        if val is not None:
            val()  # the validation batch is checked before anything trains
        engine.train()
        losses, stop = sweep(s, ramp_lrs, engine, batches, bar)
        lrs = ramp_lrs[: len(losses)]
        at = anchor(lrs, losses)
        if at is not None and s.rule.candidates > 0 and not short:
            prober = Prober(engine, start, batches, every, val, bar)
            advice = advise(
                at, prober, horizon=s.horizon, budget=s.room, rule=s.rule,
                deterministic=deterministic, n_val=n_val,
            )  # fmt: skip
            probe_steps = prober.spent
    finally:
        bar.close()
        engine.restore(start)
    return result_of(s, lrs, losses, stop, at, advice, len(losses) + probe_steps, short)


def result_of(
    s: SweepSettings,
    lrs: np.ndarray,
    losses: np.ndarray,
    stop: str,
    at: float | None,
    advice: Advice | None,
    steps: int,
    short: str = "",
) -> FinderResult:
    """The :class:`FinderResult` of a sweep (``lrs``, ``losses``, its ``stop`` reason), its
    anchor ``at`` and the race's ``advice`` (``None``: none ran), ``steps`` spent in all."""
    return FinderResult(
        lrs=lrs,
        losses=losses,
        smoothed=Ema(s.beta, s.debias).curve(losses),
        suggestions=suggestions(lrs, losses, at, advice),
        stop_reason=stop,
        divergence_lr=edge_lr(lrs, losses) if stop != "max_lr" else None,
        stop_lr=float(lrs[-1]),
        confirmations=[] if advice is None else [(lr, sc) for lr, _, sc in advice.probes],
        steps=steps,
        settings=dataclasses.asdict(s),
        advice=advice,
        confirmed=advice is not None,
        why=why(s, at, advice, short),
    )


def suggestions(
    lrs: np.ndarray, losses: np.ndarray, at: float | None, advice: Advice | None
) -> dict[str, Suggestion]:
    """The peer rules' suggestions and lrlab's: the race's advice, else (no probes) the
    sweep's proposal, one lattice step below the anchor."""
    out = {name: s for name, rule in RULES.items() if (s := rule(lrs, losses)) is not None}
    if advice is not None:
        out["lrlab"] = Suggestion(
            "lrlab", advice.lr, advice.low, advice.high, None,
            "lrlab: sweep, then a race of lattice rates carried to the run's length",
        )  # fmt: skip
    elif at is not None:
        lr = lattice(math.floor(lattice_index(at) + 1e-9) - 1)
        out["lrlab"] = Suggestion(
            "lrlab", lr, lr, lr, None, "lrlab: sweep proposal (no confirmation)"
        )
    return out


def anchor(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """The sweep's anchor rate, where lrlab's candidates start (``None``: too short a sweep).

    The anchor is the last rate that did not hurt: the largest rate whose
    loss, under a centered (zero-lag) moving mean over a tenth of the sweep,
    is within one noise standard deviation of that mean's minimum.  On a
    clean curve that is the minimum or a step past it; on a curve that stays
    flat within its noise until it blows up, it is the rate just before the
    rise, where the minimum alone would land anywhere on the flat part
    (with a noisy first batch, at the very start of the sweep).  The noise
    is the robust spread (1.4826 MAD) of the losses about the moving mean,
    divided by the square root of the window.  The EMA that drives the stop
    rule is not used here: it lags by about ``1 / (1 - beta)`` steps, which on
    a short sweep is most of it.

    >>> lrs = np.logspace(-4, 0, 9)
    >>> round(anchor(lrs, np.array([1, 1, 1, 1, 1, 1, 1, 9, 99.0])), 6)
    0.031623
    """
    if len(losses) < 3:
        return None
    half = centered_half(len(losses))
    smooth = centered(losses, half)
    finite = np.isfinite(smooth)
    if not finite.any():
        return None
    k = int(np.argmin(np.where(finite, smooth, np.inf)))
    x = np.asarray(losses, dtype=np.float64)
    ok = np.isfinite(x) & finite
    resid = x[ok] - smooth[ok]
    noise = 1.4826 * float(np.median(np.abs(resid - np.median(resid)))) / math.sqrt(2 * half + 1)
    k = max(k, int(np.flatnonzero(finite & (smooth <= smooth[k] + noise))[-1]))
    return float(lrs[k])
