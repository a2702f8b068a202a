"""The ``lrlab`` command line.

Each subcommand lives in its own module ``lrlab.cli._<name>`` that defines
``HELP``, ``DESCRIPTION``, ``add_arguments(parser)`` and ``run(args) -> int``.
Bad input of any kind (an :class:`lrlab.errors.LrlabError`, an unknown name, a
bad flag, a number out of range, an argument that is not UTF-8, an output
location that cannot be written) prints one line on stderr and exits with
status 2; so do the failures of the machine (an ``OSError``, running out of
memory).  There is never a traceback for them; any other exception is a bug,
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from lrlab.errors import LrlabError

# In the order ``lrlab --help`` lists them; each is the module ``lrlab.cli._<name>``.
_COMMANDS = ("report", "plot", "show", "tasks", "landscape", "compare", "find", "tune")


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        words = self.prog.split()  # "lrlab", or "lrlab report" (argparse may add more)
        name = "lrlab" if len(words) == 1 else f"lrlab {words[-1]}"
        _say(f"{name}: error: {message}")
        raise SystemExit(2)


def _say(line: str) -> None:
    """Write one line on stderr, whatever it holds (a lone surrogate is shown escaped)."""
    line = " ".join(line.split("\n"))
    sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    sys.stderr.flush()


def _undecodable(argv: Sequence[str]) -> str | None:
    """The message for the first argument holding a byte that is not UTF-8, if any.

    Python turns such a byte of ``argv`` into a lone surrogate (``\\udcff``); no
    schedule, name or path of lrlab's can hold one, and printing it fails.
    """
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            flag, eq, _ = arg.partition("=")
            if arg.startswith("-") and eq:
                name = f"`{flag}`"
            elif i > 0 and argv[i - 1].startswith("--"):
                name = f"`{argv[i - 1]}`"
            else:
                name = f"{i + 1} of the command line"
            return (
                f"Argument {name} must be valid UTF-8 text; character {exc.start + 1} is "
                f"an undecodable byte. Received: {arg!r}"
            )
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lrlab", description="The learning rate, end to end.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _COMMANDS:
        mod = importlib.import_module(f"lrlab.cli._{name}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    # lrlab's models are small: one intra-op thread is several times faster
    # than OpenMP workers spinning against each other (set before torch loads).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    argv = sys.argv[1:] if argv is None else list(argv)
    bad = _undecodable(argv)
    if bad is not None:
        _say(f"lrlab: error: {bad}")
        return 2
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    where = f"lrlab {args.command}: error:"
    if extra:  # argparse would name the top-level parser: "lrlab lrlab: error: ..."
        _say(f"{where} unrecognized arguments: {' '.join(extra)}")
        return 2
    try:
        return int(args.func(args) or 0)
    except LrlabError as exc:
        _say(f"{where} {exc}")
    except OSError as exc:  # a disk full, a folder gone, a server closing the socket ...
        _say(f"{where} {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    except MemoryError:
        _say(f"{where} out of memory; ask for fewer steps, trials or seeds")
    except Exception as exc:
        from lrlab.tune._worker import lost_database

        if not lost_database(exc):
            raise  # a bug: its traceback is what will fix it
        from lrlab.tune.storage import reason

        storage = getattr(args, "storage", None)  # only `tune` has one
        _say(f"{where} the database connection failed; rerun to resume ({reason(exc, storage)})")
    except KeyboardInterrupt as exc:
        from lrlab.tune._worker import Terminated

        if isinstance(exc, Terminated):
            _say(f"lrlab {args.command}: terminated (SIGTERM); the running trial was failed")
            return 143
        _say(f"lrlab {args.command}: interrupted")
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
