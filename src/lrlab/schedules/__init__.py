"""Learning-rate schedules: immutable, closed-form maps from step to LR.

Define a schedule once and use it with NumPy, PyTorch, Keras or JAX::

    >>> import numpy as np
    >>> from lrlab.schedules import step, parse
    >>> s = step(0.1, 0.5, 10)               # lr * factor ** (t // every)
    >>> s(np.array([0, 10, 20]))
    array([0.1  , 0.05 , 0.025])
    >>> parse(str(s)) == s
    True

Kinds: :func:`constant`, :func:`step`, :func:`exponential`,
:func:`inverse_time`, :func:`multistep`, :func:`piecewise`,
:func:`polynomial`, :func:`cosine`, :func:`cosine_restarts`,
:func:`one_cycle`, :func:`cyclic`, :func:`inverse_sqrt`, :func:`wsd`;
combinators :func:`warmup`, :func:`join`, :func:`clip` and ``schedule * c``.
:class:`reduce_on_plateau` is the one rule driven by a metric instead of the
step: a pure function of the metric history (PyTorch's ``ReduceLROnPlateau``).
"""

from lrlab.errors import ScheduleError
from lrlab.schedules._base import Schedule, registry
from lrlab.schedules._combinators import clip, join, scale, warmup
from lrlab.schedules._kinds import (
    constant,
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    inverse_sqrt,
    inverse_time,
    multistep,
    one_cycle,
    piecewise,
    polynomial,
    step,
    wsd,
)
from lrlab.schedules._parse import (
    from_config,
    parse,
    parse_options,
    parse_rule,
    parse_value,
    rule_from_config,
)
from lrlab.schedules._plateau import PlateauState, reduce_on_plateau

__all__ = [
    "PlateauState",
    "Schedule",
    "ScheduleError",
    "clip",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "from_config",
    "inverse_sqrt",
    "inverse_time",
    "join",
    "multistep",
    "one_cycle",
    "parse",
    "parse_options",
    "parse_rule",
    "parse_value",
    "piecewise",
    "polynomial",
    "reduce_on_plateau",
    "registry",
    "rule_from_config",
    "scale",
    "step",
    "warmup",
    "wsd",
]
