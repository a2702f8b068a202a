"""lrlab's advice judged as a paired experiment on the advice suite (issue 26).

Every method is scored on the runs of seeds 0-2 (:mod:`advice_paired`); the best rate is
picked on the grid of seeds 3-5 and scored on the same runs.  lrlab's picks come from a
*replay*: its sweep's anchor (cached) and a race whose probes read the runs that start from
the scored seed's own initial weights with another batch order
(``cache/advice_suite_grid_batch1000.json.gz``: what a real probe sees), at the default
budget and at ``budget=1``.  The race's pick is then carried to the run's length by one of
these **carries**, each a shift down the lattice (a factor of about 2 a step):

* ``none``: no carry;
* ``fixed``: the shipped rule, ``alpha = 0.5``, ``shift = alpha log10(H / L) / 0.3``;
* ``alpha_lofo``: one exponent, chosen for each family on the other 16;
* ``slope_lofo``: the exponent from the race's leader, ``alpha = a + b s`` where ``s`` is
  how fast its validation loss still fell over the race's second half
  (``log(loss(L/2) / loss(L)) / log 2``), ``a``, ``b`` chosen for each family on the
  other 16;
* ``measured_lofo``: the exponent the race's two lengths show (the pick at a quarter of the
  race against the pick at its end), weighted with a prior chosen on the other 16;
* ``ceiling``: for each case the shift best on the reference seeds themselves: no carry
  read from the race can do better.  In sample by construction.

    python benchmarks/suite_grid.py --cache benchmarks/cache/advice_suite_grid_ref.json.gz \\
        --seeds 3,4,5 --workers 2                       # the reference's grid, once
    python benchmarks/bench_advice_paired.py [--quick] [--plot docs/advice_paired.png]

Prints one JSON document; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import advice_paired as P
import advice_suite
import numpy as np
import suite_grid

from lrlab.finder.advice import (
    DEFAULT_RULE,
    THOROUGH_RULE,
    AdviceRule,
    advise,
    carry,
    horizon_exponent,
    lattice_index,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, "cache")
SCORED = [0, 1, 2]
REF = [3, 4, 5]
Row = dict[str, Any]


def _load(name: str) -> dict[str, Any]:
    return suite_grid.load(os.path.join(CACHE, name))


def _loss(rows: dict[str, Any], j: int, s: int) -> float:
    if j > suite_grid.GRID_J[-1]:
        return math.inf
    r = rows[f"{max(j, 0)}|{s}"]
    return math.inf if r["loss"] is None else float(r["loss"])


def _probe(rows: dict[str, Any], seed: int) -> Callable[..., Any]:
    """Seed ``seed``'s weights, another batch order: the first ``steps`` of that grid run."""

    def probe(lr: float, steps: int) -> list[tuple[int, float]]:
        j = round(lattice_index(lr))
        if j > suite_grid.GRID_J[-1]:
            return [(1, math.inf)]
        r = rows[f"{max(j, 0)}|{seed}"]
        pts = [(s, math.inf if v is None else v) for s, v in zip(r["curve_steps"], r["curve"])
               if s <= steps]  # fmt: skip
        if r["loss"] is None and steps >= r["steps"]:
            pts.append((max(r["steps"], pts[-1][0] if pts else 1), math.inf))
        return pts

    return probe


