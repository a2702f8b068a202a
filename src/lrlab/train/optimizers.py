"""Optimizers by name: torch.optim's and the learning-rate-free ones.

=====================  =============================================  ==========
name                   what is built                                  default lr
=====================  =============================================  ==========
``sgd``                ``torch.optim.SGD``                            0.1
``momentum``           ``torch.optim.SGD(momentum=0.9)``              0.01
``nesterov``           ``torch.optim.SGD(momentum=0.9, nesterov=True)`` 0.01
``adagrad``            ``torch.optim.Adagrad``                        0.01
``adadelta``           ``torch.optim.Adadelta``                       1.0
``rmsprop``            ``torch.optim.RMSprop``                        1e-3
``adam``               ``torch.optim.Adam``                           1e-3
``adamw``              ``torch.optim.AdamW``                          1e-3
``prodigy``            ``prodigyopt.Prodigy``                         1.0
``dadapt_adam``        ``dadaptation.DAdaptAdam``                     1.0
``schedulefree_adamw`` ``schedulefree.AdamWScheduleFree``             0.0025
``schedulefree_sgd``   ``schedulefree.SGDScheduleFree``               1.0
=====================  =============================================  ==========

For Prodigy and D-Adaptation the ``lr`` is a multiplier on the step size the
method estimates itself (1.0 = as estimated).  The Schedule-Free optimizers
keep two parameter sequences and must be switched with ``optimizer.train()``
before training steps and ``optimizer.eval()`` before evaluation;
:func:`is_schedule_free` tells which optimizers need that.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from lrlab._checks import positive_number
from lrlab.errors import UsageError
from lrlab.schedules._validate import shown

__all__ = ["DEFAULT_LR", "OPTIMIZERS", "is_schedule_free", "make_optimizer", "refuse_own"]

# name -> (module, class, default lr); the class is imported only when the optimizer is built.
_CLASSES: dict[str, tuple[str, str, float]] = {
    "sgd": ("torch.optim", "SGD", 0.1),
    "momentum": ("torch.optim", "SGD", 0.01),
    "nesterov": ("torch.optim", "SGD", 0.01),
    "adagrad": ("torch.optim", "Adagrad", 0.01),
    "adadelta": ("torch.optim", "Adadelta", 1.0),
    "rmsprop": ("torch.optim", "RMSprop", 1e-3),
    "adam": ("torch.optim", "Adam", 1e-3),
    "adamw": ("torch.optim", "AdamW", 1e-3),
    "prodigy": ("prodigyopt", "Prodigy", 1.0),
    "dadapt_adam": ("dadaptation", "DAdaptAdam", 1.0),
    "schedulefree_adamw": ("schedulefree", "AdamWScheduleFree", 0.0025),
    "schedulefree_sgd": ("schedulefree", "SGDScheduleFree", 1.0),
}
OPTIMIZERS: tuple[str, ...] = tuple(_CLASSES)
DEFAULT_LR: dict[str, float] = {name: lr for name, (_, _, lr) in _CLASSES.items()}

_PRESETS: dict[str, dict[str, Any]] = {
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
}


def _factory(name: str) -> Callable[..., torch.optim.Optimizer]:
    module, cls, _ = _CLASSES[name]
    return getattr(importlib.import_module(module), cls)


def check_name(name: Any) -> str:
    """``name`` if it is a known optimizer, else a :class:`UsageError` listing them."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise UsageError(f"Unknown optimizer {name!r}. Available: {', '.join(OPTIMIZERS)}")
    return name


def is_schedule_free(name: str) -> bool:
    """Whether optimizer ``name`` needs ``train()`` / ``eval()`` switching."""
    return check_name(name).startswith("schedulefree_")


def option_names(name: str) -> list[str]:
    """The keyword options optimizer ``name`` accepts (besides ``params`` and ``lr``)."""
    sig = inspect.signature(_factory(check_name(name)))
    return [p for p in sig.parameters if p not in ("self", "params", "lr")]


def _number(value: Any) -> int | float | None:
    """``value`` as a Python number if it is a real number other than NaN (a NumPy scalar or a
    0-d array too; ``inf`` is one), else ``None``."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        return None
    if isinstance(value, Integral):
        return int(value)
    return None if math.isnan(value) else float(value)


def _option(name: str, key: str, value: Any, default: Any) -> Any:
    """Option ``key``'s ``value``, if it is of the kind of its ``default``: a flag for a flag,
    a number (not NaN) for a number, as many numbers for a tuple of them; other options go
    to the optimizer as given, for it to check."""
    what = None
    if isinstance(default, bool):
        if value is None or isinstance(value, (bool, np.bool_)):
            return value if value is None else bool(value)
        what = "True or False"
    elif isinstance(default, (int, float)):
        number = _number(value)
        if number is not None:
            return number
        what = "a number (not NaN)"
    elif isinstance(default, tuple) and default and all(_number(d) is not None for d in default):
        if isinstance(value, (tuple, list)) and len(value) == len(default):
            numbers = tuple(_number(v) for v in value)
            if all(v is not None for v in numbers):
                return numbers
        what = f"a tuple of {len(default)} numbers (not NaN)"
    if what is None:
        return value
    raise UsageError(
        f"Argument `{key}` of optimizer {name!r} must be {what}. Received: {key}={shown(value)}"
    )


def refuse_own(where: str, options: Mapping[str, Any], own: Iterable[str], why: str) -> None:
    """Refuse optimizer ``options`` that name ``where``'s own arguments ``own``.

    A caller that forwards ``**options`` to :func:`make_optimizer` would pass its
    ``name``, ``params`` or ``lr`` twice (a bare TypeError deep inside); ``why``
    says where that value comes from instead.
    """
    for key in sorted(set(own) & set(options)):
        raise UsageError(
            f"Argument `{key}` is not an option of {where}: {why}. "
            f"Received: {key}={shown(options[key])}"
        )


def make_optimizer(
    name: str, params: Iterable[Any], lr: float | None = None, **options: Any
) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over ``params`` with learning rate ``lr``.

    ``lr=None`` takes :data:`DEFAULT_LR`.  ``options`` go to the constructor
    (``momentum``'s and ``nesterov``'s presets can be overridden); an unknown
    option or an invalid value raises :class:`UsageError`.

    >>> p = [torch.nn.Parameter(torch.zeros(3))]
    >>> opt = make_optimizer("nesterov", p, 0.05)
    >>> opt.param_groups[0]["momentum"], opt.param_groups[0]["nesterov"]
    (0.9, True)
    """
    name = check_name(name)
    if lr is None:
        lr = DEFAULT_LR[name]
    positive_number("lr", lr, allow_zero=True)
    allowed = option_names(name)
    for key in options:
        if key not in allowed:
            raise UsageError(
                f"Unknown option `{key}` for optimizer {name!r}. Allowed: {', '.join(allowed)}"
            )
    defaults = inspect.signature(_factory(name)).parameters
    options = {k: _option(name, k, v, defaults[k].default) for k, v in options.items()}
    kwargs = {**_PRESETS.get(name, {}), **options}
    try:
        return _factory(name)(params, lr=float(lr), **kwargs)
    except (ValueError, TypeError) as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise UsageError(
            f"Invalid options for optimizer {name!r} ({exc}). Received: lr={lr!r}"
            + (f", {shown}" if shown else "")
        ) from exc
