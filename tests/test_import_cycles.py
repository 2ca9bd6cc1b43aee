"""No import cycle between our modules: every module-level and in-function import counts (only
those under `if TYPE_CHECKING:` do not); cycles being untangled elsewhere are listed, and the list
only shrinks (a fixed entry fails until it is dropped).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "kernel",
    "settings",
    "ledger",
    "providers",
    "economy",
    "compliance",
    "payouts",
    "graph",
    "diamonds",
)

KNOWN_CYCLES: set[frozenset[str]] = {
    # The schema's own mutual reference: a User has wallets and a Wallet has its owner (and a
    # wallet entry its sender). users/types.py imports `Wallet`; wallets/types.py names `User`
    # through strawberry.lazy and imports it only inside the two resolvers that build one, so
    # nothing runs in a cycle at import time. Kept on purpose, not waiting to be untangled.
    frozenset({"graph.users.types", "graph.wallets.types"}),
}
"""Cycles (as their sets of modules) known and accepted, each with why."""


def module_paths() -> dict[str, Path]:
    """Every module of ours by its dotted name (a package by its `__init__` path)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports anywhere in `node`, functions included, skipping `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and is_type_checking(child.test):
            for orelse in child.orelse:
                yield from import_nodes(orelse)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from import_nodes(child)


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `name` imports; `from pkg import x` counts `pkg.x` when x is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            if f"{base}.{alias.name}" in modules:
                found.add(f"{base}.{alias.name}")
            elif base in modules:
                found.add(base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_paths()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's components of more than one module (an iterative walk: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.add(member)
                    if member == node:
                        break
                if len(members) > 1:
                    components.append(frozenset(members))
    return components


def one_cycle(graph: dict[str, set[str]], members: frozenset[str]) -> list[str]:
    """A shortest way from the component's first module back to itself, to print."""
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for step in sorted(graph[node] & members):
                if step == start:
                    return [*paths[node], start]
                if step not in paths:
                    paths[step] = [*paths[node], step]
                    following.append(step)
        frontier = following
    return sorted(members)


def test_the_import_graph_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [frozenset({"a", "b", "c"})]
    assert one_cycle(graph, frozenset({"a", "b", "c"})) == ["a", "b", "c", "a"]


def test_no_new_import_cycle_between_our_modules() -> None:
    graph = import_graph()
    found = set(strongly_connected(graph))
    new = [" -> ".join(one_cycle(graph, c)) for c in found - KNOWN_CYCLES]
    assert sorted(new) == [], "a new import cycle"
    fixed = [sorted(c) for c in KNOWN_CYCLES - found]
    assert fixed == [], "fixed: drop it from KNOWN_CYCLES"
