"""Every benchmark's ``--quick`` mode runs and prints the JSON its docs describe.

The figures themselves are the benchmarks' business (they are measured as
ratios in one run, not asserted here); these tests keep the scripts from
rotting, as ``bench_advice --quick`` once did when a variant outgrew its budget.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

pytestmark = pytest.mark.slow


def _quick(name: str) -> Any:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_advice_quick_keeps_tpe_within_its_budget() -> None:
    out = _quick("bench_advice")
    assert out["cases"]
    for case in out["cases"]:
        for variant in ("tpe_median", "tpe_projected", "tpe_projected_finalists"):
            entry = case["advice"][variant]
            # the studies' steps, finalists' runs included, within a quarter of the grid's
            assert 0 < entry["steps_fraction_of_grid"] <= 0.25
        assert case["advice"]["tpe_projected_finalists"]["finalists"] >= 1
        assert case["advice"]["lrlab"]["advice_steps_fraction_of_run"] <= 0.25
        # The noise floor: the reference method on other seeds picks grid points;
        # each seed's own best LR lies between the grid's neighbours of its best point.
        grid = out["grid"]
        assert min(abs(g / case["advice"]["grid_fresh_seeds"]["lr"] - 1) for g in grid) < 1e-12
        assert set(case["advice"]["grid_one_seed"]["lrs"]) <= set(grid)
        for lr in case["advice"]["grid_own_seed"]["lrs"]:
            assert grid[0] <= lr <= grid[-1]
    assert "lrlab" in out["summary"]["targets"]


def test_pruning_quick_replays_every_pruner() -> None:
    out = _quick("bench_pruning")
    (row,) = out["tasks"].values()
    assert row["none"]["share_of_steps"] == 1.0 and row["none"]["top5_pruned"] == 0.0
    for rule in ("median", "projected", "projected_family_seen", "projected_own_family"):
        assert 0 < row[rule]["share_of_steps"] < 1.0
        assert 0 <= row[rule]["top5_pruned"] <= 5
        assert row[rule]["best_ratio_mean"] >= 1.0
        for budget in ("budget_8_runs", "budget_16_runs"):
            assert row[rule][budget]["ratio_median"] >= 1.0


@pytest.mark.parametrize("name", ["bench_schedules", "bench_torch_step", "bench_train"])
def test_timing_benchmarks_quick(name: str) -> None:
    out = _quick(name)
    assert out["benchmark"]
    if name == "bench_torch_step":
        assert out["plateau"]["lrlab plateau"]["ns_per_step"] > 0


def _suite() -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        import advice_suite
        import suite_grid
    finally:
        sys.path.remove(str(BENCH))
    return advice_suite, suite_grid


def test_advice_suite_spans_what_moves_the_best_rate() -> None:
    """At least 30 cases from at least 12 families; 90 to 10,000 training rows; runs of 200
    to 2,000 steps; batches from 4 to full; cross-entropy and MSE losses."""
    suite, _ = _suite()
    cases = suite.cases()
    assert len(cases) >= 30 and len(suite.FAMILIES) >= 12
    made = {f: suite.make(f) for f in suite.FAMILIES}
    rows = [t.n_train for t in made.values()]
    steps = [t.steps for t in made.values()]
    assert min(rows) <= 100 and max(rows) >= 10_000
    assert min(steps) <= 200 and max(steps) >= 2000
    assert any(t.full_batch for t in made.values())
    assert min(t.batch_size for t in made.values()) <= 8
    assert {t.kind for t in made.values()} == {"classification", "regression"}


def _assert_same_run(got: dict[str, Any], want: dict[str, Any], j: int) -> None:
    """A cached run is the run: the same steps, checkpoints and metric, the same losses.

    The lab trains in float32, whose kernels round differently in the last bit on another CPU
    of this pool, so losses are compared to float32's precision at a stable rate (lattice
    index 8); at a large rate (index 14) Adam and momentum grow that bit to at most 1e-3
    (seen: 8.6e-4), against 9% to 30x between two seeds of the same rate."""
    assert got.keys() == want.keys()
    assert (got["steps"], got["curve_steps"]) == (want["steps"], want["curve_steps"])
    assert got["metric"] == want["metric"]
    rtol = 1e-6 if j <= 8 else 3e-3
    for key in ("loss", "curve"):
        np.testing.assert_allclose(
            np.asarray(got[key], dtype=float), np.asarray(want[key], dtype=float), rtol=rtol
        )


def test_the_cached_grid_is_what_the_lab_trains() -> None:
    """The replay reads the cache instead of training: a cached run must be the run."""
    suite, grid = _suite()
    store = grid.load(str(BENCH / "cache" / "advice_suite_grid.json.gz"))
    for case in suite.cases(["iris_fullbatch", "blobs_mse"]):
        for j, seed in ((8, 1), (14, 2)):
            want = store[case.key][f"{j}|{seed}"]
            _assert_same_run(grid.train_one(case, j, seed), want, j)
    # The character model's chaotic Adam runs at a large rate grow a last-bit difference to
    # 2-5% on another CPU, so its cached runs are checked at a stable rate.
    for case in suite.cases(["text_charlm"]):
        _assert_same_run(grid.train_one(case, 8, 1), store[case.key]["8|1"], 8)


def test_advice_suite_quick_scores_in_and_out_of_sample() -> None:
    out = _quick("bench_advice_suite")
    n = out["cases"]
    assert n == 2 * len(out["families"]) and out["variants"] > 1
    for budget in ("budget_0.25", "budget_1.0"):
        entry = out[budget]
        for key in ("replay_in_sample", "replay_lofo"):
            assert entry[key]["cases"] == n
            assert 0 <= entry[key]["within_5pct"] <= n
        assert set(entry["lofo_rules"]) == set(out["families"])
        assert entry["trials"] == 3 * n
    for peer in ("fastai_valley", "fastai_minimum", "default"):
        assert out["peers"][peer]["cases"] == n
    # The reference repeated on other seeds: more runs can only help on average, and a
    # one-seed grid is never better than the 3-seed grid's own best in every case.
    floor = out["noise_floor"]
    assert floor["one_seed_grid"]["cases"] == floor["two_seed_grid"]["cases"] == n
    assert floor["one_seed_grid"]["median_ratio"] >= 1.0 - 0.05


def test_the_same_weights_grid_is_what_the_lab_trains() -> None:
    """The ceilings' same-weights runs: seed ``s``'s initial weights, seed ``s + 1000``'s
    batches.  On full batch the batch order is moot, so they are the grid's own runs."""
    suite, grid = _suite()
    same = grid.load(str(BENCH / "cache" / "advice_suite_grid_batch1000.json.gz"))
    store = grid.load(str(BENCH / "cache" / "advice_suite_grid.json.gz"))
    for case in suite.cases(["iris_fullbatch"]):
        assert same[case.key] == store[case.key]
    for case in suite.cases(["blobs_mse"]):
        for j, seed in ((8, 1), (14, 2)):
            want = same[case.key][f"{j}|{seed}"]
            _assert_same_run(grid.train_one(case, j, seed, batch_offset=1000), want, j)
            assert want["curve"] != store[case.key][f"{j}|{seed}"]["curve"]
            # the same weights: the run from seed s + 1000's weights is another run again
            assert grid.train_one(case, j, seed + 1000) != want


