"""``lrlab find`` and ``lrlab tune``: output, resume, and one-line errors with exit 2."""

from __future__ import annotations

import json
import math

import pytest

from lrlab.cli import main
from lrlab.finder.advice import lattice_index


def test_find_prints_suggestions_and_range(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "find.png"
    rc = main(
        [
            "find",
            "--task",
            "breast_cancer",
            "--optimizer",
            "momentum",
            "--min-lr",
            "1e-5",
            "--max-lr",
            "10",
            "--steps",
            "25",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    for name in ("fastai_valley", "fastai_steep", "fastai_minimum", "lightning_steepest", "lrlab"):
        assert name in text
    line = next(ln for ln in text.splitlines() if ln.startswith("suggested lr:"))
    lr, low, high = (
        float(v)
        for v in line.replace("(range", "").replace("..", "").replace(")", "").split(":")[1].split()
    )
    assert low <= lr <= high
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_find_json(capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(["find", "--task", "quadratic", "--steps", "30", "--min-lr", "1e-3", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["lrs"]) <= 30 and d["settings"]["num_steps"] == 30
    assert d["divergence_lr"] == pytest.approx(0.2, rel=0.25)  # quadratic: L = 10


def test_tune_then_resume(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = [
        "tune",
        "--task",
        "breast_cancer",
        "--sampler",
        "random",
        "--steps",
        "10",
        "--optimizers",
        "sgd,adam",
        "--schedules",
        "constant,cosine",
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    assert main([*args, "--trials", "2"]) == 0
    first = capsys.readouterr().out
    assert "2/2 trials finished, 20 training steps" in first
    assert "best: val loss" in first and "schedule" in first
    assert main([*args, "--trials", "3", "--cv", "2"]) == 2  # another study's settings
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be resumed with cv=2" in err
    assert main([*args, "--trials", "3"]) == 0
    assert "3/3 trials finished, 30 training steps" in capsys.readouterr().out
    saved = json.loads((tmp_path / "trials.json").read_text())
    assert saved["finished"] == 3 and len(saved["trials"]) == 3
    assert (tmp_path / "lr.png").exists() and (tmp_path / "history.png").exists()
    assert (tmp_path / "lrlab-studies.db").exists()


def test_tune_with_finalists(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["tune", "--task", "breast_cancer", "--sampler", "random", "--steps", "10",
            "--optimizers", "adam", "--schedules", "constant", "--out", str(tmp_path),
            "--quiet", "--trials", "3", "--pruner", "none", "--finalists", "2",
            "--finalist-seeds", "3"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3/3 trials finished, 90 training steps (60 for the finalists)" in out
    assert "picked among 2 finalists by the mean over 4 seeds" in out
    saved = json.loads((tmp_path / "trials.json").read_text())
    best = saved["best"]
    assert sorted(best["finalist_losses"]) == ["1", "2", "3"]  # JSON keys: the seeds
    assert best["mean_loss"] == pytest.approx(
        (best["value"] + sum(best["finalist_losses"].values())) / 4, rel=1e-12
    )


def test_tune_within_a_budget(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["tune", "--task", "breast_cancer", "--sampler", "random", "--steps", "10",
            "--optimizers", "adam", "--schedules", "constant", "--out", str(tmp_path),
            "--quiet", "--trials", "40", "--pruner", "none", "--budget", "45"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4/40 trials finished, 40 training steps; stopped by the budget of 45 steps" in out
    saved = json.loads((tmp_path / "trials.json").read_text())
    assert saved["total_steps"] == 40 and len(saved["trials"]) == 4


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--sampler", "annealing"], "Received: sampler='annealing'"),
        (["--trials", "0"], "Received: trials=0"),
        (["--trials", "-3"], "Received: trials=-3"),
        (["--cv", "1"], "Received: cv=1"),
        (["--repeats", "0"], "Received: repeats=0"),
        (["--finalists", "-1"], "Received: finalists=-1"),
        (["--finalist-seeds", "0"], "Received: finalist_seeds=0"),
        (["--budget", "0"], "Received: budget=0"),
        (["--budget", "5"], "must cover one trial (300 steps). Received: budget=5"),
        (["--storage", "postgresql://u:topsecret@127.0.0.1:1/x"], "could not be reached"),
        (["--storage", "ftp://x"], "Argument `storage`"),
        (["--storage-retry-s", "-1"], "non-negative finite number. Received: storage_retry_s=-1.0"),
    ],
)
def test_tune_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, fragment) -> None:  # type: ignore[no-untyped-def]
    rc = main(["tune", "--task", "breast_cancer", "--out", str(tmp_path), *extra])
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.err.count("\n") == 1 and fragment in captured.err
    assert "topsecret" not in captured.err + captured.out


def test_tune_storage_retry_s_must_be_a_finite_number(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        main(
            ["tune", "--task", "breast_cancer", "--out", str(tmp_path), "--storage-retry-s", "nan"]
        )
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert "argument --storage-retry-s: must be a finite number. Received: 'nan'" in err


def test_find_bad_input(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["find", "--task", "digits", "--min-lr", "1", "--max-lr", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Received: min_lr=1.0, max_lr=0.1" in err
    assert main(["find", "--task", "digits", "--horizon-exponent", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Received: horizon_exponent=3.0" in err
    assert main(["find", "--task", "digits", "--horizon", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Received: horizon=0" in err


def test_find_for_another_run_length_and_budget(capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["find", "--task", "breast_cancer", "--optimizer", "momentum", "--json"]
    assert main([*base, "--horizon-exponent", "0.5"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert main([*base, "--horizon", "1200", "--horizon-exponent", "0.5"]) == 0
    long = json.loads(capsys.readouterr().out)
    assert (full["settings"]["horizon"], long["settings"]["horizon"]) == (300, 1200)
    for res, horizon in ((full, 300), (long, 1200)):
        a = res["advice"]
        assert a["alpha"] == 0.5 and res["steps"] <= horizon // 4
        # The pick at the longest probe, carried by (length / horizon) ** 0.5 to a lattice rate.
        shift = 0.5 * math.log10(horizon / a["length"]) / 0.3
        want = round(lattice_index(a["pick_lr"]) - shift)
        assert lattice_index(res["suggestions"]["lrlab"]["lr"]) == pytest.approx(want, abs=1e-9)
    assert main([*base, "--budget", "1"]) == 0
    thorough = json.loads(capsys.readouterr().out)
    assert 300 // 4 < thorough["steps"] <= 300 and thorough["settings"]["budget"] == 1.0
    with pytest.raises(SystemExit) as stop:  # argparse refuses it, naming the flag
        main([*base, "--budget", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--budget" in err and "Received: '0'" in err
    assert main([*base, "--budget", "11"]) == 2  # above one run x 10: the library's own check
    assert "Received: budget=11.0" in capsys.readouterr().err


@pytest.mark.postgres
def test_tune_postgres_password_never_shown(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import uuid

    import optuna

    study = f"lrlab-cli-{uuid.uuid4().hex[:8]}"
    url = "postgresql://postgres:hunter2secret@127.0.0.1:5432/test"
    try:
        rc = main(
            [
                "tune",
                "--task",
                "breast_cancer",
                "--trials",
                "1",
                "--steps",
                "5",
                "--storage",
                url,
                "--study",
                study,
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        captured = capsys.readouterr()
        assert rc == 0
        assert "postgresql://postgres:***@127.0.0.1:5432/test" in captured.out
        everything = captured.out + captured.err + (tmp_path / "trials.json").read_text()
        assert "hunter2secret" not in everything
    finally:
        optuna.delete_study(
            study_name=study, storage="postgresql+psycopg2://postgres@127.0.0.1:5432/test"
        )


def test_tune_says_when_its_table_is_cut(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["tune", "--task", "breast_cancer", "--sampler", "random", "--steps", "10",
            "--schedules", "constant,cosine", "--optimizers", "sgd",
            "--trials", "22", "--pruner", "none", "--out", str(tmp_path), "--quiet"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"(the best 20 of 22 trials; all of them are in {tmp_path / 'trials.json'})" in out


OBJECTIVE = '''
import torch


def objective(trial):
    """f(w) = |w|^2 / 2 from w = 3, in an own loop."""
    w = torch.nn.Parameter(torch.full((2,), 3.0, dtype=torch.float64))
    opt = trial.optimizer([w])
    sched = trial.scheduler(opt)
    for _ in range(trial.steps):
        opt.zero_grad()
        (0.5 * (w ** 2).sum()).backward()
        opt.step()
        sched.step()
    return float(0.5 * (w.detach() ** 2).sum())


NOT_A_FUNCTION = 3
'''


def test_tune_an_objective_file_from_two_workers(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Two runs of one command against one storage: one study of exactly --trials trials."""
    train = tmp_path / "train.py"
    train.write_text(OBJECTIVE)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ["tune", "--objective", f"{train}:objective", "--steps", "10", "--trials", "3",
            "--optimizers", "sgd", "--schedules", "constant,cosine", "--storage", storage,
            "--sampler", "random", "--quiet"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a"), "--worker", "0"]) == 0
    first = json.loads((tmp_path / "a" / "trials.json").read_text())
    assert first["task"] == "train.objective" and first["finished"] == 3
    assert main([*args, "--trials", "5", "--out", str(tmp_path / "b"), "--worker", "1"]) == 0
    second = json.loads((tmp_path / "b" / "trials.json").read_text())
    assert second["study"] == "train.objective-random" and second["finished"] == 5
    assert [t["number"] for t in second["trials"]][:3] == [t["number"] for t in first["trials"]]
    assert "resumed study 'train.objective-random'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("nowhere.py:objective", "there is no file 'nowhere.py'"),
        ("{dir}/train.py", "must be PATH.py:FUNCTION"),
        ("{dir}/train.py:missing", "has no 'missing'"),
        ("{dir}/train.py:NOT_A_FUNCTION", "'NOT_A_FUNCTION' in"),
        ("{dir}/train.py:objective", "Argument `steps` must be given with an objective"),
    ],
)
def test_tune_a_bad_objective_is_one_line_and_exit_2(tmp_path, capsys, target, fragment) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "train.py").write_text(OBJECTIVE)
    rc = main(["tune", "--objective", target.format(dir=tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and fragment in err, err


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_run_one_objective_study_on_postgresql(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """docs/own-training.md's two commands, at once, on the PostgreSQL server."""
    import os
    import subprocess
    import sys
    import uuid

    import optuna

    (tmp_path / "train.py").write_text(OBJECTIVE)
    study = f"lrlab-own-{uuid.uuid4().hex[:8]}"
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lrlab.cli",
                "tune",
                "--objective",
                "train.py:objective",
                "--steps",
                "10",
                "--trials",
                "8",
                "--sampler",
                "random",
                "--storage",
                url,
                "--study",
                study,
                "--out",
                f"run-{i}",
                "--worker",
                str(i),
                "--quiet",
            ],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    try:
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        trials = optuna.load_study(study_name=study, storage=url).trials
        finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
        assert len(finished) == 8
        assert all(t.user_attrs.get("lrlab_surplus") for t in trials if t not in finished)
        assert len({t.params["lr"] for t in finished}) == 8  # the workers sampled apart
        meta = optuna.load_study(study_name=study, storage=url).user_attrs["lrlab"]
        assert meta["objective"] == "train.objective" and meta["steps"] == 10
    finally:
        try:
            optuna.delete_study(study_name=study, storage=url)
        except KeyError:
            pass
