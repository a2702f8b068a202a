"""The built-in tasks, all offline.

``quadratic``, ``digits``, ``mnist1d``, ``breast_cancer``, ``diabetes`` and ``text``.

Every split is fixed by ``split_seed`` (default 0), features are standardised
with the training split's mean and standard deviation, and each task has its
own defaults for the batch size, the step budget and the evaluation interval.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrlab._checks import int_at_least
from lrlab._checks import positive_int as _pos_int
from lrlab._checks import positive_number as _pos_float
from lrlab.errors import UsageError
from lrlab.schedules._validate import shown
from lrlab.tasks.base import Task, accuracy, binary_accuracy, r2, rmse

__all__ = ["TASK_INFO", "QuadraticTask", "cache_dir", "get", "names", "resolve"]


# --------------------------------------------------------------------- helpers
def _split(n: int, n_val: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    """Indices of a train / validation / test split of ``n`` rows."""
    perm = np.random.default_rng(seed).permutation(n)
    return perm[n_val + n_test :], perm[:n_val], perm[n_val : n_val + n_test]


def _standardize(x: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` with the statistics of the training rows (constant columns: std 1)."""
    mean = x[train_idx].mean(axis=0)
    std = x[train_idx].std(axis=0)
    std[std == 0] = 1.0
    return (x - mean) / std


