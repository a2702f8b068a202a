"""One JSON convention for every writer: strict JSON, non-finite numbers as "nan"/"inf"/"-inf"."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lrlab import _json
from lrlab.compare import CompareRow, Comparison, RunSpec
from lrlab.finder import FinderResult
from lrlab.finder.advice import Advice
from lrlab.finder.rules import Suggestion
from lrlab.report._page import Section, write_assets
from lrlab.train import History
from lrlab.tune import TrialRow, TuneResult

ODD = [math.nan, math.inf, -math.inf]


def _refuse(token: str) -> Any:
    raise AssertionError(f"not strict JSON: {token}")


def strict(text: str) -> Any:
    """Parse ``text``, refusing the NaN / Infinity tokens Python's json accepts."""
    return json.loads(text, parse_constant=_refuse)


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, element by element."""
    return bool(np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), True))


def test_encode_writes_the_three_strings_and_decode_reads_them_back() -> None:
    value = {"x": ODD, "t": (1.5, -math.inf), 3: np.array([np.nan, 2.0]), "n": None}
    text = _json.dumps(value)
    assert strict(text) == {
        "x": ["nan", "inf", "-inf"],
        "t": [1.5, "-inf"],
        "3": ["nan", 2.0],
        "n": None,
    }
    back = _json.decode(strict(text))
    assert same(back["x"], ODD) and back["t"] == [1.5, -math.inf] and same(back["3"], [np.nan, 2])
    assert _json.NON_FINITE == ("nan", "inf", "-inf")
    assert _json.number(None) is None and _json.number("-inf") == -math.inf
    assert _json.number(np.float32(0.5)) == 0.5
    # numpy scalars become plain numbers (np.float64(inf) too), integers stay integers
    assert strict(_json.dumps([np.float64(np.inf), np.int64(7), np.bool_(True)])) == [
        "inf",
        7,
        True,
    ]


def _history() -> History:
    return History(
        lr=np.array([0.1, 0.2, 0.3]),
        train_loss=np.array(ODD),
        step_size=np.array([-math.inf, math.nan, 0.05]),
        eval_steps=np.array([1, 3], dtype=np.int64),
        val_loss=np.array([math.inf, 0.5]),
        val_metric=np.array([math.nan, -math.inf]),
        steps=3,
        wall_time=0.5,
        diverged=False,
        meta={"optimizer": "sgd"},
    )


def test_history_round_trips_every_non_finite_value() -> None:
    h = _history()
    d = strict(json.dumps(h.to_dict()))
    assert d["train_loss"] == ["nan", "inf", "-inf"] and d["final_val_metric"] == "-inf"
    back = History.from_dict(d)
    for k in ("lr", "train_loss", "step_size", "val_loss", "val_metric"):
        assert same(getattr(back, k), getattr(h, k)), k
    assert back.eval_steps.tolist() == [1, 3] and back.eval_steps.dtype == np.int64


def test_finder_result_round_trips_every_non_finite_value() -> None:
    advice = Advice(
        lr=0.1, low=0.05, high=0.2, pick_lr=0.1, horizon_factor=1.0, alpha=0.5,
        alpha_measured=None, length=10, steps=30, probes=[(0.1, 10, math.inf), (0.2, 10, 0.5)],
        flags=[], reason="r",
    )  # fmt: skip
    res = FinderResult(
        lrs=np.array([1e-3, 1e-2, 1e-1]),
        losses=np.array(ODD),
        smoothed=np.array([0.5, -math.inf, math.nan]),
        suggestions={"lrlab": Suggestion("lrlab", 0.1, 0.05, 0.2, None, "lrlab")},
        stop_reason="non-finite",
        divergence_lr=None,
        stop_lr=0.1,
        confirmations=[(0.1, math.inf), (0.2, math.nan)],
        advice=advice,
    )
    d = strict(json.dumps(res.to_dict()))
    assert d["losses"] == ["nan", "inf", "-inf"] and d["divergence_lr"] is None
    back = _json.decode(d)
    assert same(back["losses"], ODD) and same(back["smoothed"], res.smoothed)
    assert same(back["confirmations"], [[0.1, math.inf], [0.2, math.nan]])
    assert back["advice"]["probes"] == [[0.1, 10, math.inf], [0.2, 10, 0.5]]


def _row(label: str, mean: float, metric: float, std: float = math.nan) -> CompareRow:
    return CompareRow(
        label=label, optimizer="sgd", schedule="constant(lr=0.1)", options="{}", seeds=1,
        final_val_loss_mean=mean, final_val_loss_std=std, final_val_metric_mean=metric,
        final_val_metric_std=-math.inf, steps_to_target_mean=None, reached=0, diverged=1,
        wall_time_mean=0.5,
    )  # fmt: skip


def test_comparison_json_round_trips_every_non_finite_value(tmp_path: Path) -> None:
    cmp = Comparison(
        task="t", metric_name="accuracy", greater_is_better=True, specs=[RunSpec("sgd")],
        seeds=[0], steps=3, target_loss=math.inf,
        histories={"a": [_history()]},
        table=[_row("a", math.inf, math.nan), _row("b", 0.5, -math.inf, std=0.1)],
    )  # fmt: skip
    d = strict(cmp.to_json(tmp_path / "c.json").read_text())
    assert d["target_loss"] == "inf" and d["best"] == "b"
    assert d["table"][0]["final_val_loss_mean"] == "inf"
    assert d["table"][0]["steps_to_target_mean"] is None
    back = _json.decode(d)
    rows = [CompareRow(**r) for r in back["table"]]
    assert rows[1] == cmp.table[1]  # every field, -inf included
    assert rows[0].final_val_loss_mean == math.inf and math.isnan(rows[0].final_val_metric_mean)
    assert math.isnan(rows[0].final_val_loss_std) and rows[0].final_val_metric_std == -math.inf
    assert same(History.from_dict(d["histories"]["a"][0]).train_loss, ODD)


def _trial(number: int, value: float | None, **finalist: Any) -> TrialRow:
    return TrialRow(
        number=number, state="COMPLETE", value=value, optimizer="sgd", lr=0.1,
        schedule="constant", params={}, schedule_config=None, steps=10,
        run_losses=[value, math.nan], diverged=False, seconds=1.0, **finalist,
    )  # fmt: skip


def test_tune_result_round_trips_every_non_finite_value() -> None:
    res = TuneResult(
        study="s", storage="memory", task="t", target=2,
        trials=[
            _trial(0, math.inf, finalist_losses={3: -math.inf}, mean_seeds=2, mean_loss=math.inf),
            _trial(1, 0.5),
        ],
        best=None,
    )  # fmt: skip
    d = strict(json.dumps(res.to_dict()))
    first, second = d["trials"]
    assert first["value"] == "inf" and first["run_losses"] == ["inf", "nan"]
    assert first["finalist_losses"] == {"3": "-inf"} and first["mean_loss"] == "inf"
    back = _json.decode(first)
    assert back["value"] == math.inf and back["finalist_losses"] == {"3": -math.inf}
    # a trial that was not a finalist has no finalist fields, as before
    assert list(second) == [
        "number", "state", "value", "optimizer", "lr", "schedule", "params",
        "schedule_config", "steps", "run_losses", "diverged", "seconds",
    ]  # fmt: skip
    assert list(first)[-3:] == ["finalist_losses", "mean_seeds", "mean_loss"]


def test_report_results_json_round_trips_every_non_finite_value(tmp_path: Path) -> None:
    data = {"odd": ODD, "arr": np.array([1.0, np.nan]), "nested": {"x": (math.inf,)}}
    write_assets([Section(key="k", title="T", data=data)], tmp_path)
    d = strict((tmp_path / "results.json").read_text())
    assert d == {"k": {"title": "T", "odd": ["nan", "inf", "-inf"], "arr": [1.0, "nan"],
                       "nested": {"x": ["inf"]}}}  # fmt: skip
    back = _json.decode(d)["k"]
    assert same(back["odd"], ODD) and back["nested"]["x"] == [math.inf]


def test_rows_are_frozen() -> None:
    row, trial = _row("a", 0.5, 0.9), _trial(0, 0.5)
    with pytest.raises(AttributeError):
        row.label = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        trial.value = 0.1  # type: ignore[misc]
