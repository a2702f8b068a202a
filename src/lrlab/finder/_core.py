"""The LR range test (Leslie Smith, 2015/2017) on any PyTorch model.

The sweep trains for up to ``num_steps`` steps while the rate grows from
``min_lr`` to ``max_lr``::

    exponential:  lr_i = min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))
    linear:       lr_i = min_lr + (max_lr - min_lr) * i / (num_steps - 1)

recording the loss of each batch *before* its step.  The loss is smoothed by a
bias-corrected exponential moving average ``s_i = a_i / (1 - beta^(i+1))``,
``a_i = beta a_{i-1} + (1 - beta) x_i``, and the sweep stops once ``s_i`` exceeds
``diverge * min(s_0..s_i)`` or a loss is not finite.

lrlab's own suggestion races candidates: the sweep gives an anchor, the last
rate that did not hurt (the largest whose zero-lag moving mean is within its
noise of the smallest); a few rates on lrlab's lattice below it train from the
very same starting state (model, optimizer, RNG) on the very same batches, the
best continue, and the winner is carried to the run's length with a horizon
exponent measured from the same runs (:mod:`lrlab.finder.advice`).  Every step
of sweep and probes is counted in ``result.steps``, within ``budget`` of one run.

Afterwards the model, optimizer and RNGs are restored bit for bit, whether the
test finished, diverged or raised.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from lrlab._checks import number_in, positive_int
from lrlab._progress import progress_bar
from lrlab.errors import UsageError
from lrlab.finder._amp import amp_dtype, check_scaler, drivers
from lrlab.finder._data import (
    Batches,
    BatchLoss,
    LossFn,
    batch_size,
    check_data,
    check_model_and_optimizer,
    loss_of,
    model_device,
    resolve_device,
    val_scorer,
)
from lrlab.finder._result import FinderResult
from lrlab.finder._settings import BUDGET_RULE, HORIZON_RULE, _Settings, too_short, why
from lrlab.finder._state import Snapshot
from lrlab.finder.advice import (
    Advice,
    AdviceRule,
    advise,
    checkpoint_every,
    lattice,
    lattice_index,
)
from lrlab.finder.rules import RULES, Ema, Suggestion, centered, centered_half

__all__ = ["BUDGET_RULE", "HORIZON_RULE", "edge_lr", "find_lr", "ramp"]


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


def find_lr(
    model: torch.nn.Module,
    loss_fn: LossFn | None,
    data: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    *,
    batch_loss: BatchLoss | None = None,
    device: torch.device | str | None = None,
    accumulation_steps: int = 1,
    amp: bool | torch.dtype = False,
    scaler: torch.amp.GradScaler | None = None,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    beta: float = 0.98,
    debias: bool = True,
    diverge: float = 4.0,
    confirm: int | None = None,
    budget: float = 0.25,
    val_data: Any = None,
    horizon: int | None = None,
    horizon_exponent: float | None = None,
    rule: AdviceRule | None = None,
    deterministic: bool = False,
    quiet: bool = True,
) -> FinderResult:
    """Run the LR range test and return the curve and the suggestions.

    Args:
        model: any ``torch.nn.Module``; trained in place, then restored bit for bit.
        loss_fn: ``loss_fn(model(inputs), targets)`` gives a scalar tensor (a function
            or a loss instance such as ``nn.CrossEntropyLoss()``); ``None`` with
            ``batch_loss``.
        data: any iterable of batches.  One that can be iterated again (a
            ``DataLoader``, a list) restarts when exhausted; a one-shot one (a
            generator) is used until it ends, and ending before the test is done is
            a UsageError saying how many batches it held and how many were needed.
        optimizer: a torch optimizer over ``model``'s parameters; its ``lr`` is
            overwritten during the test and restored afterwards.
        batch_loss: ``batch_loss(model, batch)`` gives the batch's scalar loss, in
            place of ``loss_fn``, for batches that are not ``(inputs, targets)``: a
            dict such as ``{"input": x, "labels": y}``, an HF ``BatchEncoding``, a
            model that computes its own loss (``lambda m, b: m(**b).loss``).
        device: where each batch's tensors go before its loss (nested in tuples,
            lists and dicts; ``non_blocking`` when pinned); ``None``: the device of
            ``model``'s parameters.
        accumulation_steps: batches per sweep and probe step: their gradients
            (each loss divided by their count) add up before one update, and the
            step's loss is their mean (torch-lr-finder's ``accumulation_steps``).
        amp: mixed precision: the forward passes and losses run under
            ``torch.autocast`` (``True``: float16 on CUDA, bfloat16 on CPU; or a
            ``torch.float16`` / ``torch.bfloat16``).  float16 gets a fresh
            ``GradScaler`` unless ``scaler`` is given.
        scaler: the ``torch.amp.GradScaler`` of the user's loop, to scale the losses
            with; its state is restored afterwards like the optimizer's.
        min_lr, max_lr: the ends of the ramp (``0 < min_lr < max_lr``).
        num_steps: the number of sweep steps (at least 5).
        mode: ``"exponential"`` (default) or ``"linear"`` ramp.
        beta: the EMA factor of the smoothed loss (fastai: 0.98).
        debias: divide the EMA by ``1 - beta^(i+1)`` (fastai, Lightning); when
            false the EMA starts at the first loss (torch-lr-finder).
        diverge: stop once the smoothed loss exceeds ``diverge`` times its minimum.
        confirm: how many candidate rates lrlab's rule races (``None``: the
            rule's own count; 0: no probes, lrlab's suggestion is then the
            sweep's proposal, one lattice step below its anchor).
        budget: the fraction of one run of ``horizon`` steps that the advice may
            spend, sweep included (default 0.25).  With ``budget=1`` (one extra
            run) the candidates train and race for longer, so the pick needs
            less extrapolation.  Every step is counted in ``result.steps``.
        val_data: one batch (``(inputs, targets)``, or any batch with
            ``batch_loss``); when given, probes are scored
            by the loss there (model in eval mode), else by their training loss.
        horizon: the length in steps of the training run the advice is for
            (``None``: ten times the sweep, the proportion lrlab's tasks use).
        horizon_exponent: fix the horizon exponent (``[0, 2]``) instead of
            measuring it from the probes (see :mod:`lrlab.finder.advice`).
        rule: the rule's free choices (:class:`~lrlab.finder.AdviceRule`);
            ``None`` for the defaults chosen for the budget (``DEFAULT_RULE``,
            or ``THOROUGH_RULE`` from ``budget=0.5`` up).
        deterministic: the gradients are exact (full batch). The thorough rule
            then drops the horizon factor; the default rule keeps it (``AdviceRule.
            full_batch_horizon``: its probes are short, see :mod:`lrlab.finder.advice`).
        quiet: no progress bar (the bar also hides when stderr is not a terminal).

    Returns:
        A :class:`~lrlab.finder.FinderResult`.

    Raises:
        UsageError: on a bad argument, before anything trains: an optimizer over
            another model's parameters, a loss class instead of an instance, a
            batch that is not a pair (without ``batch_loss``), an empty ``data``; and
            on the first batch, inputs that do not fit the model, targets whose
            shape or dtype do not fit the loss, or a loss that is not a scalar.
    """
    s = _Settings.of(
        min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, mode=mode, beta=beta, debias=debias,
        diverge=diverge, confirm=confirm, budget=budget, horizon=horizon,
        horizon_exponent=horizon_exponent, rule=rule,
    )  # fmt: skip
    check_model_and_optimizer(model, optimizer, loss_fn, batch_loss)
    check_data(data, val_data, batch_loss)
    accumulation_steps = positive_int("accumulation_steps", accumulation_steps)
    check_scaler(scaler)
    device = resolve_device(device, model)
    return _range_test(
        s, model, loss_fn, data, optimizer, val_data, deterministic, quiet,
        batch_loss=batch_loss, device=device, accumulation_steps=accumulation_steps,
        amp=amp_dtype(amp, device), scaler=scaler,
    )  # fmt: skip


def _range_test(
    s: _Settings,
    model: torch.nn.Module,
    loss_fn: LossFn | None,
    data: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    val_data: Any,
    deterministic: bool,
    quiet: bool,
    *,
    batch_loss: BatchLoss | None = None,
    device: torch.device | None = None,
    accumulation_steps: int = 1,
    amp: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> FinderResult:
    """The sweep, then (room and an anchor permitting) the race; state restored after both."""
    ramp_lrs = ramp(s.min_lr, s.max_lr, s.num_steps, s.mode)
    device = model_device(model) if device is None else device
    every = checkpoint_every(s.horizon)
    short = too_short(s, every)
    if scaler is None and amp == torch.float16:
        scaler = torch.amp.GradScaler(device.type)
    snap = Snapshot.take(model, optimizer, scaler)
    race = s.room if s.rule.candidates > 0 and not short else 0
    needed = (s.num_steps + race) * accumulation_steps
    loss = loss_of(model, loss_fn, batch_loss, device)
    driver, steps = drivers(
        loss, optimizer, device, Batches(data, needed=needed, pairs=batch_loss is None),
        accumulation_steps, amp, scaler,
    )  # fmt: skip
    val = None if val_data is None else val_scorer(model, loss_fn, batch_loss, device, val_data)
    bar = progress_bar(s.num_steps + max(s.room, 0), "lr range test", quiet)
    advice: Advice | None = None
    probe_steps = 0
    try:
        if val is not None:
            val()  # the validation batch is checked before anything trains
        model.train()
        losses, stop = _sweep(s, ramp_lrs, driver(), steps, bar)
        lrs = ramp_lrs[: len(losses)]
        anchor = _anchor(lrs, losses)
        if anchor is not None and s.rule.candidates > 0 and not short:
            prober = _Prober(model, driver, optimizer, snap, steps, every, val, bar, scaler)
            advice = advise(
                anchor, prober, horizon=s.horizon, budget=s.room, rule=s.rule,
                deterministic=deterministic,
                n_val=None if val_data is None else batch_size(val_data),
            )  # fmt: skip
            probe_steps = prober.spent
    finally:
        bar.close()
        snap.restore(optimizer)
    return FinderResult(
        lrs=lrs,
        losses=losses,
        smoothed=Ema(s.beta, s.debias).curve(losses),
        suggestions=_suggestions(lrs, losses, anchor, advice),
        stop_reason=stop,
        divergence_lr=edge_lr(lrs, losses) if stop != "max_lr" else None,
        stop_lr=float(lrs[-1]),
        confirmations=[] if advice is None else [(lr, sc) for lr, _, sc in advice.probes],
        steps=len(losses) + probe_steps,
        settings=dataclasses.asdict(s),
        advice=advice,
        confirmed=advice is not None,
        why=why(s, anchor, advice, short),
    )


def _suggestions(
    lrs: np.ndarray, losses: np.ndarray, anchor: float | None, advice: Advice | None
) -> dict[str, Suggestion]:
    """The peer rules' suggestions and lrlab's: the race's advice, else (no probes) the
    sweep's proposal, one lattice step below the anchor."""
    out = {name: s for name, rule in RULES.items() if (s := rule(lrs, losses)) is not None}
    if advice is not None:
        out["lrlab"] = Suggestion(
            "lrlab", advice.lr, advice.low, advice.high, None,
            "lrlab: sweep, then a race of lattice rates carried to the run's length",
        )  # fmt: skip
    elif anchor is not None:
        lr = lattice(math.floor(lattice_index(anchor) + 1e-9) - 1)
        out["lrlab"] = Suggestion(
            "lrlab", lr, lr, lr, None, "lrlab: sweep proposal (no confirmation)"
        )
    return out


def _sweep(
    s: _Settings, lrs: np.ndarray, driver: Any, batches: Any, bar: Any
) -> tuple[np.ndarray, str]:
    """The ramp ``lrs``: one step per rate until the smoothed loss diverges;
    ``(losses, stop reason)``."""
    ema = Ema(s.beta, s.debias)
    losses: list[float] = []
    best, stop = math.inf, "max_lr"
    for i, lr in enumerate(lrs.tolist()):
        losses.append(driver.step(batches.next(), lr))
        bar.update(1)
        if driver.diverged:
            stop = "non-finite"
            break
        smooth = ema.add(losses[-1])
        if i > 0 and smooth > s.diverge * best:
            stop = "diverged"
            break
        best = min(best, smooth)
    return np.asarray(losses, dtype=np.float64), stop


class _Prober:
    """The real probe of :func:`lrlab.finder.advice.advise`: constant-rate runs of the model.

    Every rate starts from the state the test found (model, optimizer, RNGs)
    and trains on the same batches in the same order (drawn once, after the
    sweep, and held), so that scores differ by the rate alone.  A rate probed
    again continues from where it stopped (its state is kept), which at a
    constant rate is exactly the longer run.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        driver: Callable[[], Any],
        optimizer: torch.optim.Optimizer,
        start: Snapshot,
        batches: Any,
        every: int,
        val: Callable[[], float] | None,
        bar: Any,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.start, self.batches, self.every = start, batches, every
        self.val, self.bar = val, bar
        self.driver = driver()
        self.shared: list[Any] = []
        self.runs: dict[float, tuple[Snapshot, int, list[tuple[int, float]], list[float]]] = {}
        self.spent = 0

    def __call__(self, lr: float, steps: int) -> list[tuple[int, float]]:
        state, done, points, window = self.runs.get(lr, (self.start, 0, [], []))
        if (points and not math.isfinite(points[-1][1])) or done >= steps:
            return list(points)
        state.restore(self.optimizer)
        self.model.train()
        while len(self.shared) < steps:
            self.shared.append(self.batches.next())
        points, window = list(points), list(window)
        for i in range(done, steps):
            value = self.driver.step(self.shared[i], lr)
            self.spent += 1
            if self.bar is not None:
                self.bar.update(1)
            if self.driver.diverged:
                points.append((i + 1, math.inf))
                break
            window.append(value)
            if (i + 1) % self.every == 0:
                if self.val is not None:
                    v = self.val()
                else:
                    v = float(np.mean(window))
                points.append((i + 1, v))
                window = []
                if not math.isfinite(v):
                    break
        self.runs[lr] = (
            Snapshot.take(self.model, self.optimizer, self.scaler),
            steps,
            points,
            window,
        )
        return list(points)


def _anchor(lrs: np.ndarray, losses: np.ndarray) -> float | None:
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
    >>> round(_anchor(lrs, np.array([1, 1, 1, 1, 1, 1, 1, 9, 99.0])), 6)
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
