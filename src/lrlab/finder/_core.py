"""The LR range test (Leslie Smith, 2015/2017) on any PyTorch model.

:func:`find_lr` checks its arguments, then runs the framework-neutral range test
(:func:`lrlab.finder._sweep.range_test`: the ramp, the stop rule, the race and the horizon
carry) on a :class:`TorchEngine`: one optimizer step of the user's model per call, with
gradient accumulation and mixed precision where asked, and a :class:`~lrlab.finder._state.
Snapshot` of model, optimizer, RNGs and ``GradScaler`` as its saved state.  Afterwards the
model, optimizer and RNGs are restored bit for bit, whether the test finished, diverged or
raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from lrlab._checks import positive_int
from lrlab.finder._amp import amp_dtype, check_scaler, drivers
from lrlab.finder._batches import Batches
from lrlab.finder._data import (
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
from lrlab.finder._settings import BUDGET_RULE, HORIZON_RULE, SweepSettings
from lrlab.finder._state import Snapshot
from lrlab.finder._sweep import edge_lr, ramp, range_test
from lrlab.finder.advice import AdviceRule

__all__ = [
    "BUDGET_RULE",
    "HORIZON_RULE",
    "TorchEngine",
    "edge_lr",
    "find_lr",
    "ramp",
    "torch_range_test",
]


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
    s = SweepSettings.of(
        min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, mode=mode, beta=beta, debias=debias,
        diverge=diverge, confirm=confirm, budget=budget, horizon=horizon,
        horizon_exponent=horizon_exponent, rule=rule,
    )  # fmt: skip
    check_model_and_optimizer(model, optimizer, loss_fn, batch_loss)
    check_data(data, val_data, batch_loss)
    accumulation_steps = positive_int("accumulation_steps", accumulation_steps)
    check_scaler(scaler)
    device = resolve_device(device, model)
    return torch_range_test(
        s, model, loss_fn, data, optimizer, val_data, deterministic, quiet,
        batch_loss=batch_loss, device=device, accumulation_steps=accumulation_steps,
        amp=amp_dtype(amp, device), scaler=scaler,
    )  # fmt: skip


def torch_range_test(
    s: SweepSettings,
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
    """The range test of checked settings on a torch model (:func:`find_lr` after its
    checks; :func:`lrlab.finder.find_lr_task` on a lab task)."""
    device = model_device(model) if device is None else device
    if scaler is None and amp == torch.float16:
        scaler = torch.amp.GradScaler(device.type)
    loss = loss_of(model, loss_fn, batch_loss, device)
    draw = Batches(data, needed=s.draws * accumulation_steps, pairs=batch_loss is None)
    driver, steps = drivers(loss, optimizer, device, draw, accumulation_steps, amp, scaler)
    val = None if val_data is None else val_scorer(model, loss_fn, batch_loss, device, val_data)
    engine = TorchEngine(model, optimizer, driver(), scaler)
    return range_test(
        s, engine, steps, val=val, n_val=None if val_data is None else batch_size(val_data),
        deterministic=deterministic, quiet=quiet,
    )  # fmt: skip


class TorchEngine:
    """The range test's :class:`~lrlab.finder._sweep.Engine` over a torch model: a step is
    the driver's (one optimizer step, or one over accumulated batches, under autocast where
    asked); the saved state a :class:`~lrlab.finder._state.Snapshot` (model tensors and
    gradients, modules' training flags, optimizer, RNGs, ``GradScaler``)."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        driver: Any,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        self.model, self.optimizer, self.driver, self.scaler = model, optimizer, driver, scaler

    @property
    def diverged(self) -> bool:
        """The driver's own rule: a non-finite loss, or one past its limit."""
        return bool(self.driver.diverged)

    def save(self) -> Snapshot:
        return Snapshot.take(self.model, self.optimizer, self.scaler)

    def restore(self, state: Snapshot) -> None:
        state.restore(self.optimizer)

    def train(self) -> None:
        self.model.train()

    def step(self, batch: Any, lr: float) -> float:
        return float(self.driver.step(batch, lr))
