"""Optax adapter: an lrlab schedule as an Optax learning rate.

:func:`schedule` returns a callable ``count -> lr`` that Optax's optimizers
take as their ``learning_rate``.  It evaluates the schedule's one formula on
the JAX array ``count``; every branch in a formula depends on the schedule's
arguments, never on the step, so it traces once under ``jax.jit`` and works
under ``jax.vmap``::

    >>> import jax, jax.numpy as jnp, optax
    >>> import lrlab.optax
    >>> lr = lrlab.optax.schedule("cosine(0.1, 100)")
    >>> round(float(jax.jit(lr)(jnp.int32(50))), 6)
    0.05
    >>> opt = optax.sgd(lr)

The result has JAX's default float dtype (``float32`` unless ``jax_enable_x64``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from lrlab._adapters import as_schedule
from lrlab.schedules import Schedule

__all__ = ["OptaxSchedule", "schedule"]


@dataclass(frozen=True)
class OptaxSchedule:
    """A schedule as an Optax ``Schedule``: ``count`` (int array) -> LR array."""

    schedule: Schedule

    def __call__(self, count: Any) -> jax.Array:
        """The LR at ``count`` (a JAX array, traced or not, or a Python int)."""
        if not isinstance(count, jax.Array):
            count = jnp.asarray(count)
        out: jax.Array = self.schedule(count)
        return out


def schedule(s: Any) -> OptaxSchedule:
    """Wrap ``s`` (a :class:`~lrlab.Schedule`, its text form or its config)
    as an Optax learning rate: ``optax.sgd(lrlab.optax.schedule(s))``.

    >>> lr = schedule("step(0.1, 0.5, 10)")
    >>> lr(20).dtype, round(float(lr(20)), 6)
    (dtype('float32'), 0.025)
    """
    return OptaxSchedule(as_schedule(s, "lrlab.optax.schedule()"))
