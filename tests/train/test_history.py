"""History: final values, steps to target and the JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np

from lrlab.train import History


def _history(diverged: bool = False) -> History:
    return History(
        lr=np.array([0.1, 0.1, 0.05]),
        train_loss=np.array([2.0, 1.0, np.inf if diverged else 0.5]),
        step_size=np.array([0.1, np.nan, 0.05]),
        eval_steps=np.array([1, 2], dtype=np.int64),
        val_loss=np.array([1.5, 0.7]),
        val_metric=np.array([0.4, 0.8]),
        steps=2 if diverged else 3,
        wall_time=0.25,
        diverged=diverged,
        meta={"optimizer": "sgd", "seed": 0},
    )


def test_final_values_and_steps_to() -> None:
    h = _history()
    assert h.final_val_loss == 0.7 and h.final_val_metric == 0.8
    assert h.steps_to(1.0) == 2 and h.steps_to(1.5) == 1 and h.steps_to(0.1) is None
    d = _history(diverged=True)
    assert d.final_val_loss == math.inf and math.isnan(d.final_val_metric)


def test_to_dict_is_strict_json_and_round_trips() -> None:
    for h in (_history(), _history(diverged=True)):
        text = json.dumps(h.to_dict(), allow_nan=False)
        back = History.from_dict(json.loads(text))
        for k in ("lr", "train_loss", "step_size", "eval_steps", "val_loss", "val_metric"):
            assert np.array_equal(getattr(back, k), getattr(h, k), equal_nan=True), k
        assert back.eval_steps.dtype == np.int64
        assert (back.steps, back.wall_time, back.diverged, back.meta) == (
            h.steps,
            h.wall_time,
            h.diverged,
            h.meta,
        )
    assert _history(diverged=True).to_dict()["final_val_loss"] == "inf"
