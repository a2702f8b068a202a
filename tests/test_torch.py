"""lrlab.torch: the schedule as a real PyTorch LRScheduler."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lrlab
import lrlab.torch as lt
from lrlab.errors import ScheduleError, UsageError
from lrlab.schedules import (
    cosine,
    cosine_restarts,
    cyclic,
    exponential,
    multistep,
    one_cycle,
    step,
    warmup,
    wsd,
)

SCHEDULES = [
    cosine(0.1, 40, 0.001),
    warmup(cosine(0.1, 30), 10, 0.01),
    cosine_restarts(0.2, 7, mult=2.0, decay=0.5),
    one_cycle(0.5, 40, three_phase=True),
    cyclic(0.01, 0.1, 5, "triangular2"),
    wsd(0.3, 40, 5, 0.25, "1-sqrt") * 0.5,
]


def _params(n: int = 3) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(n))]


def _sgd(lr: float = 123.0) -> torch.optim.SGD:
    return torch.optim.SGD(_params(), lr=lr)


def _run(opt: torch.optim.Optimizer, sched: lt.ScheduleLR, steps: int) -> list[list[Any]]:
    """The LRs each optimizer step uses, in the canonical loop order."""
    seen = []
    for _ in range(steps):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return seen


@pytest.mark.parametrize("s", SCHEDULES, ids=lambda s: s.kind)
def test_is_an_lr_scheduler_with_torch_protocol(s: lrlab.Schedule) -> None:
    opt = _sgd()
    sched = lt.scheduler(opt, s)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert sched.last_epoch == 0
    seen = _run(opt, sched, 45)
    # The first optimizer step uses schedule(0); after k scheduler steps it is schedule(k).
    assert [lrs[0] for lrs in seen] == [s(k) for k in range(45)]
    assert sched.last_epoch == 45
    assert sched.get_last_lr() == [s(45)]
    assert opt.param_groups[0]["lr"] == s(45)


def test_text_and_config_give_the_same_scheduler() -> None:
    s = warmup(cosine(0.1, 30), 10)
    runs = []
    for spec in (s, str(s), s.to_config()):
        opt = _sgd()
        runs.append(_run(opt, lt.scheduler(opt, spec), 20))
    assert runs[0] == runs[1] == runs[2]
    assert lt.scheduler(_sgd(), str(s)).schedule == s


def test_same_step_protocol_as_torch_builtins() -> None:
    """Step, multistep and 1cycle match StepLR, MultiStepLR and OneCycleLR step for step."""
    pairs: list[tuple[lrlab.Schedule, Any]] = [
        (step(0.1, 0.5, 3), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        (
            multistep(0.1, [2, 5, 9], 0.3),
            lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 5, 9], 0.3),
        ),
        (
            one_cycle(0.4, 30, 0.25, 10.0, 100.0),
            lambda o: torch.optim.lr_scheduler.OneCycleLR(
                o,
                0.4,
                total_steps=30,
                pct_start=0.25,
                div_factor=10.0,
                final_div_factor=100.0,
                cycle_momentum=False,
            ),
        ),
    ]
    for s, make_torch in pairs:
        opt_a, opt_b = _sgd(0.1), _sgd(0.1)
        ours = _run(opt_a, lt.scheduler(opt_a, s), 29)
        theirs = _run(opt_b, make_torch(opt_b), 29)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0, err_msg=str(s))


def test_lr_comes_from_the_closed_form_not_the_previous_lr() -> None:
    s = exponential(0.1, 0.05)
    opt = _sgd()
    sched = lt.scheduler(opt, s)
    for k in range(1, 10):
        opt.param_groups[0]["lr"] = 99.0 * k  # anything a user or callback left there
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] == s(k)


def test_param_groups_carry_a_relative_scale() -> None:
    s = cosine_restarts(0.1, 5)
    a, b, c = _params(), _params(), _params()
    opt = torch.optim.SGD(
        [{"params": a}, {"params": b, "lr_scale": 0.1}, {"params": c, "lr_scale": 3}], lr=1.0
    )
    sched = lt.scheduler(opt, s)
    seen = _run(opt, sched, 12)
    assert seen == [[s(k), 0.1 * s(k), 3.0 * s(k)] for k in range(12)]
    assert sched.get_last_lr() == [s(12), 0.1 * s(12), 3.0 * s(12)]
    # A scale changed mid-run applies from the next step on.
    opt.param_groups[1]["lr_scale"] = 0.5
    opt.step()
    sched.step()
    assert opt.param_groups[1]["lr"] == 0.5 * s(13)


def test_custom_scale_key() -> None:
    s = cosine(1.0, 10)
    opt = torch.optim.SGD([{"params": _params(), "mult": 0.25}], lr=1.0)
    sched = lt.scheduler(opt, s, scale_key="mult")
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.25 * s(1)


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, "0.1", True, None])
def test_bad_scale_is_named(bad: Any) -> None:
    opt = torch.optim.SGD([{"params": _params()}, {"params": _params(), "lr_scale": bad}], lr=1)
    with pytest.raises(UsageError, match=r"`lr_scale` of param_groups\[1\].*Received: lr_scale="):
        lt.scheduler(opt, cosine(0.1, 10))
    # ... and when a group is given a bad scale mid-run.
    opt = _sgd()
    sched = lt.scheduler(opt, cosine(0.1, 10))
    opt.param_groups[0]["lr_scale"] = bad
    opt.step()
    with pytest.raises(UsageError, match=r"`lr_scale` of param_groups\[0\]"):
        sched.step()


def test_bad_arguments_raise_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"Argument `optimizer`.*Received: optimizer=\[\]"):
        lt.scheduler([], cosine(0.1, 10))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"Argument `schedule`.*Received: schedule=0.1"):
        lt.scheduler(_sgd(), 0.1)
    with pytest.raises(UsageError, match=r"Argument `scale_key`.*Received: scale_key='lr'"):
        lt.scheduler(_sgd(), cosine(0.1, 10), scale_key="lr")
    with pytest.raises(ScheduleError, match="Unknown schedule kind 'cosin'"):
        lt.scheduler(_sgd(), "cosin(0.1, 10)")
    sched = lt.scheduler(_sgd(), cosine(0.1, 10))
    with pytest.raises(UsageError, match="exactly the keys 'last_epoch' and 'schedule'"):
        sched.load_state_dict({"last_epoch": 3})
    with pytest.raises(UsageError, match=r"'last_epoch'.*Received: last_epoch=-2"):
        sched.load_state_dict({"last_epoch": -2, "schedule": cosine(0.1, 10).to_config()})


def _plain(x: Any) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in x.items())
    if isinstance(x, list):
        return all(_plain(v) for v in x)
    return x is None or isinstance(x, (bool, int, float, str))


def test_state_dict_is_plain_data_loadable_weights_only(tmp_path: Path) -> None:
    s = warmup(cosine(0.1, 30), 10)
    opt = _sgd()
    sched = lt.scheduler(opt, s)
    _run(opt, sched, 7)
    state = sched.state_dict()
    assert state == {"last_epoch": 7, "schedule": s.to_config()}
    assert _plain(state)
    torch.save(state, tmp_path / "sched.pt")
    loaded = torch.load(tmp_path / "sched.pt", weights_only=True)
    assert loaded == state
    fresh_opt = _sgd()
    fresh = lt.scheduler(fresh_opt, "constant(5.0)")
    fresh.load_state_dict(loaded)
    # The state's schedule and step win, and the LR is set to match at once.
    assert fresh.schedule == s
    assert fresh.last_epoch == 7
    assert fresh_opt.param_groups[0]["lr"] == s(7)
    assert fresh.get_last_lr() == [s(7)]


def _model_and_optimizer(spec: Any) -> tuple[torch.nn.Module, torch.optim.Optimizer, Any]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters()},
            {"params": model[2].parameters(), "lr_scale": 0.3},
        ],
        lr=0.5,
        momentum=0.9,
    )
    return model, opt, spec


def _train(
    model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, steps: range
) -> list[list[float]]:
    seen = []
    for k in steps:
        g = torch.Generator().manual_seed(k)
        x = torch.randn(16, 4, generator=g)
        loss = (model(x).squeeze(1) - x.sum(1)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        seen.append([float(grp["lr"]) for grp in opt.param_groups])
        opt.step()
        sched.step()
    return seen


@pytest.mark.parametrize("cut", [0, 1, 9, 23])
@pytest.mark.parametrize("order", ["scheduler_first", "optimizer_first"])
def test_resume_reproduces_the_lr_sequence_bit_for_bit(
    tmp_path: Path, cut: int, order: str
) -> None:
    s = warmup(cosine_restarts(0.1, 6, mult=2.0, decay=0.7), 4) * 0.9
    total = 30
    model, opt, _ = _model_and_optimizer(s)
    sched = lt.scheduler(opt, s)
    straight = _train(model, opt, sched, range(total))
    final = [p.detach().clone() for p in model.parameters()]

    model, opt, _ = _model_and_optimizer(s)
    sched = lt.scheduler(opt, s)
    first = _train(model, opt, sched, range(cut))
    path = tmp_path / "ckpt.pt"
    torch.save(
        {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, path
    )
    del model, opt, sched

    ckpt = torch.load(path, weights_only=True)
    model, opt, _ = _model_and_optimizer(s)
    model.load_state_dict(ckpt["model"])
    if order == "scheduler_first":  # PyTorch's recommended order
        sched = lt.scheduler(opt, str(s))
        opt.load_state_dict(ckpt["opt"])
    else:  # the constructor overwrites the restored LRs; load_state_dict puts them back
        opt.load_state_dict(ckpt["opt"])
        sched = lt.scheduler(opt, str(s))
    sched.load_state_dict(ckpt["sched"])
    second = _train(model, opt, sched, range(cut, total))

    resumed = first + second
    assert [[x.hex() for x in row] for row in resumed] == [
        [x.hex() for x in row] for row in straight
    ]
    assert straight == [[s(k), 0.3 * s(k)] for k in range(total)]
    for a, b in zip(final, model.parameters()):
        assert torch.equal(a, b)


def test_tensor_lr_is_updated_in_place() -> None:
    s = cosine(0.01, 12, 0.001)
    w = _params(2)
    opt = torch.optim.Adam(
        [
            {"params": w, "lr": torch.tensor(0.5)},
            {"params": _params(), "lr": torch.tensor(0.5), "lr_scale": 0.5},
        ]
    )
    tensor_lr = opt.param_groups[0]["lr"]
    assert isinstance(tensor_lr, torch.Tensor)
    sched = lt.scheduler(opt, s)
    for k in range(15):
        assert opt.param_groups[0]["lr"] is tensor_lr
        assert tensor_lr.dtype == torch.float32
        assert tensor_lr.item() == float(np.float32(s(k)))
        assert opt.param_groups[1]["lr"].item() == float(np.float32(0.5 * s(k)))
        last = sched.get_last_lr()
        assert isinstance(last[0], torch.Tensor) and last[0] is not tensor_lr
        assert torch.equal(last[0], tensor_lr)
        w[0].grad = torch.ones(2)
        opt.step()
        sched.step()


def test_groups_sharing_one_lr_tensor_need_one_scale() -> None:
    # Optimizer(lr=tensor) gives every group that same tensor object.
    opt = torch.optim.Adam(
        [{"params": _params()}, {"params": _params(), "lr_scale": 0.5}], lr=torch.tensor(0.1)
    )
    assert opt.param_groups[0]["lr"] is opt.param_groups[1]["lr"]
    with pytest.raises(UsageError, match=r"param_groups\[0\] and param_groups\[1\] share"):
        lt.scheduler(opt, cosine(0.1, 10))
    opt = torch.optim.Adam([{"params": _params()}, {"params": _params()}], lr=torch.tensor(0.1))
    lt.scheduler(opt, cosine(0.1, 10))  # same scale: one value, fine
    assert opt.param_groups[1]["lr"].item() == float(np.float32(0.1))


def test_compiled_optimizer_step_follows_tensor_lr_without_recompiling() -> None:
    from torch._dynamo.testing import CompileCounter

    s = warmup(cosine(0.01, 10), 3)

    def make() -> tuple[torch.nn.Parameter, torch.optim.Optimizer, lt.ScheduleLR]:
        w = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 5))
        opt = torch.optim.Adam([w], lr=torch.tensor(0.0))
        return w, opt, lt.scheduler(opt, s)

    torch._dynamo.reset()
    counter = CompileCounter()
    w, opt, sched = make()
    compiled_step = torch.compile(opt.step, backend=counter)
    w_ref, opt_ref, sched_ref = make()
    for k in range(8):
        grad = torch.linspace(0.5, 2.5, 5) * (k + 1)
        w.grad, w_ref.grad = grad.clone(), grad.clone()
        compiled_step()
        opt_ref.step()
        sched.step()
        sched_ref.step()
        # Compiled Adam may round differently from eager Adam by float32 ulps (of |w|~1); a
        # stale LR would be off by a whole step (s(0) = 0 would not move w at all).
        torch.testing.assert_close(w, w_ref, rtol=2e-6, atol=1e-6)
    assert not torch.equal(w, torch.linspace(-1.0, 1.0, 5))
    assert counter.frame_count == 1  # one graph, every LR
    assert opt.param_groups[0]["lr"].item() == float(np.float32(s(8)))


def test_step_order_warning_is_kept() -> None:
    opt = _sgd()
    sched = lt.scheduler(opt, cosine(0.1, 10))
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before"):
        sched.step()
    opt = _sgd()
    sched = lt.scheduler(opt, cosine(0.1, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(opt, sched, 5)


def test_deprecated_epoch_argument_uses_the_closed_form() -> None:
    s = cosine(0.1, 10)
    opt = _sgd()
    sched = lt.scheduler(opt, s)
    with pytest.warns(UserWarning):
        sched.step(7)
    assert sched.last_epoch == 7
    assert opt.param_groups[0]["lr"] == s(7)
    assert sched.get_last_lr() == [s(7)]


def _fit(module: Any, loader: Any, **limits: Any) -> Any:
    """A quiet CPU Lightning trainer fitted on ``loader``; ``limits``: max_steps or max_epochs."""
    import lightning

    trainer = lightning.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **limits,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(module, loader)
    return trainer


def test_lightning_configure_optimizers() -> None:
    import lightning

    s = warmup(cosine(0.05, 8), 3)
    max_steps = 13

    class Tiny(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)
            self.seen: list[list[float]] = []

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            opt = self.optimizers().optimizer  # type: ignore[union-attr]
            self.seen.append([g["lr"] for g in opt.param_groups])
            (x,) = batch
            return self.layer(x).pow(2).mean()

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(
                [{"params": self.layer.weight}, {"params": self.layer.bias, "lr_scale": 0.5}],
                lr=1.0,
            )
            sched = lt.scheduler(opt, str(s))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    data = torch.utils.data.TensorDataset(torch.randn(8, 3))
    loader = torch.utils.data.DataLoader(data, batch_size=2)
    module = Tiny()
    trainer = _fit(module, loader, max_steps=max_steps)
    assert module.seen == [[s(k), 0.5 * s(k)] for k in range(max_steps)]
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(sched, lt.ScheduleLR)
    assert sched.last_epoch == max_steps
    assert sched.get_last_lr() == [s(max_steps), 0.5 * s(max_steps)]


# -- reduce_on_plateau: PlateauLR ------------------------------------------------------------


def _plateau_metrics(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    level, out = 2.0, []
    for _ in range(n):
        if rng.random() < 0.2:
            level *= 0.9
        out.append(float(level * (1 + 0.02 * rng.integers(0, 4))))
    return out


@pytest.mark.parametrize("cooldown", [0, 2])
def test_plateau_lr_is_torch_reduce_lr_on_plateau_in_a_training_loop(cooldown: int) -> None:
    """Two identical models trained side by side, one driven by torch's ReduceLROnPlateau and
    one by PlateauLR, both on their own validation loss: the same LRs and weights, exactly."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    from lrlab.schedules import reduce_on_plateau

    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    xv, yv = torch.randn(32, 4), torch.randn(32, 1)
    models = [torch.nn.Linear(4, 1) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.3, momentum=0.9) for m in models]
    kw = {"factor": 0.5, "patience": 1, "cooldown": cooldown, "threshold": 1e-3}
    ref = ReduceLROnPlateau(opts[0], **kw)  # type: ignore[arg-type]
    ours = lt.plateau(opts[1], reduce_on_plateau(0.3, **kw))  # type: ignore[arg-type]
    assert isinstance(ours, ReduceLROnPlateau)
    lrs: list[list[float]] = [[], []]
    for _epoch in range(40):
        for m, opt, sched, seen in zip(models, opts, (ref, ours), lrs):
            opt.zero_grad()
            torch.nn.functional.mse_loss(m(x), y).backward()
            opt.step()
            with torch.no_grad():
                val = torch.nn.functional.mse_loss(m(xv), yv)
            sched.step(val)
            seen.append(opt.param_groups[0]["lr"])
    assert lrs[0] == lrs[1]
    assert len(set(lrs[0])) >= 3  # the loop did plateau and reduce
    assert torch.equal(models[0].weight, models[1].weight)
    assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter, ours.last_epoch) == (
        ref.best,
        ref.num_bad_epochs,
        ref.cooldown_counter,
        ref.last_epoch,
    )
    assert ours.get_last_lr() == ref.get_last_lr()