def race_rows(case: advice_suite.Case, same: dict[str, Any], sweeps: dict[str, Any],
              budget: float) -> list[Row]:  # fmt: skip
    """The race of each scored seed, replayed: its pick before the carry and what it saw."""
    task = advice_suite.make(case.family)
    out = []
    for s in SCORED:
        sw = sweeps[f"{case.key}|{s}"]
        rule = DEFAULT_RULE if budget < 0.5 else THOROUGH_RULE
        a = advise(sw["anchor"], _probe(same, s), horizon=task.steps,
                   budget=int(budget * task.steps) - sw["sweep_steps"], rule=rule,
                   deterministic=task.full_batch)  # fmt: skip
        jl, n = lattice_index(a.pick_lr), a.length
        # never above a rate that held at the race's end (the shipped rule's bound)
        finite = [round(lattice_index(lr)) for lr, k, v in a.probes
                  if k == a.length and math.isfinite(v)]  # fmt: skip
        out.append({
            "seed": s, "jl": jl, "shipped": round(lattice_index(a.lr)), "L": n, "H": task.steps,
            "top": max(finite) if finite else round(jl),
            "slope": a.slope,
            "measured": a.alpha_measured,
            "carry": not ({"no_progress", "all_blew_up"} & set(a.flags))
            and not (task.full_batch and not rule.full_batch_horizon),
            "full_batch": task.full_batch,
            "stalled": "no_progress" in a.flags or "all_blew_up" in a.flags,
        })  # fmt: skip
    return out


def carried(row: Row, alpha: float) -> int:
    """The race's pick moved ``alpha log10(H / L) / 0.3`` lattice steps down, never above a
    rate that held (the shipped rule's carry, with ``alpha`` given)."""
    if not row["carry"]:
        return int(row["shipped"])
    return carry(row["jl"], alpha, horizon=row["H"], length=row["L"], top=row["top"])


def _full_batch_too(row: Row, alpha: float) -> int:
    """:func:`carried`, with the carry kept on full batch (``full_batch_horizon=True``)."""
    if row["full_batch"] and not row["stalled"]:
        return carried({**row, "carry": True}, alpha)
    return carried(row, alpha)


Carry = Callable[[Row], float]  # a row's exponent alpha


def _forms(rule: AdviceRule) -> dict[str, list[tuple[Any, Carry]]]:
    """Each LOFO carry's candidate parameters, and the exponent each gives a row: the shipped
    :func:`horizon_exponent` of the rule with those parameters."""
    alphas = [round(0.1 * k, 2) for k in range(0, 13)]

    def carry(**kw: float) -> Carry:
        r = dataclasses.replace(rule, alpha_max=1.5, **kw)
        return lambda row: horizon_exponent(r, row["measured"], row["slope"])

    return {
        "alpha_lofo": [(a, carry(alpha_prior=a)) for a in alphas],
        "slope_lofo": [((a, b), carry(alpha_prior=a, alpha_slope=b))
                       for a, b in itertools.product(alphas, [-0.6, -0.4, -0.2, 0.0, 0.2])],
        "measured_lofo": [((w, a), carry(alpha_prior=a, alpha_weight=w))
                          for w, a in itertools.product([0.25, 0.5, 0.75, 1.0], alphas)],
    }  # fmt: skip


class Case:
    """One case's runs: the scored grid, the reference grid, the peers, the replayed races."""

    def __init__(self, c: advice_suite.Case, grid: dict[str, Any], ref: dict[str, Any],
                 peers: dict[str, Any], races: dict[float, list[Row]]) -> None:  # fmt: skip
        self.key, self.family, self.grid, self.races = c.key, c.family, grid, races
        means = {j: np.mean([_loss(ref, j, s) for s in REF]) for j in suite_grid.GRID_J}
        self.best_j = int(min(means, key=lambda j: means[j]))
        six = {j: [_loss(grid, j, s) for s in SCORED] + [_loss(ref, j, s) for s in REF]
               for j in suite_grid.GRID_J}  # fmt: skip
        self.resolvable = P.resolvable(six)
        self.best = [_loss(grid, self.best_j, s) for s in SCORED]
        self.tiny = float(np.mean(self.best)) < P.TINY
        self.default = [peers[f"{c.key}|{s}"]["default"][1] for s in SCORED]
        self.valley = [peers[f"{c.key}|{s}"]["fastai_valley"][1] for s in SCORED]
        self.ref_mean = means

    def losses(self, picks: Sequence[int]) -> list[float]:
        return [_loss(self.grid, j, s) for j, s in zip(picks, SCORED)]

    def r(self, a: Sequence[float], b: Sequence[float]) -> float:
        return P.ratio(a, b, tiny=self.tiny)

    def picks(self, budget: float, alpha: Carry) -> list[int]:
        return [carried(row, alpha(row)) for row in self.races[budget]]

    def ceiling(self, budget: float) -> list[int]:
        """The shift best on the reference seeds' mean: the most any carry could give."""
        rows = self.races[budget]
        shifts = range(-6, 9)

        def ref(d: int) -> float:
            return float(np.mean([self.ref_mean.get(min(round(r["jl"]) - d, 20), math.inf)
                                  for r in rows]))  # fmt: skip

        d = min(shifts, key=ref)
        return [max(min(round(r["jl"]) - d, 20), 0) for r in rows]


