"""Section 6: the LR range test, each rule's suggestion trained on every seed.

It runs before sections 4 and 5, which train at its suggestion."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure

from lrlab.report._page import Figure_, Section, Table, fmt
from lrlab.report.sections._shared import Context, RangeTest

if TYPE_CHECKING:
    from lrlab.finder import FinderResult


class _Trained(NamedTuple):
    """One rule's suggestion trained on every seed (mean: ``inf`` if a seed diverged)."""

    rule: str
    lr: float
    val_losses: list[float]
    mean: float
    diverged: int


def _train_suggestions(ctx: Context, res: FinderResult) -> list[_Trained]:
    """Train each rule's suggestion for a run's length on every seed."""
    from lrlab.train import run

    out = []
    for name, sug in res.suggestions.items():
        lr = float(sug.lr)
        losses = [
            run(ctx.task, "momentum", lr=lr, steps=ctx.steps, seed=s, quiet=True).final_val_loss
            for s in ctx.seeds
        ]
        mean = float(np.mean(losses)) if all(np.isfinite(losses)) else math.inf
        out.append(_Trained(name, lr, losses, mean, sum(not np.isfinite(v) for v in losses)))
        ctx.advance(0.3 + 0.7 * len(out) / len(res.suggestions))
    return out


def _sweep(ctx: Context) -> FinderResult:
    """The range test of SGD + momentum on the task, with lrlab's advice."""
    from lrlab.finder import advice_budget, find_lr_task

    sweep, _ = advice_budget(ctx.steps)
    # At least 100 steps, two per 1.2x of rate over 10⁻⁶…10: a curve a reader can
    # follow, and one the rules' smoothing does not swallow.  The race keeps the steps
    # it has at the default budget, so the longer sweep is paid on top of it.
    extra = max(100 - sweep, 0)
    budget = 0.25 + extra / ctx.task.steps
    return find_lr_task(
        ctx.task, "momentum", seed=ctx.seed, num_steps=sweep + extra, budget=budget, quiet=ctx.quiet
    )


def _frameworks(ctx: Context) -> dict[str, FinderResult]:
    """The range test of plain SGD on the task in PyTorch, Keras and JAX/Optax, from the
    same weights on the same batches (``{}`` when Keras, JAX or Optax is not installed)."""
    import importlib.util
    import os

    from lrlab.finder import advice_budget, find_lr_task

    if any(importlib.util.find_spec(m) is None for m in ("keras", "jax", "optax")):
        return {}
    os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras's default, TensorFlow, is not lrlab's
    try:
        import keras
    except ImportError:  # a KERAS_BACKEND whose framework is absent
        return {}
    sweep, _ = advice_budget(ctx.steps)
    extra = max(100 - sweep, 0)
    opts = dict(seed=ctx.seed, num_steps=sweep + extra, budget=0.25 + extra / ctx.task.steps)
    where = {
        "PyTorch": "torch",
        f"Keras 3 ({keras.backend.backend()} backend)": "keras",
        "JAX + Optax": "jax",
    }
    return {
        title: find_lr_task(ctx.task, "sgd", framework=fw, quiet=True, **opts)  # type: ignore[arg-type]
        for title, fw in where.items()
    }


def largest_gap(results: dict[str, FinderResult]) -> float:
    """The largest relative difference between two frameworks' batch losses, over the
    steps where all of them ran and stayed finite."""
    curves = [r.losses for r in results.values()]
    n = min(len(c) for c in curves)
    stack = np.array([c[:n] for c in curves])
    ok = np.all(np.isfinite(stack), axis=0) & np.all(stack != 0, axis=0)
    if not ok.any():
        return math.nan
    ref = stack[0, ok]
    return float(np.max(np.abs(stack[:, ok] - ref) / np.abs(ref)))


