"""The database goes away and comes back (issue 27.3), and storage that cannot be written.

Two worker processes (``lrlab tune``) share a grid study on a PostgreSQL server of the
module's own (``pg_server``); the server is stopped with ``pg_ctl stop -m fast`` while
one trial is held running across the outage.  Back within ``storage_retry_s``: the
workers go on, and the study ends with exactly N complete trials, each grid point once,
nothing failed.  Not back in time: each worker says one line naming the storage
(password redacted) and exits 1; once the server is up again, a rerun resumes to N.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from lrlab.errors import UsageError
from lrlab.tune import Space, StorageUnavailable, tune
from lrlab.tune.storage import RETRIED_METHODS, Retry, open_storage

SPACE = Space(optimizers=("sgd",), schedules=("constant",))
N = 12  # of a 14-point grid: 7 rates x (sgd, adam)
PASSWORD = "Pw-hidden-4711"  # trust authentication: accepted, and never printed

OBJECTIVE = textwrap.dedent(
    """
    import math, os, pathlib, time

    def objective(trial):
        if trial.number == 3:  # held running across the outage, until the test says go
            pathlib.Path(os.environ["LRLAB_TEST_MARK"]).write_text("3")
            go = pathlib.Path(os.environ["LRLAB_TEST_GO"])
            while not go.exists():
                time.sleep(0.05)
        for step in range(1, 4):
            time.sleep(0.05)
            trial.report(trial.lr * (4 - step), step)
        return (math.log10(trial.lr) + 2) ** 2  # best at 0.01, inside the range
    """
)
WORKER = textwrap.dedent(
    f"""
    import sys
    from obj import objective
    from lrlab.tune import Space, tune

    res = tune(objective, steps=3, sampler="grid", pruner="none", trials={N},
               storage=sys.argv[1], study=sys.argv[2], worker=int(sys.argv[3]),
               space=Space(optimizers=("sgd", "adam"), schedules=("constant",)))
    print("finished", res.n_finished)
    """
)


def _workers(
    tmp_path: Path, storage: str, study: str, *extra: str, cli: bool = True
) -> list[subprocess.Popen[str]]:
    """Two workers: ``lrlab tune`` processes, or (``cli=False``, quicker: no figures)
    Python processes calling ``tune``."""
    (tmp_path / "obj.py").write_text(OBJECTIVE)
    (tmp_path / "worker.py").write_text(WORKER)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "LRLAB_TEST_MARK": str(tmp_path / "mark"),
           "LRLAB_TEST_GO": str(tmp_path / "go")}  # fmt: skip
    argv = [sys.executable, "-m", "lrlab.cli", "tune", "--objective", "obj.py:objective",
            "--steps", "3", "--sampler", "grid", "--pruner", "none", "--trials", str(N),
            "--optimizers", "sgd,adam", "--schedules", "constant", "--storage", storage,
            "--study", study, "--quiet", *extra]  # fmt: skip
    runs = [
        [*argv, "--out", f"out{i}", "--worker", str(i)]
        if cli
        else [sys.executable, "worker.py", storage, study, str(i)]
        for i in range(2)
    ]
    return [
        subprocess.Popen(run, cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
        for run in runs
    ]  # fmt: skip


def _until(ok: Callable[[], bool], procs: list[subprocess.Popen[str]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ok():
        for p in procs:
            assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _finished(procs: list[subprocess.Popen[str]], seconds: float) -> list[tuple[int, str]]:
    try:
        errs = [p.communicate(timeout=seconds)[1] for p in procs]
        return [(p.returncode, err) for p, err in zip(procs, errs)]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _exactly_n(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    trials = optuna.load_study(study_name=study, storage=storage).trials
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(done) == N, [t.state.name for t in trials]
    points = [(t.params["lr"], t.params["optimizer"]) for t in done]
    assert len(set(points)) == N  # no grid point twice
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING", "PRUNED")]
    return trials


@pytest.mark.postgres
@pytest.mark.slow
def test_a_restarted_database_loses_and_duplicates_nothing(tmp_path: Path, pg_server) -> None:
    storage = pg_server.url(PASSWORD)
    procs = _workers(tmp_path, storage, "back", cli=False)
    (tmp_path / "go").unlink(missing_ok=True)
    _until(lambda: (tmp_path / "mark").exists(), procs, 120)  # trial 3 runs, held
    pg_server.stop()
    stopped = time.time()
    time.sleep(4)  # both workers meet the outage: trial 3's heartbeat, the other's trials
    pg_server.start()
    started = time.time()
    (tmp_path / "go").touch()
    results = _finished(procs, 120)
    for code, err in results:
        assert code == 0 and "Traceback" not in err, err
        assert PASSWORD not in err
    trials = _exactly_n(storage, "back")
    failed = [t for t in trials if t.state.name == "FAIL" and not t.user_attrs.get("lrlab_surplus")]
    assert failed == []  # nothing reaped, nothing lost (a worker's 13th trial is surplus)
    held = trials[3]  # ran across the outage, reported and finished after it
    assert held.state.name == "COMPLETE" and len(held.intermediate_values) == 3
    assert held.datetime_start is not None and held.datetime_complete is not None
    assert held.datetime_start.timestamp() < stopped < started < held.datetime_complete.timestamp()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_database_that_stays_away_stops_in_one_line_and_a_rerun_resumes(
    tmp_path: Path, pg_server
) -> None:
    storage = pg_server.url(PASSWORD)
    procs = _workers(tmp_path, storage, "away", "--storage-retry-s", "2")
    _until(lambda: (tmp_path / "mark").exists(), procs, 120)
    pg_server.stop()
    (tmp_path / "go").touch()  # trial 3 reports into the void
    try:
        results = _finished(procs, 60)
    finally:
        pg_server.start()
    shown = f"postgresql+psycopg2://postgres:***@127.0.0.1:{pg_server.port}/postgres"
    for code, err in results:
        lines = err.strip().splitlines()
        assert code == 1, err
        assert lines[-1].startswith(
            f"lrlab tune: error: the storage {shown} did not answer for 2 s"
        )
        assert lines[-1].endswith("rerun to resume the study"), lines[-1]
        assert sum("did not answer" in line for line in lines) == 1, err
        assert "Traceback" not in err and PASSWORD not in err
    sys.path.insert(0, str(tmp_path))
    try:
        from obj import objective
    finally:
        sys.path.remove(str(tmp_path))
    # the rerun reaps the dead workers' trials (a short heartbeat, for the test) and resumes
    res = tune(objective, steps=3, sampler="grid", pruner="none", trials=N, storage=storage,
               study="away", space=Space(optimizers=("sgd", "adam"), schedules=("constant",)),
               heartbeat_interval=1)  # fmt: skip
    assert res.n_finished == N
    _exactly_n(storage, "away")


def test_a_retry_gives_up_after_its_time_and_then_at_once() -> None:
    """Retry's own contract, on a real SQLAlchemy OperationalError (a refused connection)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine("postgresql+psycopg2://u:Secret9@127.0.0.1:1/x")
    calls: list[float] = []

    def refused() -> None:
        calls.append(time.monotonic())
        with engine.connect():
            pass

    retry = Retry(1.0, "postgresql://u:***@127.0.0.1:1/x", "postgresql://u:Secret9@127.0.0.1:1/x")
    t0 = time.monotonic()
    with pytest.raises(StorageUnavailable) as info:
        retry.call(refused)
    took = time.monotonic() - t0
    # pauses of 0.1, 0.2 and 0.4 s, then what is left of the second: five tries (fewer
    # when a refused connection itself is slow, on a loaded machine), and the last one
    # after the second has passed
    assert 1.0 <= took < 4.0 and 3 <= len(calls) <= 5, (took, len(calls))
    assert calls[-1] - calls[0] >= 1.0 - 0.02
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(g >= want for g, want in zip(gaps[:-1], (0.1, 0.2, 0.4))), gaps
    text = str(info.value)
    assert text.startswith("the storage postgresql://u:***@127.0.0.1:1/x did not answer for 1 s")
    assert "(OperationalError: " in text and text.endswith("rerun to resume the study")
    assert "Secret9" not in text and "\n" not in text
    n = len(calls)
    with pytest.raises(StorageUnavailable):
        retry.call(refused)  # gone: no second wait
    assert len(calls) == n
    assert Retry(5, "s", "s").call(lambda: 7) == 7

    def bug() -> None:
        raise ValueError("not the database")

    with pytest.raises(ValueError, match="not the database"):
        Retry(5, "s", "s").call(bug)  # only lost connections are retried


