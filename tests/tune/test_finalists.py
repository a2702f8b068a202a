"""Racing the finalists: the best trials retrained on more seeds, each run once, best mean wins."""

from __future__ import annotations

import math
import time

import numpy as np
import optuna
import pytest

from lrlab import tasks
from lrlab.errors import UsageError
from lrlab.schedules import rule_from_config
from lrlab.train import run
from lrlab.tune import Space, tune
from lrlab.tune._finalists import SUFFIX

SPACE = Space(lr=(1e-3, 0.3), optimizers=("sgd", "adam"), schedules=("constant", "cosine"))


@pytest.fixture(scope="module")
def cancer():  # type: ignore[no-untyped-def]
    return tasks.get("breast_cancer")


def _plain(task, row, seed, steps):  # type: ignore[no-untyped-def]
    """The trial's configuration trained by plain ``train.run`` with ``seed``."""
    sched = rule_from_config(row.schedule_config)
    h = run(task, row.optimizer, schedule=sched, steps=steps, seed=seed, step_size_every=10**9)
    return h.final_val_loss


def _confirm_trials(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study + SUFFIX, storage=storage).trials


def test_finalists_are_retrained_on_new_seeds_and_picked_by_the_mean(cancer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'f.db'}"
    steps = 40
    res = tune(
        cancer, sampler="random", trials=6, pruner="none", space=SPACE, storage=storage,
        study="f", steps=steps, seed=3, repeats=2, finalists=2, finalist_seeds=2,
    )  # fmt: skip
    done = sorted(
        (r for r in res.trials if r.value is not None and math.isfinite(r.value)),
        key=lambda r: r.value,
    )
    top, rest = done[:2], done[2:]
    for row in top:
        # the search ran seeds 3 and 4 (repeats=2); the finalists' runs are seeds 5 and 6
        assert list(row.finalist_losses) == [5, 6]
        for s, loss in row.finalist_losses.items():
            assert loss == _plain(cancer, row, s, steps)
        runs = [*row.run_losses, *row.finalist_losses.values()]
        assert row.mean_loss == pytest.approx(float(np.mean(runs)), rel=1e-12)
    assert all(r.finalist_losses is None for r in rest)
    assert res.best is not None
    assert res.best.number == min(top, key=lambda r: r.mean_loss).number
    # every confirmation run counted once: 6 trials x 2 seeds, then 2 finalists x 2 seeds
    assert res.finalist_steps == 4 * steps
    assert res.total_steps == 6 * 2 * steps + 4 * steps
    confirm = _confirm_trials(storage, "f")
    assert sorted((t.user_attrs["finalist"], t.user_attrs["seed"]) for t in confirm) == sorted(
        (r.number, s) for r in top for s in (5, 6)
    )
    assert all(t.state.name == "COMPLETE" for t in confirm)
    # the search study's sampler and pruner never saw these runs
    assert len(optuna.load_study(study_name="f", storage=storage).trials) == 6
    assert res.to_dict()["finalist_steps"] == 4 * steps


def test_a_resumed_study_reuses_the_runs_it_has(cancer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'r.db'}"
    kw = dict(sampler="random", pruner="none", space=SPACE, storage=storage, study="r", steps=20)
    first = tune(cancer, trials=4, finalists=2, finalist_seeds=1, **kw)
    assert len(_confirm_trials(storage, "r")) == 2
    again = tune(cancer, trials=4, finalists=2, finalist_seeds=1, **kw)
    assert len(_confirm_trials(storage, "r")) == 2  # nothing new: both runs reused
    assert again.best == first.best and again.total_steps == first.total_steps
    more = tune(cancer, trials=8, finalists=3, finalist_seeds=2, **kw)
    confirm = _confirm_trials(storage, "r")
    pairs = [(t.user_attrs["finalist"], t.user_attrs["seed"]) for t in confirm]
    assert len(pairs) == len(set(pairs))  # no run twice
    raced = [r for r in more.trials if r.mean_loss is not None]
    assert len(raced) == 3
    want = {(r.number, s) for r in raced for s in (1, 2)}
    assert want <= set(pairs)
    # the runs kept from the first call are those of its finalists on seed 1
    assert {(r.number, 1) for r in first.trials if r.mean_loss is not None} <= set(pairs)
    assert more.finalist_steps == 20 * len(pairs)
    plain = tune(cancer, trials=8, **kw)  # no racing now: the earlier runs still count
    assert plain.finalist_steps == more.finalist_steps and plain.total_steps == more.total_steps
    assert all(r.finalist_losses is None for r in plain.trials)


