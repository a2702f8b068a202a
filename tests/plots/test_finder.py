"""The range-test figure marks every suggestion."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from lrlab.finder import find_lr


def test_plot_marks_each_suggestion_and_the_edge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(64, 4)
    y = x.sum(dim=1, keepdim=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    res = find_lr(
        model,
        torch.nn.MSELoss(),
        [(x, y)],
        opt,
        min_lr=1e-4,
        max_lr=100.0,
        num_steps=60,
        confirm=3,
        confirm_steps=5,
    )
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
