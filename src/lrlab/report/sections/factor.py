"""Section 2: how the decay factor of an exponential schedule sets its pace."""

from __future__ import annotations

import math

from lrlab.report._page import Figure_, Section, Table
from lrlab.report.sections._shared import Context
from lrlab.schedules import exponential


def decay_factor(ctx: Context) -> Section:
    from lrlab.plots.schedules import plot_decay_factor

    ks = (0.05, 0.1, 0.2)
    fig = plot_decay_factor(ks, steps=50)
    rows = [[k, math.log(2) / k, exponential(0.1, k)(10), exponential(0.1, k)(49)] for k in ks]
    return Section(
        key="factor",
        title="2. The effect of the decay factor",
        paragraphs=[
            "The decay factor k sets how fast the exponential schedule 0.1 · e^(−k t) shrinks: "
            "the rate halves every ln 2 / k epochs. "
            f"With k = {ks[0]} the rate after 10 epochs is still {rows[0][2]:.3g}; with "
            f"k = {ks[2]} it is already {rows[2][2]:.3g}. Too large a factor freezes training "
            "before it has arrived; too small a factor never lets it settle.",
        ],
        figures=[Figure_("decay-factor", fig, "Exponential decay for three values of k.")],
        tables=[
            Table(
                "decay-factor",
                "Exponential decay 0.1 · e^(−k t)",
                ["k", "half-life (epochs)", "lr at epoch 10", "lr at epoch 49"],
                rows,
            )
        ],
        data={"k": list(ks), "rows": rows},
    )
