"""The built-in tasks: quadratic spectrum, sklearn splits, mnist1d generation and caching."""

from __future__ import annotations

import math
import random
import socket

import numpy as np
import pytest
import torch

from lrlab import tasks
from lrlab.errors import UsageError
from lrlab.tasks import TASK_INFO, QuadraticTask


def test_names_and_unknown_task() -> None:
    assert tasks.names() == [
        "quadratic", "digits", "mnist1d", "breast_cancer", "diabetes", "text"
    ]  # fmt: skip
    with pytest.raises(UsageError, match=r"Unknown task 'cifar'\. Available: quadratic, digits"):
        tasks.get("cifar")
    with pytest.raises(UsageError, match=r"Unknown parameter for task 'digits': depth\. Allowed"):
        tasks.get("digits", depth=3)


@pytest.mark.parametrize(("mu", "big_l", "dim"), [(0.1, 10.0, 20), (0.5, 2.0, 7), (1.0, 1.0, 3)])
def test_quadratic_hessian_spectrum_is_exactly_mu_to_l(mu: float, big_l: float, dim: int) -> None:
    task = tasks.get("quadratic", mu=mu, L=big_l, dim=dim, n_train=50)
    assert isinstance(task, QuadraticTask)
    # The Hessian of the task's own loss, by autograd, against X^T X / n.
    x, y = task.x_train, task.y_train

    def loss_of(w: torch.Tensor) -> torch.Tensor:
        return task.loss_fn(x @ w[:, None], y)

    h_auto = torch.autograd.functional.hessian(loss_of, torch.zeros(dim, dtype=torch.float64))
    assert torch.allclose(h_auto, task.hessian(), rtol=1e-12, atol=1e-14)
    eig = np.linalg.eigvalsh(h_auto.numpy())
    assert eig.min() == pytest.approx(mu, rel=1e-12)
    assert eig.max() == pytest.approx(big_l, rel=1e-12)
    assert task.stable_lr == 2 / big_l and task.optimal_lr == 2 / (big_l + mu)
    assert task.full_batch and task.batch_size == 50


def test_quadratic_best_validation_loss_is_the_noise_floor() -> None:
    task = tasks.get("quadratic", noise=0.3, n_val=20000, dim=5)
    model = task.make_model(0)
    with torch.no_grad():
        model.weight.copy_(task.w_star[None, :])
    val_loss, _ = task.evaluate(model, "val")
    # 0.5 * mean(eps^2) over 20000 draws: relative sd sqrt(2/20000) = 1%.
    assert val_loss == pytest.approx(task.noise_floor, rel=0.05)
    assert task.noise_floor == pytest.approx(0.5 * 0.3**2, rel=1e-15)


def test_quadratic_is_fixed_by_split_seed() -> None:
    a, b = tasks.get("quadratic"), tasks.get("quadratic")
    c = tasks.get("quadratic", split_seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", ["quadratic", "digits", "mnist1d", "text"])
@pytest.mark.parametrize("seed", ["abc", -1, 1.5, True])
def test_a_bad_split_seed_is_named_not_a_traceback(name: str, seed: object) -> None:
    """``split_seed`` was passed to ``int()`` as given: 'abc' and -1 raised a bare
    ValueError, 1.5 and True were taken as 1."""
    with pytest.raises(
        UsageError,
        match=r"Argument `split_seed` must be a non-negative integer\. Received: split_seed=",
    ):
        tasks.get(name, split_seed=seed)


def test_split_seed_zero_and_numpy_integers_are_accepted() -> None:
    assert tasks.get("breast_cancer", split_seed=np.int64(0)).params["split_seed"] == 0


def test_quadratic_bad_parameters() -> None:
    with pytest.raises(UsageError, match=r"`mu` must be at most `L`\. Received: mu=5\.0, L=1\.0"):
        tasks.get("quadratic", mu=5, L=1)
    with pytest.raises(UsageError, match=r"`n_train` must be at least `dim`"):
        tasks.get("quadratic", dim=30, n_train=10)
    with pytest.raises(UsageError, match=r"Received: steps=0"):
        tasks.get("quadratic", steps=0)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "diabetes"])
