"""``lrlab report``: a complete page, real numbers, atomic output, rendered in Chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lrlab.errors import UsageError
from lrlab.report import build_report

#: Every test here builds or reads a whole report: the fast lane (-m "not slow") skips them.
pytestmark = pytest.mark.slow

SECTIONS = ("decay", "factor", "landscape", "schedules", "optimizers", "finder", "search",
            "recommendation")  # fmt: skip


def test_every_section_has_prose_and_evidence(report) -> None:
    keys = [s.key for s in report.sections]
    assert keys == list(SECTIONS)
    for s in report.sections:
        assert s.paragraphs and all(len(p) > 40 for p in s.paragraphs), s.key
        assert s.figures or s.tables, s.key
        assert s.data, s.key
    page = report.index.read_text()
    for key in SECTIONS:
        assert f'<section id="{key}">' in page


def test_files_beside_the_page(report) -> None:
    out = report.out
    results = json.loads((out / "results.json").read_text())
    assert set(results) == set(SECTIONS)
    figs = sorted(p.name for p in (out / "figures").iterdir())
    n_figs = sum(len(s.figures) for s in report.sections)
    assert len(figs) == 2 * n_figs and n_figs >= 10
    for s in report.sections:
        for f in s.figures:
            assert (out / "figures" / f"{f.name}.png").read_bytes()[:4] == b"\x89PNG"
            assert b"<svg" in (out / "figures" / f"{f.name}.svg").read_bytes()[:400]
    assert (out / "tables" / "landscape.csv").read_text().startswith("lr,")
    page = report.index.read_text()
    # self-contained: every image is embedded, nothing is fetched
    assert page.count('src="data:image/png;base64,') == n_figs
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page


def test_numbers_on_the_page_are_the_measured_ones(report) -> None:
    results = json.loads((report.out / "results.json").read_text())
    land = results["landscape"]
    assert land["stable_lr"] == pytest.approx(0.2, rel=1e-12)
    assert land["optimal_lr"] == pytest.approx(2 / 11, rel=1e-12)
    small, good, large = land["quadratic"]
    assert large["diverged"] and not good["diverged"] and not small["diverged"]
    assert good["distance"] < small["distance"]
    finder = results["finder"]["result"]
    ours = finder["suggestions"]["lrlab"]
    assert ours["low"] <= ours["lr"] <= ours["high"]
    sched = results["schedules"]
    page = report.index.read_text()
    assert sched["lr"] == pytest.approx(ours["lr"], rel=1e-12)
    rows = {r["label"]: r for r in sched["comparison"]["table"]}
    assert set(rows) == {"fixed", "step", "exponential", "1/t", "cosine", "one-cycle",
                         "warmup-stable-decay", "reduce-on-plateau"}  # fmt: skip
    plateau = rows["reduce-on-plateau"]["schedule"]
    assert plateau.startswith("reduce_on_plateau(lr=") and "patience=1" in plateau
    firsts = sched["plateau_first_reductions"]
    if firsts:  # the page reports when the rule lowered the rate, or that it never did
        assert f"lowered its rate in {len(firsts)} of" in page
        assert all(0 < f < sched["comparison"]["steps"] for f in firsts)
    else:
        assert "never lowered its rate" in page
        assert (
            rows["reduce-on-plateau"]["final_val_loss_mean"] == rows["fixed"]["final_val_loss_mean"]
        )
    page = report.index.read_text()
    best = sched["comparison"]["best"]
    assert best in page
    # optimizers: each that takes a rate ran at its own range-test rate, momentum at section 6's
    opt = results["optimizers"]
    found = opt["range_test_lr"]
    assert set(found) == {"sgd", "momentum", "adagrad", "adadelta", "rmsprop", "adam", "adamw"}
    assert found["momentum"] == ours["lr"]
    assert opt["advice_steps"] > 0
    tuned = {r["optimizer"]: r for r in opt["comparison"]["table"] if r["optimizer"] in found}
    plain = {r["optimizer"]: r for r in opt["at_default_lr"]["table"]}
    assert set(tuned) == set(plain) == set(found)
    better = sum(tuned[n]["final_val_loss_mean"] < plain[n]["final_val_loss_mean"] for n in found)
    assert f"its own range-test rate did better for {better} of {len(found)}" in page


def test_same_seed_same_numbers(tmp_path: Path, report) -> None:
    again = build_report(tmp_path / "again", task="digits", seed=3, quick=True, quiet=True)
    a = _strip_times(json.loads((report.out / "results.json").read_text()))
    b = _strip_times(json.loads((again.out / "results.json").read_text()))
    assert a == b


def _strip_times(v):
    if isinstance(v, dict):
        return {k: _strip_times(x) for k, x in v.items() if "wall" not in k and k != "seconds"}
    if isinstance(v, list):
        return [_strip_times(x) for x in v]
    return v


def test_existing_folder_is_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(UsageError, match="already exists"):
        build_report(out, quick=True, quiet=True)
    assert (out / "mine.txt").read_text() == "keep me"


def test_interrupted_run_leaves_no_page(tmp_path: Path) -> None:
    out = tmp_path / "rep"

    def interrupt(label: str) -> None:
        if label == "range test":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_report(out, quick=True, quiet=True, progress=interrupt)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_an_old_report(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "old.txt").write_text("old")
    rep = build_report(out, task="breast_cancer", quick=True, force=True, quiet=True)
    assert rep.index.exists() and not (out / "old.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"task": "imagenet"}, "Argument `task` must be one of"),
        ({"seed": -1}, "`seed`"),
        # 2**32 ran the sections before the search, which then refused it (NumPy's 32 bits)
        (
            {"seed": 2**32},
            r"^Argument `seed` must be an integer from 0 to 2\*\*32 - 1\. "
            r"Received: seed=4294967296$",
        ),
        # 'no' was true: force='no' replaced a folder, quick='no' ran the full study
        ({"force": "no"}, r"^Argument `force` must be True or False\. Received: force='no'$"),
        ({"quick": "no"}, r"^Argument `quick` must be True or False\. Received: quick='no'$"),
        # a TypeError from the first section's report, after the work began
        ({"progress": 3}, r"^Argument `progress` must be a function .*Received: progress=3$"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs, needle) -> None:
    with pytest.raises(UsageError, match=needle):
        build_report(tmp_path / "x", **{"quick": True, **kwargs})
    assert not (tmp_path / "x").exists()


def test_an_out_that_is_not_a_path_is_refused_by_name() -> None:
    """Path(3) raised a TypeError from pathlib."""
    with pytest.raises(
        UsageError, match=r"^Argument `out` must be a folder path\. Received: out=3$"
    ):
        build_report(3, quick=True)  # type: ignore[arg-type]


def test_cli_bad_task_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lrlab.cli", "report", "--task", "nope", "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "digits" in proc.stderr


def test_search_section_says_where_tpe_and_random_search_agree(report) -> None:
    """TPE's start-up trials are random search's draws; the page says so and it is true."""
    from lrlab.tune import TPE_STARTUP_TRIALS as n

    studies = json.loads((report.out / "results.json").read_text())["search"]["studies"]

    def configs(sampler: str) -> list:
        trials = sorted(studies[sampler]["trials"], key=lambda r: r["number"])
        return [(r["optimizer"], r["schedule_config"]) for r in trials]

    tpe, rnd = configs("tpe"), configs("random")
    assert len(tpe) > n  # --quick leaves TPE trials to model
    assert tpe[:n] == rnd[:n] and tpe[n:] != rnd[n:]
    assert f"the two differ from trial {n + 1} on" in report.index.read_text()


# -- what a reader sees: every figure frames its data, text is legible, names agree ------------

#: The width, in CSS pixels, at which the page shows every figure on a wide screen: the
#: main column is 980 px wide with 16 px of padding each side (see _page._CSS).
FIGURE_PX = 948


def _figures(report):
    return [(s.key, f) for s in report.sections for f in s.figures]


def _span(lo: float, hi: float, log: bool) -> float:
    return (np.log10(hi) - np.log10(lo)) if log else (hi - lo)


def _flattened(ax) -> list[str]:  # type: ignore[no-untyped-def]
    """The series of ``ax`` that vary (by 1.6x on a log axis, by a tenth of their size on
    a linear one) but are drawn in less than 5% of the axis's height: flattened against
    an edge by another series that stretched the axis."""
    log = ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    shown = _span(lo, hi, log)
    out = []
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        y = y[np.isfinite(y) & ((y > 0) if log else True)]
        x = np.asarray(line.get_xdata(), dtype=float)
        if len(y) < 5 or np.ptp(x) == 0 or np.any(np.diff(x) < 0):
            continue  # a marker, a vertical line, or a path in the plane, not a series
        p5, p95 = np.percentile(np.log10(y) if log else y, [5, 95])
        varies = (p95 - p5) >= (0.2 if log else 0.1 * max(abs(p5), abs(p95)))
        if varies and (p95 - p5) < 0.05 * shown:
            out.append(line.get_label())
    return out


def test_every_figure_frames_the_data_it_compares(report) -> None:
    """No series is flattened against an edge because another's outlier stretched the axis."""
    checked = 0
    for _, f in _figures(report):
        for ax in f.figure.axes:
            if ax.get_visible():
                checked += len(ax.get_lines()) > 0
                assert _flattened(ax) == [], (f.name, ax.get_title())
    assert checked >= 10


