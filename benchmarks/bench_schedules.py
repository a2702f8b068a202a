"""Evaluating every built-in schedule kind over many steps in one call.

For each kind, side by side in one run:

* ``numpy``: ``s(np.arange(N))``, lrlab's NumPy path (float64), in ns/step;
* ``jax``: lrlab's JAX path, ``jax.jit(lrlab.optax.schedule(s))`` on a JAX
  ``arange`` (float32), in ns/step;
* ``optax``: Optax's equivalent schedule, ``jax.jit(jax.vmap(sched))`` on the
  same ``arange`` (float32), in ns/step; where Optax has no such schedule the
  reference is the closed form written directly in ``jax.numpy`` (said in
  ``optax_ref``);
* ``torch``: PyTorch's equivalent scheduler (its own class, else ``LambdaLR``
  over the lrlab schedule, said in ``torch_ref``), stepped ``--torch-steps``
  times (stepping it ``N`` times would take minutes), in ns/step;

and the ratios ``torch / numpy`` (target >= 1000), ``numpy / optax``
(target <= 5) and ``jax / optax`` (target <= 1.2).  A memset of ``N`` float64
(``ndarray.fill``) gives the memory floor.  Every timing is the best of
``--repeat`` runs, after a warm-up (and JIT compilation) run.

With ``--construct``, instead: the cost of building each kind (its arguments
checked, ``cls(**s.args())``) and of one scalar call ``s(7)``, in ns of CPU time, and the
same ``step(lr, factor, every)`` built with attrs validators and as a pydantic
dataclass with the same three checks (``peers``).  ``--against SRC`` runs the
same timings, in alternating subprocesses, for the lrlab under ``SRC`` (an
older checkout's ``src``) and gives the ratios ``ours / theirs``.

Usage::

    python benchmarks/bench_schedules.py            # N = 10**7, a few minutes at most
    python benchmarks/bench_schedules.py --quick    # N = 10**6, seconds
    python benchmarks/bench_schedules.py --construct --against /tmp/old/src

Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import lrlab
import lrlab.optax
from lrlab import schedules as L

LR = 0.1


def best_of(
    fns: dict[str, Callable[[], Any]], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """The best time (by ``clock``: wall time unless told) of ``repeat`` calls of each
    function, in s.

    The functions are called in turn within each round (after one warm-up
    round, which also compiles), so that a change in the machine's load
    during the run affects them alike."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
    return best


