"""Faults of a distributed search: killed workers, silent trials, retries, late heartbeats.

The fault test runs ``benchmarks/bench_kill_resume.py``'s round once on each storage, small:
workers share a 6-point grid study while another process loads the CPU, one is SIGKILLed
inside a trial, and the study must end with every grid point finished exactly once, no
trial lost or left RUNNING, and the best a single worker finds.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import pytest

from lrlab.tune import Space, tune
from lrlab.tune._worker import Reaper
from lrlab.tune.storage import open_storage

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_kill_resume.py"
PG_PLAIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
SPACE = Space(optimizers=("sgd",), schedules=("constant",))


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_kill_resume", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _pg_up() -> bool:
    try:
        open_storage(PG_PLAIN, ".")
        return True
    except Exception:
        return False


def test_a_killed_worker_on_sqlite_and_postgresql(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On each storage a worker process naps inside its first trial; this process works
    beside it (one thread a storage) and SIGKILLs it once a trial finished here."""
    import signal
    import time

    bench = _bench()
    points = 3  # x 2 optimizers
    _, ref_loss = bench.reference_best(points)
    runs = {"sqlite": (f"sqlite:///{tmp_path / 'kill.db'}", "kill")}
    if _pg_up():
        runs["postgresql"] = (PG_PLAIN, f"lrlab-kill-{uuid.uuid4().hex[:10]}")
    script = tmp_path / "worker.py"
    script.write_text(bench.WORKER)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # loads the CPU
    victims = {
        name: bench._start(script, storage, study, 0, points, 300.0)
        for name, (storage, study) in runs.items()
    }

    def work(name: str) -> dict:  # type: ignore[type-arg]
        storage, study = runs[name]
        bench._until(lambda: bench._states(storage, study)["RUNNING"] > 0, 120)
        time.sleep(1.2)  # the victim's heartbeat has beaten

        def kill_after_a_trial() -> None:
            bench._until(lambda: bench._states(storage, study)["COMPLETE"] > 0, 120)
            victims[name].send_signal(signal.SIGKILL)

        with ThreadPoolExecutor(1) as killer:
            killed = killer.submit(kill_after_a_trial)
            tune(
                "breast_cancer", sampler="grid", trials=1000, pruner="none",
                space=bench.grid_space(points), storage=storage, study=study, steps=8,
                worker=1, heartbeat_interval=1, grace_period=2,
            )  # fmt: skip
            killed.result()
        return bench.count(optuna.load_study(study_name=study, storage=storage), points)

    try:
        with ThreadPoolExecutor(len(runs)) as pool:
            rows = dict(zip(runs, pool.map(work, runs)))
    finally:
        for p in [busy, *victims.values()]:
            p.kill()
            p.wait()
        if "postgresql" in runs:
            optuna.delete_study(study_name=runs["postgresql"][1], storage=PG_PLAIN)
    for name, row in rows.items():
        assert victims[name].returncode == -signal.SIGKILL
        assert row["grid"] == 6 and row["finished"] == 6, (name, row)
        assert row["duplicated"] == 0 and row["missing"] == 0 and row["lost"] == 0, (name, row)
        assert row["failed_and_retried"] == 1, (name, row)  # the killed worker's trial
        assert row["best"][1] == pytest.approx(ref_loss, rel=1e-9, abs=1e-12), (name, row)
    if "postgresql" not in rows:
        message = "the PostgreSQL server at 127.0.0.1:5432 is not there: SQLite only"
        if os.environ.get("CI"):  # .ci/run starts it: in CI the PostgreSQL half must run
            pytest.fail(message)
        pytest.skip(message)


