"""Section 1: the three classic decays of the learning rate, drawn and tabled."""

from __future__ import annotations

import numpy as np

from lrlab.report._page import Figure_, Section, Table
from lrlab.report.sections._shared import Context


def decay_strategies(ctx: Context) -> Section:
    from lrlab.plots.schedules import plot_schedules, source_schedules

    scheds = source_schedules()
    epochs = [0, 10, 20, 30, 40, 49]
    rows = [[label.split(":")[0], *(s(e) for e in epochs)] for label, s in scheds.items()]
    fig = plot_schedules(
        scheds, 50, title="Three decay strategies (initial LR 0.1)", xlabel="epoch"
    )
    s_step, s_exp, s_inv = scheds.values()
    return Section(
        key="decay",
        title="1. Three ways to decay the learning rate",
        paragraphs=[
            "A schedule lowers the learning rate as training goes on: large steps early to "
            "make progress, small steps late to settle into a minimum instead of bouncing "
            "around it. Here are the three classic decays, each starting from 0.1, over 50 "
            "epochs.",
            f"Step decay halves the rate every 10 epochs and ends at {s_step(49):.4g}; "
            f"exponential decay with k = 0.1 falls fastest and ends at {s_exp(49):.3g}; 1/t "
            f"decay falls quickly at first but keeps a long tail and ends at {s_inv(49):.3g}, "
            f"{s_inv(49) / s_exp(49):.1f}× the exponential's final rate.",
        ],
        formulas=[
            "step:        lr(t) = 0.1 · 0.5^⌊t/10⌋        step(0.1, 0.5, 10)",
            "exponential: lr(t) = 0.1 · e^(−0.1·t)        exponential(0.1, 0.1)",
            "1/t:         lr(t) = 0.1 / (1 + 0.1·t)       inverse_time(0.1, 0.1)",
        ],
        figures=[Figure_("decay-strategies", fig, "LR per epoch for the three decays.")],
        tables=[
            Table(
                "decay-strategies",
                "Learning rate at selected epochs",
                ["schedule", *(f"epoch {e}" for e in epochs)],
                rows,
            )
        ],
        data={
            "schedules": {label: str(s) for label, s in scheds.items()},
            "values": {label: s(np.arange(50)).tolist() for label, s in scheds.items()},
        },
    )