def test_plateau_lr_groups_scale_and_tensor_lr() -> None:
    from lrlab.schedules import reduce_on_plateau

    w, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    lr_t = torch.tensor(0.0)
    opt = torch.optim.SGD([{"params": [w], "lr": lr_t}, {"params": [b], "lr_scale": 0.25}], lr=0.0)
    rule = reduce_on_plateau(1.0, factor=0.5, patience=0)
    sched = lt.plateau(opt, rule)
    metrics = _plateau_metrics(20, 1)
    want = rule(metrics)
    for m, lr in zip(metrics, want):
        sched.step(m)
        assert opt.param_groups[0]["lr"] is lr_t and float(lr_t) == np.float32(lr)
        assert opt.param_groups[1]["lr"] == 0.25 * lr
    assert len(set(want.tolist())) >= 3


def test_plateau_lr_resumes_bit_for_bit(tmp_path: Path) -> None:
    from lrlab.schedules import reduce_on_plateau

    rule = reduce_on_plateau(0.2, factor=0.5, patience=1, cooldown=1)
    metrics = _plateau_metrics(50, 2)
    whole = rule(metrics).tolist()
    for cut in (0, 7, 23, 49):
        opt = torch.optim.SGD(_params(), lr=0.0)
        sched = lt.plateau(opt, rule)
        for m in metrics[:cut]:
            sched.step(m)
        torch.save({"sched": sched.state_dict()}, tmp_path / "ckpt.pt")
        loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)["sched"]
        opt2 = torch.optim.SGD(_params(), lr=0.0)
        sched2 = lt.plateau(opt2, reduce_on_plateau(1.0))  # replaced by the saved rule
        sched2.load_state_dict(loaded)
        assert sched2.rule == rule and sched2.state == sched.state
        assert opt2.param_groups[0]["lr"] == (whole[cut - 1] if cut else 0.2)
        rest = []
        for m in metrics[cut:]:
            sched2.step(m)
            rest.append(opt2.param_groups[0]["lr"])
        assert rest == whole[cut:]


