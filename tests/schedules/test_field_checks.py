"""Every registered kind checks every field it declares, with one message form.

The fields' rules are declared next to the fields (``lr: Rate``) and applied by
``_base.check_fields``; here each kind of the registry (the schedules and the
rules driven by a metric) is built from valid arguments, then with each field
given bad values in turn, from Python and from a config: the message must name
the kind, the field, what is allowed and the value as received.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import numpy as np
import pytest

import lrlab.schedules as ls
from lrlab.errors import ScheduleError
from lrlab.schedules._base import kinds
from lrlab.schedules._validate import MAX_INT, Int, Rule, shown

c = ls.constant(0.1)

#: Valid arguments of every kind, the smallest that exercise its fields.
VALID: dict[str, dict[str, Any]] = {
    "constant": {"lr": 0.1},
    "step": {"lr": 0.1, "factor": 0.5, "every": 10},
    "exponential": {"lr": 0.1, "k": 0.1, "every": 2, "staircase": True},
    "inverse_time": {"lr": 0.1, "k": 0.1, "every": 2, "staircase": True},
    "multistep": {"lr": 1.0, "milestones": [3, 5], "factor": 0.1},
    "piecewise": {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]},
    "polynomial": {"lr": 0.1, "steps": 100, "end_lr": 0.01, "power": 2.0},
    "cosine": {"lr": 0.1, "steps": 100, "min_lr": 0.01},
    "cosine_restarts": {"lr": 1.0, "period": 10, "mult": 2.0, "decay": 0.5, "min_lr": 0.0},
    "one_cycle": {
        "max_lr": 1.0,
        "steps": 100,
        "pct_start": 0.3,
        "div": 25.0,
        "final_div": 1e4,
        "anneal": "linear",
        "three_phase": True,
    },
    "cyclic": {"base_lr": 0.1, "max_lr": 1.0, "step_size": 5, "mode": "exp_range", "gamma": 0.9},
    "inverse_sqrt": {"lr": 0.01, "warmup": 100},
    "wsd": {
        "lr": 1.0,
        "steps": 100,
        "warmup": 10,
        "decay_frac": 0.2,
        "decay": "cosine",
        "min_lr": 0.1,
    },
    "warmup": {"schedule": c, "steps": 10, "start_lr": 0.01},
    "join": {"schedules": [c, c], "boundaries": [5]},
    "clip": {"schedule": c, "min_lr": 0.01, "max_lr": 0.08},
    "scale": {"schedule": c, "factor": 0.5},
    "reduce_on_plateau": {
        "lr": 0.1,
        "factor": 0.5,
        "patience": 2,
        "threshold": 0.01,
        "threshold_mode": "abs",
        "mode": "max",
        "cooldown": 1,
        "min_lr": 0.001,
        "eps": 1e-9,
    },
}

#: Refused by every rule: not a number, not an integer, not a choice, not a list.
ALWAYS_BAD: tuple[Any, ...] = ("bad", None, math.nan, np.array(0.5), {"x": 1})


def rules(cls: type) -> dict[str, Rule]:
    """Each field's declared rule, read independently of ``_base`` (one per field)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = {}
    for f in dataclasses.fields(cls):
        found = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Rule)]
        assert len(found) == 1, f"{cls.__name__}.{f.name} declares {len(found)} rules"
        out[f.name] = found[0]
    return out


def bad_values(rule: Rule) -> list[tuple[Any, str]]:
    """(a bad value, the allowed text the message must carry) for ``rule``."""
    out = [(v, rule.allowed) for v in ALWAYS_BAD]
    if isinstance(rule, Int):
        out += [
            (rule.low - 1, rule.allowed),
            (float(rule.low + 1), rule.allowed),
            (True, rule.allowed),
        ]
        if rule.high is not None:
            out.append((rule.high + 1, rule.too_high))
    return out


CASES = [
    pytest.param(kind, name, value, allowed, id=f"{kind}.{name}={shown(value)}")
    for kind, cls in sorted(kinds().items())
    for name, rule in rules(cls).items()
    for value, allowed in bad_values(rule)
]


def test_every_kind_has_valid_arguments_here_and_builds_from_them() -> None:
    assert set(VALID) == set(kinds())
    for kind, cls in kinds().items():
        built = cls(**VALID[kind])
        assert set(VALID[kind]) == {f.name for f in dataclasses.fields(cls)}, kind
        assert built.to_config()["type"] == kind


def test_counts_allow_no_more_than_float_steps_count_exactly() -> None:
    assert MAX_INT == 2**53 and float(MAX_INT) + 1.0 == float(MAX_INT)
    assert ls.step(0.1, 0.5, MAX_INT).every == MAX_INT


@pytest.mark.parametrize(("kind", "name", "value", "allowed"), CASES)
def test_each_field_refuses_a_bad_value_by_kind_field_and_value(
    kind: str, name: str, value: Any, allowed: str
) -> None:
    cls = kinds()[kind]
    expected = f"Argument `{name}` of {kind}() must be {allowed}. Received: {name}={shown(value)}"
    with pytest.raises(ScheduleError) as python_call:
        cls(**{**VALID[kind], name: value})
    assert str(python_call.value) == expected
    if isinstance(value, (np.ndarray, dict)):  # no array in a config; a dict is a schedule's
        return
    config = {"type": kind, **VALID[kind], name: value}
    config = {k: v.to_config() if isinstance(v, ls.Schedule) else v for k, v in config.items()}
    if kind == "join" and name != "schedules":
        config["schedules"] = [s.to_config() for s in VALID[kind]["schedules"]]
    with pytest.raises(ScheduleError) as from_config:
        ls.rule_from_config(config)
    assert str(from_config.value) == expected + " (at config)"


def test_the_generic_cases_cover_every_field_of_every_kind() -> None:
    covered = {(p.values[0], p.values[1]) for p in CASES}
    every = {(k, f.name) for k, cls in kinds().items() for f in dataclasses.fields(cls)}
    assert covered == every and len(every) > 60


def test_a_refusal_across_fields_shows_the_value_as_received() -> None:
    """The rules across fields run on the normalised values, but the message quotes the
    caller's: the list, not the tuple it became; the int, not the float."""
    with pytest.raises(ScheduleError) as info:
        ls.piecewise([10], [1, 0.5, 0.1])
    assert str(info.value).endswith("Received: values=[1, 0.5, 0.1]")
    with pytest.raises(ScheduleError) as info:
        ls.clip(c, 1, 0)
    assert str(info.value) == (
        "Argument `max_lr` of clip() must be a finite number >= min_lr=1.0. Received: max_lr=0"
    )


def test_checked_values_come_back_normalised() -> None:
    s = ls.multistep(np.int64(1), [np.int64(3), 5], np.float32(0.5))
    assert type(s.lr) is float and s.milestones == (3, 5) and type(s.milestones[0]) is int
    assert type(s.factor) is float and s.factor == 0.5
    assert ls.piecewise(range(1, 3), (1, 2, 3)).values == (1.0, 2.0, 3.0)
