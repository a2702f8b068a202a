"""Issue 28 item 4: one task built three times (same initial weights, same batches, plain
SGD, float32) gives the same range test in PyTorch, Keras (jax and torch backends) and
JAX/Optax: the same loss curve to float32 rounding and the same suggestions.

The references are the torch finder's own result; the Keras and JAX builds of the task are
:mod:`lrlab.tasks.frameworks` (tested against the torch model in tests/tasks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import pytest

from lrlab.cli import main
from lrlab.errors import UsageError
from lrlab.finder import FinderResult, find_lr_task
from lrlab.finder._task import FRAMEWORKS

#: A small MLP (digits: 64 -> 32 -> 10) with SGD; a sweep and a race that fit in seconds.
TASK, OPTIONS = "digits", {"seed": 0, "num_steps": 40, "budget": 0.25}
#: float32 on three frameworks: the forward pass and the update differ in summation order.
RTOL = 2e-5


@pytest.fixture(scope="module")
def three() -> dict[str, FinderResult]:
    return {fw: find_lr_task(TASK, "sgd", framework=fw, **OPTIONS) for fw in FRAMEWORKS}  # type: ignore[arg-type]


def _same(a: FinderResult, b: FinderResult) -> None:
    assert len(a.losses) == len(b.losses) and a.stop_reason == b.stop_reason
    np.testing.assert_allclose(a.losses, b.losses, rtol=RTOL)
    assert set(a.suggestions) == set(b.suggestions)
    for name, s in a.suggestions.items():
        assert s.lr == pytest.approx(b.suggestions[name].lr, rel=1e-9), name
    assert a.steps == b.steps


@pytest.mark.parametrize("framework", ["keras", "jax"])
def test_keras_and_jax_draw_the_torch_curve_and_suggest_the_same(
    three: dict[str, FinderResult], framework: str
) -> None:
    torch_result = three["torch"]
    assert torch_result.confirmed and "lrlab" in torch_result.suggestions
    _same(three[framework], torch_result)
    assert three[framework].why == torch_result.why


def test_keras_on_the_torch_backend_draws_the_same_curve(three: dict[str, FinderResult]) -> None:
    code = (
        "import json\n"
        "from lrlab.finder import find_lr_task\n"
        f"r = find_lr_task({TASK!r}, 'sgd', framework='keras', **{OPTIONS!r})\n"
        "print(json.dumps({'losses': r.losses.tolist(), 'steps': r.steps,\n"
        "  'sug': {k: v.lr for k, v in r.suggestions.items()}}))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    want = three["torch"]
    np.testing.assert_allclose(got["losses"], want.losses, rtol=RTOL)
    assert got["steps"] == want.steps
    assert got["sug"] == pytest.approx({k: v.lr for k, v in want.suggestions.items()}, rel=1e-9)


def test_an_unknown_framework_is_refused_by_name() -> None:
    with pytest.raises(UsageError, match=r"`framework` must be one of torch, keras, jax.*'tf'"):
        find_lr_task(TASK, "sgd", framework="tf")


def test_a_torch_optimizer_option_is_refused_elsewhere() -> None:
    with pytest.raises(UsageError, match=r"`weight_decay` is an option of the torch optimizer"):
        find_lr_task(TASK, "sgd", framework="jax", weight_decay=0.1)


def test_the_cli_runs_each_framework_and_refuses_another(capsys: Any) -> None:
    assert main(["find", "--task", "quadratic", "--steps", "30", "--framework", "jax",
                 "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert "lrlab" in out["suggestions"]
    assert main(["find", "--task", "quadratic", "--framework", "tensorflow"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "framework" in err[0] and "tensorflow" in err[0]