def test_advice_ceiling_agrees_with_the_noise_floor(tmp_path: Path) -> None:
    """The ceilings' full grid on another seed is the suite's one-seed noise floor, computed
    another way; the scored runs' own best rates can only beat the 3-seed reference; and on
    full batch the same-weights grid is the scored runs themselves."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_advice_ceiling.py"), "--plot", str(tmp_path / "c.png")],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sys.path.insert(0, str(BENCH))
    try:
        import bench_advice_suite as bench
    finally:
        sys.path.remove(str(BENCH))
    cases = bench.advice_suite.cases()
    floor = bench.noise_floor(cases, bench.load_grids(cases))
    suite = out["suite"]
    assert suite["cases"] == len(cases)
    assert suite["other_seed"]["f=1.0"]["no_shift"] == floor["one_seed_grid"]
    own = suite["scored_run_itself"]["f=1.0"]["no_shift"]
    assert own["within_5pct"] == len(cases) and own["median_ratio"] <= 1.0
    for part in ("suite", "built_in"):
        for source in ("other_seed", "scored_run_itself", "same_weights_other_batches"):
            for f, entry in out[part][source].items():
                assert entry["cost_in_runs"] == round(21 * float(f[2:]), 2)
                by_shift = entry["within_5pct_by_shift"]
                assert entry["most_within_5pct_any_shift"] == max(by_shift.values())
                assert entry["no_shift"]["within_5pct"] == by_shift["0"]


def test_objective_quick_times_the_three_ways() -> None:
    out = _quick("bench_objective")
    case = out["tasks"]["breast_cancer"]
    assert set(case["seconds"]) == {"direct", "task", "objective"}
    assert all(v > 0 for v in case["seconds"].values())
    assert case["objective_over_task"] > 0 and case["task_over_direct"] > 0


def test_advise_doors_quick_scores_both_doors_on_the_grid() -> None:
    out = _quick("bench_advise_doors")
    assert out["cases"] == 4 and out["trials"] == 12
    assert 0 <= out["same_pick"] <= out["trials"]
    for door in ("find_lr_task", "advise"):
        assert 0.5 <= out["geomean_ratio_to_grid_best"][door] <= 2.0  # ratios capped at 2
    for row in out["per_case"].values():
        assert len(row["advise"]["picks"]) == len(row["find_lr_task"]["picks"]) == 3


def test_finder_loader_quick_times_both_sweeps() -> None:
    out = _quick("bench_finder_loader")
    case = out["workers"]["0"]
    assert set(case["seconds"]) == {"lrlab", "torch_lr_finder"}
    assert case["lrlab_over_torch_lr_finder"] > 0


def test_finder_jax_quick_runs_the_whole_sweep_against_the_hand_loop() -> None:
    pytest.importorskip("optax")
    out = _quick("bench_finder_jax")
    assert out["sweep_steps_run"] == out["steps"] == 60
    assert set(out["ms_per_step"]) == {"hand_loop", "hand_loop_async", "engine_loop", "sweep"}
    assert out["ratio_sweep_over_hand_loop"] == pytest.approx(
        out["seconds"]["sweep"] / out["seconds"]["hand_loop"], rel=0.01
    )
    assert out["target_ratio"] == 1.10


def _paired() -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        import advice_paired
    finally:
        sys.path.remove(str(BENCH))
    return advice_paired


def test_paired_scores_are_the_formulas() -> None:
    """The paired figures against their definitions, computed here another way."""
    p = _paired()
    per = {"a/x": 0.8, "a/y": 1.25, "b/x": 0.5, "b/y": 0.5, "c/x": 2.0, "c/y": 1.0}
    out = p.paired(per, draws=4000, seed=1)
    fam = [math.sqrt(0.8 * 1.25), 0.5, math.sqrt(2.0)]
    assert out["geomean"] == pytest.approx(math.prod(fam) ** (1 / 3), rel=1e-12)
    # the bootstrap over families: its draws are geomeans of three of the families' values
    lo, hi = out["ci95"]
    assert min(fam) <= lo <= out["geomean"] <= hi <= max(fam)
    assert (out["wins"], out["losses"], out["families"]) == (3, 2, 3)
    # tiny losses: compared on loss + TINY, so two near-zero losses are near a tie
    assert p.ratio([0.004, 0.006], [0.01]) == pytest.approx(0.5, rel=1e-12)
    assert p.ratio([0.005], [0.01], tiny=True) == pytest.approx(0.055 / 0.06, rel=1e-12)
    assert p.ratio([0.001], [0.01]) == 1 / p.CAP  # a factor past the cap counts as the cap
    assert p.ratio([math.inf, 1.0], [1.0]) == p.CAP and p.ratio([1.0], [math.inf]) == 1 / p.CAP
    # gap closed: half the log gap on one case, all of it on another
    d, m, b = [4.0, 2.0], [2.0, 1.0], [1.0, 1.0]
    want = (math.log(2) + math.log(2)) / (math.log(4) + math.log(2))
    assert p.gap_closed(d, m, b) == pytest.approx(want, rel=1e-12)
    # resolvable: the runner-up's per-seed excess against its standard error
    assert p.resolvable({0: [1.0, 1.0, 1.0], 1: [1.2, 1.3, 1.25]})
    assert not p.resolvable({0: [1.0, 1.4, 1.0], 1: [1.3, 1.0, 1.2]})
    assert p.resolvable({0: [1.0, 1.0], 1: [math.inf, 1.0]})  # a rate that blew up is out


def test_the_reference_grid_is_what_the_lab_trains_on_other_seeds() -> None:
    """The paired reference picks its best rate on seeds 3-5: cached runs are the runs."""
    suite, grid = _suite()
    ref = grid.load(str(BENCH / "cache" / "advice_suite_grid_ref.json.gz"))
    store = grid.load(str(BENCH / "cache" / "advice_suite_grid.json.gz"))
    for case in suite.cases(["iris_fullbatch", "blobs_mse"]):
        assert len(ref[case.key]) == 21 * 3
        for j, seed in ((8, 4), (14, 5)):
            want = ref[case.key][f"{j}|{seed}"]
            _assert_same_run(grid.train_one(case, j, seed), want, j)
            assert want["curve"] != store[case.key][f"{j}|{seed - 3}"]["curve"]


def test_advice_paired_quick_scores_every_method_on_the_same_seeds() -> None:
    out = _quick("bench_advice_paired")["suite"]
    n = out["cases"]
    m = out["methods"]
    assert n == 12 and 0 <= out["resolvable"] <= n
    for name in ("default", "fastai valley", "lrlab (shipped)", "lrlab budget=1 (shipped)"):
        g = m[name]["/ best rate"]
        assert g["cases"] == n and g["ci95"][0] <= g["geomean"] <= g["ci95"][1]
        assert len(m[name]["per_case"]) == n
    # the best rate against itself is not listed; against the default it is the ratio's inverse
    assert "/ best rate" not in m["best rate"]
    inv = 1 / m["default"]["/ best rate"]["geomean"]
    assert m["best rate"]["/ default"]["geomean"] == pytest.approx(inv, rel=1e-9)
    # the replayed carry with the shipped exponent is the shipped rule's own pick, and one
    # exponent chosen on these very cases (0.5 among those it tries) can only do as well
    for tag in ("", " budget=1"):
        shipped = m[f"lrlab{tag} (shipped)"]
        assert m[f"lrlab{tag}, fixed"]["per_case"] == shipped["per_case"]
        best_alpha = m[f"lrlab{tag}, alpha_lofo (in sample)"]["/ best rate"]["geomean"]
        assert best_alpha <= shipped["/ best rate"]["geomean"] * (1 + 1e-9)


def test_finder_keras_quick_times_the_sweep_fit_and_the_community_callback() -> None:
    out = _quick("bench_finder_keras")
    assert set(out["seconds"]) == {"fit", "lrlab", "community", "lrlab_schedule"}
    assert out["lrlab_over_fit"] > 0 and out["lrlab_over_community"] > 0
    assert out["lrlab_curve_points"] == out["community_curve_points"] == out["steps"]
    assert out["not_restored"]["lrlab"] == []
