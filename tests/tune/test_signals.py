"""Stopping is clean: Ctrl-C and SIGTERM fail the running trial at once, with real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.slow  # worker processes

SLOW = textwrap.dedent(
    """
    import os, pathlib, time

    def objective(trial):
        pathlib.Path(os.environ["LRLAB_TEST_MARK"]).write_text(str(trial.number))
        time.sleep(60)  # a long trial, stopped from outside
        return trial.lr
    """
)


def _start(tmp_path: Path, argv: list[str]) -> tuple[subprocess.Popen[str], Path]:
    (tmp_path / "slow.py").write_text(SLOW)
    mark = tmp_path / "running"
    env = {**os.environ, "LRLAB_TEST_MARK": str(mark), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, *argv], cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not mark.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the trial never started"
        time.sleep(0.1)
    return proc, mark


def _trials(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=storage).trials


@pytest.mark.parametrize(
    ("sig", "code", "said", "error"),
    [
        (signal.SIGTERM, 143, "terminated (SIGTERM)", "stopped by SIGTERM"),
        (signal.SIGINT, 130, "interrupted", "stopped by Ctrl-C (KeyboardInterrupt)"),
    ],
)
def test_the_cli_fails_the_running_trial_at_once_and_says_one_line(
    tmp_path: Path, sig: int, code: int, said: str, error: str
) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    argv = ["-m", "lrlab.cli", "tune", "--objective", "slow.py:objective", "--steps", "5",
            "--trials", "3", "--storage", storage, "--study", "s", "--out", "out",
            "--quiet"]  # fmt: skip
    proc, _ = _start(tmp_path, argv)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 30  # not the trial's 60 s, nor a grace period
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1].startswith(f"lrlab tune: {said}"), err
    assert "Traceback" not in err
    [trial] = _trials(storage, "s")
    assert trial.state.name == "FAIL" and trial.user_attrs["error"] == error


def test_tune_in_python_raises_keyboard_interrupt_after_failing_the_trial(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'p.db'}"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from slow import objective
            from lrlab.tune import tune
            try:
                tune(objective, steps=5, trials=3, storage={storage!r}, study="p")
            except KeyboardInterrupt as exc:
                print("raised", type(exc).__name__, isinstance(exc, KeyboardInterrupt))
            """
        )
    )
    proc, _ = _start(tmp_path, [str(script)])
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "raised Terminated True" in out, err
    assert [t.state.name for t in _trials(storage, "p")] == ["FAIL"]
    # the handler was put back: a later SIGTERM in that process would end it as before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
