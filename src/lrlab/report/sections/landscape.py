"""Section 3: a fixed learning rate on a quadratic bowl and on Rosenbrock's valley."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from lrlab.report._page import Figure_, Section, Table
from lrlab.report.sections._shared import Context

if TYPE_CHECKING:
    from lrlab.landscape import LandscapeResult


def _paths(result: LandscapeResult, subtitles: list[str], title: str, **kw: Any) -> Figure:
    """The three paths of ``result`` side by side, each panel titled by its regime."""
    from lrlab.plots.landscape import plot_trajectories

    fig = plot_trajectories(result)
    for ax, regime, sub in zip(fig.axes, ("too small", "near the best", "too large"), subtitles):
        ax.set_title(f"{regime}\n{sub}", fontsize=10)
    fig.suptitle(title, **kw)
    fig.tight_layout()
    return fig


def _rosenbrock(steps: int) -> tuple[Figure, list[dict[str, Any]], str]:
    """SGD's paths on Rosenbrock's valley at three rates: the figure, each path's
    summary, and the paragraph that reads them."""
    from lrlab.landscape import trajectories

    ros = trajectories("rosenbrock", "sgd", [2e-4, 2e-3, 4e-3], steps=steps)
    rows = ros.summary()
    small, good, large = rows
    fig = _paths(
        ros,
        [f"lr={r['lr']:g}, ends {r['distance']:.2g} from ★" for r in rows],
        f"SGD on Rosenbrock's valley, {ros.steps} steps from (−1.2, 1); ★ is the minimum (1, 1)",
        fontsize=11,
    )
    end = (
        "diverges"
        if large["diverged"]
        else f"stalls {large['distance']:.2g} away, short of the smaller rate"
    )
    text = (
        "Rosenbrock's function has a narrow curved valley whose floor falls only gently "
        "to the minimum at (1, 1): across the valley the curvature is hundreds of times "
        "larger than along it, so a single rate must be small for the walls and is then "
        f"tiny for the floor. In {ros.steps} steps of SGD, the small rate "
        f"(lr = {small['lr']:g}) has only slid down into the valley, still "
        f"{small['distance']:.2g} from the minimum; the rate near the best "
        f"(lr = {good['lr']:g}) drops into the valley and follows its floor round, "
        f"ending {good['distance']:.2g} away; the large rate "
        f"(lr = {large['lr']:g}) overshoots across the steep walls, zig-zags and {end}. "
        "Past about lr = 0.006 the first steps already leave the frame and diverge."
    )
    return fig, rows, text


def _table(surface: Any, lrs: list[float], summary: list[dict[str, Any]]) -> Table:
    """Each rate's path on the quadratic against the theory of the rate."""
    edge = surface.stable_lr
    return Table(
        "landscape",
        "Gradient descent on the quadratic, measured against theory",
        ["lr", "lr / (2/L)", "ρ (theory)", "final loss", "distance to min", "diverged"],
        [[lr, lr / edge, surface.rate(lr), r["loss"], r["distance"], r["diverged"]]
         for lr, r in zip(lrs, summary)],
    )  # fmt: skip


def landscape(ctx: Context) -> Section:
    from lrlab.landscape import get_function, trajectories

    surface = get_function("quadratic", mu=1.0, L=10.0)
    edge, best = surface.stable_lr, surface.optimal_lr
    assert edge is not None and best is not None
    lrs = [round(0.1 * edge, 6), round(best, 6), round(1.05 * edge, 6)]
    steps = ctx.budget.landscape_steps
    res = trajectories(surface, "sgd", lrs, steps=steps)
    fig = _paths(
        res,
        [res.label(i) for i in range(len(lrs))],
        f"Gradient descent on a quadratic bowl, μ = 1, L = 10: 2/L = {edge:g}, "
        f"2/(L+μ) = {best:.4g}",
    )
    summary = res.summary()
    small, good, large = summary
    # Rosenbrock's valley is curved and flat along its floor: gradient descent needs
    # thousands of steps to follow it, so the paths get 60 times the bowl's.
    fig2, ros_rows, ros_text = _rosenbrock(steps * 60)
    return Section(
        key="landscape",
        title="3. A fixed learning rate on a loss surface",
        paragraphs=[
            "On a quadratic bowl with curvatures μ = 1 and L = 10, gradient descent with a "
            "fixed rate lr multiplies the error along each axis by |1 − lr·λ| per step. It "
            f"converges exactly when lr < 2/L = {edge:g}, and fastest at lr = 2/(L+μ) = "
            f"{best:.4g}, where both axes shrink by ρ = (L−μ)/(L+μ) = {surface.rate(best):.3f}.",
            f"Too small (lr = {lrs[0]:g}) crawls: after {steps} steps it is still "
            f"{small['distance']:.3g} from the minimum. Near the optimum (lr = {lrs[1]:g}) it "
            f"arrives ({good['distance']:.2g} away). Just past 2/L (lr = {lrs[2]:g}) the steep "
            f"axis overshoots more each step and the iterate "
            f"{'diverges' if large['diverged'] else 'oscillates ever wider'}: "
            f"{large['distance']:.3g} away after {large['steps']} steps.",
            ros_text,
        ],
        figures=[
            Figure_("landscape-quadratic", fig, "Paths of gradient descent for three LRs."),
            Figure_("landscape-rosenbrock", fig2, "SGD paths on the Rosenbrock function."),
        ],
        tables=[_table(surface, lrs, summary)],
        data={
            "mu": surface.params["mu"],
            "L": surface.params["L"],
            "stable_lr": edge,
            "optimal_lr": best,
            "quadratic": summary,
            "rosenbrock": ros_rows,
        },
    )
