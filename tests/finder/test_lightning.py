"""find_lr_lightning: a LightningModule through its own training_step and optimizers."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

from lrlab.errors import UsageError
from lrlab.finder import find_lr, find_lr_lightning


class Digits(pl.LightningDataModule):
    def setup(self, stage: str) -> None:
        d = load_digits()
        x = torch.tensor(d.data, dtype=torch.float32) / 16.0
        y = torch.tensor(d.target)
        self.train, self.val = TensorDataset(x[:1400], y[:1400]), TensorDataset(x[1400:], y[1400:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=64, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val, batch_size=397)


class Net(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(),
            torch.nn.Linear(32, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return {"loss": loss}

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, 10)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _state(module: pl.LightningModule) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_the_modules_own_step_and_optimizer_and_the_state_restored() -> None:
    torch.manual_seed(0)
    module, dm = Net(), Digits()
    before = _state(module)
    res = find_lr_lightning(module, dm, horizon=400, min_lr=1e-4, max_lr=10.0, num_steps=40)
    after = module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm buffers too
    assert res.suggestion is not None and res.advice is not None and res.steps <= 100 + 40
    # one method, two doors: the same sweep as find_lr with the step's loss written out
    torch.manual_seed(0)
    twin = Net()
    twin.load_state_dict(before)
    dm.setup("fit")
    opt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    val = next(iter(dm.val_dataloader()))
    ref = find_lr(twin, torch.nn.CrossEntropyLoss(), dm.train_dataloader(), opt, val_data=val,
                  horizon=400, min_lr=1e-4, max_lr=10.0, num_steps=40)  # fmt: skip
    np.testing.assert_array_equal(res.losses, ref.losses)
    assert res.suggestion.lr == ref.suggestion.lr  # type: ignore[union-attr]


def test_bad_modules_are_refused_by_name() -> None:
    with pytest.raises(UsageError, match=r"^Argument `module` must be a LightningModule"):
        find_lr_lightning(torch.nn.Linear(2, 1), Digits())

    class NoOptimizer(Net):
        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(UsageError, match=r"must return an optimizer from configure_optimizers"):
        find_lr_lightning(NoOptimizer(), Digits())
