"""The trial contract: tune(objective) on the user's own training, one code path with the tasks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import optuna
import pytest
import torch

from lrlab import tasks
from lrlab.errors import LrlabWarning, UsageError
from lrlab.schedules import reduce_on_plateau
from lrlab.train import run
from lrlab.tune import Space, Trial, tune

SPACE = Space(optimizers=("sgd", "adam"), schedules=("constant", "cosine"))


@pytest.fixture(scope="module")
def cancer() -> tasks.Task:
    return tasks.get("breast_cancer")


def _own(task: tasks.Task):  # type: ignore[no-untyped-def]
    """What a user writes to train a task through the contract (no lrlab internals)."""

    def objective(trial: Trial) -> float:
        data = task
        if trial.fold is not None:
            y = task.y_train.reshape(len(task.x_train), -1)[:, 0].long()
            data = task.with_splits(*trial.split(y))

        def evaluated(step: int, loss: float) -> None:
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        hist = run(
            data, trial.optimizer_name, schedule=trial.schedule, steps=trial.steps,
            seed=trial.seed, on_eval=evaluated, step_size_every=10**9,
        )  # fmt: skip
        return float(hist.final_val_loss)

    return objective


def _rows(result):  # type: ignore[no-untyped-def]
    return [(r.number, r.state, r.optimizer, r.lr, r.schedule, r.params) for r in result.trials]


@pytest.mark.parametrize("extra", [{}, {"cv": 3}, {"repeats": 2, "pruner": "median"}])
def test_a_task_and_an_objective_that_trains_it_give_the_same_trials(cancer, extra) -> None:  # type: ignore[no-untyped-def]
    kw = dict(sampler="random", trials=5, space=SPACE, storage="memory", steps=30, seed=3)
    ours = tune(cancer, **kw, **extra)  # type: ignore[arg-type]
    theirs = tune(_own(cancer), **kw, **extra)  # type: ignore[arg-type]
    assert _rows(ours) == _rows(theirs)
    for a, b in zip(ours.trials, theirs.trials):
        assert (a.value is None) == (b.value is None) and (a.run_losses is None) == (
            b.run_losses is None
        )
        if a.value is not None:
            assert a.value == pytest.approx(b.value, rel=1e-12)
        if a.run_losses is not None:
            assert a.run_losses == pytest.approx(b.run_losses, rel=1e-12)
        if not a.diverged:
            assert a.steps == b.steps
    assert ours.task == "breast_cancer" and theirs.task.endswith("_own.<locals>.objective")


def _quadratic(trial: Trial) -> float:
    """An own loop on an own model: f(w) = |w|^2 / 2 from w = 3, reported every 5 steps."""
    w = torch.nn.Parameter(torch.full((2,), 3.0, dtype=torch.float64))
    opt = trial.optimizer([w])
    sched = trial.scheduler(opt)
    for step in range(1, trial.steps + 1):
        opt.zero_grad()
        loss = 0.5 * (w**2).sum()
        loss.backward()
        opt.step()
        sched.step()
        if step % 5 == 0:
            value = float(0.5 * (w.detach() ** 2).sum())
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
    return float(0.5 * (w.detach() ** 2).sum())


def test_an_own_loop_gets_a_real_optimizer_and_scheduler_at_the_trials_rate() -> None:
    seen: list[tuple[float, float, float]] = []

    def objective(trial: Trial) -> float:
        w = torch.nn.Parameter(torch.zeros(1))
        opt = trial.optimizer([w])
        sched = trial.scheduler(opt)
        first = opt.param_groups[0]["lr"]
        for _ in range(trial.steps):
            opt.step()
            sched.step()
        seen.append((trial.lr, first, float(trial.schedule(0))))
        assert isinstance(opt, torch.optim.SGD) and trial.optimizer_name == "sgd"
        assert sched.get_last_lr() == [trial.schedule(trial.steps)]
        return trial.lr

    space = Space(lr=(0.01, 1.0), optimizers=("sgd",), schedules=("cosine",))
    res = tune(objective, steps=7, trials=3, space=space, storage="memory", sampler="random")
    assert res.n_finished == 3 and len(seen) == 3
    for lr, first, at0 in seen:
        assert first == lr == at0
    assert res.best is not None and res.best.value == min(lr for lr, _, _ in seen)


def test_pruning_and_step_counting_through_the_objectives_reports() -> None:
    space = Space(lr=(1e-4, 1.0), optimizers=("sgd",), schedules=("constant",), grid_points=6)
    res = tune(_quadratic, steps=40, sampler="grid", trials=6, space=space, storage="memory")
    states = {round(r.lr or 0, 6): r.state for r in res.trials}
    assert sorted(states.values()).count("PRUNED") >= 1, states
    assert res.n_finished == 6
    for r in res.trials:
        # a complete run counts its steps; a pruned one its last reported step
        assert r.steps == 40 if r.state == "COMPLETE" else r.steps in range(5, 40, 5)
    best = min((r for r in res.trials if r.completed), key=lambda r: r.value or 0)
    assert res.best == best and best.lr == 1.0  # w -> 0 fastest at lr 1 on this quadratic


def test_cv_calls_the_objective_once_per_fold_with_the_same_stratified_folds() -> None:
    from sklearn.model_selection import StratifiedKFold

    y = np.array([0, 1] * 15)
    calls: list[tuple[int, int | None, tuple[int, ...]]] = []

    def objective(trial: Trial) -> float:
        _, val = trial.split(y)
        calls.append((trial.number, trial.fold, tuple(val.tolist())))
        return float(trial.fold or 0) + trial.lr

    res = tune(objective, steps=3, cv=3, trials=2, storage="memory", sampler="random", seed=4)
    want = [
        tuple(va.tolist())
        for _, va in StratifiedKFold(3, shuffle=True, random_state=4).split(np.zeros((30, 1)), y)
    ]
    assert [c[1] for c in calls] == [0, 1, 2, 0, 1, 2]
    assert [c[2] for c in calls] == want + want
    for r in res.trials:
        assert r.run_losses == pytest.approx([(r.lr or 0) + k for k in range(3)], rel=1e-12)
        assert r.value == pytest.approx((r.lr or 0) + 1.0, rel=1e-12)


def test_a_nan_or_infinite_loss_is_a_divergence_never_a_best() -> None:
    def objective(trial: Trial) -> float:
        return math.nan if trial.lr > 0.01 else trial.lr

    space = Space(lr=(1e-3, 1.0), optimizers=("sgd",), schedules=("constant",), grid_points=4)
    res = tune(objective, steps=2, sampler="grid", trials=4, space=space, storage="memory")
    diverged = [r for r in res.trials if r.diverged]
    assert len(diverged) == 2 and all(r.value == math.inf for r in diverged)
    assert res.best is not None and res.best.lr == pytest.approx(1e-3, rel=1e-12)


def test_an_error_fails_its_trial_and_reaches_the_caller_unless_caught(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def objective(trial: Trial) -> float:
        if trial.number == 1:
            raise ValueError("batch\nof the wrong shape")
        return trial.lr

    storage = f"sqlite:///{tmp_path / 'e.db'}"
    with pytest.raises(ValueError, match="batch"):
        tune(objective, steps=20, trials=3, storage=storage, study="e", sampler="random")
    st = optuna.load_study(study_name="e", storage=storage)
    assert [t.state.name for t in st.trials] == ["COMPLETE", "FAIL"]
    assert st.trials[1].user_attrs["error"] == "ValueError: batch of the wrong shape"
    res = tune(objective, steps=20, trials=3, storage="memory", sampler="random", catch=ValueError)
    assert res.n_finished == 3 and [r.state for r in res.trials].count("FAIL") == 1
    assert res.trials[1].error == "ValueError: batch of the wrong shape"

    def always(trial: Trial) -> float:
        raise KeyError("missing")

    res = tune(always, steps=20, trials=2, storage="memory", catch=(KeyError,))
    assert res.n_finished == 0 and len(res.trials) == 2  # stops after `trials` failures


def test_the_objectives_own_parameters_are_recorded_and_replayed_for_finalists() -> None:
    seen: dict[tuple[int, int], float] = {}

    def objective(trial: Trial) -> float:
        width = trial.optuna.suggest_float("width", 1.0, 4.0)
        seen[(trial.number, trial.seed)] = width
        return (width - 2.0) ** 2 + trial.lr

    space = Space(lr=(1e-4, 1e-3), optimizers=("sgd",), schedules=("constant",))
    res = tune(
        objective, steps=2, trials=6, space=space, storage="memory", sampler="random",
        finalists=2, finalist_seeds=1,
    )  # fmt: skip
    assert res.best is not None and "width" in res.best.user_params
    assert res.best_params["width"] == res.best.user_params["width"]
    raced = [r for r in res.trials if r.finalist_losses]
    assert len(raced) == 2
    for r in raced:  # the confirmation run on seed 1 saw the finalist's own width
        assert seen[(r.number, 1)] == r.user_params["width"] == seen[(r.number, 0)]
        assert r.finalist_losses == {1: pytest.approx(r.value, rel=1e-12)}
    assert "width" in res.to_dict()["best"]["user_params"]


def test_a_study_refuses_another_objective_or_space(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 's.db'}"
    tune(_quadratic, steps=5, trials=1, storage=storage, study="s", space=SPACE)

    def other(trial: Trial) -> float:
        return 1.0

    with pytest.raises(
        UsageError, match=r"made with objective='.*_quadratic'; it cannot be resumed"
    ):
        tune(other, steps=5, trials=2, storage=storage, study="s", space=SPACE)
    with pytest.raises(UsageError, match=r"made with space=.*it cannot be resumed with space="):
        tune(_quadratic, steps=5, trials=2, storage=storage, study="s", space=Space())
    res = tune(_quadratic, steps=5, trials=2, storage=storage, study="s", space=SPACE)
    assert res.n_finished == 2 and res.study == "s"


def test_bad_objectives_and_missing_steps_are_refused_by_name() -> None:
    with pytest.raises(UsageError, match=r"^Argument `steps` must be given with an objective"):
        tune(_quadratic, trials=1, storage="memory")
    with pytest.raises(
        UsageError, match=r"^Argument `objective` must be a function.*Received: objective=3$"
    ):
        tune(3, steps=2, storage="memory")
    with pytest.raises(
        UsageError, match=r"Received: objective=<class 'torch.nn.modules.linear.Linear'>"
    ):
        tune(torch.nn.Linear, steps=2, storage="memory")
    with pytest.raises(UsageError, match=r"^Argument `catch` must be an exception class"):
        tune(_quadratic, steps=2, storage="memory", catch="ValueError")  # type: ignore[arg-type]

    def returns_text(trial: Trial) -> float:
        return "low"  # type: ignore[return-value]

    with pytest.raises(
        UsageError, match=r"^The objective must return the loss.*Received: str 'low'"
    ):
        tune(returns_text, steps=20, trials=1, storage="memory")


def test_trial_checks_its_own_arguments() -> None:
    errors: list[str] = []

    def objective(trial: Trial) -> float:
        for call in (
            lambda: trial.report(1.0, -1),
            lambda: trial.report("x", 1),  # type: ignore[arg-type]
            lambda: trial.split(10),
        ):
            try:
                call()
            except UsageError as exc:
                errors.append(str(exc))
        return 0.0

    tune(objective, steps=20, trials=1, storage="memory")
    assert errors[0].startswith("Argument `step` of trial.report must be a non-negative integer.")
    assert errors[1].startswith("Argument `value` of trial.report must be a number.")
    assert errors[2].startswith("trial.split needs a study with cross-validation")


def test_a_plateau_family_gives_a_plateau_scheduler() -> None:
    kinds: list[str] = []

    def objective(trial: Trial) -> float:
        w = torch.nn.Parameter(torch.zeros(1))
        sched = trial.scheduler(trial.optimizer([w]))
        kinds.append(type(sched).__name__)
        assert isinstance(trial.schedule, reduce_on_plateau) == (kinds[-1] == "PlateauLR")
        return trial.lr

    space = Space(optimizers=("sgd",), schedules=("plateau", "constant"))
    tune(objective, steps=4, trials=6, space=space, storage="memory", sampler="random")
    assert set(kinds) == {"PlateauLR", "ScheduleLR"}


def test_a_best_rate_on_the_edge_of_the_range_is_said_with_the_range_to_try_next() -> None:
    space = Space(lr=(1e-4, 1e-2), optimizers=("sgd",), schedules=("constant",), grid_points=3)
    said = r"at the high edge of the searched range \[0.0001, 0.01\]"
    with pytest.warns(LrlabWarning, match=said):
        res = tune(_quadratic, steps=10, sampler="grid", trials=3, space=space, storage="memory")
    assert res.best is not None and res.best.lr == pytest.approx(1e-2, rel=1e-12)
    edge = res.edge
    assert edge is not None and edge["side"] == "high"
    a, b = edge["next"]  # the same two decades, centred on the best rate
    assert a == pytest.approx(1e-3, rel=1e-12) and b == pytest.approx(1e-1, rel=1e-12)
    assert "search [0.001, 0.1] next" in res.summary()
    assert res.to_dict()["edge"]["side"] == "high"

    def bowl(trial: Trial) -> float:  # best at 1e-3, inside the range
        return math.log10(trial.lr / 1e-3) ** 2

    with warnings.catch_warnings():
        warnings.simplefilter("error", LrlabWarning)
        inside = tune(bowl, steps=10, sampler="grid", trials=3, space=space, storage="memory")
    assert inside.edge is None and inside.edge_note() is None
    assert "searched range" not in inside.summary() and len(inside.summary().splitlines()) == 2
