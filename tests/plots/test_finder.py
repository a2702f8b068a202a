"""The range-test figure marks every suggestion."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from lrlab.finder import FinderResult, find_lr


def _sweep(num_steps: int) -> FinderResult:
    """A full-batch sweep of a small regression net, 1e-4 -> 100, to divergence."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = x.sum(dim=1, keepdim=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return find_lr(
        model,
        torch.nn.MSELoss(),
        [(x, y)],
        opt,
        min_lr=1e-4,
        max_lr=100.0,
        num_steps=num_steps,
        confirm=3,
        confirm_steps=5,
    )


def test_plot_marks_each_suggestion_and_the_edge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = _sweep(60)
    fig = res.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for name, s in res.suggestions.items():
        assert f"{name}: {s.lr:.3g}" in labels
    if res.divergence_lr is not None:
        assert any(lab.startswith("divergence edge") for lab in labels)
    # The smoothed curve is drawn as recorded.
    smooth_line = next(line for line in ax.get_lines() if line.get_label() == "smoothed loss")
    np.testing.assert_allclose(smooth_line.get_ydata(), res.smoothed[np.isfinite(res.smoothed)])
    out = tmp_path / "f.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_keeps_the_lowest_raw_loss_in_frame() -> None:
    """On a short sweep the EMA lags far above the raw loss; the frame shows both."""
    res = _sweep(30)
    raw_min = float(np.nanmin(res.losses[np.isfinite(res.losses)]))
    smooth_min = float(np.nanmin(res.smoothed[np.isfinite(res.smoothed)]))
    assert raw_min < smooth_min  # the lag this test is about
    lo, hi = res.plot().axes[0].get_ylim()
    assert lo < raw_min < hi