def cases(n: int) -> list[dict[str, Any]]:
    """One schedule of each built-in kind scaled to ``n`` steps, with its
    Optax and PyTorch equivalents."""
    sch = torch.optim.lr_scheduler
    k = 5.0 / n  # exponential / inverse-time rates: a few e-folds over the run
    period = n // 10
    ms = (n // 4, n // 2, 3 * n // 4)
    pb = (n // 3, 2 * n // 3)
    half = n // 20
    w = n // 100
    wsd_d = round(0.2 * n)

    def jnp_inverse_time(c: Any) -> Any:
        return LR / (1.0 + k * c)

    def jnp_cyclic(c: Any) -> Any:
        c = c.astype(jnp.float32)
        cycle = jnp.floor(1.0 + c / (2.0 * half))
        x = jnp.abs(c / half - 2.0 * cycle + 1.0)
        return 0.01 + (LR - 0.01) * jnp.maximum(0.0, 1.0 - x)

    def jnp_inverse_sqrt(c: Any) -> Any:
        c = c.astype(jnp.float32)
        return jnp.where(c < w, LR * c / w, LR * jnp.sqrt(w / jnp.maximum(c, w)))

    return [
        {
            "kind": "constant",
            "schedule": L.constant(LR),
            "optax": optax.constant_schedule(LR),
            "torch": lambda o: sch.ConstantLR(o, factor=1.0, total_iters=0),
        },
        {
            "kind": "step",
            "schedule": L.step(LR, 0.5, period),
            "optax": optax.exponential_decay(LR, period, 0.5, staircase=True),
            "torch": lambda o: sch.StepLR(o, period, 0.5),
        },
        {
            "kind": "exponential",
            "schedule": L.exponential(LR, k),
            "optax": optax.exponential_decay(LR, 1, math.exp(-k)),
            "torch": lambda o: sch.ExponentialLR(o, math.exp(-k)),
        },
        {
            "kind": "inverse_time",
            "schedule": L.inverse_time(LR, k),
            "optax": jnp_inverse_time,
            "optax_ref": "jax.numpy closed form (Optax has no inverse-time decay)",
            "torch": None,
        },
        {
            "kind": "multistep",
            "schedule": L.multistep(LR, ms, 0.5),
            "optax": optax.piecewise_constant_schedule(LR, dict.fromkeys(ms, 0.5)),
            "torch": lambda o: sch.MultiStepLR(o, ms, 0.5),
        },
        {
            "kind": "piecewise",
            "schedule": L.piecewise(pb, (LR, 0.05, 0.01)),
            "optax": optax.piecewise_constant_schedule(LR, {pb[0]: 0.5, pb[1]: 0.2}),
            "torch": None,
        },
        {
            "kind": "polynomial",
            "schedule": L.polynomial(LR, n, 0.0, 2.0),
            "optax": optax.polynomial_schedule(LR, 0.0, 2.0, n),
            "torch": lambda o: sch.PolynomialLR(o, total_iters=n, power=2.0),
        },
        {
            "kind": "cosine",
            "schedule": L.cosine(LR, n),
            "optax": optax.cosine_decay_schedule(LR, n),
            "torch": lambda o: sch.CosineAnnealingLR(o, T_max=n),
        },
        {
            "kind": "cosine_restarts",
            "schedule": L.cosine_restarts(LR, period),
            "optax": optax.sgdr_schedule(
                [
                    {
                        "init_value": LR,
                        "peak_value": LR,
                        "warmup_steps": 0,
                        "decay_steps": period,
                        "end_value": 0.0,
                    }
                ]
                * 10
            ),
            "optax_ref": "optax.sgdr_schedule, 10 cycles",
            "torch": lambda o: sch.CosineAnnealingWarmRestarts(o, T_0=period),
        },
        {
            "kind": "one_cycle",
            "schedule": L.one_cycle(LR, n),
            "optax": optax.cosine_onecycle_schedule(n, LR, 0.3, 25.0, 1e4),
            "torch": lambda o: sch.OneCycleLR(o, LR, total_steps=n, cycle_momentum=False),
        },
        {
            "kind": "cyclic",
            "schedule": L.cyclic(0.01, LR, half),
            "optax": jnp_cyclic,
            "optax_ref": "jax.numpy closed form (Optax has no cyclic schedule)",
            "torch": lambda o: sch.CyclicLR(o, 0.01, LR, step_size_up=half, cycle_momentum=False),
        },
        {
            "kind": "inverse_sqrt",
            "schedule": L.inverse_sqrt(LR, w),
            "optax": jnp_inverse_sqrt,
            "optax_ref": "jax.numpy closed form (Optax has no inverse-sqrt decay)",
            "torch": None,
        },
        {
            "kind": "wsd",
            "schedule": L.wsd(LR, n, w),
            "optax": optax.join_schedules(
                [
                    optax.linear_schedule(0.0, LR, w),
                    optax.constant_schedule(LR),
                    optax.linear_schedule(LR, 0.0, wsd_d),
                ],
                [w, n - wsd_d],
            ),
            "optax_ref": "optax.join_schedules(linear, constant, linear)",
            "torch": None,
        },
    ]


def torch_ns_per_step(make: Callable[[Any], Any] | None, s: lrlab.Schedule, steps: int) -> float:
    """PyTorch's scheduler stepped ``steps`` times, in ns per ``step()``."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=LR)
    if make is None:
        base = s(0) or 1.0
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: s(t) / base)
    else:
        sched = make(opt)
    opt.step()  # the canonical order: no step-order warning
    step = sched.step
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps * 1e9


#: The clock of the construction timings: this process's CPU time, which other
#: processes on a shared machine do not add to (microsecond-long calls, many rounds).
CPU = time.process_time


def construct_ns(number: int, repeat: int) -> dict[str, dict[str, float]]:
    """Per kind: ns to build it from its arguments, and ns for one call ``s(7)``."""
    out = {}
    for case in cases(1000):
        s = case["schedule"]
        cls, args = type(s), s.args()

        def build(cls: Any = cls, args: Any = args) -> None:
            for _ in range(number):
                cls(**args)

        def call(s: lrlab.Schedule = s) -> None:
            for _ in range(number):
                s(7)

        best = best_of({"build": build, "call": call}, repeat, CPU)
        out[case["kind"]] = {k: round(v / number * 1e9, 1) for k, v in best.items()}
    return out


def peers_ns(number: int, repeat: int) -> dict[str, float]:
    """ns to build ``step(0.1, 0.5, 10)`` with its three checks: lrlab's, attrs
    validators' and a pydantic dataclass's (where installed)."""
    fns: dict[str, Callable[[], Any]] = {"lrlab": lambda: L.step(0.1, 0.5, 10)}
    try:
        import attrs

        v = attrs.validators

        @attrs.frozen
        class AttrsStep:
            lr: float = attrs.field(validator=[v.instance_of(float), v.ge(0.0)])
            factor: float = attrs.field(validator=[v.instance_of(float), v.gt(0.0)])
            every: int = attrs.field(validator=[v.instance_of(int), v.ge(1)])

        fns["attrs"] = lambda: AttrsStep(0.1, 0.5, 10)
    except ImportError:
        pass
    try:
        import pydantic

        @pydantic.dataclasses.dataclass(frozen=True, config={"strict": True})
        class PydanticStep:
            lr: float = pydantic.Field(ge=0, allow_inf_nan=False)
            factor: float = pydantic.Field(gt=0, allow_inf_nan=False)
            every: int = pydantic.Field(ge=1, le=2**53)

        fns["pydantic"] = lambda: PydanticStep(0.1, 0.5, 10)
    except ImportError:
        pass

    def many(fn: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(number):
                fn()

        return run

    best = best_of({k: many(fn) for k, fn in fns.items()}, repeat, CPU)
    return {k: round(v / number * 1e9, 1) for k, v in best.items()}


def construct_main(args: argparse.Namespace) -> int:
    number, repeat = (1000, 10) if args.quick else (2000, 30)
    if args.child:
        json.dump(construct_ns(number, repeat), sys.stdout)
        return 0
    out: dict[str, Any] = {"benchmark": "building a schedule and one scalar call", "ns": {}}
    if args.against:
        env = {**os.environ, "PYTHONPATH": args.against}
        here = [sys.executable, __file__, "--construct", "--child"] + (["--quick"] * args.quick)
        best: dict[str, dict[str, dict[str, float]]] = {"ours": {}, "theirs": {}}
        for _ in range(args.rounds):  # alternate, so that a change of load hits both alike
            for who, extra in (("ours", {}), ("theirs", env)):
                got = json.loads(
                    subprocess.run(here, env=extra or None, capture_output=True, check=True).stdout
                )
                for kind, row in got.items():
                    mine = best[who].setdefault(kind, row)
                    for k, v in row.items():
                        mine[k] = min(mine[k], v)
        out["against"] = args.against
        out["ns"] = best
        ratio = {
            kind: {k: round(row[k] / best["theirs"][kind][k], 3) for k in row}
            for kind, row in best["ours"].items()
        }
        out["ours_over_theirs"] = ratio
        for k in ("build", "call"):
            values = [r[k] for r in ratio.values()]
            out[f"geomean_{k}_ratio"] = round(math.exp(sum(map(math.log, values)) / len(values)), 3)
    else:
        out["ns"] = construct_ns(number, repeat)
    out["peers"] = peers_ns(number, repeat)
    out["load_average_1min"] = os.getloadavg()[0]
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10**6 steps, fewer repeats")
    parser.add_argument("--construct", action="store_true", help="time building and s(7)")
    parser.add_argument("--against", help="with --construct: another lrlab's src, compared")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: alternations")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help="steps per call (default 10**7; quick 10**6)")
    parser.add_argument("--torch-steps", type=int, help="PyTorch scheduler steps timed")
    parser.add_argument("--repeat", type=int, help="timed runs per figure (best is kept)")
    parser.add_argument("--kinds", help="comma-separated kinds (default: all)")
    parser.add_argument(
        "--cpu", action="store_true", help="time by this process's CPU time (a shared machine)"
    )
    args = parser.parse_args(argv)
    if args.construct:
        return construct_main(args)
    n = args.steps or (10**6 if args.quick else 10**7)
    torch_steps = args.torch_steps or (10**4 if args.quick else 10**5)
    repeat = args.repeat or (5 if args.quick else 7)
    torch.set_num_threads(1)

    steps_np = np.arange(n)
    steps_jax = jnp.arange(n, dtype=jnp.int32)
    floor = np.empty(n)
    memset = best_of({"memset": lambda: floor.fill(0.5)}, repeat)["memset"] / n * 1e9

    rows = []
    for case in cases(n):
        if args.kinds and case["kind"] not in args.kinds.split(","):
            continue
        s = case["schedule"]
        ours = jax.jit(lrlab.optax.schedule(s))
        theirs = jax.jit(jax.vmap(case["optax"]))

        def run_numpy(s: lrlab.Schedule = s) -> Any:
            return s(steps_np)

        def run_jax(f: Any = ours) -> Any:
            return f(steps_jax).block_until_ready()

        def run_optax(f: Any = theirs) -> Any:
            return f(steps_jax).block_until_ready()

        fns = {"numpy": run_numpy, "jax": run_jax, "optax": run_optax}
        best = best_of(fns, repeat, CPU if args.cpu else time.perf_counter)
        t_np, t_jax, t_optax = (best[k] / n * 1e9 for k in ("numpy", "jax", "optax"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_torch = torch_ns_per_step(case["torch"], s, torch_steps)
        torch_ref = (
            "LambdaLR(lambda t: s(t) / s(0))"
            if case["torch"] is None
            else type(case["torch"](torch.optim.SGD([torch.zeros(1)], lr=LR))).__name__
        )
        rows.append(
            {
                "kind": case["kind"],
                "schedule": str(s),
                "numpy_ns_per_step": round(t_np, 3),
                "jax_jit_ns_per_step": round(t_jax, 3),
                "optax_jit_vmap_ns_per_step": round(t_optax, 3),
                "optax_ref": case.get("optax_ref", "optax builtin"),
                "torch_ns_per_step": round(t_torch, 1),
                "torch_ref": torch_ref,
                "torch_over_numpy": round(t_torch / t_np, 1),
                "numpy_over_optax": round(t_np / t_optax, 2),
                "jax_over_optax": round(t_jax / t_optax, 3),
                "meets": {
                    "torch_over_numpy>=1000": t_torch / t_np >= 1000,
                    "numpy_over_optax<=5": t_np / t_optax <= 5,
                    "jax_over_optax<=1.2": t_jax / t_optax <= 1.2,
                },
            }
        )

    out = {
        "benchmark": "schedule evaluation over many steps in one call",
        "steps_per_call": n,
        "torch_steps_timed": torch_steps,
        "note": (
            f"PyTorch schedulers are stepped {torch_steps} times, not {n}: the ratio "
            "torch_over_numpy compares per-step costs. numpy is float64, jax and optax "
            "float32 (half the bytes). Timings are the best of repeat runs."
        ),
        "repeat": repeat,
        "clock": "process CPU time" if args.cpu else "wall time",
        "memset_floor_ns_per_step": round(memset, 3),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "jax": jax.__version__,
            "optax": optax.__version__,
            "torch": torch.__version__,
            "load_average_1min": os.getloadavg()[0],
        },
        "kinds": rows,
        "all_met": {
            key: all(r["meets"][key] for r in rows)
            for key in ("torch_over_numpy>=1000", "numpy_over_optax<=5", "jax_over_optax<=1.2")
        },
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