def test_the_flattening_check_sees_a_blown_up_axis() -> None:
    """The check above fails on the figure that had the problem: one axis for all."""
    from lrlab.compare import compare

    runs = ["sgd: 0.1", "adagrad: 0.01", "adam: 1e-3", "adadelta: 1.0", "prodigy: 1.0"]
    cmp = compare("digits", runs, seeds=1, steps=150, eval_every=50)
    from lrlab.plots.training import plot_step_size

    assert max(np.nanmax(h.step_size) for h in cmp.histories["prodigy: 1.0"]) > 1e6
    one = plot_step_size(cmp.histories, split=False)
    assert _flattened(one.axes[0])  # Prodigy ran away: the others are flattened
    split = plot_step_size(cmp.histories)
    assert len(split.axes) == 2 and all(_flattened(ax) == [] for ax in split.axes)


def test_figure_text_is_legible_at_the_page_width(report) -> None:
    """Every piece of text in every figure is at least 10 CSS pixels tall on a wide screen."""
    from matplotlib.text import Text

    for key, f in _figures(report):
        width_in = f.figure.get_size_inches()[0]
        for t in f.figure.findobj(Text):
            if not t.get_visible() or not t.get_text().strip():
                continue
            ax = t.axes
            if ax is not None and not ax.get_visible():
                continue
            px = t.get_fontsize() / 72 * FIGURE_PX / width_in
            assert px >= 10, (key, f.name, t.get_text(), round(px, 1))


