"""The range test on a ``LightningModule``: its own ``training_step`` and
``configure_optimizers``, its ``DataModule``'s loaders, the state restored."""

from __future__ import annotations

from typing import Any

from lrlab._checks import shown
from lrlab.errors import UsageError
from lrlab.finder._core import find_lr
from lrlab.finder._result import FinderResult

__all__ = ["find_lr_lightning"]


def _optimizer(module: Any) -> Any:
    """The first optimizer ``configure_optimizers`` returns, in any of Lightning's forms:
    an optimizer, a list or tuple of them, ``([optimizers], [schedulers])``, or a dict
    (or list of dicts) with an ``"optimizer"`` key."""
    import torch

    got = module.configure_optimizers()
    for _ in range(3):  # unwrap ([opts], [scheds]), [opt, ...], {"optimizer": opt}
        if isinstance(got, torch.optim.Optimizer):
            return got
        if isinstance(got, dict) and "optimizer" in got:
            got = got["optimizer"]
        elif isinstance(got, (list, tuple)) and got:
            got = got[0]
        else:
            break
    raise UsageError(
        "Argument `module` must return an optimizer from configure_optimizers() (an "
        "optimizer, a list of them, ([optimizers], [schedulers]) or a dict with "
        f"'optimizer'). Received: {shown(got)}"
    )


def _loaders(module: Any, datamodule: Any, train_dataloaders: Any) -> tuple[Any, Any]:
    """``(train batches, one validation batch or None)`` from the loaders given, the
    ``datamodule`` (``prepare_data`` and ``setup("fit")`` called first) or the module's own."""
    source = datamodule if datamodule is not None else module
    if train_dataloaders is not None:
        return train_dataloaders, None
    if datamodule is not None:
        datamodule.prepare_data()
        datamodule.setup("fit")
    try:
        train = source.train_dataloader()
    except Exception as exc:  # Lightning's MisconfigurationException when there is none
        raise UsageError(
            "Argument `datamodule` (or `train_dataloaders`) must give the training batches: "
            f"{type(source).__name__}.train_dataloader() failed ({exc}). Received: "
            f"datamodule={shown(datamodule)}"
        ) from None
    try:
        val = next(iter(source.val_dataloader()))
    except Exception:  # no validation loader: the probes score their training loss
        val = None
    return train, val


def find_lr_lightning(
    module: Any,
    datamodule: Any = None,
    *,
    train_dataloaders: Any = None,
    horizon: int | None = None,
    budget: float = 0.25,
    **options: Any,
) -> FinderResult:
    """:func:`~lrlab.finder.find_lr` on a ``LightningModule``, as ``Trainer.fit`` would
    train it: each batch's loss is the module's ``training_step(batch, i)`` (its
    ``"loss"`` when it returns a dict), the optimizer the first that
    ``configure_optimizers()`` returns (its schedulers are not stepped: the test sets
    the rate), the batches the ``datamodule``'s ``train_dataloader()`` (or
    ``train_dataloaders``, or the module's own), and the probes are scored on the first
    batch of its ``val_dataloader()`` through the same step.  ``horizon`` is the run's
    length in steps (``Trainer(max_steps=...)``); ``options`` are ``find_lr``'s.  The
    module's weights and buffers, the optimizer's state and the RNGs are restored
    afterwards.
    """
    import lightning.pytorch as pl

    if not isinstance(module, pl.LightningModule):
        raise UsageError(
            f"Argument `module` must be a LightningModule. Received: module={shown(module)}"
        )
    optimizer = _optimizer(module)
    train, val = _loaders(module, datamodule, train_dataloaders)
    calls = [0]

    def batch_loss(model: Any, batch: Any) -> Any:
        out = model.training_step(batch, calls[0])
        calls[0] += 1
        loss = out["loss"] if isinstance(out, dict) else out
        if loss is None:
            raise UsageError(
                "Argument `module` must return a loss from training_step (a tensor or a dict "
                "with 'loss'). Received: None"
            )
        return loss

    import warnings

    with warnings.catch_warnings():  # self.log() outside a Trainer warns that it logs nothing
        warnings.filterwarnings("ignore", message=r".*self\.log\(.*")
        warnings.filterwarnings("ignore", message=r".*trainer.*reference is not registered.*")
        return find_lr(
            module, None, train, optimizer, batch_loss=batch_loss, val_data=val,
            horizon=horizon, budget=budget, **options,
        )  # fmt: skip