def test_a_trial_without_a_heartbeat_is_failed_and_retried(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A worker killed inside ``ask()``, before its first heartbeat, left it RUNNING for ever."""
    storage = f"sqlite:///{tmp_path / 'silent.db'}"
    first = tune(
        "breast_cancer", sampler="random", trials=1, pruner="none", space=SPACE,
        storage=storage, study="silent", steps=8, heartbeat_interval=1,
    )  # fmt: skip
    assert first.n_finished == 1
    st = optuna.load_study(study_name="silent", storage=storage)
    orphan = st.ask()  # RUNNING, and no heartbeat: as if its worker died right here
    res = tune(
        "breast_cancer", sampler="random", trials=3, pruner="none", space=SPACE,
        storage=storage, study="silent", steps=8, heartbeat_interval=1,
    )  # fmt: skip
    assert res.n_finished == 3
    trials = optuna.load_study(study_name="silent", storage=storage).trials
    states = [t.state.name for t in trials]
    assert "RUNNING" not in states and "WAITING" not in states, states
    assert trials[orphan.number].state.name == "FAIL"
    assert any(t.system_attrs.get("failed_trial") == orphan.number for t in trials)
    assert states.count("COMPLETE") == 3  # exactly the target, with the retry among them


def test_the_grace_period_is_at_least_four_heartbeats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, _ = open_storage(f"sqlite:///{tmp_path / 'g.db'}", tmp_path, heartbeat_interval=2,
                            grace_period=1)  # fmt: skip
    assert store.grace_period == 8
    store, _ = open_storage(f"sqlite:///{tmp_path / 'g.db'}", tmp_path, heartbeat_interval=1,
                            grace_period=30)  # fmt: skip
    assert store.grace_period == 30
    assert isinstance(Reaper(store), Reaper)


def test_a_worker_survives_its_trial_being_failed_by_another(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A trial reaped while its worker lives: the worker drops the result and goes on."""
    from lrlab.tune._worker import run_one

    store, _ = open_storage(f"sqlite:///{tmp_path / 'f.db'}", tmp_path, heartbeat_interval=1)
    st = optuna.create_study(storage=store, study_name="f")

    def objective(trial: optuna.Trial) -> float:
        # another worker fails this trial as stale while it still runs
        store.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)
        return 1.0

    run_one(optuna, st, objective)  # no "ValueError: Cannot tell a FAIL trial"
    assert [t.state.name for t in st.trials] == ["FAIL"]

    class ReapedInTell(optuna.samplers.RandomSampler):
        """Fails the trial after Optuna's tell checked it is running, before it writes:
        the other worker's reaper, at the worst moment (seen in bench_kill_resume)."""

        def after_trial(self, study, trial, state, values):  # type: ignore[no-untyped-def]
            store.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)

    st2 = optuna.create_study(storage=store, study_name="f2", sampler=ReapedInTell())
    run_one(optuna, st2, lambda trial: 1.0)  # no UpdateFinishedTrialError
    assert [t.state.name for t in st2.trials] == ["FAIL"]

    def told_by_another(trial: optuna.Trial) -> float:
        # SQLite: two workers popped the same waiting retry, and the other one told first
        store.set_trial_state_values(
            trial._trial_id, state=optuna.trial.TrialState.COMPLETE, values=[0.5]
        )
        return 1.0

    st3 = optuna.create_study(storage=store, study_name="f3")
    run_one(optuna, st3, told_by_another)
    assert [(t.state.name, t.value) for t in st3.trials] == [("COMPLETE", 0.5)]

    def broken(trial: optuna.Trial) -> float:
        raise ValueError("a bug in the objective")

    with pytest.raises(ValueError, match="a bug in the objective"):
        run_one(optuna, st, broken)  # the objective's own errors still propagate


def test_grid_workers_map_ids_to_the_same_points(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two workers (indices 0 and 3) on one grid: every point once, the same as one worker."""
    storage = f"sqlite:///{tmp_path / 'grid.db'}"
    space = Space(lr=(1e-3, 1e-1), optimizers=("sgd",), schedules=("constant",), grid_points=7)
    kw = {"sampler": "grid", "pruner": "none", "space": space, "storage": storage,
          "study": "g", "steps": 5}  # fmt: skip
    tune("breast_cancer", trials=3, worker=0, **kw)
    res = tune("breast_cancer", trials=7, worker=3, **kw)
    lrs = sorted(round(r.lr, 12) for r in res.trials if r.state == "COMPLETE")
    assert len(lrs) == 7 and len(set(lrs)) == 7, lrs


PAUSED = """
import os, pathlib, sys, time
from lrlab.tune import Space, tune

def objective(trial):
    if os.environ.get("LRLAB_TEST_SLOW") and trial.number == 0:
        pathlib.Path(os.environ["LRLAB_TEST_MARK"]).write_text("0")
        time.sleep(3)  # the long trial: its worker is paused inside it
    trial.report(trial.lr, 1)
    return trial.lr

res = tune(objective, steps=5, trials=3, storage=sys.argv[1], study=sys.argv[2],
           space=Space(optimizers=("sgd",), schedules=("constant",)), sampler="random",
           worker=int(sys.argv[3]), heartbeat_interval=1, grace_period=4, quiet=True)
print("finished", res.n_finished, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_a_paused_worker_whose_trial_was_reaped_says_so_and_goes_on(tmp_path, where) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP past the grace period inside a trial: the others fail it as stale and redo
    it; on SIGCONT the paused worker drops its result in one line and exits 0."""
    import signal
    import time

    if where == "postgresql" and not _pg_up():
        if os.environ.get("CI"):
            pytest.fail("no PostgreSQL server at 127.0.0.1:5432")
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    storage = f"sqlite:///{tmp_path / 'p.db'}" if where == "sqlite" else PG_PLAIN
    study = f"paused-{uuid.uuid4().hex[:8]}"
    script, mark = tmp_path / "w.py", tmp_path / "mark"
    script.write_text(PAUSED)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "LRLAB_TEST_MARK": str(mark)}

    def worker(i: int, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(script), storage, study, str(i)], env={**env, **extra},
            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    paused = worker(0, LRLAB_TEST_SLOW="1")
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert paused.poll() is None, paused.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        paused.send_signal(signal.SIGSTOP)  # a laptop lid, inside trial 0
        other = worker(1)
        out, err = other.communicate(timeout=120)  # reaps trial 0 after 4 s, redoes it
        assert other.returncode == 0 and "finished 3" in out, err
        paused.send_signal(signal.SIGCONT)
        out, err = paused.communicate(timeout=60)
    finally:
        paused.kill()
    assert paused.returncode == 0, err
    assert "lrlab: trial 0 was failed as stale while this worker ran it" in err
    assert "Traceback" not in err and "finished 3" in out
    trials = optuna.load_study(study_name=study, storage=storage).trials
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 3 and trials[0].state.name == "FAIL"
    if where == "postgresql":
        optuna.delete_study(study_name=study, storage=storage)
