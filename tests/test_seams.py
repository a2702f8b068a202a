"""lrlab._seams: every private attribute lrlab reads or writes exists in the installed
PyTorch and Keras and means what lrlab assumes; if an upgrade drops one, these fail.
lrlab's scheduler gives PyTorch's own step-order warnings, on the first step only."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import types
import warnings
from typing import Any

import pytest
import torch

import lrlab.torch as lt
from lrlab import _seams
from lrlab.schedules import step


def _sgd() -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=1.0)


def _messages(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record]


def test_torch_schedulers_have_the_private_attributes_the_seam_uses() -> None:
    opt = _sgd()
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    for name in _seams.TORCH_SCHEDULER_ATTRS:
        assert name in vars(sched), f"torch's LRScheduler no longer sets {name}"
    assert sched._step_count == 1  # the constructor's step
    assert sched._last_lr is sched.get_last_lr()
    ours = lt.scheduler(opt, "constant(0.5)")
    assert ours._step_count == 1 and ours._last_lr is ours.get_last_lr() == [0.5]


def test_get_lr_is_flagged_inside_step_only() -> None:
    seen: list[bool] = []

    class Probe(torch.optim.lr_scheduler.LRScheduler):
        def get_lr(self) -> list[Any]:
            seen.append(self._get_lr_called_within_step)
            return [g["lr"] for g in self.optimizer.param_groups]

    opt = _sgd()
    probe = Probe(opt)
    opt.step()
    probe.step()
    assert seen == [True, True] and probe._get_lr_called_within_step is False
    ours, theirs = lt.scheduler(_sgd(), "constant(1.0)"), torch.optim.lr_scheduler.StepLR(_sgd(), 3)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert ours.get_lr() == [1.0]
        theirs.get_lr()
    assert len(record) == 2 and _messages(record)[0] == _messages(record)[1]
    assert record[0].filename == __file__  # the warning points at the caller


@pytest.mark.parametrize("misuse", ["scheduler first", "optimizer.step replaced"])
def test_the_step_order_warnings_are_pytorchs_own(misuse: str) -> None:
    out = []
    for make in (
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.5),
        lambda o: lt.scheduler(o, step(1.0, 0.5, 1)),
    ):
        opt = _sgd()
        sched = make(opt)
        if misuse == "optimizer.step replaced":
            opt.step = opt.step.__wrapped__.__get__(opt)  # type: ignore[attr-defined,method-assign]
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            sched.step()
            sched.step()  # warned on the first step only
        assert sched._step_count == 3
        assert sched.get_last_lr() == [0.25]
        out.append(_messages(record))
    assert len(out[0]) == 1 and out[0] == out[1], out


def test_the_right_order_does_not_warn_and_a_restored_scheduler_counts_as_stepped() -> None:
    opt = _sgd()
    sched = lt.scheduler(opt, step(1.0, 0.5, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
        fresh = lt.scheduler(_sgd(), step(1.0, 0.5, 1))
        fresh._step_count = 0
        fresh.load_state_dict(sched.state_dict())
        assert fresh._step_count == 1 and fresh.get_last_lr() == [0.5]


def test_keras_keeps_a_schedule_only_in_its_private_slot() -> None:
    keras = pytest.importorskip("keras")
    import lrlab.keras as lk

    lr = lk.schedule("constant(0.1)")
    opt = keras.optimizers.SGD(learning_rate=lr)
    assert _seams.keras_rate(opt) is lr
    assert not isinstance(opt.learning_rate, keras.optimizers.schedules.LearningRateSchedule)
    plain = keras.optimizers.SGD(learning_rate=0.25)
    assert float(_seams.keras_rate(plain)) == 0.25


def test_keras_takes_a_variable_in_a_schedules_place_and_gives_it_back() -> None:
    """The range test's swap: the optimizer reads the variable; Keras's public setter puts
    the schedule back and untracks the variable; an unbuilt model builds from one batch."""
    keras = pytest.importorskip("keras")
    import numpy as np

    sched = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(sched), loss="mse")
    opt = model.optimizer
    batch = (np.ones((4, 3), np.float32), np.ones((4, 1), np.float32), None)
    _seams.keras_build(model, batch)
    assert model.built and opt.built and len(model.trainable_variables) == 2
    before = list(opt.variables)
    var = opt.add_variable((), initializer="zeros", dtype="float32", name="rate")
    _seams.keras_set_rate(opt, var)
    var.assign(0.25)
    assert float(opt.learning_rate) == 0.25 and opt.variables[-1] is var
    opt.learning_rate = sched
    assert _seams.keras_rate(opt) is sched
    assert len(opt.variables) == len(before)
    assert all(a is b for a, b in zip(opt.variables, before))


def test_optuna_trials_have_the_private_names_the_seam_uses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A trial's id and grid point, the storage behind Optuna's cache, the heartbeat table."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'seam.db'}", heartbeat_interval=60, grace_period=120
    )
    sampler = optuna.samplers.GridSampler({"x": [1.0, 2.0]}, seed=0)
    study = optuna.create_study(storage=storage, sampler=sampler)
    seen: list[tuple[int, object]] = []

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_categorical("x", [1.0, 2.0])
        seen.append((_seams.trial_id(trial), _seams.grid_point(trial)))
        return float(x)

    study.optimize(objective, n_trials=2)
    frozen = study.get_trials()
    assert [i for i, _ in seen] == [_seams.trial_id(t) for t in frozen]
    assert sorted(p for _, p in seen) == [0, 1]  # type: ignore[type-var]
    assert _seams.backend_storage(study).get_trial(seen[0][0]).state.name == "COMPLETE"
    running = study.ask()  # a RUNNING trial: beats once the heartbeat thread records it
    ids = [_seams.trial_id(running)]
    assert _seams.beating(storage, ids) == set()
    storage.record_heartbeat(ids[0])
    assert _seams.beating(storage, ids) == set(ids) and _seams.beating(storage, []) == set()


def test_lrlab_tune_and_compare_are_plain_packages() -> None:
    """No module's class is swapped: the functions are imported by name."""
    import lrlab.compare
    import lrlab.tune
    from lrlab.compare import compare
    from lrlab.tune import tune

    assert type(lrlab.tune) is types.ModuleType and type(lrlab.compare) is types.ModuleType
    assert callable(tune) and callable(compare) and not callable(lrlab.tune)