def test_plateau_lr_bad_input_is_named() -> None:
    from lrlab.schedules import reduce_on_plateau

    opt = torch.optim.SGD(_params(), lr=0.1)
    with pytest.raises(UsageError, match="Argument `rule` of PlateauLR"):
        lt.plateau(opt, cosine(0.1, 10))
    with pytest.raises(UsageError, match="Malformed reduce_on_plateau text"):
        lt.plateau(opt, "cosine(0.1, 10)")
    assert lt.plateau(opt, "reduce_on_plateau(0.1, patience=2)").rule.patience == 2
    with pytest.raises(UsageError, match="Argument `optimizer`"):
        lt.plateau(object(), reduce_on_plateau(0.1))  # type: ignore[arg-type]
    sched = lt.plateau(opt, reduce_on_plateau(0.1).to_config())  # a config is a rule too
    with pytest.raises(UsageError, match="Received: metric='x'"):
        sched.step("x")
    with pytest.raises(UsageError, match=r"Argument `epoch` of PlateauLR\.step"):
        sched.step(1.0, 3)
    with pytest.raises(UsageError, match="exactly the keys 'rule' and 'state'"):
        sched.load_state_dict({"last_epoch": 3})
    with pytest.raises(UsageError, match="Key 'state'"):
        sched.load_state_dict({"rule": reduce_on_plateau(0.1).to_config(), "state": {"lr": 1}})
    good = sched.state_dict()
    for key, bad in (
        ("lr", -1.0),
        ("lr", "0.1"),
        ("best", math.nan),
        ("bad", -1),
        ("cooldown", 1.5),
    ):
        broken = {"rule": good["rule"], "state": {**good["state"], key: bad}}
        with pytest.raises(UsageError, match=f"holds a bad '{key}'"):
            sched.load_state_dict(broken)
    assert sched.state.evaluations == 0 and opt.param_groups[0]["lr"] == 0.1  # nothing lost