def test_one_name_per_schedule_across_sections(report) -> None:
    results = json.loads((report.out / "results.json").read_text())
    labels = {r["label"] for r in results["schedules"]["comparison"]["table"]}
    search = next(s for s in report.sections if s.key == "search")
    assert {row[-1] for row in search.tables[0].rows} <= labels
    # the prose, not the lrlab text in <code> a reader pastes (`constant(lr=...)`)
    prose = re.sub(r"<code>.*?</code>", "", report.index.read_text(), flags=re.S)
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>", "", prose))
    assert "constant" not in text  # the schedules section calls it "fixed"


def test_one_seed_has_a_dash_for_spread_and_counts_are_whole(tmp_path: Path) -> None:
    from lrlab.compare import compare
    from lrlab.report._page import Section, render_page
    from lrlab.report.sections._shared import comparison_table

    cmp = compare("quadratic", ["sgd: 0.05", "sgd: 0.01"], seeds=1, steps=30, eval_every=7)
    table = comparison_table(cmp)
    std, to_target = table.columns.index("± (std)"), table.columns.index("steps to target")
    assert all(r[std] is None for r in table.rows)
    assert all(r[to_target] is None or isinstance(r[to_target], int) for r in table.rows)
    page = render_page([Section("x", "x", tables=[table])], title="t", subtitle="s", footer="f")
    cells = re.findall(r"<tr>(.*?)</tr>", page)[1:]
    assert all(re.findall(r"<td[^>]*>([^<]*)</td>", c)[std] == "—" for c in cells)


def test_figure_titles_and_labels_do_not_overlap(report) -> None:
    """No two titles, labels or annotations of a figure are drawn over each other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    for key, f in _figures(report):
        fig = f.figure
        FigureCanvasAgg(fig).draw()
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        texts: list[Text] = [t for t in (fig._suptitle,) if t is not None]
        for ax in fig.axes:
            if ax.get_visible():
                texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        texts = [t for t in texts if t.get_visible() and t.get_text().strip()]
        # the text alone: an annotation's own extent includes its leader line
        boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in texts]
        for i, (a, box_a) in enumerate(boxes):
            for b, box_b in boxes[i + 1 :]:
                assert not box_a.padded(-1).overlaps(box_b.padded(-1)), (key, f.name, a, b)


def test_the_progress_bar_moves_inside_sections(tmp_path: Path) -> None:
    """In a terminal the bar advances within the long sections, not once per section."""
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: a report in a 100-column terminal
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        os.execvp(sys.executable, [sys.executable, "-m", "lrlab.cli", "report", "--quick",
                                   "--out", str(tmp_path / "rep")])  # fmt: skip
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    frames = re.findall(r"report: ([a-z ]+): +(\d+)%", out.decode(errors="replace"))
    seen: dict[str, set[int]] = {}
    for section, pct in frames:
        seen.setdefault(section, set()).add(int(pct))
    for section in ("schedules", "optimizers", "search"):
        assert len(seen.get(section, ())) >= 3, (section, seen)
    assert max(int(p) for _, p in frames) == 100