def _params(name: str, params: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` overridden by ``params``; an unknown name is refused, and so is anything
    but an integer where the default is one: positive, or non-negative for ``split_seed``."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise UsageError(
            f"Unknown parameter for task {name!r}: {unknown[0]}. "
            f"Allowed: {', '.join(sorted(defaults))}"
        )
    p = {**defaults, **params}
    for key, default in defaults.items():
        if key == "split_seed":
            p[key] = int_at_least(key, p[key], 0, "a non-negative integer")
        elif isinstance(default, int):
            p[key] = _pos_int(key, p[key])
    return p


def _rows(x: torch.Tensor, y: torch.Tensor, **splits: Any) -> dict[str, Any]:
    """``x_<split>`` and ``y_<split>`` of a :class:`Task`: the rows ``splits[split]``."""
    return {f"{k}_{split}": t[i] for split, i in splits.items() for k, t in (("x", x), ("y", y))}


def _budget(p: dict[str, Any]) -> dict[str, Any]:
    """The :class:`Task` fields taken from the parameters ``p`` as they are, ``p`` included."""
    return {k: p[k] for k in ("batch_size", "steps", "eval_every")} | {"params": p}


def _mlp(sizes: list[int]) -> torch.nn.Module:
    """Linear layers of ``sizes`` (float32) with a ReLU between each two."""
    layers: list[torch.nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(n_in, n_out, dtype=torch.float32), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype)


# ------------------------------------------------------------------- quadratic
class _HalfMSE(torch.nn.Module):
    """``0.5 * mean((outputs - targets)**2)``: its Hessian in linear weights is ``X^T X / n``."""

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        d = outputs - targets
        return 0.5 * torch.mean(d * d)


@dataclass(frozen=True, eq=False, repr=False)
class QuadraticTask(Task):
    """Least squares whose loss Hessian has its eigenvalues exactly in ``[mu, L]``.

    The loss is ``0.5 * mean((X w - y)**2)`` over the training rows, with
    ``X = sqrt(n) U diag(sqrt(lambda)) Q^T`` (``U`` with orthonormal columns,
    ``Q`` orthogonal) so that ``X^T X / n = Q diag(lambda) Q^T`` with
    ``lambda`` spaced geometrically from ``mu`` to ``L``.  Labels are
    ``y = X w* + noise * eps``; validation and test rows are drawn from the
    same Gaussian with covariance ``Q diag(lambda) Q^T``, so the best expected
    validation loss is the noise floor ``0.5 * noise**2``, not zero.

    Full-batch gradient descent with step ``lr`` converges iff ``lr < 2 / L``;
    the best constant step is ``2 / (L + mu)``.  A copy made by
    :meth:`~lrlab.tasks.Task.with_splits` trains on a subset of the rows, whose
    spectrum is no longer exactly ``[mu, L]``; :meth:`hessian` gives the actual one.
    """

    mu: float = 0.1
    L: float = 10.0
    noise: float = 0.1
    w_star: torch.Tensor | None = None

    @property
    def stable_lr(self) -> float:
        """``2 / L``: gradient descent converges for every smaller step, diverges above."""
        return 2.0 / self.L

    @property
    def optimal_lr(self) -> float:
        """``2 / (L + mu)``: the constant step with the best worst-case contraction."""
        return 2.0 / (self.L + self.mu)

    @property
    def noise_floor(self) -> float:
        """``0.5 * noise**2``: the expected loss of the true weights on fresh data."""
        return 0.5 * self.noise**2

    @property
    def condition_number(self) -> float:
        """``L / mu``."""
        return self.L / self.mu

    def hessian(self) -> torch.Tensor:
        """The training loss Hessian ``X^T X / n`` (float64)."""
        x = self.x_train.to(torch.float64)
        return x.T @ x / len(x)

    def __repr__(self) -> str:
        dim = self.x_train.shape[1]
        return f"QuadraticTask(mu={self.mu}, L={self.L}, dim={dim}, noise={self.noise})"


_QUADRATIC_DEFAULTS = {
    "mu": 0.1,
    "L": 10.0,
    "dim": 20,
    "n_train": 200,
    "n_val": 200,
    "n_test": 200,
    "noise": 0.1,
    "batch_size": None,
    "steps": 200,
    "eval_every": 10,
    "split_seed": 0,
}


def _quadratic(**params: Any) -> QuadraticTask:
    p = _params("quadratic", params, _QUADRATIC_DEFAULTS)
    mu, big_l = _pos_float("mu", p["mu"]), _pos_float("L", p["L"])
    if mu > big_l:
        raise UsageError(f"Argument `mu` must be at most `L`. Received: mu={mu}, L={big_l}")
    dim, n = p["dim"], p["n_train"]
    if n < dim:
        raise UsageError(
            f"Argument `n_train` must be at least `dim` so the Hessian is full rank. "
            f"Received: n_train={n}, dim={dim}"
        )
    noise = _pos_float("noise", p["noise"], allow_zero=True)
    batch = n if p["batch_size"] is None else _pos_int("batch_size", p["batch_size"])
    rng = np.random.default_rng(p["split_seed"])

    lam = np.geomspace(mu, big_l, dim) if dim > 1 else np.array([big_l])
    lam[0], lam[-1] = (mu, big_l) if dim > 1 else (big_l, big_l)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    u, _ = np.linalg.qr(rng.standard_normal((n, dim)))
    x_train = np.sqrt(n) * (u * np.sqrt(lam)) @ q.T
    w_star = rng.standard_normal(dim)
    w_star /= np.linalg.norm(w_star)
    x_val = (rng.standard_normal((p["n_val"], dim)) * np.sqrt(lam)) @ q.T
    x_test = (rng.standard_normal((p["n_test"], dim)) * np.sqrt(lam)) @ q.T

    def labels(x: np.ndarray) -> np.ndarray:
        return (x @ w_star + noise * rng.standard_normal(len(x)))[:, None]

    f64 = torch.float64
    data: dict[str, Any] = {}
    for split, x in (("train", x_train), ("val", x_val), ("test", x_test)):  # labels in order
        data[f"x_{split}"], data[f"y_{split}"] = _t(x, f64), _t(labels(x), f64)
    return QuadraticTask(
        name="quadratic",
        kind="regression",
        **data,
        model_factory=lambda: torch.nn.Linear(dim, 1, bias=False, dtype=f64),
        loss_fn=_HalfMSE(),
        metric_fn=rmse,
        metric_name="rmse",
        greater_is_better=False,
        **_budget({**p, "batch_size": batch}),
        mu=mu,
        L=big_l,
        noise=noise,
        w_star=_t(w_star, f64),
    )


# ------------------------------------------------------------------ sklearn
def _sklearn_task(name: str, kind: str, defaults: dict[str, Any], /, **params: Any) -> Task:
    """A task on sklearn's data set ``name`` (``load_<name>``): a 60/20/20 split, standardized
    features, and a one-hidden-layer MLP when ``defaults`` has ``hidden``, else a linear
    model (logistic regression)."""
    from sklearn import datasets

    p = _params(name, params, defaults)
    d = getattr(datasets, f"load_{name}")()
    x, y = d.data, d.target
    n_hold = round(len(x) * 0.2)
    tr, va, te = _split(len(x), n_hold, n_hold, p["split_seed"])
    x_t = _t(_standardize(x.astype(np.float64), tr), torch.float32)
    n_out = 1
    if kind == "multiclass":
        y_t = torch.from_numpy(y.astype(np.int64))
        loss_fn: Any = torch.nn.CrossEntropyLoss()
        metric_fn, metric_name, n_out = accuracy, "accuracy", int(y.max()) + 1
    elif kind == "binary":
        y_t = torch.from_numpy(y.astype(np.float32)[:, None])
        loss_fn, metric_fn, metric_name = torch.nn.BCEWithLogitsLoss(), binary_accuracy, "accuracy"
    else:
        yf = y.astype(np.float64)
        yf = (yf - yf[tr].mean()) / yf[tr].std()
        y_t = torch.from_numpy(yf.astype(np.float32)[:, None])
        loss_fn, metric_fn, metric_name = torch.nn.MSELoss(), r2, "r2"
    sizes = [x.shape[1], p["hidden"], n_out] if "hidden" in p else [x.shape[1], n_out]
    return Task(
        name=name,
        kind="regression" if kind == "regression" else "classification",
        **_rows(x_t, y_t, train=tr, val=va, test=te),
        model_factory=lambda: _mlp(sizes),
        loss_fn=loss_fn,
        metric_fn=metric_fn,
        metric_name=metric_name,
        **_budget(p),
    )


_DIGITS_DEFAULTS = {"hidden": 64, "batch_size": 64, "steps": 500, "eval_every": 50, "split_seed": 0}
_CANCER_DEFAULTS = {"batch_size": 32, "steps": 300, "eval_every": 30, "split_seed": 0}
_DIABETES_DEFAULTS = {
    "hidden": 32,
    "batch_size": 32,
    "steps": 500,
    "eval_every": 50,
    "split_seed": 0,
}
_digits = functools.partial(_sklearn_task, "digits", "multiclass", _DIGITS_DEFAULTS)
_breast_cancer = functools.partial(_sklearn_task, "breast_cancer", "binary", _CANCER_DEFAULTS)
_diabetes = functools.partial(_sklearn_task, "diabetes", "regression", _DIABETES_DEFAULTS)


# --------------------------------------------------------------------- mnist1d
def cache_dir() -> Path:
    """Where generated data is cached: ``$LRLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/lrlab``,
    else ``~/.cache/lrlab``."""
    env = os.environ.get("LRLAB_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "lrlab"


def _mnist1d_arrays() -> dict[str, np.ndarray]:
    """MNIST-1D from the ``mnist1d`` package's own generator with its default args.

    ``mnist1d.data.make_dataset`` builds the data locally (it never downloads;
    only ``get_dataset`` would).  It reseeds NumPy's and Python's global RNGs,
    so their states are saved and restored around it.  The arrays take a few
    seconds to generate and are cached in :func:`cache_dir` under a key that
    hashes the generator's arguments and the package version.
    """
    from importlib.metadata import version

    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args(as_dict=True)
    keyed = {k: v for k, v in args.items() if k != "url"}
    blob = json.dumps({"args": keyed, "version": version("mnist1d")}, sort_keys=True)
    key = hashlib.sha256(blob.encode()).hexdigest()[:16]
    path = cache_dir() / f"mnist1d-{key}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return {k: z[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is regenerated below
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays: dict[str, Any] = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs the regeneration next time
    return arrays


class _CNN1d(torch.nn.Module):
    """A small 1-D CNN for 40-sample signals: two conv layers then a linear head."""

    def __init__(self, channels: int, n_out: int = 10, length: int = 40) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv1d(1, channels, 5, stride=2, padding=2)
        self.conv2 = torch.nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.head = torch.nn.Linear(channels * ((length + 3) // 4), n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(x.unsqueeze(1)))
        h = torch.relu(self.conv2(h))
        return self.head(h.flatten(1))


_MNIST1D_DEFAULTS = {
    "model": "mlp",
    "hidden": 100,
    "channels": 16,
    "n_val": 500,
    "batch_size": 100,
    "steps": 1000,
    "eval_every": 100,
    "split_seed": 0,
}


def _mnist1d(**params: Any) -> Task:
    p = _params("mnist1d", params, _MNIST1D_DEFAULTS)
    model, hidden, channels, n_val = p["model"], p["hidden"], p["channels"], p["n_val"]
    if model not in ("mlp", "cnn"):
        raise UsageError(f"Argument `model` must be 'mlp' or 'cnn'. Received: model={model!r}")
    d = _mnist1d_arrays()
    x, y = d["x"], d["y"]
    if n_val >= len(x):
        raise UsageError(
            f"Argument `n_val` must be less than the {len(x)} training signals. "
            f"Received: n_val={n_val}"
        )
    tr, va, _ = _split(len(x), n_val, 0, p["split_seed"])
    f32 = torch.float32
    x_t, y_t = _t(x, f32), torch.from_numpy(y.astype(np.int64))
    length = x.shape[1]

    def factory() -> torch.nn.Module:
        if model == "mlp":
            return _mlp([length, hidden, hidden, 10])
        return _CNN1d(channels, 10, length)

    return Task(
        name="mnist1d",
        kind="classification",
        **_rows(x_t, y_t, train=tr, val=va),
        x_test=_t(d["x_test"], f32),
        y_test=torch.from_numpy(d["y_test"].astype(np.int64)),
        model_factory=factory,
        loss_fn=torch.nn.CrossEntropyLoss(),
        metric_fn=accuracy,
        metric_name="accuracy",
        **_budget(p),
    )


# ------------------------------------------------------------------------ text
class _CharLM(torch.nn.Module):
    """The next character from the previous ``context``: an embedding of each, concatenated,
    one tanh hidden layer (Bengio et al.'s neural language model, at character level)."""

    def __init__(self, vocab: int, context: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(context * dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, vocab)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.emb(x).flatten(1))


#: The text task's data: windows every ``_TEXT_STRIDE`` characters of the first ``_TEXT_CHARS``
#: characters, ``_TEXT_ROWS`` of them; a longer context than ``_TEXT_MAX_CONTEXT`` leaves fewer.
_TEXT_CHARS, _TEXT_STRIDE, _TEXT_ROWS = 120_000, 7, 15_000
_TEXT_MAX_CONTEXT = _TEXT_CHARS - _TEXT_STRIDE * (_TEXT_ROWS - 1) - 1


def _text_arrays(context: int) -> tuple[np.ndarray, np.ndarray, int]:
    """15,000 windows of ``context + 1`` characters of Python's own documentation text
    (``pydoc_data.topics``, shipped with the interpreter), every 7th position of its first
    120,000 characters: ``(previous characters as ids, next character's id, vocabulary)``;
    the 35 characters seen at least 300 times have their own ids, the rest share id 0, so
    that every class has enough rows for a stratified cross-validation split."""
    from pydoc_data.topics import topics

    text = " ".join(topics[k] for k in sorted(topics))[:_TEXT_CHARS]
    counts = Counter(text)
    common = sorted(c for c, n in counts.items() if n >= 300)
    index = {c: i + 1 for i, c in enumerate(common)}
    ids = np.fromiter((index.get(c, 0) for c in text), dtype=np.int64, count=len(text))
    rows = np.lib.stride_tricks.sliding_window_view(ids, context + 1)[::_TEXT_STRIDE][:_TEXT_ROWS]
    return rows[:, :context].copy(), rows[:, context].copy(), len(index) + 1


_TEXT_DEFAULTS = {
    "context": 8,
    "dim": 16,
    "hidden": 128,
    "batch_size": 64,
    "steps": 800,
    "eval_every": 80,
    "split_seed": 0,
}


def _text(**params: Any) -> Task:
    p = _params("text", params, _TEXT_DEFAULTS)
    context, dim, hidden = p["context"], p["dim"], p["hidden"]
    if context > _TEXT_MAX_CONTEXT:
        raise UsageError(
            f"Argument `context` must be at most {_TEXT_MAX_CONTEXT} (the text holds "
            f"{_TEXT_ROWS} windows of at most that many characters and the next one). "
            f"Received: context={context}"
        )
    x, y, vocab = _text_arrays(context)
    n_hold = round(len(x) * 0.1)
    tr, va, te = _split(len(x), n_hold, n_hold, p["split_seed"])
    return Task(
        name="text",
        kind="classification",
        **_rows(torch.from_numpy(x), torch.from_numpy(y), train=tr, val=va, test=te),
        model_factory=lambda: _CharLM(vocab, context, dim, hidden),
        loss_fn=torch.nn.CrossEntropyLoss(),
        metric_fn=accuracy,
        metric_name="accuracy",
        **_budget(p),
    )


# -------------------------------------------------------------------- registry
@dataclass(frozen=True)
class TaskInfo:
    """Static description of a built-in task (no data is loaded to show it)."""

    name: str
    summary: str
    kind: str
    metric: str
    sizes: tuple[int, int, int]
    defaults: dict[str, Any]
    builder: Callable[..., Task]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("builder")
        d["sizes"] = {"train": self.sizes[0], "val": self.sizes[1], "test": self.sizes[2]}
        return d


TASK_INFO: dict[str, TaskInfo] = {
    "quadratic": TaskInfo(
        "quadratic",
        "least squares with Hessian spectrum in [mu, L] and label noise; full batch",
        "regression",
        "rmse",
        (200, 200, 200),
        _QUADRATIC_DEFAULTS,
        _quadratic,
    ),
    "digits": TaskInfo(
        "digits",
        "sklearn 8x8 digits, standardized; MLP 64-64-10",
        "classification",
        "accuracy",
        (1079, 359, 359),
        _DIGITS_DEFAULTS,
        _digits,
    ),
    "mnist1d": TaskInfo(
        "mnist1d",
        "MNIST-1D (generated locally, 4000 train / 1000 test); MLP 40-100-100-10 or 1-D CNN",
        "classification",
        "accuracy",
        (3500, 500, 1000),
        _MNIST1D_DEFAULTS,
        _mnist1d,
    ),
    "breast_cancer": TaskInfo(
        "breast_cancer",
        "sklearn breast cancer, standardized; logistic regression",
        "classification",
        "accuracy",
        (341, 114, 114),
        _CANCER_DEFAULTS,
        _breast_cancer,
    ),
    "diabetes": TaskInfo(
        "diabetes",
        "sklearn diabetes, standardized features and target; MLP 10-32-1",
        "regression",
        "r2",
        (266, 88, 88),
        _DIABETES_DEFAULTS,
        _diabetes,
    ),
    "text": TaskInfo(
        "text",
        "next character of Python's own docs from the 8 before; embeddings + MLP",
        "classification",
        "accuracy",
        (12000, 1500, 1500),
        _TEXT_DEFAULTS,
        _text,
    ),
}


def names() -> list[str]:
    """Names of the built-in tasks."""
    return list(TASK_INFO)


def get(name: str, **params: Any) -> Task:
    """Build the built-in task ``name`` with ``params`` overriding its defaults.

    >>> task = get("quadratic", mu=0.1, L=10)
    >>> round(task.stable_lr, 12), round(task.optimal_lr, 12)
    (0.2, 0.19801980198)
    """
    if isinstance(name, Task):
        if params:
            raise UsageError(
                "Parameters can only be given with a task name: a Task is used as it is. "
                f"Received: {', '.join(f'{k}={shown(v)}' for k, v in params.items())}"
            )
        return name
    info = TASK_INFO.get(name) if isinstance(name, str) else None
    if info is None:
        raise UsageError(f"Unknown task {name!r}. Available: {', '.join(TASK_INFO)}")
    return info.builder(**params)


def resolve(task: Any) -> Task:
    """The :class:`Task` of ``task``: a task name is built with its defaults, a ``Task`` is
    itself; anything else is refused by name.  The one resolver of the lab, the finder, the
    search and the comparisons.

    >>> resolve("quadratic").name
    'quadratic'
    """
    if isinstance(task, str):
        return get(task)
    if not isinstance(task, Task):
        raise UsageError(f"Argument `task` must be a Task or a task name. Received: task={task!r}")
    return task