def _objective(cases: Sequence[Case], budget: float, alpha: Carry) -> float:
    """What a LOFO choice minimizes: the family geomean of the ratio to the best rate."""
    per = {c.key: c.r(c.losses(c.picks(budget, alpha)), c.best) for c in cases}
    return P.paired(per, draws=1)["geomean"]


def lofo(cases: list[Case], budget: float, form: list[tuple[Any, Carry]]) -> dict[str, Any]:
    """For each family, the form's parameters best on the other families; its picks there."""
    picks: dict[str, list[int]] = {}
    chosen: dict[str, Any] = {}
    for fam in sorted({c.family for c in cases}):
        train = [c for c in cases if c.family != fam]
        params, alpha = min(form, key=lambda f: _objective(train, budget, f[1]))
        chosen[fam] = params
        for c in cases:
            if c.family == fam:
                picks[c.key] = c.picks(budget, alpha)
    in_params, in_alpha = min(form, key=lambda f: _objective(cases, budget, f[1]))
    return {"picks": picks, "chosen": chosen, "in_sample": in_params,
            "in_sample_picks": {c.key: c.picks(budget, in_alpha) for c in cases}}  # fmt: skip


def methods(
    cases: list[Case], chosen: dict[str, Any] | None = None
) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    """Every method's per-seed losses per case, and the LOFO choices made.

    With ``chosen`` (the parameters each carry chose on the whole suite), the cases are
    held out: each carry runs with those, and its "LOFO" entry is that out-of-sample run.
    """
    out: dict[str, dict[str, list[float]]] = {
        "best rate": {c.key: c.best for c in cases},
        "default": {c.key: c.default for c in cases},
        "fastai valley": {c.key: c.valley for c in cases},
    }
    info: dict[str, Any] = {}
    for budget, tag in ((0.25, ""), (1.0, " budget=1")):
        rule = DEFAULT_RULE if budget < 0.5 else THOROUGH_RULE
        out[f"lrlab{tag} (shipped)"] = {
            c.key: c.losses([r["shipped"] for r in c.races[budget]]) for c in cases
        }
        out[f"lrlab{tag}, no carry"] = {
            c.key: c.losses(c.picks(budget, lambda r: 0.0)) for c in cases
        }
        out[f"lrlab{tag}, fixed"] = {
            c.key: c.losses(c.picks(budget, lambda r, a=rule.alpha_prior: a)) for c in cases
        }
        for name, form in _forms(rule).items():
            if chosen is not None:
                params = chosen[f"{name}{tag}"]["in_sample"]
                alpha = next(f for p, f in form if p == params)
                picks = {c.key: c.picks(budget, alpha) for c in cases}
                out[f"lrlab{tag}, {name}"] = {c.key: c.losses(picks[c.key]) for c in cases}
                continue
            res = lofo(cases, budget, form)
            out[f"lrlab{tag}, {name}"] = {c.key: c.losses(res["picks"][c.key]) for c in cases}
            out[f"lrlab{tag}, {name} (in sample)"] = {
                c.key: c.losses(res["in_sample_picks"][c.key]) for c in cases
            }
            info[f"{name}{tag}"] = {"in_sample": res["in_sample"], "per_family": res["chosen"]}
        if budget >= 0.5:  # the thorough rule drops the carry on full batch: with it
            out[f"lrlab{tag}, fixed, carried on full batch too"] = {
                c.key: c.losses([_full_batch_too(r, rule.alpha_prior) for r in c.races[budget]])
                for c in cases
            }
        out[f"lrlab{tag}, ceiling (perfect carry)"] = {
            c.key: c.losses(c.ceiling(budget)) for c in cases
        }
    return out, info


