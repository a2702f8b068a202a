"""Keras adapter: an lrlab schedule as a ``keras.optimizers.schedules.LearningRateSchedule``.

:func:`schedule` wraps a schedule in :class:`KerasSchedule`, registered for
serialization as ``"lrlab>KerasSchedule"``: a model compiled with it saves
with ``model.save("m.keras")`` and loads with ``keras.models.load_model``
without ``custom_objects`` once :mod:`lrlab.keras` is imported.  Its config
is the schedule's own config (:meth:`lrlab.Schedule.to_config`)::

    >>> import lrlab.keras
    >>> lr = lrlab.keras.schedule("cosine(0.1, 100)")
    >>> lr.get_config()
    {'type': 'cosine', 'lr': 0.1, 'steps': 100, 'min_lr': 0.0}
    >>> round(float(lr(50)), 6)
    0.05

The step Keras passes (the optimizer's ``iterations``) is converted to the
backend's tensor and the schedule's one formula is evaluated on it: the JAX
and torch backends use the schedule's own JAX and torch paths (traceable
inside Keras's jitted train step); any other backend (e.g. TensorFlow)
evaluates the same formula through ``keras.ops``.  The LR is returned as
``keras.config.floatx()`` (``float32`` by default), as Keras's own schedules.

:class:`PlateauCallback` drives the optimizer with a
:class:`~lrlab.schedules.reduce_on_plateau` rule instead: lrlab's (PyTorch's)
semantics in a Keras ``fit``, where Keras's own ``ReduceLROnPlateau``
counts patience and cooldown differently (``docs/peers.md``).
"""

from __future__ import annotations

from typing import Any

try:
    import keras
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    if exc.name != "tensorflow":
        raise
    raise ImportError(
        "Keras's backend is TensorFlow (its default), which is not installed. Set the "
        "environment variable KERAS_BACKEND to 'jax' or 'torch' before Keras is imported."
    ) from exc
import numpy as np
from keras import ops

from lrlab import _seams
from lrlab.adapters._shared import as_plateau, as_schedule
from lrlab.errors import ScheduleError, UsageError
from lrlab.schedules import PlateauState, Schedule, from_config, reduce_on_plateau

__all__ = ["KerasSchedule", "PlateauCallback", "schedule"]

# Backends whose tensors lrlab's Schedule.__call__ evaluates natively.
_NATIVE = ("jax", "torch", "numpy")


class _KerasOpsNamespace:
    """The array namespace of the schedules' formulas (see
    :mod:`lrlab.schedules._xp`), on ``keras.ops``: every Array API name the
    formulas use (``floor``, ``exp``, ``log1p``, ``cos``, ``where``,
    ``minimum``, ``full_like``, ...) is the ``keras.ops`` function of that name."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(ops, name)

    @staticmethod
    def eps(x: Any) -> float:
        """The machine epsilon of ``x``'s float type."""
        return float(np.finfo(keras.backend.standardize_dtype(x.dtype)).eps)


KERAS_OPS: Any = _KerasOpsNamespace()


def keras_ops_value(s: Schedule, step: Any) -> Any:
    """Evaluate ``s`` at ``step`` through ``keras.ops`` in ``floatx``: the path
    for backends whose tensors :meth:`lrlab.Schedule.__call__` does not know."""
    t = ops.cast(ops.convert_to_tensor(step), keras.config.floatx())
    return s._value(t, KERAS_OPS)


@keras.saving.register_keras_serializable(package="lrlab")
class KerasSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """An lrlab schedule as a Keras learning-rate schedule.

    Args:
        schedule: a :class:`~lrlab.Schedule`, its text form or its config.
    """

    def __init__(self, schedule: Any) -> None:
        super().__init__()
        self.schedule: Schedule = as_schedule(schedule, "lrlab.keras.schedule()")

    def __call__(self, step: Any) -> Any:
        """The LR at ``step`` (the optimizer's iteration count), in ``floatx``."""
        if keras.backend.backend() in _NATIVE:
            out = self.schedule(ops.convert_to_tensor(step))
        else:
            out = keras_ops_value(self.schedule, step)
        return ops.cast(out, keras.config.floatx())

    def get_config(self) -> dict[str, Any]:
        """The schedule's config (JSON-safe, with a ``type`` key)."""
        return self.schedule.to_config()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasSchedule:
        """Rebuild from :meth:`get_config`'s dict."""
        return cls(from_config(config))

    def __repr__(self) -> str:
        return f"KerasSchedule({self.schedule})"


def schedule(s: Any) -> KerasSchedule:
    """Wrap ``s`` (a :class:`~lrlab.Schedule`, its text form or its config)
    as a Keras learning-rate schedule:
    ``keras.optimizers.SGD(learning_rate=lrlab.keras.schedule(s))``.

    >>> schedule("step(0.1, 0.5, 10)")
    KerasSchedule(step(lr=0.1, factor=0.5, every=10))
    """
    return KerasSchedule(s)


class PlateauCallback(keras.callbacks.Callback):
    """Set the optimizer's learning rate from a :class:`~lrlab.schedules.reduce_on_plateau`
    rule at the end of every epoch, fed the logged ``monitor`` value.

    The rate is set before the first epoch (``on_train_begin``) and after each
    one; ``state`` (a :class:`~lrlab.schedules.PlateauState`) is kept across
    ``fit`` calls, so a second ``fit`` continues where the first stopped, and
    can be passed in to resume a saved run (``PlateauState(**saved)``).  The
    optimizer's ``learning_rate`` must be a plain value, not a schedule.  Keras
    keeps it in a float32 variable: the rate applied is the rule's, rounded.

    >>> from lrlab.schedules import reduce_on_plateau
    >>> cb = PlateauCallback(reduce_on_plateau(0.1, patience=2))
    >>> cb.state.lr
    0.1
    """

    def __init__(
        self, rule: Any, monitor: str = "val_loss", state: PlateauState | None = None
    ) -> None:
        super().__init__()
        rule = as_plateau(rule, "PlateauCallback()")
        if not isinstance(monitor, str) or not monitor:
            raise UsageError(
                "Argument `monitor` of PlateauCallback() must be the name of a logged metric. "
                f"Received: monitor={monitor!r}"
            )
        if state is not None:
            if not isinstance(state, PlateauState):
                raise UsageError(
                    "Argument `state` of PlateauCallback() must be a PlateauState or None. "
                    f"Received: state={state!r}"
                )
            try:  # a NamedTuple takes anything: check its fields as a loaded state is
                state = PlateauState.from_dict(
                    state._asdict(), "Argument `state` of PlateauCallback()"
                )
            except ScheduleError as e:
                raise UsageError(str(e)) from None
        self.rule: reduce_on_plateau = rule
        self.monitor = monitor
        self.state: PlateauState = rule.init() if state is None else state

    def _set_lr(self) -> None:
        opt = self.model.optimizer
        current = _seams.keras_rate(opt)
        if isinstance(current, keras.optimizers.schedules.LearningRateSchedule):
            raise UsageError(
                "PlateauCallback needs an optimizer whose learning_rate is a value, not a "
                f"schedule. Received: learning_rate={current!r}"
            )
        opt.learning_rate = self.state.lr

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._set_lr()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise UsageError(
                f"PlateauCallback monitors {self.monitor!r}, which this fit does not log. "
                f"Logged: {', '.join(sorted(logs)) or 'nothing'}"
            )
        self.state = self.rule.update(self.state, logs[self.monitor])
        self._set_lr()

    def get_config(self) -> dict[str, Any]:
        return {"rule": self.rule.to_config(), "monitor": self.monitor}
