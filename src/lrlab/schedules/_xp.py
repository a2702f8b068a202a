"""Array-namespace dispatch: one formula, evaluated on ints, NumPy, torch or JAX.

A schedule's formula is written once against a small namespace ``xp`` (the
Array API names ``floor``, ``exp``, ``expm1``, ``log``, ``log1p``, ``cos``,
``sqrt``, ``where``, ``minimum``, ``maximum`` plus Python operators, and
``eps(x)``, the machine epsilon of ``x``'s float type).  :func:`prepare` turns the
user's step into a floating array of the right kind and returns that
namespace; for a plain Python number the namespace is :data:`SCALAR`, a thin
wrapper over :mod:`math`, so that evaluating one step costs well under a
microsecond instead of a NumPy round trip.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SCALAR", "prepare"]


class _ScalarNamespace:
    """The subset of the Array API the schedules use, on Python floats."""

    __slots__ = ()
    floor = staticmethod(lambda x: float(math.floor(x)))
    ceil = staticmethod(lambda x: float(math.ceil(x)))
    exp = staticmethod(math.exp)
    expm1 = staticmethod(math.expm1)
    log = staticmethod(math.log)
    log1p = staticmethod(math.log1p)
    cos = staticmethod(math.cos)
    sqrt = staticmethod(math.sqrt)
    abs = staticmethod(abs)
    # min()/max() with their argument handling cost twice these; the result
    # is the same (the first argument unless the second is strictly
    # smaller/larger, NaN and signed zeros included).
    minimum = staticmethod(lambda a, b: b if b < a else a)
    maximum = staticmethod(lambda a, b: b if b > a else a)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def full_like(x: Any, value: float) -> float:
        return float(value)

    @staticmethod
    def eps(x: Any) -> float:
        return sys.float_info.epsilon


SCALAR: Any = _ScalarNamespace()


class _NumpyNamespace:
    """NumPy with a ``full_like`` that keeps float64 and ``where`` on scalars."""

    __slots__ = ()
    floor = staticmethod(np.floor)
    ceil = staticmethod(np.ceil)
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    cos = staticmethod(np.cos)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    where = staticmethod(np.where)

    @staticmethod
    def full_like(x: Any, value: float) -> Any:
        return np.full(np.shape(x), value, dtype=np.float64)

    @staticmethod
    def eps(x: Any) -> float:
        return float(np.finfo(np.float64).eps)


NUMPY: Any = _NumpyNamespace()


class _ModuleNamespace:
    """An array module (``torch``, ``jax.numpy``) with the few helpers the
    formulas use that are spelt differently or missing there."""

    __slots__ = ("mod",)

    def __init__(self, mod: Any) -> None:
        self.mod = mod

    def __getattr__(self, name: str) -> Any:
        return getattr(self.mod, name)

    def full_like(self, x: Any, value: float) -> Any:
        return self.mod.full_like(x, value)

    def eps(self, x: Any) -> float:
        return float(self.mod.finfo(x.dtype).eps)


class _TorchNamespace(_ModuleNamespace):
    """torch, whose ``where``/``minimum``/``maximum`` need tensors on both sides."""

    __slots__ = ()

    def _tensor(self, x: Any, dtype: Any, device: Any) -> Any:
        t = self.mod
        return x if isinstance(x, t.Tensor) else t.tensor(x, dtype=dtype, device=device)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        f64 = self.mod.float64
        return self.mod.where(
            cond, self._tensor(a, f64, cond.device), self._tensor(b, f64, cond.device)
        )

    def minimum(self, a: Any, b: Any) -> Any:
        return self._binary(self.mod.minimum, a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return self._binary(self.mod.maximum, a, b)

    def _binary(self, fn: Callable[..., Any], a: Any, b: Any) -> Any:
        ref = a if isinstance(a, self.mod.Tensor) else b
        return fn(self._tensor(a, ref.dtype, ref.device), self._tensor(b, ref.dtype, ref.device))


class _JaxNamespace(_ModuleNamespace):
    """jax.numpy, used as it is."""

    __slots__ = ()


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _is_jax(x: Any) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, jax.Array)


def prepare(step: Any) -> tuple[Any, Any, Callable[[Any], Any]]:
    """Return ``(xp, t, finish)``: the namespace, the step as floats, and the
    function that turns the formula's result into what the caller gets back.

    * ``int``/``float`` (or a NumPy scalar) -> ``float``
    * NumPy array or list -> ``float64`` NumPy array
    * torch tensor -> ``float64`` tensor on the same device
    * JAX array -> JAX array of the default float dtype (traceable under ``jit``)
    """
    if isinstance(step, (int, float, np.integer, np.floating)) and not isinstance(step, bool):
        return SCALAR, float(step), float
    if isinstance(step, np.ndarray) or isinstance(step, (list, tuple)):
        t = np.asarray(step, dtype=np.float64)
        return NUMPY, t, _as_float64_array
    if _is_torch(step):
        import torch

        return _TorchNamespace(torch), step.to(torch.float64), _same
    if _is_jax(step):
        import jax.numpy as jnp

        return _JaxNamespace(jnp), jnp.asarray(step, dtype=jnp.result_type(float)), _same
    raise TypeError(
        "A schedule takes a step: an int, a NumPy array, a torch tensor or a JAX array. "
        f"Received: {type(step).__name__}"
    )


def _same(x: Any) -> Any:
    return x


def _as_float64_array(x: Any) -> Any:
    return np.asarray(x, dtype=np.float64)
