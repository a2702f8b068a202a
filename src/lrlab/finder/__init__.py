"""The LR range test: :func:`find_lr` on any PyTorch model, :func:`find_lr_task` on a lab task;
:mod:`lrlab.finder.keras` and :mod:`lrlab.finder.optax` for Keras and JAX, on one core.

>>> import torch
>>> from lrlab.finder import find_lr
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> model = torch.nn.Linear(3, 1)
>>> x = torch.randn(64, 3); y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> before = [p.detach().clone() for p in model.parameters()]
>>> result = find_lr(model, torch.nn.MSELoss(), [(x, y)], opt, num_steps=40, confirm=0)
>>> all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
True
>>> opt.param_groups[0]["lr"]
0.1
>>> len(result.lrs) <= 40 and result.steps == len(result.lrs)
True
>>> sorted(result.suggestions)[:2]
['fastai_minimum', 'fastai_steep']
"""

from typing import TYPE_CHECKING, Any

from lrlab.finder._result import FinderResult
from lrlab.finder._sweep import edge_lr, ramp
from lrlab.finder.advice import DEFAULT_RULE, THOROUGH_RULE, Advice, AdviceRule, lattice
from lrlab.finder.rules import RULES, Suggestion

if TYPE_CHECKING:
    from lrlab.finder._core import find_lr
    from lrlab.finder._task import advice_budget, find_lr_task
    from lrlab.finder.lightning import find_lr_lightning

#: The torch finder's names, imported on first use: the neutral core above, and the
#: Keras (:mod:`lrlab.finder.keras`) and Optax (:mod:`lrlab.finder.optax`) finders on it,
#: need no torch.
_TORCH = {
    "find_lr": "lrlab.finder._core",
    "advice_budget": "lrlab.finder._task",
    "find_lr_task": "lrlab.finder._task",
    "find_lr_lightning": "lrlab.finder.lightning",
}

__all__ = [
    "DEFAULT_RULE",
    "RULES",
    "THOROUGH_RULE",
    "Advice",
    "AdviceRule",
    "FinderResult",
    "Suggestion",
    "advice_budget",
    "edge_lr",
    "find_lr",
    "find_lr_lightning",
    "find_lr_task",
    "lattice",
    "ramp",
]


def __getattr__(name: str) -> Any:
    if name in _TORCH:
        import importlib

        return getattr(importlib.import_module(_TORCH[name]), name)
    raise AttributeError(f"module 'lrlab.finder' has no attribute {name!r}")
