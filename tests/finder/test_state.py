"""The range test leaves model, optimizer, BatchNorm buffers and RNGs exactly as it found them."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch

from lrlab.finder import find_lr
from lrlab.finder._state import Snapshot


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(16, 3),
    )


def _data(n_batches: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(32, 6, generator=g), torch.randint(0, 3, (32,), generator=g))
        for _ in range(n_batches)
    ]


def _warm(model: torch.nn.Module, opt: torch.optim.Optimizer, data: list) -> None:
    """Give the optimizer state, the BatchNorm buffers history and the params grads."""
    loss_fn = torch.nn.CrossEntropyLoss()
    for x, y in data[:2]:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    loss_fn(model(data[2][0]), data[2][1]).backward()  # leave a .grad behind


def _state(model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict:
    return {
        "tensors": {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()},
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "training": [m.training for m in model.modules()],
        "opt": copy.deepcopy(opt.state_dict()),
        "torch_rng": torch.get_rng_state(),
        "np_rng": np.random.get_state(),
        "py_rng": random.getstate(),
        "ids": [id(p) for p in model.parameters()],
    }


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a, b)
        )
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    return a == b


def _assert_same(before: dict, after: dict) -> None:
    for key in before:
        assert _same(before[key], after[key]), key


@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
@pytest.mark.parametrize("confirm", [0, 2, 4])
def test_restored_bit_for_bit_after_divergence(opt_name: str, confirm: int) -> None:
    """confirm=4 also races the candidates and scores them on validation data."""
    model, data = _net(), _data()
    if opt_name == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    _warm(model, opt, data)
    model.eval()  # the test must put the eval flag back too
    np.random.seed(3)
    random.seed(4)
    before = _state(model, opt)
    result = find_lr(
        model,
        torch.nn.CrossEntropyLoss(),
        data,
        opt,
        min_lr=1e-4,
        max_lr=1e4,
        num_steps=60,
        confirm=confirm,
        horizon=400,
        val_data=data[3] if confirm == 4 else None,
    )
    assert result.stop_reason in ("diverged", "non-finite")  # it really went wild
    assert confirm <= len(result.confirmations) <= confirm + 1  # + one beyond an end
    assert len(result.lrs) < 60
    _assert_same(before, _state(model, opt))
    assert not model.training


def test_model_changed_during_the_test_then_restored() -> None:
    """Guard against a vacuous restore test: the sweep does modify the live weights."""
    model, data = _net(), _data()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w0 = model[0].weight.detach().clone()
    seen: list[torch.Tensor] = []

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append(model[0].weight.detach().clone())
        return torch.nn.functional.cross_entropy(out, y)

    find_lr(model, loss_fn, data, opt, num_steps=10, confirm=0)
    assert any(not torch.equal(w, w0) for w in seen)
    assert torch.equal(model[0].weight, w0)


def test_restored_when_interrupted_by_an_exception() -> None:
    model, data = _net(), _data()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    _warm(model, opt, data)
    model.train()
    before = _state(model, opt)
    calls = 0

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise KeyboardInterrupt
        return torch.nn.functional.cross_entropy(out, y)

    with pytest.raises(KeyboardInterrupt):
        find_lr(model, loss_fn, data, opt, num_steps=30)
    assert calls == 7
    _assert_same(before, _state(model, opt))


def test_snapshot_covers_non_persistent_buffers() -> None:
    class WithBuffer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)
            self.register_buffer("count", torch.zeros(1), persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.count += 1
            return self.lin(x)

    model = WithBuffer()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    snap = Snapshot.take(model, opt)
    model(torch.ones(1, 2))
    assert float(model.count) == 1.0
    snap.restore(opt)
    assert float(model.count) == 0.0
