"""Search figures: loss against LR per schedule family, and the history."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lrlab.tune import Space, tune


def test_search_figures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = tune(
        "breast_cancer",
        sampler="random",
        trials=6,
        pruner="none",
        storage="memory",
        space=Space(optimizers=("sgd",), schedules=("constant", "cosine")),
        steps=8,
    )
    fig = res.plot_lr()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    by_family = {c.get_label(): c for c in ax.collections}
    drawn = 0
    for fam in ("constant", "cosine"):
        rows = [r for r in res.trials if r["schedule"] == fam]
        if rows:
            xs = by_family[fam].get_offsets()[:, 0]
            np.testing.assert_allclose(sorted(xs), sorted(r["lr"] for r in rows), rtol=1e-12)
            drawn += len(rows)
    assert drawn == 6
    assert res.best is not None and f"best: lr {res.best['lr']:.3g}" in by_family
    hist = res.plot_history()
    step_line = hist.axes[0].get_lines()[0]
    values = [r["value"] for r in sorted(res.trials, key=lambda r: r["number"])]
    np.testing.assert_allclose(step_line.get_ydata(), np.minimum.accumulate(values), rtol=1e-12)
    hist.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
