"""What a PyTorch user imports: lrlab's schedules as a ``torch.optim`` scheduler
(:mod:`lrlab.adapters.torch`) and the range test on a torch model (:func:`find_lr`).

    >>> import torch, lrlab.torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = lrlab.torch.scheduler(opt, "step(0.1, 0.5, 10)")
    >>> opt.param_groups[0]["lr"]
    0.1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrlab.adapters.torch import PlateauLR, ScheduleLR, plateau, scheduler, set_lrs

if TYPE_CHECKING:
    from lrlab.finder import find_lr

__all__ = ["PlateauLR", "ScheduleLR", "find_lr", "plateau", "scheduler", "set_lrs"]


def __getattr__(name: str) -> Any:
    # The range test loads on first use, so that a scheduler alone imports no more than it needs.
    if name == "find_lr":
        from lrlab.finder import find_lr

        return find_lr
    raise AttributeError(f"module 'lrlab.torch' has no attribute {name!r}")