def test_sklearn_tasks_split_and_standardize(name: str) -> None:
    from sklearn import datasets

    task = tasks.get(name)
    loader = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
    }[name]
    raw = loader()
    n_train, n_val, n_test = TASK_INFO[name].sizes
    assert (len(task.x_train), len(task.x_val), len(task.x_test)) == (n_train, n_val, n_test)
    assert n_train + n_val + n_test == len(raw.target)
    x = task.x_train.numpy().astype(np.float64)
    varying = raw.data.std(axis=0) > 0
    assert np.allclose(x.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(x.std(axis=0)[varying], 1, atol=1e-5)
    assert _same_rows(raw.data, task)  # the three splits partition the raw rows
    if task.kind == "classification":
        ys = torch.cat([task.y_train.reshape(-1), task.y_val.reshape(-1), task.y_test.reshape(-1)])
        assert np.array_equal(np.bincount(ys.numpy().astype(int)), np.bincount(raw.target))
    model = task.make_model(0)
    out = model(task.x_val)
    assert torch.isfinite(task.loss_fn(out, task.y_val))


def _same_rows(data: np.ndarray, task: tasks.Task) -> bool:
    """Whether the task's rows (all splits) are the raw rows, up to each column's affine scaling.

    Z-scoring every column over all rows removes the per-column affine map of the
    standardisation, so both sides become equal multisets of rows (up to float32).
    """
    raw = data.astype(np.float64)
    mine = torch.cat([task.x_train, task.x_val, task.x_test]).numpy().astype(np.float64)
    keep = raw.std(axis=0) > 0

    def zsorted(a: np.ndarray) -> np.ndarray:
        z = (a[:, keep] - a[:, keep].mean(0)) / a[:, keep].std(0)
        return z[np.lexsort(z.T[::-1])]

    return bool(np.allclose(zsorted(raw), zsorted(mine), atol=1e-4))


def test_mnist1d_uses_the_package_generator_offline(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist1d.data import get_dataset_args, make_dataset

    monkeypatch.setenv("LRLAB_CACHE_DIR", str(tmp_path))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("mnist1d tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    np.random.seed(99)
    random.seed(99)
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()
    task = tasks.get("mnist1d", n_val=400)
    assert np.array_equal(np.random.get_state()[1], np_before)  # global RNGs restored
    assert random.getstate() == py_before
    cached = list(tmp_path.iterdir())  # type: ignore[attr-defined]
    assert len(cached) == 1 and cached[0].name.startswith("mnist1d-")
    ref = make_dataset(get_dataset_args())
    assert ref["x"].shape == (4000, 40) and ref["x_test"].shape == (1000, 40)
    both = torch.cat([task.x_train, task.x_val]).numpy()
    assert sorted(map(tuple, both.round(5))) == sorted(
        map(tuple, ref["x"].astype(np.float32).round(5))
    )
    assert np.array_equal(task.x_test.numpy(), ref["x_test"].astype(np.float32))
    assert np.array_equal(task.y_test.numpy(), ref["y_test"])
    assert len(task.x_val) == 400 and len(task.x_train) == 3600
    again = tasks.get("mnist1d", n_val=400)  # from the cache file now
    assert torch.equal(again.x_train, task.x_train)


def test_mnist1d_models() -> None:
    mlp = tasks.get("mnist1d")
    cnn = tasks.get("mnist1d", model="cnn", channels=4)
    for task in (mlp, cnn):
        out = task.make_model(0)(task.x_val[:7])
        assert out.shape == (7, 10)
    assert sum(p.numel() for p in cnn.make_model(0).parameters()) < 2000
    with pytest.raises(UsageError, match="Received: model='rnn'"):
        tasks.get("mnist1d", model="rnn")


def test_task_info_matches_built_tasks() -> None:
    for name in ("quadratic", "breast_cancer", "diabetes"):
        task = tasks.get(name)
        info = TASK_INFO[name]
        assert (len(task.x_train), len(task.x_val), len(task.x_test)) == info.sizes
        assert task.kind == info.kind and task.metric_name == info.metric
        assert task.steps == info.defaults["steps"]


def test_text_is_the_next_character_of_pythons_own_docs() -> None:
    """Each row's target is the character that follows its context in the source text, the
    split sizes are the registry's, and a few hundred steps of Adam learn something."""
    from pydoc_data.topics import topics

    from lrlab.train import run

    task = tasks.get("text")
    assert (len(task.x_train), len(task.x_val), len(task.x_test)) == TASK_INFO["text"].sizes
    text = " ".join(topics[k] for k in sorted(topics))[:120_000]
    common = sorted(c for c in set(text) if text.count(c) >= 300)
    ids = [common.index(c) + 1 if c in common else 0 for c in text]
    windows = {tuple(ids[i : i + 9]) for i in range(0, 7 * 15_000, 7)}
    for ctx, nxt in zip(task.x_train.tolist(), task.y_train.tolist()):
        assert (*ctx, nxt) in windows
    counts = torch.bincount(task.y_train, minlength=len(common) + 1)
    assert int(counts.min()) >= 10  # every class splits three ways in cross-validation
    short = tasks.get("text", steps=200, eval_every=100)
    h = run(short, "adam", lr=3e-3, seed=0)
    chance = math.log(len(common) + 1)
    assert h.val_loss[-1] < 0.8 * chance and h.val_loss[-1] < h.val_loss[0]


def test_parameters_with_a_task_object_are_refused_not_ignored() -> None:
    """get(task, mu=5) returned the task as it was, silently without mu=5."""
    task = tasks.get("quadratic", dim=3)
    assert tasks.get(task) is task
    with pytest.raises(
        UsageError, match=r"^Parameters can only be given with a task name.*Received: mu=5, dim=4$"
    ):
        tasks.get(task, mu=5, dim=4)


@pytest.mark.parametrize("context", [15_007, 20_000, 10**7])
def test_a_context_longer_than_the_text_allows_is_refused_by_name(context: int) -> None:
    """Past 120,000 characters numpy raised 'window shape cannot be larger than input array
    shape'; below that a long context built gigabytes of windows (20,000: 2.3 GB) and fewer
    rows than the task's documented 15,000."""
    with pytest.raises(
        UsageError,
        match=rf"^Argument `context` must be at most 15006 .*Received: context={context}$",
    ):
        tasks.get("text", context=context)