def test_finalists_with_cv_run_every_fold_per_seed(cancer) -> None:  # type: ignore[no-untyped-def]
    res = tune(
        cancer, sampler="random", trials=3, cv=2, pruner="none", space=SPACE, storage="memory",
        steps=10, finalists=1, finalist_seeds=2,
    )  # fmt: skip
    assert res.best is not None and res.best.mean_loss is not None
    assert res.finalist_steps == 2 * 2 * 10  # 2 seeds x 2 folds
    runs = [res.best.value, *res.best.finalist_losses.values()]
    assert res.best.mean_loss == pytest.approx(float(np.mean(runs)), rel=1e-12)
    assert res.best.mean_seeds == 3  # the search's seed and 2 more, 2 folds each


def test_budget_leaves_room_for_the_finalists(cancer) -> None:  # type: ignore[no-untyped-def]
    kw = dict(sampler="random", trials=1000, pruner="none", space=SPACE, storage="memory", steps=10)
    res = tune(cancer, budget=85, finalists=2, finalist_seeds=2, **kw)  # type: ignore[arg-type]
    # 40 steps kept for 2 x 2 runs: the search stops at 40 of its 45, then 4 runs
    assert res.total_steps == 80 and res.finalist_steps == 40 and res.n_finished == 4
    with pytest.raises(UsageError, match=r"must cover one trial .* Received: budget=45"):
        tune(cancer, budget=45, finalists=2, finalist_seeds=2, **kw)  # type: ignore[arg-type]