def test_every_retried_method_exists_on_optuna_rdb_storage() -> None:
    for name in RETRIED_METHODS:
        assert callable(getattr(optuna.storages.RDBStorage, name, None)), name


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "60", True])
def test_storage_retry_s_is_checked(bad: object) -> None:
    with pytest.raises(UsageError, match=r"Argument `storage_retry_s` must be a non-negative "
                       r"finite number\. Received: storage_retry_s="):  # fmt: skip
        tune(lambda t: 1.0, steps=2, trials=1, storage="memory", storage_retry_s=bad)  # type: ignore[arg-type]


def _immutable(path: Path) -> bool:
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("what", ["file", "folder"])
def test_an_unwritable_sqlite_file_is_refused_before_any_training(
    tmp_path: Path, what: str
) -> None:
    """As root, file modes do not stop a write: the file (or its folder) is made immutable."""
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "s.db"
    storage = f"sqlite:///{db}"
    tune(lambda t: 1.0, steps=2, trials=1, storage=storage, study="s", space=SPACE)
    target = db if what == "file" else folder
    if not _immutable(target):
        pytest.skip("chattr +i is not available here")
    ran: list[int] = []

    def counted(trial: object) -> float:
        ran.append(1)
        return 1.0

    try:
        with pytest.raises(UsageError) as info:
            tune(counted, steps=2, trials=3, storage=storage, study="s",
                     space=SPACE)  # fmt: skip
        text = str(info.value)
        assert text.startswith("Argument `storage` must be a SQLite file lrlab can write")
        assert text.endswith(f"Received: storage={storage!r}") and "\n" not in text
        said = "readonly database" if what == "file" else "unable to open database file"
        assert said in text, text
        assert ran == []  # nothing trained
        if what == "folder":
            return
        (tmp_path / "obj.py").write_text("def objective(trial):\n    raise SystemExit(9)\n")
        cli = subprocess.run(
            [sys.executable, "-m", "lrlab.cli", "tune", "--objective", "obj.py:objective",
             "--steps", "2", "--storage", storage, "--study", "s", "--out", "out", "--quiet",
             "--optimizers", "sgd", "--schedules", "constant"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert cli.returncode == 2, cli.stderr
        assert cli.stderr.strip().splitlines() == [f"lrlab tune: error: {text}"]
        # reading it back (the report, tune.load) needs no writing
        store, _ = open_storage(storage, tmp_path)
        assert len(optuna.load_study(study_name="s", storage=store).trials) == 1
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)


def test_a_read_only_new_sqlite_file_says_so(tmp_path: Path) -> None:
    """A file that cannot take Optuna's tables: the same line, not 'could not be reached'."""
    db = tmp_path / "empty.db"
    db.touch()
    if not _immutable(db):
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(UsageError, match=r"must be a SQLite file lrlab can write .*readonly"):
            tune(lambda t: 1.0, steps=2, trials=1, storage=f"sqlite:///{db}", space=SPACE)
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_no_trial_is_failed_as_stale_for_a_grace_period_after_an_outage(tmp_path: Path) -> None:
    """A real outage on SQLite (its file made immutable for a second): the write waits it
    out, and the living trials' stale heartbeats are not failed until a grace period
    after the database answered again."""
    import threading

    db = tmp_path / "h.db"
    store, _ = open_storage(f"sqlite:///{db}", tmp_path, heartbeat_interval=1)  # grace 4 s
    study = optuna.create_study(storage=store, study_name="h")
    trial = study.ask()
    store.record_heartbeat(trial._trial_id)
    time.sleep(5.2)  # no beat since: stale
    assert store._get_stale_trial_ids(study._study_id) == [trial._trial_id]
    if not _immutable(db):
        pytest.skip("chattr +i is not available here")
    thaw = threading.Timer(1.0, subprocess.run, (["chattr", "-i", str(db)],))
    thaw.start()
    t0 = time.monotonic()
    try:
        store.set_trial_user_attr(trial._trial_id, "after", 1)  # retried until it thaws
    finally:
        thaw.join()
    assert time.monotonic() - t0 >= 0.9 and store.retry.outages == 1
    assert store.get_trial(trial._trial_id).user_attrs["after"] == 1
    assert store._get_stale_trial_ids(study._study_id) == []  # its worker may be beating again
    time.sleep(4.2)
    assert store._get_stale_trial_ids(study._study_id) == [trial._trial_id]
