"""The built-in tasks, all offline.

``quadratic``, ``digits``, ``mnist1d``, ``breast_cancer`` and ``diabetes``.

Every split is fixed by ``split_seed`` (default 0), features are standardised
with the training split's mean and standard deviation, and each task has its
own defaults for the batch size, the step budget and the evaluation interval.
"""

from __future__ import annotations

import dataclasses
import hashlib
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

from lrlab._checks import positive_int as _pos_int
from lrlab._checks import positive_number as _pos_float
from lrlab.errors import UsageError
from lrlab.tasks.base import Task, accuracy, binary_accuracy, r2, rmse

__all__ = ["TASK_INFO", "QuadraticTask", "cache_dir", "get", "names"]


# --------------------------------------------------------------------- helpers
def _split(n: int, fractions: tuple[float, float], seed: int) -> tuple[np.ndarray, ...]:
    """Indices of a train / validation / test split of ``n`` rows (val and test fractions)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = round(n * fractions[0])
    n_test = round(n * fractions[1])
    return perm[n_val + n_test :], perm[:n_val], perm[n_val : n_val + n_test]


def _standardize(x: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` with the statistics of the training rows (constant columns: std 1)."""
    mean = x[train_idx].mean(axis=0)
    std = x[train_idx].std(axis=0)
    std[std == 0] = 1.0
    return (x - mean) / std


