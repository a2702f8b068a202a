"""The report of a stored study: read back from its storage, nothing trained."""

from __future__ import annotations

import json
import re

import pytest
import torch

from lrlab.cli import main
from lrlab.errors import UsageError
from lrlab.report import build_report
from lrlab.schedules import parse_rule
from lrlab.tune import Space, Trial, load, tune

CALLS: list[int] = []
SPACE = Space(lr=(1e-3, 1.0), optimizers=("sgd", "adam"), schedules=("constant", "cosine"))


def bowl(trial: Trial) -> float:
    """An own loop: |w|^2 / 2 from w = 3, reported every 5 steps."""
    CALLS.append(trial.number)
    w = torch.nn.Parameter(torch.full((2,), 3.0, dtype=torch.float64))
    opt = trial.optimizer([w])
    sched = trial.scheduler(opt)
    for step in range(1, trial.steps + 1):
        opt.zero_grad()
        (0.5 * (w**2).sum()).backward()
        opt.step()
        sched.step()
        if step % 5 == 0:
            trial.report(float(0.5 * (w.detach() ** 2).sum()), step)
    return float(0.5 * (w.detach() ** 2).sum())


@pytest.fixture(scope="module")
def stored(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("study")
    storage = f"sqlite:///{folder / 'studies.db'}"
    tune(bowl, steps=20, trials=10, space=SPACE, storage=storage, study="bowl", sampler="random",
         finalists=2, seed=1)  # fmt: skip
    tune("breast_cancer", steps=20, trials=3, space=SPACE, storage=storage, study="cancer",
         sampler="random")  # fmt: skip
    return storage


def test_load_reads_back_what_tune_returned(stored) -> None:  # type: ignore[no-untyped-def]
    again = tune(bowl, steps=20, trials=10, space=SPACE, storage=stored, study="bowl",
                 sampler="random", finalists=2, seed=1)  # fmt: skip
    loaded = load("bowl", stored)
    assert loaded.to_dict() == again.to_dict() and loaded.meta["objective"].endswith("bowl")
    assert loaded.best is not None and loaded.best.mean_loss is not None  # the raced pick
    with pytest.raises(UsageError, match=r"must name a study in .* \(there: 'bowl', 'cancer'\)"):
        load("nope", stored)


def test_the_report_of_an_own_objective_trains_nothing_and_ends_in_code(  # type: ignore[no-untyped-def]
    stored, tmp_path
) -> None:
    CALLS.clear()
    rep = build_report(tmp_path / "r", study="bowl", storage=stored, quiet=True)
    assert CALLS == []  # read back, not trained
    page = rep.index.read_text()
    assert "Your search, measured — bowl" in page and "cannot show training curves" in page
    res = load("bowl", stored)
    assert len(re.findall(r"<tr>", page)) >= min(len(res.trials), 25)  # the trials table
    assert "lrlab.torch.scheduler(opt" in page and "lrlab.optax.schedule(" in page
    text = re.search(r"lrlab\.torch\.scheduler\(opt, &quot;(.+?)&quot;\)", page)
    assert text is not None
    best = res.best
    assert best is not None and best.schedule_config is not None
    shown = parse_rule(text.group(1)).to_config()  # the best schedule, its peak to 3 digits
    assert shown == {**best.schedule_config, "lr": float(f"{best.schedule_config['lr']:.3g}")}
    data = json.loads((rep.out / "results.json").read_text())
    assert data["study"]["study"]["study"] == "bowl" and data["study_recommendation"]["choice"]


def test_a_built_in_tasks_study_and_the_cli(stored, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(["report", "--study", "cancer", "--storage", stored, "--out", str(tmp_path / "c"),
               "--quiet"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    page = (tmp_path / "c" / "index.html").read_text()
    assert "nothing was trained to write it" in page and "cannot show" not in page
    rc = main(["report", "--study", "missing", "--storage", stored, "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "there: 'bowl', 'cancer'" in err