def table(cases: list[Case], losses: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Each method against the best rate, the default and fastai's valley, paired."""
    by = {c.key: c for c in cases}
    res: dict[str, Any] = {}
    for name, per in losses.items():
        entry: dict[str, Any] = {}
        own = "lrlab budget=1 (shipped)" if "budget=1" in name else "lrlab (shipped)"
        for ref in ("best rate", "default", "fastai valley", own):
            if ref == name or (ref == own and not name.startswith("lrlab")):
                continue
            ratios = {k: by[k].r(v, losses[ref][k]) for k, v in per.items()}
            entry[f"/ {ref}"] = P.paired(ratios)
            if ref == "best rate":
                entry["per_case"] = {k: round(v, 4) for k, v in ratios.items()}
                res_keys = [k for k in per if by[k].resolvable]
                entry["within_5pct_resolvable"] = sum(ratios[k] <= 1.05 for k in res_keys)
                entry["within_5pct_all"] = sum(v <= 1.05 for v in ratios.values())
                entry["worst"] = round(max(ratios.values()), 4)
                entry["over_1_5"] = sum(v > 1.5 for v in ratios.values())
        if name not in ("default", "best rate"):
            keys = list(per)
            entry["gap_closed"] = P.gap_closed(
                [_m(by[k], losses["default"][k]) for k in keys],
                [_m(by[k], per[k]) for k in keys],
                [_m(by[k], losses["best rate"][k]) for k in keys],
            )
        res[name] = entry
    return res


def _m(c: Case, v: Sequence[float]) -> float:
    m = float(np.mean(v))
    if not math.isfinite(m):
        m = P.CAP * float(np.mean(c.best))
    return m + (P.TINY if c.tiny else 0.0)


def real_picks(cases: list[advice_suite.Case], path: str) -> dict[str, Any]:
    """The shipped rule for real: ``find_lr_task`` on every case and scored seed at both
    budgets (its sweep, then probes that train), cached in ``path`` per rule."""
    from lrlab.finder import find_lr_task

    store = suite_grid.load(path)
    t0 = time.time()
    for budget in (0.25, 1.0):
        tag = json.dumps(
            (DEFAULT_RULE if budget < 0.5 else THOROUGH_RULE).to_dict(), sort_keys=True
        )
        for c in cases:
            key = f"{budget}|{c.key}|{tag}"
            if key in store:
                continue
            task = advice_suite.make(c.family)
            row = []
            for s in SCORED:
                r = find_lr_task(task, c.optimizer, seed=s, budget=budget, **c.options)
                assert r.suggestion is not None
                row.append([round(lattice_index(r.suggestion.lr)), r.steps / task.steps])
            store[key] = row
            suite_grid.save(path, store)
            print(f"  real b={budget} {c.key} {time.time() - t0:.0f}s", file=sys.stderr)
    return store


def _with_real(fams: list[str], cases: list[Case], losses: dict[str, Any]) -> None:
    """Add the shipped rules' real runs (trained once, then cached) to ``losses``."""
    store = real_picks(advice_suite.cases(fams), os.path.join(CACHE, "advice_real_picks.json.gz"))
    for budget, tag in ((0.25, ""), (1.0, " budget=1")):
        rule = json.dumps((DEFAULT_RULE if budget < 0.5 else THOROUGH_RULE).to_dict(),
                          sort_keys=True)  # fmt: skip
        losses[f"lrlab{tag} (shipped), real runs"] = {
            c.key: c.losses([j for j, _ in store[f"{budget}|{c.key}|{rule}"]]) for c in cases
        }


def build(cs: list[advice_suite.Case], stem: str, t0: float) -> list[Case]:
    """The cases' runs from the caches named ``stem``: scored, reference, same weights."""
    grid, ref = _load(f"{stem}_grid.json.gz"), _load(f"{stem}_grid_ref.json.gz")
    same, peers = _load(f"{stem}_grid_batch1000.json.gz"), _load("advice_suite_peers.json.gz")
    out = []
    for c in cs:
        races = {b: race_rows(c, same[c.key], peers, b) for b in (0.25, 1.0)}
        out.append(Case(c, grid[c.key], ref[c.key], peers, races))
        print(f"  replayed {c.key} {time.time() - t0:.0f}s", file=sys.stderr)
    return out


def summary(cases: list[Case], losses: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    return {
        "cases": len(cases),
        "resolvable": sum(c.resolvable for c in cases),
        "tiny": [c.key for c in cases if c.tiny],
        "methods": table(cases, losses),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 families, no built-in tasks")
    ap.add_argument("--suite-only", action="store_true", help="no built-in tasks")
    ap.add_argument("--plot", default=None, help="draw the per-case ratios to this PNG")
    ap.add_argument(
        "--real", action="store_true",
        help="also the shipped rule's real runs (find_lr_task; cached in cache/)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    t0 = time.time()
    fams = list(advice_suite.FAMILIES)
    if args.quick:
        fams = fams[:6]
    cases = build(advice_suite.cases(fams), "advice_suite", t0)
    losses, info = methods(cases)
    if args.real:
        _with_real(fams, cases, losses)
    report: dict[str, Any] = {"suite": summary(cases, losses), "lofo_choices": info}
    if not (args.quick or args.suite_only):
        design = list(advice_suite.DESIGN)
        held = build(advice_suite.cases(design), "advice_design", t0)
        held_losses = methods(held, chosen=info)[0]
        if args.real:
            _with_real(design, held, held_losses)
        report["built_in"] = {
            "note": "lrlab's built-in tasks: every carry with the parameters it chose on the suite",
            **summary(held, held_losses),
        }
    report["seconds"] = round(time.time() - t0, 1)
    if args.plot:
        plot(report, args.plot)
    print(json.dumps(report, indent=1))
    return 0


def plot(report: dict[str, Any], path: str) -> None:
    """Per-case ratios to the best rate: lrlab, fastai's valley, the optimizer's default."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report["suite"]["methods"]
    ours = "lrlab (shipped), real runs" if "lrlab (shipped), real runs" in m else "lrlab (shipped)"
    shown = [("default", "the optimizer's default", "#999999", "s"),
             ("fastai valley", "fastai valley", "#d95f02", "^"),
             (ours, "lrlab, default budget", "#1b9e77", "o")]  # fmt: skip
    keys = sorted(m["default"]["per_case"], key=lambda k: m[ours]["per_case"][k])
    fig, ax = plt.subplots(figsize=(8, 10))
    for name, label, color, marker in shown:
        per = m[name]["per_case"]
        g = m[name]["/ best rate"]
        ax.scatter([per[k] for k in keys], range(len(keys)), color=color, marker=marker, s=30,
                   label=f"{label}: {g['geomean']:.2f} [{g['ci95'][0]:.2f}, {g['ci95'][1]:.2f}]",
                   zorder=3, alpha=0.9)  # fmt: skip
    ax.axvline(1.0, color="black", lw=1)
    ax.axvspan(1.0, 1.05, color="#cccccc", alpha=0.5, lw=0)
    ax.set_xscale("log")
    ticks = [0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0]
    ax.set_xticks(ticks, ["0.75", "1", "1.25", "1.5", "2", "3", "5 or more"])
    ax.minorticks_off()
    ax.set_xlim(0.7, 5.6)
    ax.set_ylim(-0.7, len(keys) - 0.3)
    ax.set_yticks(range(len(keys)), [k.split("[")[0] for k in keys], fontsize=8)
    ax.set_xlabel("mean validation loss / the best rate's, on the same seeds (log scale)")
    ax.set_title("Each suite case against the best rate (chosen on other seeds):\n"
                 "left of the line is better, the grey band is within 5%", fontsize=11)  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.06), fontsize=9, ncol=1,
              title="geometric mean over the 17 families [95% CI]", title_fontsize=9)  # fmt: skip
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