def test_no_finalists_is_the_plain_search(cancer) -> None:  # type: ignore[no-untyped-def]
    kw = dict(sampler="random", trials=3, pruner="none", space=SPACE, storage="memory", steps=10)
    plain = tune(cancer, **kw)  # type: ignore[arg-type]
    assert plain.finalist_steps == 0 and all(r.finalist_losses is None for r in plain.trials)
    assert "finalist mean" not in plain.table()
    raced = tune(cancer, finalists=1, **kw)  # type: ignore[arg-type]
    assert [r.value for r in raced.trials] == [r.value for r in plain.trials]
    assert "finalist mean" in raced.table()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"finalists": -1},
         "Argument `finalists` must be a non-negative integer. Received: finalists=-1"),
        ({"finalist_seeds": 0},
         "Argument `finalist_seeds` must be a positive integer. Received: finalist_seeds=0"),
        ({"finalists": 1.5}, "Received: finalists=1.5"),
    ],
)  # fmt: skip
def test_bad_finalist_arguments(cancer, kwargs, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as info:
        tune(cancer, storage="memory", **kwargs)
    assert fragment in str(info.value)


def test_two_claims_of_one_run_the_lower_trial_keeps_it() -> None:
    """The claim protocol, with the race forced: B picks a run while A is still choosing."""
    import threading

    from lrlab.tune._finalists import _Confirm
    from lrlab.tune._folds import Folds

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    a, b = study.ask(), study.ask()  # trial numbers 0 and 1, both RUNNING
    pairs = [(7, 1), (7, 2)]
    confirm = _Confirm(
        objective=len, steps=1, folds=Folds(None, 0), finalists={}, pairs=pairs, claim_timeout=30
    )
    got: dict[str, object] = {}
    thread = threading.Thread(target=lambda: got.setdefault("b", confirm._claim(b)))
    thread.start()
    # B sees A running with no claim yet: it takes the first run and waits for A's choice
    deadline = time.monotonic() + 10
    while "finalist" not in study.trials[1].user_attrs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (study.trials[1].user_attrs["finalist"], study.trials[1].user_attrs["seed"]) == (7, 1)
    a.set_user_attr("finalist", 7)  # A made the same choice at the same moment
    a.set_user_attr("seed", 1)
    thread.join(timeout=10)
    assert got["b"] is None  # B yields to the lower-numbered trial
    c = study.ask()
    b.set_user_attr("lrlab_surplus", True)
    study.tell(b, state=optuna.trial.TrialState.FAIL)
    assert confirm._claim(c) == (7, 2)  # the next trial takes the run nobody holds
    d = study.ask()
    assert confirm._claim(d) is None  # every run is held
    d.set_user_attr("lrlab_surplus", True)
    study.tell(d, state=optuna.trial.TrialState.FAIL)
    study.tell(a, state=optuna.trial.TrialState.FAIL)  # A's worker died
    e = study.ask()
    assert confirm._claim(e) == (7, 1)  # its run is free again


def test_the_pick_when_finalists_diverge_on_a_new_seed() -> None:
    from lrlab.tune.result import TuneResult

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.InMemoryStorage()
    search = optuna.create_study(study_name="s", storage=storage)
    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)}
    for lr, value in [(0.1, 0.30), (0.2, 0.20), (0.05, 0.40), (0.01, 0.90)]:
        search.add_trial(
            optuna.trial.create_trial(
                params={"lr": lr}, distributions=dist, value=value,
                user_attrs={"config": {"lr": lr, "optimizer": "sgd", "schedule": "constant"},
                            "run_losses": [value], "steps": 10},
            )
        )  # fmt: skip
    confirm = optuna.create_study(study_name="s" + SUFFIX, storage=storage)

    def run(number: int, loss: float) -> None:
        confirm.add_trial(
            optuna.trial.create_trial(
                value=loss, user_attrs={"finalist": number, "seed": 1, "steps": 10}
            )
        )

    def pick() -> TuneResult:
        return TuneResult.from_study(
            search, "memory", target=4, task="t", finalists_study=confirm, finalists=3,
            extra_seeds=[1],
        )  # fmt: skip

    run(1, math.inf)  # the search's best (lr 0.2) diverges on seed 1
    run(0, 0.36)
    # until every finalist has run, the best is the search's, as without racing
    assert pick().best.number == 1  # type: ignore[union-attr]
    run(2, 0.30)
    res = pick()
    assert res.best is not None and res.best.number == 0  # mean 0.33 against 0.35 and inf
    assert res.best.mean_loss == pytest.approx(0.33, rel=1e-12)
    assert res.finalist_steps == 30 and res.total_steps == 4 * 10 + 30
    assert [r.mean_loss for r in res.trials][1] == math.inf
    assert res.to_dict()["trials"][1]["mean_loss"] == "inf"  # strict JSON, lrlab._json
    # every finalist diverged somewhere: the search value decides, as without racing
    storage2 = optuna.storages.InMemoryStorage()
    confirm = optuna.create_study(study_name="s2", storage=storage2)
    for n in (0, 1, 2):
        run(n, math.inf)
    assert pick().best.number == 1  # type: ignore[union-attr]


def test_the_plateau_family_is_searched_raced_and_read_back(cancer) -> None:  # type: ignore[no-untyped-def]
    """A search over the reduce-on-plateau family: each trial records the rule's config, the
    finalists retrain the rule, and the best configuration reads back as the rule."""
    from lrlab.schedules import reduce_on_plateau, rule_from_config

    space = Space(lr=(1e-2, 0.3), optimizers=("momentum",), schedules=("plateau",))
    steps = 60
    res = tune(
        cancer, sampler="random", trials=4, pruner="none", space=space, storage="memory",
        steps=steps, seed=1, finalists=1, finalist_seeds=1,
    )  # fmt: skip
    for row in res.trials:
        rule = rule_from_config(row.schedule_config)
        assert isinstance(rule, reduce_on_plateau)
        assert 0.1 <= rule.factor <= 0.7 and 0 <= rule.patience <= 2
        assert rule.lr == pytest.approx(row.lr, rel=1e-12)
    best = res.best
    assert best is not None and isinstance(res.best_schedule, reduce_on_plateau)
    (seed,) = best.finalist_losses
    assert best.finalist_losses[seed] == _plain(cancer, best, seed, steps)
