"""Snapshot and restore everything a range test touches, bit for bit.

A range test trains the model, so afterwards it must put back exactly what it
found: every parameter and buffer (BatchNorm running statistics and the
``num_batches_tracked`` counter included, persistent or not), every ``.grad``,
each module's ``training`` flag, the optimizer's state and parameter groups,
the random number generators of Python, NumPy and torch, and a mixed-precision
``GradScaler``'s scale and growth tracker when there is one.  Parameters are
restored *in place* (``p.data.copy_``), so the optimizer and any outside
reference keep pointing at the same tensor objects.
"""

from __future__ import annotations

import copy
import itertools
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["Snapshot"]


@dataclass
class Snapshot:
    """A deep copy of a model, its optimizer and the global RNG states."""

    tensors: list[tuple[torch.Tensor, torch.Tensor]]
    grads: list[tuple[torch.nn.Parameter, torch.Tensor | None]]
    training: list[tuple[torch.nn.Module, bool]]
    optimizer_state: dict[str, Any]
    torch_rng: torch.Tensor
    numpy_rng: Any
    python_rng: Any
    cuda_rng: list[torch.Tensor] | None
    scaler: torch.amp.GradScaler | None = None
    scaler_state: dict[str, Any] | None = None
    scaler_started: bool = False

    @classmethod
    def take(
        cls,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler | None = None,
    ) -> Snapshot:
        """Copy the state of ``model``, ``optimizer``, the RNGs and a ``GradScaler``'s."""
        with torch.no_grad():
            tensors = [(t, t.detach().clone()) for t in _tensors(model)]
            grads = [
                (p, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()
            ]
        return cls(
            tensors=tensors,
            grads=grads,
            training=[(m, m.training) for m in model.modules()],
            optimizer_state=copy.deepcopy(optimizer.state_dict()),
            torch_rng=torch.get_rng_state(),
            numpy_rng=np.random.get_state(),
            python_rng=random.getstate(),
            cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            scaler=scaler,
            scaler_state=None if scaler is None else copy.deepcopy(scaler.state_dict()),
            scaler_started=scaler is not None and scaler._scale is not None,
        )

    def restore(self, optimizer: torch.optim.Optimizer) -> None:
        """Put everything back as it was when :meth:`take` ran."""
        with torch.no_grad():
            for live, saved in self.tensors:
                live.copy_(saved)
            for p, g in self.grads:
                p.grad = None if g is None else g.clone()
        for m, flag in self.training:
            m.training = flag
        optimizer.load_state_dict(copy.deepcopy(self.optimizer_state))
        torch.set_rng_state(self.torch_rng)
        np.random.set_state(self.numpy_rng)
        random.setstate(self.python_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        if self.scaler is not None and self.scaler_state is not None:
            self.scaler.load_state_dict(copy.deepcopy(self.scaler_state))
            if not self.scaler_started:  # made lazily by its first scale(): unmade
                self.scaler._scale = self.scaler._growth_tracker = None


def _tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    """All parameters and buffers of ``model`` (non-persistent buffers too), each once."""
    unique = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    return list(unique.values())  # in order of first appearance
