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

:func:`plateau` is the metric-driven rule,
:class:`~lrlab.schedules.reduce_on_plateau`, as an Optax gradient
transformation that scales the updates by the rule's rate (used like
``optax.contrib.reduce_on_plateau``, with lrlab's, i.e. PyTorch's, semantics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lrlab.adapters._shared import as_plateau, as_schedule
from lrlab.errors import UsageError
from lrlab.schedules import Schedule

__all__ = ["OptaxSchedule", "PlateauScaleState", "plateau", "schedule"]


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


class PlateauScaleState(NamedTuple):
    """The state of :func:`plateau`: the fields of
    :class:`~lrlab.schedules.PlateauState` as JAX scalars, plus the running
    mean of the values of the evaluation in progress (``pending``, ``seen``)."""

    lr: jax.Array
    best: jax.Array
    bad: jax.Array
    cooldown: jax.Array
    evaluations: jax.Array
    reductions: jax.Array
    pending: jax.Array
    seen: jax.Array


def plateau(rule: Any, every: int = 1) -> Any:
    """A :class:`~lrlab.schedules.reduce_on_plateau` rule as an Optax transformation.

    ``update(updates, state, params, value=metric)`` multiplies the updates by
    the rule's rate.  Every ``every`` calls the mean of their ``value`` is one
    evaluation of the rule (as ``accumulation_size`` in
    ``optax.contrib.reduce_on_plateau``), and the rate after it already scales
    that call's updates.  Chain it after an optimizer with a unit rate and a
    rule starting at the rate you want (or after one with the rate and a rule
    starting at 1.0).  The steps are the rule's own
    (:meth:`~lrlab.schedules.reduce_on_plateau.step`, on ``jnp``): traced once
    under ``jax.jit``, equal to the Python rule bit for bit with
    ``jax_enable_x64`` (float32 otherwise).

    >>> import jax.numpy as jnp, optax
    >>> from lrlab.schedules import reduce_on_plateau
    >>> tx = optax.chain(optax.sgd(1.0), plateau(reduce_on_plateau(0.1, patience=0)))
    >>> params = {"w": jnp.ones(2)}
    >>> state = tx.init(params)
    >>> for loss in [1.0, 1.5]:
    ...     updates, state = tx.update(params, state, params, value=loss)
    >>> round(float(state[1].lr), 6)
    0.01
    """
    import optax

    where = "lrlab.optax.plateau()"
    rule = as_plateau(rule, where)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise UsageError(
            f"Argument `every` of {where} must be a positive integer. Received: every={every!r}"
        )
    r = rule

    def init_fn(params: Any) -> PlateauScaleState:
        del params
        f = jnp.result_type(float)
        i = jnp.int32
        worst = math.inf if r.mode == "min" else -math.inf
        return PlateauScaleState(
            jnp.asarray(r.lr, f), jnp.asarray(worst, f), jnp.asarray(0, i), jnp.asarray(0, i),
            jnp.asarray(0, i), jnp.asarray(0, i), jnp.asarray(0.0, f), jnp.asarray(0, i),
        )  # fmt: skip

    def evaluate(s: PlateauScaleState, x: jax.Array) -> PlateauScaleState:
        # the rule's own step, written once over the array namespace
        lr, best, bad, cooldown, reduced = r.step(jnp, s.lr, s.best, s.bad, s.cooldown, x)
        return s._replace(
            lr=lr,
            best=best,
            bad=bad.astype(jnp.int32),
            cooldown=cooldown.astype(jnp.int32),
            evaluations=s.evaluations + 1,
            reductions=s.reductions + reduced.astype(jnp.int32),
            pending=jnp.zeros_like(s.pending),
            seen=jnp.zeros_like(s.seen),
        )

    def update_fn(
        updates: Any, state: PlateauScaleState, params: Any = None, *, value: Any, **extra: Any
    ) -> tuple[Any, PlateauScaleState]:
        del params, extra
        x = jnp.asarray(value, state.pending.dtype)
        if every == 1:
            state = evaluate(state, x)
        else:
            seen = state.seen + 1
            # the running mean as optax.contrib.reduce_on_plateau keeps it
            pending = (state.seen * state.pending + x) / seen
            state = state._replace(pending=pending, seen=seen)
            state = jax.lax.cond(
                seen == every, lambda s: evaluate(s, s.pending), lambda s: s, state
            )
        lr = state.lr
        return jax.tree.map(lambda g: g * lr.astype(g.dtype), updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
