"""The range test's steps with gradient accumulation and mixed precision (as
torch-lr-finder offers): one step is ``accumulation_steps`` batches whose losses, each
divided by their count, are back-propagated in turn, under ``torch.autocast`` and a
``GradScaler`` when asked.  The recorded loss is the mean of the batches' losses.

Without either, the range test takes :class:`lrlab.train._step.Driver`'s plain steps,
so its existing results do not change.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import torch

from lrlab.adapters.torch import set_lrs
from lrlab.errors import UsageError
from lrlab.train._step import Driver

__all__ = ["AccumulatingDriver", "Groups", "amp_dtype", "check_scaler", "drivers"]


def amp_dtype(amp: Any, device: torch.device) -> torch.dtype | None:
    """The autocast dtype ``amp`` asks for: ``True`` is float16 on CUDA, bfloat16 elsewhere;
    ``False``/``None`` is none; a ``torch.float16`` or ``torch.bfloat16`` is itself."""
    if amp is None or amp is False:
        return None
    if amp is True:
        return torch.float16 if device.type == "cuda" else torch.bfloat16
    if amp in (torch.float16, torch.bfloat16):
        return amp
    raise UsageError(
        "Argument `amp` must be True, False, torch.float16 or torch.bfloat16. "
        f"Received: amp={amp!r}"
    )


def check_scaler(scaler: Any) -> None:
    """Refuse a ``scaler`` that is not a ``torch.amp.GradScaler`` (or None)."""
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise UsageError(
            "Argument `scaler` must be a torch.amp.GradScaler or None. "
            f"Received: scaler={type(scaler).__name__}"
        )


class Groups:
    """``k`` batches at a time from a :class:`~lrlab.finder._data.Batches` (one step's)."""

    def __init__(self, batches: Any, k: int) -> None:
        self.batches, self.k = batches, k

    def next(self) -> list[Any]:
        return [self.batches.next() for _ in range(self.k)]


class AccumulatingDriver:
    """The range test's step over a group of batches: the interface of ``Driver`` that
    the sweep and probes use (``step(group, lr) -> loss``, ``diverged``).

    Args:
        loss: the loss of one batch.
        optimizer: the optimizer stepped once per group.
        device: the device type autocast runs on.
        dtype: the autocast dtype, or ``None`` for full precision.
        scaler: scales the losses and unscales the gradients; a step whose gradients
            are not finite is skipped by it, as in a user's loop.
    """

    def __init__(
        self,
        loss: Callable[[Any], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        device: torch.device,
        dtype: torch.dtype | None,
        scaler: torch.amp.GradScaler | None,
    ) -> None:
        self.loss, self.optimizer, self.scaler = loss, optimizer, scaler
        self.device, self.dtype = device, dtype
        self.diverged = False

    def _autocast(self) -> Any:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step(self, group: list[Any], lr: float | None = None) -> float:
        """One update from the group's gradients; the mean loss of its batches, before it."""
        opt, scaler = self.optimizer, self.scaler
        if lr is not None:
            set_lrs(opt, "lr_scale", lr)
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for batch in group:
            with self._autocast():
                loss = self.loss(batch) / len(group)
            value = float(loss.item())
            total += value
            self.diverged = not math.isfinite(total)
            if self.diverged:
                return total
            (loss if scaler is None else scaler.scale(loss)).backward()
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()
        return total


def drivers(
    loss: Callable[[Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    batches: Any,
    accumulation_steps: int,
    dtype: torch.dtype | None,
    scaler: torch.amp.GradScaler | None,
) -> tuple[Callable[[], Any], Any]:
    """``(a factory of the step's drivers, the source of one step's batches)``: the plain
    ``Driver`` over single batches, unless accumulation or mixed precision is asked for."""
    if accumulation_steps == 1 and dtype is None and scaler is None:
        return (lambda: Driver(loss, optimizer)), batches
    return (lambda: AccumulatingDriver(loss, optimizer, device, dtype, scaler)), Groups(
        batches, accumulation_steps
    )
