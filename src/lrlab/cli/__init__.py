"""The ``lrlab`` command line.

Each subcommand lives in its own module ``lrlab.cli._<name>`` that defines
``add_parser(subparsers)`` and ``run(args) -> int``.  Bad input of any kind
(an :class:`lrlab.errors.LrlabError`, an unknown name, a bad flag) prints one
line on stderr and exits with status 2; there is never a traceback for it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from lrlab.errors import LrlabError

# (name, module) in the order ``lrlab --help`` lists them.
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("report", "lrlab.cli._report"),
    ("plot", "lrlab.cli._plot"),
    ("show", "lrlab.cli._show"),
    ("tasks", "lrlab.cli._tasks"),
    ("landscape", "lrlab.cli._landscape"),
    ("compare", "lrlab.cli._compare"),
    ("find", "lrlab.cli._find"),
    ("tune", "lrlab.cli._tune"),
)


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"lrlab {self.prog.split()[-1]}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lrlab", description="The learning rate, end to end.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for _name, modname in _COMMANDS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:  # a command whose module is not there yet
            if exc.name == modname:
                continue
            raise
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    # lrlab's models are small: one intra-op thread is several times faster
    # than OpenMP workers spinning against each other (set before torch loads).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LrlabError as exc:
        sys.stderr.write(f"lrlab {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"lrlab {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
