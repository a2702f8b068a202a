"""The range test's sweep over a DataLoader: lrlab's ``find_lr`` against torch-lr-finder's
``range_test`` on the same model and loader (issue 24's target: within 1.05x).

A small CNN on sklearn's digits (8 x 8 images), a ``DataLoader`` with ``batch_size=64``,
``shuffle=True`` and ``num_workers`` 0 and 2; both sweep 100 steps from 1e-5 to 1
(exponential), with no early stop (torch-lr-finder's ``diverge_th`` and lrlab's
``diverge`` set out of reach) and no probes (``confirm=0``): the same work.  Each one
restores the model and optimizer afterwards (torch-lr-finder's ``reset()``, lrlab's
built-in restore), which is timed with it.  The rounds alternate the two so that a slow
moment of the machine hits both.  Prints JSON: the median seconds and the ratio
``lrlab / torch_lr_finder`` per ``num_workers`` (after one untimed round of each).

    python benchmarks/bench_finder_loader.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
import warnings
from typing import Any

import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

from lrlab.errors import LrlabWarning
from lrlab.finder import find_lr


def _cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10),
    )  # fmt: skip


def _ways(loader: DataLoader, steps: int) -> dict[str, Any]:
    from torch_lr_finder import LRFinder

    model, loss = _cnn(), torch.nn.CrossEntropyLoss()

    def theirs() -> None:
        opt = torch.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
        finder = LRFinder(model, opt, loss)
        # torch-lr-finder prints a line to stdout when it ends; stdout is this script's JSON.
        with contextlib.redirect_stdout(sys.stderr):
            finder.range_test(loader, end_lr=1.0, num_iter=steps, step_mode="exp", diverge_th=1e30)
        finder.reset()

    def ours() -> None:
        opt = torch.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
        find_lr(model, loss, loader, opt, min_lr=1e-5, max_lr=1.0, num_steps=steps,
                diverge=1e30, confirm=0)  # fmt: skip

    return {"torch_lr_finder": theirs, "lrlab": ours}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="num_workers 0, 2 rounds, 30 steps")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    warnings.simplefilter("ignore", LrlabWarning)
    warnings.simplefilter("ignore", UserWarning)
    torch.set_num_threads(1)
    d = load_digits()
    data = TensorDataset(
        torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0, torch.tensor(d.target)
    )
    rounds, steps = (2, 30) if args.quick else (args.rounds, 100)
    out: dict[str, Any] = {"steps": steps, "rounds": rounds, "workers": {}}
    for workers in (0,) if args.quick else (0, 2):
        loader = DataLoader(data, batch_size=64, shuffle=True, num_workers=workers,
                            persistent_workers=workers > 0)  # fmt: skip
        ways = _ways(loader, steps)
        times: dict[str, list[float]] = {k: [] for k in ways}
        for fn in ways.values():  # a round untimed: imports, first-call allocations
            fn()
        for _ in range(rounds):
            for k, fn in ways.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        out["workers"][str(workers)] = {
            "seconds": med, "lrlab_over_torch_lr_finder": med["lrlab"] / med["torch_lr_finder"]
        }  # fmt: skip
        print(f"num_workers={workers}: {out['workers'][str(workers)]}", file=sys.stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
