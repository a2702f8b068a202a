"""The LR range test (Leslie Smith, 2015/2017) on any PyTorch model.

The sweep trains for up to ``num_steps`` steps while the rate grows from
``min_lr`` to ``max_lr``::

    exponential:  lr_i = min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))
    linear:       lr_i = min_lr + (max_lr - min_lr) * i / (num_steps - 1)

recording the loss of each batch *before* its step.  The loss is smoothed by a
bias-corrected exponential moving average ``s_i = a_i / (1 - beta^(i+1))``,
``a_i = beta a_{i-1} + (1 - beta) x_i``, and the sweep stops once ``s_i`` exceeds
``diverge * min(s_0..s_i)`` or a loss is not finite.

lrlab's own suggestion adds *confirmation*: the sweep proposes candidate rates
below the last rate that did not hurt (the largest whose zero-lag moving mean
is within its noise of the smallest), each candidate is trained briefly from
the very same starting state (model, optimizer, RNG) on the very same
batches, and scored by the mean loss of the iterates of its last quarter;
after three candidates a fourth extends or refines the tried range.  A
parabola in ``log lr`` through the best candidate and its neighbours refines
the pick, which then moves to the smallest rate within one (paired) standard
error of the best score; the range is the set of candidates whose score is
within ``tolerance`` of the best, carried to the run's length with the ends
of the horizon exponent's measured range.  Every step of sweep and
confirmation is counted in ``result.steps``.

Afterwards the model, optimizer and RNGs are restored bit for bit, whether the
test finished, diverged or raised.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch

from lrlab.errors import UsageError
from lrlab.finder._result import FinderResult
from lrlab.finder._state import Snapshot
from lrlab.finder.rules import RULES, Suggestion, ema_debiased, ema_plain

__all__ = ["edge_lr", "find_lr", "ramp"]

Batch = tuple[Any, Any]


def ramp(min_lr: float, max_lr: float, num_steps: int, mode: str = "exponential") -> np.ndarray:
    """The sweep's rates, ``num_steps`` values from ``min_lr`` to ``max_lr`` inclusive.

    >>> [round(float(v), 12) for v in ramp(1e-3, 1e-1, 3)]
    [0.001, 0.01, 0.1]
    >>> ramp(0.0, 1.0, 3, "linear").tolist()
    [0.0, 0.5, 1.0]
    """
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
    finite = np.flatnonzero(np.isfinite(x) & (x > 0))
    if len(finite) < 3:
        return None
    n = (
        int(finite[-1]) + 1
        if len(finite) == finite[-1] + 1
        else int(np.flatnonzero(~np.isfinite(x))[0])
    )
    x, lr = x[:n], lr[:n]
    k = int(np.argmin(x))
    tail = [i for i in range(k + 1, n) if x[i] >= 10.0 * x[k]]
    if len(tail) < 2:
        return None
    start = tail[0]
    idx = np.arange(start, n - 1)
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


class _Batches:
    """Cycle through an iterable of ``(inputs, targets)``, restarting it when exhausted."""

    def __init__(self, data: Iterable[Batch]) -> None:
        self.data = data
        self.it: Iterator[Batch] = iter(data)

    def next(self) -> Batch:
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.data)
            try:
                return next(self.it)
            except StopIteration:
                raise UsageError(
                    "Argument `data` must yield at least one (inputs, targets) batch. "
                    "Received: an empty or exhausted iterable"
                ) from None


def _step(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    lr: float,
) -> float:
    for group in optimizer.param_groups:
        group["lr"] = lr
    inputs, targets = batch
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(inputs), targets)
    value = float(loss.detach())
    if math.isfinite(value):
        loss.backward()
        optimizer.step()
    return value


def _check(name: str, value: Any, kind: str) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(float(value))
        and value > 0
    )
    if kind == "int":
        ok = ok and isinstance(value, int)
    if not ok:
        what = "a positive integer" if kind == "int" else "a positive finite number"
        raise UsageError(f"Argument `{name}` must be {what}. Received: {name}={value!r}")


def find_lr(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    data: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    beta: float = 0.98,
    debias: bool = True,
    diverge: float = 4.0,
    confirm: int = 4,
    confirm_steps: int = 0,
    confirm_ratio: float = 3.0,
    tolerance: float = 0.05,
    val_data: Batch | None = None,
    horizon: int | None = None,
    horizon_exponent: float | None = None,
    deterministic: bool = False,
    quiet: bool = True,
) -> FinderResult:
    """Run the LR range test and return the curve and the suggestions.

    Args:
        model: any ``torch.nn.Module``; trained in place, then restored bit for bit.
        loss_fn: ``loss_fn(model(inputs), targets)`` gives a scalar tensor.
        data: an iterable of ``(inputs, targets)`` batches; restarted when exhausted.
        optimizer: a torch optimizer over ``model``'s parameters; its ``lr`` is
            overwritten during the test and restored afterwards.
        min_lr, max_lr: the ends of the ramp (``0 < min_lr < max_lr``).
        num_steps: the number of sweep steps (at least 5).
        mode: ``"exponential"`` (default) or ``"linear"`` ramp.
        beta: the EMA factor of the smoothed loss (fastai: 0.98).
        debias: divide the EMA by ``1 - beta^(i+1)`` (fastai, Lightning); when
            false the EMA starts at the first loss (torch-lr-finder).
        diverge: stop once the smoothed loss exceeds ``diverge`` times its minimum.
        confirm: how many candidate rates lrlab's rule trains briefly (0: no
            confirmation, lrlab's suggestion is then the sweep's proposal).
            The first ``min(confirm, 3)`` are the sweep's minimum rate over
            ``confirm_ratio**k``; each further one goes a factor
            ``confirm_ratio`` beyond the tried range when the best so far is
            at its end, else halfway (in ``log lr``) to the best's better
            neighbour.  All train on the same batches (drawn once after the
            sweep and held in memory).
        confirm_steps: steps of each confirmation run (0: ``num_steps // 2``).
        confirm_ratio: the factor between neighbouring candidates.
        tolerance: candidates within ``(1 + tolerance)`` of the best confirmed
            loss make up the suggestion's range (with a ``horizon``, its low
            end is scaled with the exponent 0.7 and its high end with 0.4,
            the measured interquartile range; see ``HORIZON_EXPONENT_RANGE``).
        val_data: an ``(inputs, targets)`` batch; when given, a confirmation
            run is scored by the mean loss there (model in eval mode) of up to
            8 evenly spaced iterates of its last quarter, instead of the mean
            training loss of its last quarter.
        horizon: the length in steps of the training run the advice is for.
            With stochastic gradients the best constant rate shrinks with the
            horizon (bias ~ 1 / (lr t) against noise ~ lr gives
            ``lr* ~ t ** -0.5``; over-fitting late in a run pushes the
            exponent towards 1), so the confirmed rate is scaled by
            ``(confirm_steps / horizon) ** horizon_exponent``.  ``None``: no
            scaling.
        horizon_exponent: the exponent of that scaling, in ``[0, 2]``
            (default :data:`HORIZON_EXPONENT`, 1/2).  Measured exponents run
            from about 0.3, where the validation loss keeps falling to the
            end, to about 1.1, where the run over-fits from mid-way
            (``docs/choosing.md``): if the validation loss of your runs
            bottoms out well before their end, 0.75-1 is the better guess.
        deterministic: the gradients are exact (full batch): no horizon scaling,
            since without gradient noise the best rate does not shrink with ``t``.
        quiet: no progress bar (the bar also hides when stderr is not a terminal).

    Returns:
        A :class:`~lrlab.finder.FinderResult`.

    Raises:
        UsageError: on a bad argument.
    """
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr), ("diverge", diverge)):
        _check(name, value, "float")
    _check("num_steps", num_steps, "int")
    if num_steps < 5:
        raise UsageError(
            f"Argument `num_steps` must be at least 5. Received: num_steps={num_steps}"
        )
    if min_lr >= max_lr:
        raise UsageError(
            f"Argument `min_lr` must be smaller than `max_lr`. Received: min_lr={min_lr}, "
            f"max_lr={max_lr}"
        )
    if mode not in ("exponential", "linear"):
        raise UsageError(
            f"Argument `mode` must be 'exponential' or 'linear'. Received: mode={mode!r}"
        )
    if not (0.0 <= beta < 1.0):
        raise UsageError(f"Argument `beta` must be in [0, 1). Received: beta={beta!r}")
    if isinstance(confirm, bool) or not isinstance(confirm, int) or confirm < 0:
        raise UsageError(
            f"Argument `confirm` must be a non-negative integer. Received: confirm={confirm!r}"
        )
    if horizon is not None and (
        isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1
    ):
        raise UsageError(
            "Argument `horizon` must be a positive integer (the run's steps) or None. "
            f"Received: horizon={horizon!r}"
        )
    if horizon_exponent is None:
        horizon_exponent = HORIZON_EXPONENT
    if (
        isinstance(horizon_exponent, bool)
        or not isinstance(horizon_exponent, (int, float))
        or not 0.0 <= horizon_exponent <= 2.0
    ):
        raise UsageError(
            "Argument `horizon_exponent` must be a number in [0, 2]. "
            f"Received: horizon_exponent={horizon_exponent!r}"
        )
    exponent = float(horizon_exponent)
    if isinstance(confirm_steps, bool) or not isinstance(confirm_steps, int) or confirm_steps < 0:
        raise UsageError(
            "Argument `confirm_steps` must be a non-negative integer. "
            f"Received: confirm_steps={confirm_steps!r}"
        )
    if not (isinstance(confirm_ratio, (int, float)) and confirm_ratio > 1):
        raise UsageError(
            "Argument `confirm_ratio` must be a number above 1. "
            f"Received: confirm_ratio={confirm_ratio!r}"
        )
    if not isinstance(model, torch.nn.Module):
        raise UsageError(
            f"Argument `model` must be a torch.nn.Module. Received: model={type(model).__name__}"
        )
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise UsageError(
            "Argument `optimizer` must be a torch.optim.Optimizer. "
            f"Received: optimizer={type(optimizer).__name__}"
        )

    lrs = ramp(float(min_lr), float(max_lr), num_steps, mode)
    snap = Snapshot.take(model, optimizer)
    batches = _Batches(data)
    losses: list[float] = []
    stop = "max_lr"
    confirmations: list[tuple[float, float]] = []
    bar = _bar(num_steps, quiet, "lr range test")
    try:
        model.train()
        best = math.inf
        avg = 0.0
        for i, lr in enumerate(lrs):
            value = _step(model, loss_fn, optimizer, batches.next(), float(lr))
            losses.append(value)
            if bar is not None:
                bar.update(1)
            if not math.isfinite(value):
                stop = "non-finite"
                break
            if debias:
                avg = beta * avg + (1 - beta) * value
                smooth = avg / (1 - beta ** (i + 1))
            else:
                avg = value if i == 0 else (1 - beta) * value + beta * avg
                smooth = avg
            if i > 0 and smooth > diverge * best:
                stop = "diverged"
                break
            best = min(best, smooth)
        sweep_lrs = lrs[: len(losses)]
        sweep_losses = np.asarray(losses, dtype=np.float64)
        candidates = _candidates(sweep_lrs, sweep_losses, confirm, confirm_ratio)
        traces: list[np.ndarray] = []
        if confirm > 0 and candidates:
            n_conf = confirm_steps or max(num_steps // 2, 5)
            # Common random numbers: every candidate trains on the same batches
            # in the same order, so their scores differ by the rate alone.
            shared = [batches.next() for _ in range(n_conf)]
            todo = list(candidates[: min(confirm, 3)])
            while todo:
                lr = todo.pop(0)
                snap.restore(optimizer)
                model.train()
                trace = _brief(model, loss_fn, optimizer, shared, lr, val_data)
                confirmations.append((lr, float(np.mean(trace))))
                traces.append(trace)
                if bar is not None:
                    bar.update(0)
                if not todo and len(confirmations) < confirm:
                    todo.append(_next_candidate(confirmations, confirm_ratio))
        conf_steps = len(confirmations) * (confirm_steps or max(num_steps // 2, 5))
    finally:
        if bar is not None:
            bar.close()
        snap.restore(optimizer)

    suggestions: dict[str, Suggestion] = {}
    for name, rule in RULES.items():
        s = rule(sweep_lrs, sweep_losses)
        if s is not None:
            suggestions[name] = s
    n_conf = confirm_steps or max(num_steps // 2, 5)
    scale = low_scale = high_scale = 1.0
    if horizon is not None and not deterministic and horizon > n_conf:
        ratio = n_conf / horizon
        scale = ratio**exponent
        # The range carries the exponent's uncertainty too (see HORIZON_EXPONENT_RANGE).
        low_scale = ratio ** max(exponent, HORIZON_EXPONENT_RANGE[1])
        high_scale = ratio ** min(exponent, HORIZON_EXPONENT_RANGE[0])
    own = _lrlab_suggestion(
        candidates, confirmations, tolerance, scale, traces, (low_scale, high_scale)
    )
    if own is not None:
        suggestions["lrlab"] = own
    smooth_curve = ema_debiased(sweep_losses, beta) if debias else ema_plain(sweep_losses, 1 - beta)
    return FinderResult(
        lrs=np.asarray(sweep_lrs, dtype=np.float64),
        losses=sweep_losses,
        smoothed=smooth_curve,
        suggestions=suggestions,
        stop_reason=stop,
        divergence_lr=edge_lr(sweep_lrs, sweep_losses) if stop != "max_lr" else None,
        stop_lr=float(sweep_lrs[-1]),
        confirmations=confirmations,
        steps=len(losses) + conf_steps,
        settings={
            "min_lr": float(min_lr),
            "max_lr": float(max_lr),
            "num_steps": num_steps,
            "mode": mode,
            "beta": beta,
            "debias": debias,
            "diverge": float(diverge),
            "confirm": confirm,
            "confirm_steps": confirm_steps or max(num_steps // 2, 5),
            "tolerance": float(tolerance),
            "horizon": horizon,
            "horizon_exponent": exponent,
        },
    )


def _candidates(lrs: np.ndarray, losses: np.ndarray, count: int, ratio: float) -> list[float]:
    """Candidate rates: the sweep's anchor rate divided by ``ratio**k``, ``k = 0..count-1``.

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
    a short sweep is most of it.  Rates below the anchor by geometric factors
    cover "a bit below the edge" to "well below it", where the best constant
    rate of a brief run lies.

    >>> lrs = np.logspace(-4, 0, 9)
    >>> [round(c, 6) for c in _candidates(lrs, np.array([1, 1, 1, 1, 1, 1, 1, 9, 99.0]), 3, 3.0)]
    [0.031623, 0.010541, 0.003514]
    """
    if len(losses) < 3 or count == 0:
        return []
    half = max(1, round(len(losses) * 0.05))
    smooth = _centered(losses, half)
    finite = np.isfinite(smooth)
    if not finite.any():
        return []
    k = int(np.argmin(np.where(finite, smooth, np.inf)))
    x = np.asarray(losses, dtype=np.float64)
    ok = np.isfinite(x) & finite
    resid = x[ok] - smooth[ok]
    noise = 1.4826 * float(np.median(np.abs(resid - np.median(resid)))) / math.sqrt(2 * half + 1)
    k = max(k, int(np.flatnonzero(finite & (smooth <= smooth[k] + noise))[-1]))
    anchor = float(lrs[k])
    return [anchor / ratio**j for j in range(count)]


#: The best constant rate of a run of ``t`` steps is taken to scale like
#: ``t ** -HORIZON_EXPONENT``: 1/2 where gradient noise sets it (SGD theory).
#: Measured exponents range from about 0.3 to 1.1 (over-fitting late in a run
#: pushes it towards 1); no single value did better out of sample than the
#: theory's, see docs/choosing.md.
HORIZON_EXPONENT = 0.5
#: The interquartile range of the measured exponents (0.42-0.71 over 24
#: stochastic task x optimizer x length cases, docs/choosing.md).  The
#: suggestion's range carries the near-best candidates to the run's length
#: with both ends of it (and the chosen exponent), so that it states how far
#: the extrapolation can be off: it held the grid's best rate in 74% of 144
#: case x seed trials (median width 4.6x), against 32% (1.7x) for the
#: candidates scaled like the pick.
HORIZON_EXPONENT_RANGE = (0.4, 0.7)
#: Validation evaluations per confirmation run (evenly spaced over its last quarter).
_EVALS = 8
#: A smaller rate is preferred while its score is within this many standard errors.
_SE = 1.0


def _centered(losses: np.ndarray, half: int) -> np.ndarray:
    """Centered moving mean of ``losses`` over ``2 * half + 1`` steps (shorter at the ends)."""
    x = np.where(np.isfinite(losses), losses, np.inf)
    out = np.empty(len(x))
    for i in range(len(x)):
        out[i] = float(np.mean(x[max(0, i - half) : i + half + 1]))
    return out


def _brief(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    batches: list[Batch],
    lr: float,
    val_data: Batch | None = None,
) -> np.ndarray:
    """Train one step per batch at constant ``lr``; the scores of its last quarter.

    With ``val_data`` the scores are the validation losses (model in eval
    mode) of up to ``evals`` evenly spaced iterates of the last quarter of
    the steps, else the training losses of the last quarter.  ``[inf]`` if
    the run blew up.  Their mean keeps what the full run pays for a large
    rate (the iterate's fluctuation around the minimum) while cutting the
    noise of reading it off one iterate.
    """
    steps = len(batches)
    tail = max(steps // 4, 1)
    start_tail = steps - tail
    n_eval = min(tail, _EVALS)
    at = {steps - 1 - round(k * (tail - 1) / max(n_eval - 1, 1)) for k in range(n_eval)}
    train_tail: list[float] = []
    val_scores: list[float] = []
    for i, batch in enumerate(batches):
        value = _step(model, loss_fn, optimizer, batch, lr)
        if not math.isfinite(value):
            return np.array([math.inf])
        if i >= start_tail:
            train_tail.append(value)
        if val_data is not None and i in at:
            val_scores.append(_val_loss(model, loss_fn, val_data))
            if not math.isfinite(val_scores[-1]):
                return np.array([math.inf])
    return np.asarray(val_scores if val_data is not None else train_tail, dtype=np.float64)


def _next_candidate(confirmations: list[tuple[float, float]], ratio: float) -> float:
    """The next rate to confirm: beyond the end of the tried range when the best is at
    that end, else halfway (in ``log lr``) towards the better neighbour of the best."""
    pts = sorted(confirmations)
    ys = [y for _, y in pts]
    j = int(np.argmin(ys))
    if not math.isfinite(ys[j]) or j == 0:
        return pts[0][0] / ratio
    if j == len(pts) - 1:
        return pts[-1][0] * ratio
    nb = j - 1 if ys[j - 1] <= ys[j + 1] else j + 1
    return math.sqrt(pts[j][0] * pts[nb][0])


def _val_loss(
    model: torch.nn.Module, loss_fn: Callable[[Any, Any], torch.Tensor], val_data: Batch
) -> float:
    """The loss on ``val_data`` in eval mode; each module's training flag is put back."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            score = float(loss_fn(model(val_data[0]), val_data[1]))
    finally:
        for m, flag in flags:
            m.training = flag
    return score if math.isfinite(score) else math.inf


def _lrlab_suggestion(
    candidates: list[float],
    confirmations: list[tuple[float, float]],
    tolerance: float,
    scale: float = 1.0,
    traces: list[np.ndarray] | None = None,
    range_scale: tuple[float, float] | None = None,
) -> Suggestion | None:
    """Pick the best confirmed candidate, refine it by a parabola in ``log lr``, give the range.

    When the confirmation runs' per-iterate scores (``traces``) are given, a
    smaller rate whose paired score is within one standard error of the best
    one's is preferred.  The rate is multiplied by ``scale`` (the horizon
    correction); the low and high ends of the range by ``range_scale``
    (default: ``scale`` for both).
    """
    if not candidates:
        return None
    if not confirmations:
        lr = candidates[min(1, len(candidates) - 1)]
        return Suggestion("lrlab", lr, lr, lr, None, "lrlab: sweep proposal (no confirmation)")
    order = sorted(range(len(confirmations)), key=lambda i: confirmations[i])
    pts = [confirmations[i] for i in order]
    xs = np.log([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    j = int(np.argmin(ys))
    best = float(ys[j])
    lr = float(np.exp(xs[j]))
    tr = [traces[i] for i in order] if traces is not None else None
    k = _SE

    def paired_se(i: int) -> float | None:
        """Standard error of the mean paired score difference of candidate ``i`` and the best."""
        if tr is None or k <= 0 or not math.isfinite(best):
            return None
        d = tr[i] - tr[j]
        if len(d) != len(tr[j]) or len(d) < 2 or not np.all(np.isfinite(d)):
            return None
        return float(np.std(d, ddof=1)) / math.sqrt(len(d))

    if 0 < j < len(xs) - 1 and np.all(np.isfinite(ys[j - 1 : j + 2])):
        x0, x1, x2 = xs[j - 1 : j + 2]
        y0, y1, y2 = ys[j - 1 : j + 2]
        denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
        a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
        b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
        if a > 0:
            xv = float(np.clip(-b / (2 * a), x0, x2))
            se = paired_se(j - 1)
            if se is not None:
                # The smallest rate on the fitted parabola within k standard errors of its minimum.
                xv = max(xv - math.sqrt(k * se / a), float(x0))
            lr = float(np.exp(xv))
    elif j > 0:
        se = paired_se(j - 1)
        if se is not None and ys[j - 1] - best <= k * se:
            lr = float(np.exp(xs[j - 1]))
    good = [
        float(np.exp(x)) for x, y in zip(xs, ys) if np.isfinite(y) and y <= best * (1 + tolerance)
    ]
    lo_scale, hi_scale = range_scale if range_scale is not None else (scale, scale)
    return Suggestion(
        "lrlab",
        lr * scale,
        min([*good, lr]) * lo_scale,
        max([*good, lr]) * hi_scale,
        None,
        "lrlab: sweep, then brief confirmatory runs below the last rate that did not hurt",
    )


def _bar(total: int, quiet: bool, desc: str) -> Any:
    """A tqdm bar on stderr, or ``None`` when quiet or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False)