def test_plateau_lr_in_lightning_gets_the_monitored_metric() -> None:
    import lightning

    from lrlab.schedules import reduce_on_plateau

    rule = reduce_on_plateau(0.5, factor=0.5, patience=0)
    metrics = _plateau_metrics(6, 3)

    class Tiny(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            (x,) = batch
            self.log("watched", metrics[self.current_epoch], on_epoch=True, on_step=False)
            return self.layer(x).pow(2).mean()

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=0.0)
            sched = lt.plateau(opt, rule)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "watched"}}

    data = torch.utils.data.TensorDataset(torch.randn(4, 3))
    trainer = _fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=2), max_epochs=len(metrics))
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(sched, lt.PlateauLR)
    assert sched.state.evaluations == len(metrics)
    assert sched.get_last_lr() == [rule(metrics)[-1]]
    assert sched.state.reductions >= 1


def test_set_lrs_is_the_one_setter_a_loop_of_your_own_can_call() -> None:
    w, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(1))
    t = torch.tensor(0.5)
    opt = torch.optim.SGD([{"params": [w], "lr_scale": 0.1}, {"params": [b], "lr": t}], lr=1.0)
    got = lrlab.torch.set_lrs(opt, "lr_scale", 0.3)
    assert opt.param_groups[0]["lr"] == 0.1 * 0.3 and got[0] == 0.1 * 0.3
    assert opt.param_groups[1]["lr"] is t and float(t) == pytest.approx(0.3, rel=1e-7)
    with pytest.raises(UsageError, match="lr_scale"):
        lrlab.torch.set_lrs(
            torch.optim.SGD([{"params": [w], "lr_scale": -1.0}], lr=1.0), "lr_scale", 0.3
        )
