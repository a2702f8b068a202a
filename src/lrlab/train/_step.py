"""One training step, shared by :func:`lrlab.train.run`, the range test's sweep and probes
and the paths on a loss surface: set the LR, zero the gradients, take the loss, apply
:func:`diverges` (the one rule) and, only for a loss that passes, back-propagate and step.

Every param group's LR is set to ``group["lr_scale"] * lr`` by :mod:`lrlab.torch`'s own
setter, the pass ``ScheduleLR.step()`` and ``PlateauLR.step()`` make, so a run is a user's
``lrlab.torch`` loop bit for bit (``tests/train/test_step.py``).  The driver takes a rate
per step, not a scheduler: the lab evaluates the closed form once per run (what
``History.lr`` records), the range test's ramp and probes are rates, and a scheduler
would patch the caller's ``optimizer.step``, which the range test must leave as found.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import torch

from lrlab._checks import number_in
from lrlab.adapters.torch import set_lrs
from lrlab.errors import UsageError
from lrlab.schedules._validate import shown

__all__ = ["Driver", "StepMeter", "divergence_factor", "diverges"]


def divergence_factor(value: Any) -> float:
    """``value`` as a float if it is a number greater than 1 (``inf``: never by the ratio).

    >>> divergence_factor(1e3)
    1000.0
    """
    if isinstance(value, Real) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    try:
        return number_in("divergence_factor", value, lambda v: v > 1, "")
    except UsageError:
        raise UsageError(
            "Argument `divergence_factor` must be a number greater than 1. "
            f"Received: divergence_factor={shown(value)}"
        ) from None


def diverges(value: float, limit: float) -> bool:
    """The divergence rule: a loss diverges when it is not finite or exceeds ``limit``.

    ``limit`` is ``factor * max(|first loss|, 1e-12)`` (:meth:`Driver.step` sets it
    from the first loss it sees; ``math.inf`` keeps only the finiteness test).

    >>> diverges(5.0, 10.0), diverges(11.0, 10.0), diverges(float("nan"), math.inf)
    (False, True, True)
    """
    return not (math.isfinite(value) and value <= limit)


class StepMeter:
    """Measures the effective step ``||theta_{t+1} - theta_t|| / ||g_t||`` cheaply.

    When all parameters share a dtype and device they are moved into one flat
    buffer (each parameter becomes a view of it) and their gradients into
    another, so a measurement costs a handful of tensor ops on two flat
    vectors instead of one per parameter.  Gradients are then zeroed in place
    rather than set to None (the same values, since the backward pass adds to
    zeros).  If an optimizer ever rebinds a parameter's storage, the meter
    falls back to per-parameter ``torch._foreach`` ops.  Build it before the
    optimizer: it may move the parameters.
    """

    def __init__(self, params: list[torch.Tensor]) -> None:
        self.params = params
        self.flat: torch.Tensor | None = None
        self.gflat: torch.Tensor | None = None
        self.gnorm: torch.Tensor | None = None
        first = params[0] if params else None
        if first is not None and all(
            p.dtype == first.dtype and p.device == first.device for p in params
        ):
            n = sum(p.numel() for p in params)
            flat = torch.empty(n, dtype=first.dtype, device=first.device)
            gflat = torch.zeros(n, dtype=first.dtype, device=first.device)
            off = 0
            for p in params:
                k = p.numel()
                flat[off : off + k].copy_(p.detach().reshape(-1))
                p.data = flat[off : off + k].view_as(p)
                p.grad = gflat[off : off + k].view_as(p)
                off += k
            self.flat, self.gflat, self.prev_flat = flat, gflat, torch.empty_like(flat)
            self._ptrs = self._pointers()
        else:
            self._fallback()

    def _pointers(self) -> list[tuple[int, int]]:
        return [(p.data_ptr(), p.grad.data_ptr() if p.grad is not None else 0) for p in self.params]

    def _fallback(self) -> None:
        self.flat = self.gflat = None
        self.prev = [p.detach().clone() for p in self.params]

    def zero_grad(self, opt: torch.optim.Optimizer) -> None:
        if self.gflat is not None:
            self.gflat.zero_()
        else:
            opt.zero_grad(set_to_none=True)

    def before(self) -> None:
        """Record ``||g||`` and the parameters before ``optimizer.step()``."""
        if self.flat is not None and self.gflat is not None:
            self.gnorm = torch.linalg.vector_norm(self.gflat)
            self.prev_flat.copy_(self.flat)
        else:
            grads = [p.grad for p in self.params if p.grad is not None]
            self.gnorm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            torch._foreach_copy_(self.prev, self.params)

    def after(self) -> float:
        """``||theta_before - theta_now|| / ||g||`` (NaN when ``g = 0``)."""
        gnorm = self.gnorm
        assert gnorm is not None
        if self.flat is not None:
            if self._pointers() != self._ptrs:  # storage rebound: measure per parameter
                self._fallback()
                return math.nan
            dnorm = torch.linalg.vector_norm(self.prev_flat.sub_(self.flat))
        else:
            torch._foreach_sub_(self.prev, self.params)
            dnorm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(self.prev)))
        ratio = (dnorm / gnorm).item()
        return ratio if math.isfinite(ratio) else math.nan


class Driver:
    """Takes training steps: set the LR, zero the gradients, loss, divergence rule, update.

    Args:
        loss: the loss of one batch as a scalar tensor (``loss_fn(model(x), y)``, or a
            surface's value at its point, which ignores the batch).
        optimizer: the optimizer that updates the parameters the loss depends on.
        factor: a loss diverges when it is not finite or above ``factor`` times the
            first finite loss this driver saw (``math.inf``: only when not finite).
        meter: measures the step size when a step asks (it also zeroes the gradients
            in its flat buffer); without one, gradients are set to ``None``.
    """

    def __init__(
        self,
        loss: Callable[[Any], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        *,
        factor: float = math.inf,
        meter: StepMeter | None = None,
    ) -> None:
        self.loss, self.optimizer, self.factor, self.meter = loss, optimizer, factor, meter
        self.limit: float | None = None  # set by the first loss
        self.diverged = False
        self.step_size = math.nan

    def step(
        self, batch: Any, lr: float | None = None, *, measure: bool = False, update: bool = True
    ) -> float:
        """One update on ``batch`` at rate ``lr`` (``None``: the groups' LRs as they are);
        the loss before it.

        When the loss diverges, ``self.diverged`` is set and no update is made (nor with
        ``update=False``).  With ``measure`` (and a meter), ``self.step_size`` is the
        update's ``||delta theta|| / ||g||``, else NaN.
        """
        opt, meter = self.optimizer, self.meter
        if lr is not None:
            set_lrs(opt, "lr_scale", lr)
        if meter is not None:
            meter.zero_grad(opt)
        else:
            opt.zero_grad(set_to_none=True)
        loss = self.loss(batch)
        value = loss.item()
        if self._diverges(value) or not update:
            return value
        loss.backward()
        if measure and meter is not None:
            meter.before()
            opt.step()
            self.step_size = meter.after()
        else:
            opt.step()
            self.step_size = math.nan
        return value

    def _diverges(self, value: float) -> bool:
        limit = self.limit
        if limit is None and math.isfinite(value):  # the first finite loss sets the limit
            limit = self.limit = self.factor * max(abs(value), 1e-12)
        self.diverged = diverges(value, math.inf if limit is None else limit)
        return self.diverged
