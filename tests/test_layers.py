"""lrlab reads as its data flows: each layer imports only from the layers above it.

Every module of ``src/lrlab`` is parsed (nothing imported): every ``import`` counts,
function-local ones included, except those under ``if TYPE_CHECKING:``, which
only name types for the checker.  The table is ``docs/architecture.md``'s.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lrlab"
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

#: (layer, module prefixes), in the order of docs/architecture.md: top first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("errors", ("lrlab.errors", "lrlab._json")),
    ("schedules", ("lrlab.schedules",)),
    ("checks and progress", ("lrlab._checks", "lrlab._progress")),
    ("adapters", ("lrlab.adapters", "lrlab._seams")),
    ("figures", ("lrlab.plots",)),
    ("tasks and training", ("lrlab.tasks", "lrlab.train", "lrlab.landscape", "lrlab.compare")),
    ("choosing the rate", ("lrlab.finder", "lrlab.tune")),
    ("the page", ("lrlab.report",)),
    ("command line and doors", ("lrlab.cli", "lrlab.torch", "lrlab.keras", "lrlab.optax", "lrlab")),
)


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of ``module`` (its longest matching prefix)."""
    best, length = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = i, len(p)
    if best < 0:
        raise AssertionError(f"module {module!r} is in no layer of the table")
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every lrlab import in ``path`` outside ``if TYPE_CHECKING:``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from lrlab import plots`` imports the module lrlab.plots.
            found.extend((node.lineno, f"{mod}.{a.name}") for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return [(line, m) for line, m in found if m == "lrlab" or m.startswith("lrlab.")]


def _resolve(target: str) -> str:
    """``lrlab.finder.find_lr`` (a name from a module) -> ``lrlab.finder``."""
    parts = target.split(".")
    while len(parts) > 1:
        candidate = SRC.parent.joinpath(*parts)
        if candidate.is_dir() or candidate.with_suffix(".py").is_file():
            return ".".join(parts)
        parts.pop()
    return "lrlab"


MODULES = sorted(SRC.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    for path in MODULES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_only_up(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    back = []
    for line, target in imports(path):
        module = _resolve(target)
        if layer_of(module) > mine:
            back.append(
                f"{path.relative_to(SRC)}:{line} imports {module} "
                f"({LAYERS[layer_of(module)][0]}) from {LAYERS[mine][0]}"
            )
    assert not back, "imports against the data flow:\n" + "\n".join(back)


def test_the_checker_sees_local_and_relative_imports_and_skips_type_checking(
    tmp_path: Path,
) -> None:
    pkg = tmp_path / "lrlab" / "plots"
    pkg.mkdir(parents=True)
    module = pkg / "fake.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "from lrlab.errors import UsageError\n"
        "if TYPE_CHECKING:\n"
        "    from lrlab.finder import FinderResult\n"
        "else:\n"
        "    from lrlab.tasks import get\n"
        "def draw():\n"
        "    from lrlab.tune import tune\n"
        "    from . import training\n"
        "    from .. import report\n",
        encoding="utf-8",
    )
    global SRC
    real, SRC = SRC, tmp_path / "lrlab"
    try:
        found = imports(module)
    finally:
        SRC = real
    assert found == [
        (3, "lrlab.errors.UsageError"),
        (7, "lrlab.tasks.get"),
        (9, "lrlab.tune.tune"),
        (10, "lrlab.plots.training"),
        (11, "lrlab.report"),
    ]


def test_the_table_is_the_documented_one() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert [r.split("|")[1].strip() for r in rows] == [name for name, _ in LAYERS]
    for row, (_, prefixes) in zip(rows, LAYERS):
        for p in prefixes:
            short = "__init__.py" if p == "lrlab" else p.removeprefix("lrlab.")
            assert f"`{short}" in row, f"{p} missing from the row {row!r}"
