"""Paired scoring of LR advice: every method against the same seeds' runs, summed over families.

A case's runs are trained on seeds 0, 1, 2 (the *scored* seeds): the grid's run at every
lattice rate, the optimizer's default rate, fastai's valley, and lrlab's advice (a lattice
rate, so its run is the grid's).  The **best rate** is chosen on *other* runs, the grid of
seeds 3, 4, 5 (``suite_grid.py --seeds 3,4,5``), and scored on the runs of seeds 0-2: it
is a method like the others, measured on the same runs, with no winner's curse.

* A method's **per-case ratio** to another is the ratio of their mean validation losses over
  the scored seeds.  Where the best rate's mean loss is below :data:`TINY` (a cross-entropy
  of 0.02 is noise over noise), both losses get :data:`TINY` added first, so that a ratio of
  two near-zero losses is not read as a factor; such cases are flagged.  A run that blew up
  counts as :data:`CAP` times the other's loss.
* The **headline** is the geometric mean over families of the per-family geometric mean of
  its cases' ratios, with a 95% bootstrap interval over families (:func:`paired`).
* **Gap closed** by a method: ``sum log(default / method) / sum log(default / best)`` over
  the cases (:func:`gap_closed`).
* A case is **resolvable** when its best rate beats the runner-up by more than the
  seed-to-seed standard error of their difference, over all six seeds (:func:`resolvable`);
  counts "within 5%" are reported over those only.

>>> round(geomean([2.0, 0.5, 1.0]), 12)
1.0
>>> ratio([0.2, 0.4], [0.1, 0.2])
2.0
>>> ratio([0.01], [0.02], tiny=True)   # (0.01 + 0.05) / (0.02 + 0.05)
0.8571428571428571
>>> round(gap_closed([1.0, 1.0], [0.5, 0.25], [0.25, 0.25]), 12)
0.75
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["CAP", "TINY", "gap_closed", "geomean", "paired", "ratio", "resolvable"]

#: Below this mean validation loss a case is scored on ``loss + TINY``.
TINY = 0.05
#: A blown-up run counts as this many times the other side's loss.
CAP = 5.0


def geomean(xs: Sequence[float]) -> float:
    """The geometric mean."""
    return float(np.exp(np.mean(np.log(np.asarray(xs, dtype=np.float64)))))


def ratio(a: Sequence[float], b: Sequence[float], tiny: bool = False) -> float:
    """``mean(a) / mean(b)``, on ``loss + TINY`` when ``tiny``; a blow-up (inf) caps at CAP."""
    ma, mb = float(np.mean(a)), float(np.mean(b))
    if tiny:
        ma, mb = ma + TINY, mb + TINY
    if not math.isfinite(ma) and not math.isfinite(mb):
        return 1.0
    if not math.isfinite(ma):
        return CAP
    if not math.isfinite(mb):
        return 1.0 / CAP
    return min(max(ma / mb, 1.0 / CAP), CAP)


def _family_means(per_case: Mapping[str, float]) -> dict[str, float]:
    fams: dict[str, list[float]] = {}
    for key, r in per_case.items():
        fams.setdefault(key.split("/")[0], []).append(r)
    return {f: geomean(v) for f, v in fams.items()}


def paired(per_case: Mapping[str, float], draws: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """The geometric mean over families of per-case ratios, a 95% bootstrap CI over families,
    and wins/losses (cases better/worse by more than 1%).

    >>> out = paired({"a/x": 0.5, "a/y": 0.5, "b/x": 0.5, "b/y": 0.5})
    >>> out["geomean"], out["ci95"], out["wins"], out["losses"]
    (0.5, [0.5, 0.5], 4, 0)
    """
    fam = _family_means(per_case)
    logs = np.log(np.array(list(fam.values())))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(logs), size=(draws, len(logs)))
    boot = np.exp(logs[idx].mean(axis=1))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    vals = list(per_case.values())
    return {
        "geomean": round(float(np.exp(logs.mean())), 12),
        "ci95": [round(float(lo), 12), round(float(hi), 12)],
        "wins": sum(v < 0.99 for v in vals),
        "losses": sum(v > 1.01 for v in vals),
        "families": len(fam),
        "cases": len(vals),
    }


def gap_closed(default: Sequence[float], method: Sequence[float], best: Sequence[float]) -> float:
    """``sum log(default / method) / sum log(default / best)`` over cases (mean losses)."""
    num = sum(math.log(d / m) for d, m in zip(default, method))
    den = sum(math.log(d / b) for d, b in zip(default, best))
    return num / den if den else math.nan


def resolvable(losses: Mapping[int, Sequence[float]]) -> bool:
    """Whether the best rate (lowest mean over seeds) beats the runner-up by more than the
    standard error of their per-seed difference; ``losses`` maps a rate to its per-seed losses.

    >>> resolvable({1: [1.0, 1.1, 0.9], 2: [2.0, 2.1, 1.9]})
    True
    >>> resolvable({1: [1.0, 1.5, 0.9], 2: [1.1, 1.0, 1.2]})
    False
    """
    means = {j: float(np.mean(v)) for j, v in losses.items() if all(map(math.isfinite, v))}
    if len(means) < 2:
        return True
    order = sorted(means, key=lambda j: means[j])
    best, second = np.asarray(losses[order[0]]), np.asarray(losses[order[1]])
    diff = second - best
    se = float(np.std(diff, ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return float(diff.mean()) > se
