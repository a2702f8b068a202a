"""The search: exact trial targets, resume, CV folds, pruning, step accounting, many workers."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import optuna
import pytest

from lrlab import tasks
from lrlab.errors import UsageError
from lrlab.tune import TPE_STARTUP_TRIALS, Family, Space, tune

SPACE = Space(optimizers=("momentum", "adam"), schedules=("constant", "cosine"))
#: The worker script's space (its default schedule).
SPACE_SG = Space(optimizers=("sgd", "adam"), schedules=("constant",))


@pytest.fixture(scope="module")
def cancer():  # type: ignore[no-untyped-def]
    return tasks.get("breast_cancer")


def test_cv_trials_report_each_fold_and_count_steps(cancer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = tune(
        cancer,
        sampler="random",
        trials=4,
        cv=3,
        pruner="none",
        space=SPACE,
        run_dir=tmp_path,
        steps=12,
        seed=1,
    )
    assert res.n_finished == 4 and len(res.trials) == 4
    st = optuna.load_study(
        study_name="breast_cancer-random", storage=f"sqlite:///{tmp_path}/lrlab-studies.db"
    )
    for row, t in zip(res.trials, st.trials):
        assert row.state == "COMPLETE"
        folds = row.run_losses
        assert len(folds) == 3
        assert row.value == pytest.approx(float(np.mean(folds)), rel=1e-12)
        assert row.steps == 3 * 12
        # reported after each fold: the running mean of the folds so far
        assert sorted(t.intermediate_values) == [0, 1, 2]
        assert t.intermediate_values[1] == pytest.approx(np.mean(folds[:2]), rel=1e-12)
    assert res.total_steps == 4 * 36
    assert res.best is not None and res.best.value == min(r.value for r in res.trials)


def test_repeats_average_seeds_and_report_one_step_axis(cancer) -> None:  # type: ignore[no-untyped-def]
    from lrlab.train import run

    space = Space(lr=(1e-3, 1e-1), optimizers=("adam",), schedules=("constant",), grid_points=2)
    steps = 30
    res = tune(
        cancer, sampler="grid", trials=2, repeats=3, pruner="none", space=space,
        storage="memory", steps=steps, seed=4, study="rep",
    )  # fmt: skip
    st = res.trials
    assert res.n_finished == 2 and res.total_steps == 2 * 3 * steps
    for row in st:
        # each run is the plain training run with seed 4, 5, 6
        want = [
            run(cancer, "adam", lr=row.lr, steps=steps, seed=s, step_size_every=10**9)
            for s in (4, 5, 6)
        ]
        assert row.run_losses == [h.final_val_loss for h in want]
        assert row.value == pytest.approx(float(np.mean(row.run_losses)), rel=1e-12)
        assert row.steps == 3 * steps
        assert len(set(row.run_losses)) == 3  # the seeds differ


def test_repeats_running_mean_is_what_the_pruner_sees(cancer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'r.db'}"
    steps = 70  # evaluations at 30, 60 and the end
    res = tune(
        cancer, sampler="random", trials=2, repeats=2, pruner="none", space=SPACE,
        storage=storage, steps=steps, study="r",
    )  # fmt: skip
    st = optuna.load_study(study_name="r", storage=storage)
    assert cancer.eval_every == 30
    for row, t in zip(res.trials, st.trials):
        first, second = row.run_losses
        iv = t.intermediate_values
        assert sorted(iv) == [30, 60, 70, 70 + 30, 70 + 60, 140]
        assert iv[steps] == first  # the end of run 0: its own final loss
        assert iv[2 * steps] == pytest.approx((first + second) / 2, rel=1e-12)
    # with cv the report is per run: seed 0's folds, then seed 1's
    cv = tune(
        cancer, sampler="random", trials=1, repeats=2, cv=2, pruner="none", space=SPACE,
        storage=storage, steps=8, study="rcv",
    )  # fmt: skip
    t = optuna.load_study(study_name="rcv", storage=storage).trials[0]
    runs = cv.trials[0].run_losses
    assert len(runs) == 4 and cv.trials[0].steps == 4 * 8
    assert [t.intermediate_values[k] for k in range(4)] == pytest.approx(
        [np.mean(runs[: k + 1]) for k in range(4)], rel=1e-12
    )
    with pytest.raises(UsageError, match="repeats=2; it cannot be resumed with repeats=1"):
        tune(cancer, trials=3, space=SPACE, storage=storage, steps=steps, study="r")


def test_folds_are_stratified_kfold_on_the_training_split(cancer) -> None:  # type: ignore[no-untyped-def]
    from sklearn.model_selection import StratifiedKFold

    from lrlab.tune._folds import Folds
    from lrlab.tune._tasks import task_labels

    folds = Folds(3, seed=5).of(task_labels(cancer))
    y = cancer.y_train.numpy().reshape(len(cancer.x_train), -1)[:, 0]
    want = list(StratifiedKFold(3, shuffle=True, random_state=5).split(np.zeros((len(y), 1)), y))
    for (tr, va), (wtr, wva) in zip(folds, want):
        np.testing.assert_array_equal(tr, wtr)
        np.testing.assert_array_equal(va, wva)
    assert sorted(np.concatenate([va for _, va in folds]).tolist()) == list(range(len(y)))


def test_resume_by_name_to_a_total_target(cancer, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    first = tune(
        cancer, sampler="tpe", trials=3, space=SPACE, run_dir=tmp_path, steps=10, study="resume"
    )
    assert "resumed" not in capsys.readouterr().err  # a new study is not a resumed one
    again = tune(
        cancer, sampler="tpe", trials=5, space=SPACE, run_dir=tmp_path, steps=10, study="resume"
    )
    # Python says what the CLI says: this call carried on an old study.
    err = capsys.readouterr().err
    assert "resumed study 'resume' in " in err and "with 3 finished trials" in err
    assert first.n_finished == 3 and again.n_finished == 5
    assert [r.value for r in again.trials[:3]] == [r.value for r in first.trials]
    same = tune(
        cancer, sampler="tpe", trials=5, space=SPACE, run_dir=tmp_path, steps=10, study="resume"
    )
    assert len(same.trials) == 5  # target reached: nothing new runs
    assert "with 5 finished trials" in capsys.readouterr().err
    with pytest.raises(UsageError, match="steps=10; it cannot be resumed with steps=11"):
        tune(
            cancer, sampler="tpe", trials=6, space=SPACE, run_dir=tmp_path, steps=11, study="resume"
        )


def test_grid_covers_each_point_once(cancer) -> None:  # type: ignore[no-untyped-def]
    space = Space(
        lr=(1e-3, 1e-1), optimizers=("sgd",), schedules=("constant", "cosine"), grid_points=3
    )
    res = tune(
        cancer, sampler="grid", trials=50, pruner="none", space=space, storage="memory", steps=8
    )
    assert res.target == 6 and res.n_finished == 6
    points = {(round(r.lr, 12), r.schedule) for r in res.trials}
    want = {(round(v, 12), s) for v in np.geomspace(1e-3, 1e-1, 3) for s in ("constant", "cosine")}
    assert points == want


def test_tpe_starts_with_random_searchs_draws_then_parts(cancer) -> None:  # type: ignore[no-untyped-def]
    """The report says so: with one seed, TPE's start-up trials are random search's trials."""
    n = TPE_STARTUP_TRIALS
    runs = {
        sampler: tune(
            cancer,
            sampler=sampler,
            trials=n + 3,
            pruner="none",
            space=SPACE,
            storage="memory",
            steps=8,
            seed=3,
        )
        for sampler in ("random", "tpe")
    }
    configs = {
        sampler: [
            (r.optimizer, r.schedule_config) for r in sorted(res.trials, key=lambda r: r.number)
        ]
        for sampler, res in runs.items()
    }
    assert configs["tpe"][:n] == configs["random"][:n]
    assert all(a != b for a, b in zip(configs["tpe"][n:], configs["random"][n:], strict=True))


def test_median_pruning_stops_bad_trials_and_saves_steps(cancer) -> None:  # type: ignore[no-untyped-def]
    space = Space(lr=(1e-5, 1.0), optimizers=("sgd",), schedules=("constant",), grid_points=6)
    res = tune(
        cancer,
        sampler="grid",
        trials=6,
        cv=3,
        pruner="median",
        space=space,
        storage="memory",
        steps=10,
        seed=0,
    )
    pruned = [r for r in res.trials if r.state == "PRUNED"]
    assert pruned, res.table()
    for r in pruned:
        assert r.steps < 3 * 10 and r.steps % 10 == 0
    assert res.total_steps == sum(r.steps for r in res.trials) < 6 * 30


def _study_with(finished: list[tuple[dict[int, float], float]]) -> optuna.Study:
    st = optuna.create_study()
    for curve, final in finished:
        st.add_trial(
            optuna.trial.create_trial(
                params={}, distributions={}, value=final, intermediate_values=curve
            )
        )
    return st


def _running(curve: dict[int, float]) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        params={},
        distributions={},
        intermediate_values=curve,
        state=optuna.trial.TrialState.RUNNING,
    )


def test_projected_pruner_carries_the_best_improvement_to_the_end() -> None:
    from lrlab.tune._pruners import make_pruner

    pruner = make_pruner("projected", None, 20, 10, 1)
    # finished trials: value at step 10, final value at step 20
    st = _study_with([({10: 1.0, 20: 0.5}, 0.5), ({10: 2.0, 20: 1.5}, 1.5), ({10: 0.8}, 0.7)])
    # best improvement from step 10 to the end: x0.5; median final: 0.7
    assert pruner.prune(st, _running({10: 1.5}))  # 0.75 > 0.7
    assert not pruner.prune(st, _running({10: 1.3}))  # 0.65 < 0.7 ...
    median = optuna.pruners.MedianPruner(n_startup_trials=3)
    assert median.prune(st, _running({10: 1.3}))  # ... which the median at step 10 (1.0) prunes
    assert pruner.prune(st, _running({10: float("nan")}))
    # at step 20 the finished trials improve by nothing more: the median of the ends decides
    assert pruner.prune(st, _running({10: 0.6, 20: 0.75}))
    assert not pruner.prune(st, _running({10: 0.6, 20: 0.69}))
    # fewer than three finished trials: never
    two = _study_with([({10: 1.0, 20: 0.5}, 0.5), ({10: 2.0, 20: 1.5}, 1.5)])
    assert not pruner.prune(two, _running({10: 100.0}))
    # losses that are not all positive: the improvement is a difference
    neg = _study_with([({10: 0.0}, -1.0), ({10: 1.0}, 0.5), ({10: 2.0}, 1.8)])
    assert pruner.prune(neg, _running({10: 1.6}))  # 1.6 - 1.0 = 0.6 > 0.5
    assert not pruner.prune(neg, _running({10: 1.4}))  # 0.4


def test_projected_pruning_in_a_study(cancer) -> None:  # type: ignore[no-untyped-def]
    space = Space(lr=(1e-5, 1.0), optimizers=("sgd",), schedules=("constant",), grid_points=8)
    res = tune(
        cancer, sampler="grid", trials=8, pruner="projected", space=space, storage="memory",
        steps=90, seed=0,
    )  # fmt: skip
    pruned = [r for r in res.trials if r.state == "PRUNED"]
    assert pruned, res.table()
    assert all(r.steps < 90 and r.steps % 30 == 0 for r in pruned)
    done = [r.value for r in res.trials if r.state == "COMPLETE"]
    assert res.best is not None and res.best.value == min(done)


def test_hyperband_prunes_at_evaluation_steps(cancer) -> None:  # type: ignore[no-untyped-def]
    hb = tune(
        cancer,
        sampler="random",
        trials=4,
        pruner="hyperband",
        space=SPACE,
        storage="memory",
        steps=60,
    )
    assert hb.n_finished == 4
    for r in hb.trials:
        assert r.steps % cancer.eval_every == 0 or r.steps == 60


def test_wilcoxon_reports_fold_losses_not_running_means(cancer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'w.db'}"
    res = tune(
        cancer,
        sampler="random",
        trials=2,
        cv=3,
        pruner="wilcoxon",
        space=SPACE,
        storage=storage,
        steps=8,
        study="w",
    )
    st = optuna.load_study(study_name="w", storage=storage)
    for row, t in zip(res.trials, st.trials):
        if row.state == "COMPLETE":
            folds = row.run_losses
            assert [t.intermediate_values[k] for k in range(3)] == folds


def test_budget_stops_before_overspending(cancer) -> None:  # type: ignore[no-untyped-def]
    res = tune(
        cancer,
        sampler="random",
        trials=1000,
        pruner="none",
        space=SPACE,
        storage="memory",
        steps=10,
        budget=45,
    )
    assert res.total_steps == 40 and res.n_finished == 4


def test_wilcoxon_needs_cv_and_other_bad_input(cancer) -> None:  # type: ignore[no-untyped-def]
    cases = [
        ({"trials": 0}, "Argument `trials` must be a positive integer. Received: trials=0"),
        ({"cv": 1}, "Received: cv=1"),
        ({"repeats": 0}, "Argument `repeats` must be a positive integer. Received: repeats=0"),
        ({"sampler": "bayes"}, "Received: sampler='bayes'"),
        ({"pruner": "wilcoxon"}, "only with cross-validation"),
        ({"pruner": "sometimes"}, "Received: pruner='sometimes'"),
    ]
    for kwargs, fragment in cases:
        with pytest.raises(UsageError) as info:
            tune(cancer, storage="memory", **kwargs)
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # NumPy's RandomState (Optuna's samplers, scikit-learn's folds) raised its ValueError
        (
            {"seed": -1},
            r"^Argument `seed` must be an integer from 0 to 2\*\*32 - 1\. Received: seed=-1$",
        ),
        ({"seed": 2**32}, r"^Argument `seed` must be .*Received: seed=4294967296$"),
        ({"seed": "a"}, r"^Argument `seed` must be .*Received: seed='a'$"),  # TypeError
        (
            {"study": 3},
            r"^Argument `study` must be a study name \(not blank\) or None\. Received: study=3$",
        ),
        # a blank name resumed the default "<task>-<sampler>" study instead
        ({"study": ""}, r"^Argument `study` must be a study name .*Received: study=''$"),
        ({"study": "  "}, r"^Argument `study` .*Received: study='  '$"),
        (
            {"grace_period": "a"},
            r"^Argument `grace_period` must be a positive integer\. Received: grace_period='a'$",
        ),
        ({"grace_period": -1}, r"^Argument `grace_period` .*Received: grace_period=-1$"),  # ignored
    ],
)
def test_seed_study_and_grace_period_are_checked_before_the_study(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        tune("quadratic", storage="memory", trials=1, steps=2, **kwargs)  # type: ignore[arg-type]


def test_a_task_that_is_not_one_is_refused_by_name() -> None:
    """tune(None) raised "'NoneType' object has no attribute 'steps'"."""
    with pytest.raises(
        UsageError,
        match=r"^Argument `objective` must be a function of a trial \(objective\(trial\) -> "
        r"loss\), a Task or a task name\. Received: objective=None$",
    ):
        tune(None, storage="memory", trials=1)


# ----------------------------------------------------------------- many workers
# Each worker is a separate Python process (a fresh interpreter: torch's import costs
# ~10 s on a loaded 2-core machine, so the same four processes serve the SQLite and the
# PostgreSQL study, one after the other).
WORKER = textwrap.dedent(
    """
    import os, sys, time
    from lrlab.schedules import constant
    from lrlab.tune import Family, Space, tune

    def sleepy(lr, steps):
        time.sleep(float(os.environ.get("LRLAB_TEST_SLEEP", "0")))
        return constant(lr)

    scheds = tuple(os.environ.get("LRLAB_TEST_SCHEDULES", "constant").split(","))
    space = Space(optimizers=("sgd", "adam"), schedules=("constant",)).with_family(
        Family("sleepy", sleepy), include=False)
    space = Space(optimizers=space.optimizers, schedules=scheds, families=space.families)
    if os.environ.get("LRLAB_TEST_CONFIRM_SLEEP"):  # the finalists' runs hang
        import lrlab.tune._finalists as finals
        _run = finals.run_configuration

        def _slow(*args, **kwargs):
            time.sleep(float(os.environ["LRLAB_TEST_CONFIRM_SLEEP"]))
            return _run(*args, **kwargs)

        finals.run_configuration = _slow
    trials, worker = int(sys.argv[1]), int(sys.argv[2])
    finalists = int(os.environ.get("LRLAB_TEST_FINALISTS", "0"))
    finalist_seeds = int(os.environ.get("LRLAB_TEST_FINALIST_SEEDS", "2"))
    for storage, study in zip(sys.argv[3::2], sys.argv[4::2]):
        try:
            res = tune("breast_cancer", sampler="random", trials=trials, space=space,
                       storage=storage, study=study, steps=8, worker=worker,
                       heartbeat_interval=1, grace_period=2, finalists=finalists,
                       finalist_seeds=finalist_seeds)
            print(study, "finished", res.n_finished, res.storage, flush=True)
        except Exception as exc:
            print(study, "error", type(exc).__name__, exc, flush=True)
    """
)
PG = "postgresql://postgres:topsecret@127.0.0.1:5432/test"
PG_PLAIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _sleepy(lr: float, steps: int):  # type: ignore[no-untyped-def]
    from lrlab.schedules import constant

    return constant(lr)


@pytest.fixture(scope="module")
def four_workers(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Four worker processes, each on a SQLite study then on a PostgreSQL study.

    Each races 2 finalists on 2 more seeds after the search: the four workers
    claim those 4 runs at about the same moment.
    """
    folder = tmp_path_factory.mktemp("workers")
    script = folder / "worker.py"
    script.write_text(WORKER)
    sqlite = f"sqlite:///{folder / 'lrlab-studies.db'}"
    pg_study = f"lrlab-test-{uuid.uuid4().hex[:10]}"
    args = [sqlite, "shared", PG, pg_study]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "LRLAB_TEST_FINALISTS": "2"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), "12", str(i), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=400)
        assert p.returncode == 0, err
        outputs.append(out + err)
    yield {"sqlite": sqlite, "pg_study": pg_study, "outputs": outputs}
    for name in (pg_study, pg_study + ":finalists"):
        try:
            optuna.delete_study(study_name=name, storage=PG_PLAIN)
        except Exception:  # the server was not there: the postgres test reports that
            pass


