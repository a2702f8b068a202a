"""Every code block in README.md and docs/ runs as written.

The Python blocks of each file run in order in one fresh interpreter, with no
``KERAS_BACKEND`` set (a reader's shell has none), after a prelude that defines
only what the docs leave to the reader: a model, its data, a loop's helpers.
The shell blocks' ``lrlab`` lines run as commands, except the ones that need
what a test machine lacks (a PostgreSQL server named ``db``; the whole report,
which tests/report builds; pip and pytest, which made this environment).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

#: What the docs leave to the reader, as small as will do.
PRELUDE = """
import numpy as np
import torch

torch.manual_seed(0)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
        self.head = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.body(x))


model = _Net()
loss_fn = torch.nn.CrossEntropyLoss()
batches = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(20)]
loader = train_loader = batches
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
val_loss = 0.5
epochs = 3


def step_loss(model, batch):
    x, y = batch
    return loss_fn(model(x), y)


def train_one_epoch(model, opt):
    for batch in batches:
        opt.zero_grad()
        step_loss(model, batch).backward()
        opt.step()


def validate(model):
    with torch.no_grad():
        return float(sum(step_loss(model, b) for b in batches[:4]) / 4)


x, y = np.random.default_rng(0).random((64, 8)), np.random.default_rng(1).random((64, 1))
xv, yv = x[:16], y[:16]
params = {"w": np.ones(3, dtype=np.float32)}
grads = {"w": np.full(3, 0.1, dtype=np.float32)}
"""


def _blocks(name: str, langs: tuple[str, ...]) -> list[str]:
    return [m.group(2) for m in FENCE.finditer((ROOT / name).read_text()) if m.group(1) in langs]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.mark.slow
@pytest.mark.parametrize("name", [f for f in FILES if _blocks(f, ("python",))])
def test_python_blocks_run_as_written(name: str, tmp_path: Path) -> None:
    blocks = _blocks(name, ("python",))
    script = [PRELUDE]
    for i, block in enumerate(blocks):
        script.append(f"print('-- block {i + 1} of {len(blocks)}', flush=True)\n{block}")
    path = tmp_path / "blocks.py"
    path.write_text("\n".join(script))
    proc = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    last = [line for line in proc.stdout.splitlines() if line.startswith("-- block")][-1:]
    assert proc.returncode == 0, f"{name}, {last}: {proc.stderr[-3000:]}"


def _commands(name: str) -> list[str]:
    out = []
    for block in _blocks(name, ("bash", "")):
        for line in textwrap.dedent(block).replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("pip install"):
                line = line.split("&&", 1)[1].strip() if "&&" in line else ""
            if line.startswith("lrlab "):
                out.append(line)
    return out


def _runnable(command: str) -> bool:
    words = shlex.split(command)
    return words[1] != "report" and not any(w.startswith("postgresql://") for w in words)


@pytest.mark.slow
@pytest.mark.parametrize("name", [f for f in FILES if _commands(f)])
def test_shell_lines_run_as_written(name: str, tmp_path: Path) -> None:
    from lrlab.cli import build_parser

    for command in _commands(name):
        argv = shlex.split(command)[1:]
        build_parser().parse_args(argv)  # every line, runnable here or not, is valid
        if not _runnable(command):
            continue
        proc = subprocess.run(
            [sys.executable, "-m", "lrlab.cli", *argv], cwd=tmp_path, env=_env(),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"{name}: {command}\n{proc.stderr[-2000:]}"