def _check_params(name: str, params: dict[str, Any], allowed: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise UsageError(
            f"Unknown parameter for task {name!r}: {unknown[0]}. "
            f"Allowed: {', '.join(sorted(allowed))}"
        )
    return {**allowed, **params}


def _common(params: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        _pos_int("batch_size", params["batch_size"]),
        _pos_int("steps", params["steps"]),
        _pos_int("eval_every", params["eval_every"]),
        int(params["split_seed"]),
    )


def _mlp(sizes: list[int], dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1], dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


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
    p = _check_params("quadratic", params, _QUADRATIC_DEFAULTS)
    mu, big_l = _pos_float("mu", p["mu"]), _pos_float("L", p["L"])
    if mu > big_l:
        raise UsageError(f"Argument `mu` must be at most `L`. Received: mu={mu}, L={big_l}")
    dim = _pos_int("dim", p["dim"])
    n = _pos_int("n_train", p["n_train"])
    if n < dim:
        raise UsageError(
            f"Argument `n_train` must be at least `dim` so the Hessian is full rank. "
            f"Received: n_train={n}, dim={dim}"
        )
    n_val, n_test = _pos_int("n_val", p["n_val"]), _pos_int("n_test", p["n_test"])
    noise = _pos_float("noise", p["noise"], allow_zero=True)
    batch = n if p["batch_size"] is None else _pos_int("batch_size", p["batch_size"])
    steps, eval_every = _pos_int("steps", p["steps"]), _pos_int("eval_every", p["eval_every"])
    rng = np.random.default_rng(int(p["split_seed"]))

    lam = np.geomspace(mu, big_l, dim) if dim > 1 else np.array([big_l])
    lam[0], lam[-1] = (mu, big_l) if dim > 1 else (big_l, big_l)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    u, _ = np.linalg.qr(rng.standard_normal((n, dim)))
    x_train = np.sqrt(n) * (u * np.sqrt(lam)) @ q.T
    w_star = rng.standard_normal(dim)
    w_star /= np.linalg.norm(w_star)
    x_val = (rng.standard_normal((n_val, dim)) * np.sqrt(lam)) @ q.T
    x_test = (rng.standard_normal((n_test, dim)) * np.sqrt(lam)) @ q.T

    def labels(x: np.ndarray) -> np.ndarray:
        return (x @ w_star + noise * rng.standard_normal(len(x)))[:, None]

    y_train, y_val, y_test = labels(x_train), labels(x_val), labels(x_test)
    f64 = torch.float64

    def factory() -> torch.nn.Module:
        return torch.nn.Linear(dim, 1, bias=False, dtype=f64)

    return QuadraticTask(
        name="quadratic",
        kind="regression",
        x_train=_t(x_train, f64),
        y_train=_t(y_train, f64),
        x_val=_t(x_val, f64),
        y_val=_t(y_val, f64),
        x_test=_t(x_test, f64),
        y_test=_t(y_test, f64),
        model_factory=factory,
        loss_fn=_HalfMSE(),
        metric_fn=rmse,
        metric_name="rmse",
        greater_is_better=False,
        batch_size=batch,
        steps=steps,
        eval_every=eval_every,
        params={**p, "batch_size": batch},
        mu=mu,
        L=big_l,
        noise=noise,
        w_star=_t(w_star, f64),
    )


# ------------------------------------------------------------------ sklearn
def _sklearn_task(
    name: str,
    loader: Callable[[], tuple[np.ndarray, np.ndarray]],
    params: dict[str, Any],
    defaults: dict[str, Any],
    kind: str,
) -> Task:
    """A task on sklearn data: a 60/20/20 split, standardized features, and a one-hidden-layer
    MLP when ``defaults`` has ``hidden``, else a linear model (logistic regression)."""
    p = _check_params(name, params, defaults)
    batch, steps, eval_every, split_seed = _common(p)
    hidden = _pos_int("hidden", p["hidden"]) if "hidden" in p else 0
    x, y = loader()
    tr, va, te = _split(len(x), (0.2, 0.2), split_seed)
    x = _standardize(x.astype(np.float64), tr)
    f32 = torch.float32
    if kind == "multiclass":
        y_t = torch.from_numpy(y.astype(np.int64))
        loss_fn: Any = torch.nn.CrossEntropyLoss()
        metric_fn, metric_name, task_kind, greater = accuracy, "accuracy", "classification", True
        n_out = int(y.max()) + 1
    elif kind == "binary":
        y_t = torch.from_numpy(y.astype(np.float32)[:, None])
        loss_fn = torch.nn.BCEWithLogitsLoss()
        metric_fn, metric_name, task_kind, greater = (
            binary_accuracy,
            "accuracy",
            "classification",
            True,
        )
        n_out = 1
    else:
        yf = y.astype(np.float64)
        yf = (yf - yf[tr].mean()) / yf[tr].std()
        y_t = torch.from_numpy(yf.astype(np.float32)[:, None])
        loss_fn = torch.nn.MSELoss()
        metric_fn, metric_name, task_kind, greater = r2, "r2", "regression", True
        n_out = 1
    x_t = _t(x, f32)
    factory = _mlp_factory(x.shape[1], hidden, n_out)
    return Task(
        name=name,
        kind=task_kind,  # type: ignore[arg-type]
        x_train=x_t[tr],
        y_train=y_t[tr],
        x_val=x_t[va],
        y_val=y_t[va],
        x_test=x_t[te],
        y_test=y_t[te],
        model_factory=factory,
        loss_fn=loss_fn,
        metric_fn=metric_fn,
        metric_name=metric_name,
        greater_is_better=greater,
        batch_size=batch,
        steps=steps,
        eval_every=eval_every,
        params=p,
    )


def _mlp_factory(n_in: int, hidden: int, n_out: int) -> Callable[[], torch.nn.Module]:
    """``n_in -> hidden -> n_out`` with ReLU, or a linear ``n_in -> n_out`` when ``hidden=0``."""

    def factory() -> torch.nn.Module:
        return _mlp([n_in, hidden, n_out] if hidden else [n_in, n_out])

    return factory


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, d.target


def _load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    return d.data, d.target


def _load_diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    return d.data, d.target


_DIGITS_DEFAULTS = {"hidden": 64, "batch_size": 64, "steps": 500, "eval_every": 50, "split_seed": 0}
_CANCER_DEFAULTS = {"batch_size": 32, "steps": 300, "eval_every": 30, "split_seed": 0}
_DIABETES_DEFAULTS = {
    "hidden": 32,
    "batch_size": 32,
    "steps": 500,
    "eval_every": 50,
    "split_seed": 0,
}


def _digits(**params: Any) -> Task:
    return _sklearn_task("digits", _load_digits, params, _DIGITS_DEFAULTS, "multiclass")


def _breast_cancer(**params: Any) -> Task:
    return _sklearn_task("breast_cancer", _load_breast_cancer, params, _CANCER_DEFAULTS, "binary")


def _diabetes(**params: Any) -> Task:
    return _sklearn_task("diabetes", _load_diabetes, params, _DIABETES_DEFAULTS, "regression")


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
    arrays = {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(
            tmp, x=arrays["x"], y=arrays["y"], x_test=arrays["x_test"], y_test=arrays["y_test"]
        )
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
    p = _check_params("mnist1d", params, _MNIST1D_DEFAULTS)
    batch, steps, eval_every, split_seed = _common(p)
    model = p["model"]
    if model not in ("mlp", "cnn"):
        raise UsageError(f"Argument `model` must be 'mlp' or 'cnn'. Received: model={model!r}")
    hidden, channels = _pos_int("hidden", p["hidden"]), _pos_int("channels", p["channels"])
    n_val = _pos_int("n_val", p["n_val"])
    d = _mnist1d_arrays()
    x, y = d["x"], d["y"]
    if n_val >= len(x):
        raise UsageError(
            f"Argument `n_val` must be less than the {len(x)} training signals. "
            f"Received: n_val={n_val}"
        )
    perm = np.random.default_rng(split_seed).permutation(len(x))
    tr, va = perm[n_val:], perm[:n_val]
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
        x_train=x_t[tr],
        y_train=y_t[tr],
        x_val=x_t[va],
        y_val=y_t[va],
        x_test=_t(d["x_test"], f32),
        y_test=torch.from_numpy(d["y_test"].astype(np.int64)),
        model_factory=factory,
        loss_fn=torch.nn.CrossEntropyLoss(),
        metric_fn=accuracy,
        metric_name="accuracy",
        greater_is_better=True,
        batch_size=batch,
        steps=steps,
        eval_every=eval_every,
        params=p,
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


def _text_arrays(context: int) -> tuple[np.ndarray, np.ndarray, int]:
    """15,000 windows of ``context + 1`` characters of Python's own documentation text
    (``pydoc_data.topics``, shipped with the interpreter), every 7th position of its first
    120,000 characters: ``(previous characters as ids, next character's id, vocabulary)``;
    the 35 characters seen at least 300 times have their own ids, the rest share id 0."""
    from pydoc_data.topics import topics

    text = " ".join(topics[k] for k in sorted(topics))[:120_000]
    # Characters seen fewer than 300 times share one id (0), so that every class has
    # enough rows for a stratified cross-validation split.
    counts = Counter(text)
    common = sorted(c for c, n in counts.items() if n >= 300)
    index = {c: i + 1 for i, c in enumerate(common)}
    ids = np.fromiter((index.get(c, 0) for c in text), dtype=np.int64, count=len(text))
    rows = np.lib.stride_tricks.sliding_window_view(ids, context + 1)[::7][:15_000]
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
    p = _check_params("text", params, _TEXT_DEFAULTS)
    batch, steps, eval_every, split_seed = _common(p)
    context, dim, hidden = (_pos_int(k, p[k]) for k in ("context", "dim", "hidden"))
    x, y, vocab = _text_arrays(context)
    tr, va, te = _split(len(x), (0.1, 0.1), split_seed)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    return Task(
        name="text",
        kind="classification",
        x_train=x_t[tr],
        y_train=y_t[tr],
        x_val=x_t[va],
        y_val=y_t[va],
        x_test=x_t[te],
        y_test=y_t[te],
        model_factory=lambda: _CharLM(vocab, context, dim, hidden),
        loss_fn=torch.nn.CrossEntropyLoss(),
        metric_fn=accuracy,
        metric_name="accuracy",
        greater_is_better=True,
        batch_size=batch,
        steps=steps,
        eval_every=eval_every,
        params=p,
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
        return name
    info = TASK_INFO.get(name) if isinstance(name, str) else None
    if info is None:
        raise UsageError(f"Unknown task {name!r}. Available: {', '.join(TASK_INFO)}")
    return info.builder(**params)