def _frameworks_figure(ctx: Context) -> tuple[list[Figure_], list[str], dict[str, Any]]:
    """The three frameworks' curves side by side, the sentence that reads them, the data."""
    from lrlab.plots.finder import plot_frameworks

    results = _frameworks(ctx)
    if not results:
        return [], ["With lrlab's keras and jax extras installed (pip install 'lrlab[all]'), "
                    "this section also runs the same test in Keras and JAX/Optax."], {}  # fmt: skip
    gap = largest_gap(results)
    picks = [r.suggestion for r in results.values()]
    lrs = ", ".join(f"{t} {p.lr:.3g}" for t, p in zip(results, picks) if p is not None)
    steps = min(len(r.lrs) for r in results.values())
    text = (
        "The same range test with plain SGD, run three times: in PyTorch, in Keras (its own "
        "training step, on the model compiled with the task's loss) and in JAX with Optax "
        "(one jit-compiled step), each model built from the same initial weights and fed the "
        f"same batches. Their batch losses agree to {gap:.1e} (the largest relative "
        f"difference over the {steps} sweep steps all three ran; float32 rounding), and "
        f"lrlab's suggestions are {lrs}."
    )
    fig = plot_frameworks(results)
    caption = (
        "The range test of plain SGD in each framework: grey dots each batch's loss, the "
        "thick curve the centered mean lrlab reads, the green line lrlab's suggestion and "
        "its range shaded. Same model, weights and batches: the panels should match."
    )
    data = {
        "frameworks": {t: r.to_dict() for t, r in results.items()},
        "largest_relative_gap": gap,
    }
    return [Figure_("range-test-frameworks", fig, caption)], [text], data


def range_test(ctx: Context) -> tuple[Section, RangeTest]:
    task = ctx.task
    res = _sweep(ctx)
    ctx.advance(0.3)
    fw_figures, fw_text, fw_data = _frameworks_figure(ctx)
    fig = res.plot()
    assert isinstance(fig, Figure)
    trained = _train_suggestions(ctx, res)
    ours = res.suggestion
    lr = float(ours.lr) if ours is not None else 0.01
    best_row = min(trained, key=lambda t: t.mean)
    beta = float(res.settings.get("beta", 0.98))
    if ours is None:
        span = "no range (the sweep was too short)"
    else:
        span = f"its range {ours.low:.3g} … {ours.high:.3g}"
    why = f" How it got there: {res.advice.reason}." if res.advice is not None else ""
    return Section(
        key="finder",
        title="6. The LR range test",
        paragraphs=[
            f"The range test trains {task.name} with SGD + momentum while the rate grows "
            f"exponentially from 10⁻⁶ to 10, recording the loss; it stopped ({res.stop_reason}) "
            f"at lr = {res.stop_lr:.3g} after {len(res.lrs)} steps. The peers' rules (fastai, "
            "Lightning, torch-lr-finder) read a suggestion off an exponential moving average "
            f"of the loss (β = {beta:g}, the dashed curve), which trails the raw loss by some "
            f"1/(1 − β) = {1 / (1 - beta):.0f} steps and so bottoms out at a larger rate than "
            "the loss does; lrlab's rule reads a centered mean without that lag (the thick "
            "curve). "
            "Each suggestion is labelled on its line and was then trained for "
            f"{ctx.steps} steps on {len(ctx.seeds)} seed(s) (the table).",
            f"lrlab's suggestion is lr = {lr:.3g}, with {span}; it spent {res.steps} "
            f"training steps in all ({res.steps / ctx.steps:.0%} of one training run).{why} The "
            f"lowest validation loss came from the {best_row.rule!r} rule "
            f"(lr = {best_row.lr:.3g}, loss {fmt(best_row.mean)}).",
            *fw_text,
        ],
        figures=[
            Figure_(
                "range-test",
                fig,
                "Training loss against the rate during the sweep: grey dots each batch, the "
                "thick curve the centered mean lrlab reads, the dashed one the lagging EMA the "
                "peers read; the shaded band is lrlab's range.",
            ),
            *fw_figures,
        ],
        tables=[
            Table(
                "range-test",
                f"Each suggestion trained for {ctx.steps} steps (mean over seeds)",
                ["rule", "lr", "final val loss", "diverged seeds"],
                [[t.rule, t.lr, t.mean, t.diverged] for t in trained],
            )
        ],
        data={
            "result": res.to_dict(),
            "trained": [{"rule": t.rule, "lr": t.lr, "val_losses": t.val_losses} for t in trained],
            **fw_data,
        },
    ), RangeTest(result=res, lr=lr)