def _check_exact(storage: str, study: str, trials: int) -> None:
    st = optuna.load_study(study_name=study, storage=storage)
    states = [t.state.name for t in st.trials]
    finished = [t for t in st.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == trials, states
    assert "RUNNING" not in states and "WAITING" not in states
    # Every non-finished trial is a surplus marker that never trained.
    for t in st.trials:
        if t.state.name == "FAIL":
            assert t.user_attrs.get("lrlab_surplus") and t.user_attrs.get("steps") == 0
    assert len({t.number for t in st.trials}) == len(st.trials)
    # Differently seeded workers: no configuration was sampled twice.
    assert len({t.params["lr"] for t in finished}) == trials
    # The finalists' runs: each of the 4 (finalist, seed) pairs trained exactly once.
    top = sorted(
        (t for t in finished if t.state.name == "COMPLETE"), key=lambda t: (t.value, t.number)
    )[:2]
    confirm = optuna.load_study(study_name=study + ":finalists", storage=storage).trials
    runs = [t for t in confirm if not t.user_attrs.get("lrlab_surplus")]
    assert all(t.state.name == "COMPLETE" for t in runs), [t.state.name for t in confirm]
    pairs = sorted((t.user_attrs["finalist"], t.user_attrs["seed"]) for t in runs)
    assert pairs == sorted((t.number, s) for t in top for s in (1, 2))
    for t in confirm:
        if t.user_attrs.get("lrlab_surplus"):
            assert t.state.name == "FAIL" and t.user_attrs.get("steps") == 0


@pytest.mark.slow  # several worker processes
def test_four_workers_on_the_default_sqlite_file(four_workers) -> None:  # type: ignore[no-untyped-def]
    for out in four_workers["outputs"]:
        assert "shared finished 12" in out
    _check_exact(four_workers["sqlite"], "shared", 12)


@pytest.mark.slow  # several worker processes
@pytest.mark.postgres
def test_four_workers_on_postgresql(four_workers) -> None:  # type: ignore[no-untyped-def]
    study = four_workers["pg_study"]
    for out in four_workers["outputs"]:
        assert f"{study} finished 12 postgresql://postgres:***@127.0.0.1:5432/test" in out
        assert "topsecret" not in out
    _check_exact(PG_PLAIN, study, 12)


def _kill_mid_run(tmp_path, env: dict, argv: list[str], study: str, storage: str) -> None:  # type: ignore[no-untyped-def]
    """Start the worker script; SIGKILL it once a trial of ``study`` runs (and beat once)."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    proc = subprocess.Popen(
        [sys.executable, str(script), *argv],
        env={**os.environ, "PYTHONWARNINGS": "ignore", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        running: list = []
        while time.time() < deadline and not running and proc.poll() is None:
            time.sleep(0.2)
            try:
                st = optuna.load_study(study_name=study, storage=storage)
            except KeyError:
                continue
            running = [t for t in st.trials if t.state.name == "RUNNING"]
        assert running, f"the worker never started a trial of {study}"
        time.sleep(1.5)  # at least one heartbeat recorded
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow  # several worker processes
def test_killed_worker_leaves_a_failed_trial_and_a_rerun_completes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'kill.db'}"
    env = {"LRLAB_TEST_SLEEP": "300", "LRLAB_TEST_SCHEDULES": "sleepy"}
    _kill_mid_run(tmp_path, env, ["2", "0", storage, "kill"], "kill", storage)
    st = optuna.load_study(study_name="kill", storage=storage)
    assert [t.state.name for t in st.trials] == ["RUNNING"]  # stuck until someone looks
    space = Space(optimizers=("sgd", "adam"), schedules=("constant",)).with_family(
        Family("sleepy", _sleepy)
    )
    space = dataclasses.replace(space, schedules=("sleepy",))
    res = tune(
        "breast_cancer",
        sampler="random",
        trials=2,
        space=space,
        storage=storage,
        study="kill",
        steps=8,
        heartbeat_interval=1,
        grace_period=2,
    )
    assert res.n_finished == 2
    st = optuna.load_study(study_name="kill", storage=storage)
    states = [t.state.name for t in st.trials]
    assert states[0] == "FAIL"  # marked failed by the heartbeat, not left running
    assert states.count("COMPLETE") + states.count("PRUNED") == 2
    assert "RUNNING" not in states
    # The failed trial was retried with the same configuration.
    retried = [t for t in st.trials if t.system_attrs.get("failed_trial") == st.trials[0].number]
    assert retried and retried[0].params == st.trials[0].params


@pytest.mark.slow  # several worker processes
def test_killed_worker_mid_finalist_run_is_redone_by_a_rerun(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"sqlite:///{tmp_path / 'killf.db'}"
    env = {
        "LRLAB_TEST_FINALISTS": "1",
        "LRLAB_TEST_FINALIST_SEEDS": "1",
        "LRLAB_TEST_CONFIRM_SLEEP": "300",
    }
    _kill_mid_run(tmp_path, env, ["3", "0", storage, "killf"], "killf:finalists", storage)
    search = optuna.load_study(study_name="killf", storage=storage)
    assert [t.state.name for t in search.trials].count("RUNNING") == 0  # the search had ended
    res = tune(
        "breast_cancer", sampler="random", trials=3, space=SPACE_SG, storage=storage,
        study="killf", steps=8, heartbeat_interval=1, grace_period=2, finalists=1,
        finalist_seeds=1,
    )  # fmt: skip
    confirm = optuna.load_study(study_name="killf:finalists", storage=storage).trials
    states = [t.state.name for t in confirm]
    assert states[0] == "FAIL" and "RUNNING" not in states  # failed by the heartbeat
    done = [t for t in confirm if t.state.name == "COMPLETE"]
    assert len(done) == 1
    assert (done[0].user_attrs["finalist"], done[0].user_attrs["seed"]) == (
        confirm[0].user_attrs["finalist"],
        confirm[0].user_attrs["seed"],
    )  # the killed run, redone
    assert res.best is not None and res.best.mean_loss is not None
    assert res.best.number == done[0].user_attrs["finalist"]


def test_journal_storage_resumes(cancer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = f"journal:{tmp_path / 'study.log'}"
    tune(cancer, sampler="random", trials=2, space=SPACE, storage=storage, steps=8, study="j")
    res = tune(cancer, sampler="random", trials=3, space=SPACE, storage=storage, steps=8, study="j")
    assert res.n_finished == 3 and res.storage == storage


def test_the_package_names_its_function(cancer) -> None:  # type: ignore[no-untyped-def]
    import lrlab.tune

    res = lrlab.tune.tune(
        cancer, sampler="random", trials=1, space=SPACE, storage="memory", steps=5
    )
    assert res.n_finished == 1 and res.total_steps == 5


def test_median_pruning_waits_for_half_the_run(cancer) -> None:  # type: ignore[no-untyped-def]
    # eval_every is 30: evaluations at 30, 60, 90; half the run is 45 steps
    space = Space(lr=(1e-5, 1.0), optimizers=("sgd",), schedules=("constant",), grid_points=8)
    res = tune(
        cancer,
        sampler="grid",
        trials=8,
        pruner="median",
        space=space,
        storage="memory",
        steps=90,
        seed=0,
    )
    pruned = [r for r in res.trials if r.state == "PRUNED"]
    assert pruned, res.table()
    assert all(r.steps == 60 for r in pruned), res.table()
    assert res.total_steps < 8 * 90
