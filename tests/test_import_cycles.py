"""No import cycles in quotebot: every module of the package (src/quotebot, and bot/
installed as quotebot.bot) can be read, and changed, knowing only what it imports.

An import inside a function counts too (it is a cycle put off, not gone); one under
``if TYPE_CHECKING:`` does not, since it never runs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

#: Where each package's modules live in the tree (as pyproject.toml's package-dir says).
PACKAGES = {"quotebot": ROOT / "src" / "quotebot", "quotebot.bot": ROOT / "bot"}


def module_files() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The dotted names ``tree`` imports at run time, relative imports made absolute; for
    ``from a import b`` both ``a`` and ``a.b`` (b may be a module)."""
    names: set[str] = set()
    base = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                source = f"{parent}.{node.module}" if node.module else parent
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Each module → the package's modules it imports."""
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for name in imported_names(ast.parse(path.read_text(encoding="utf-8")), module,
                                   path.name == "__init__.py"):
            while name and name not in files:  # a name inside a module: the module
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (Tarjan's
    strongly connected components of more than one module), each sorted."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in order:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            connect(module)
    return sorted(found)


def test_the_package_has_no_import_cycle() -> None:
    files = module_files()
    assert "quotebot.engine" in files and "quotebot.bot.server" in files
    assert cycles(import_graph(files)) == []


@pytest.mark.parametrize(("sources", "expected"), [
    # a imports b at the top, b imports a inside a function: still a cycle
    ({"quotebot.a": "from quotebot import b\n",
      "quotebot.b": "def f():\n    from quotebot.a import x\n"},
     [["quotebot.a", "quotebot.b"]]),
    # round three modules, with a relative import
    ({"quotebot.a": "import quotebot.b\n", "quotebot.b": "from .c import y\n",
      "quotebot.c": "from quotebot.a import z\n"},
     [["quotebot.a", "quotebot.b", "quotebot.c"]]),
    # for type checking only: never runs, no cycle
    ({"quotebot.a": "from quotebot import b\n",
      "quotebot.b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    from quotebot.a import x\n"},
     []),
    # one way only
    ({"quotebot.a": "from quotebot.b import x\n", "quotebot.b": "import os\n"}, []),
])
def test_a_cycle_is_found_however_it_is_written(tmp_path: Path, sources: dict[str, str],
                                                expected: list[list[str]]) -> None:
    files = {}
    for module, text in sources.items():
        path = tmp_path / f"{module.rpartition('.')[2]}.py"
        path.write_text(text, encoding="utf-8")
        files[module] = path
    assert cycles(import_graph(files)) == expected
