"""Which of our packages each package may import: the kernel none, the settings only the kernel,
the money core and the provider SDK only the kernel; above them the domain (economy may ask
compliance, compliance asks neither economy nor the shell), graph, which adapts the domain, and
the consoles, which ask graph only (every read and action a GraphQL operation).
The upper layers' known violations are listed one by one (issue 11): a new one fails, and so does
a listed one that was fixed, so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {
    "kernel",
    "settings",
    "diamonds",
    "ledger",
    "economy",
    "payouts",
    "graph",
    "providers",
    "compliance",
    "consoles",
    "sim",
}
ALLOWED = {
    "kernel": {"kernel"},
    "settings": {"kernel", "settings"},
    "ledger": {"kernel", "ledger"},
    "providers": {"kernel", "providers"},
}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_bottom_package_imports_only_what_is_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - ALLOWED[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}


UPPER = {
    "economy": {"kernel", "settings", "ledger", "providers", "compliance", "economy"},
    "compliance": {"kernel", "settings", "ledger", "providers", "compliance"},
    "payouts": {"kernel", "settings", "ledger", "providers", "economy", "compliance", "payouts"},
    "graph": {"kernel", "settings", "providers", "economy", "compliance", "payouts", "graph"},
    "consoles": {"kernel", "settings", "graph", "consoles"},
}
"""The rule for the domain, the GraphQL adapter and the consoles beside it (which reach the domain
only through GraphQL operations); `diamonds/` (the shell) may import anything."""

KNOWN_VIOLATIONS: dict[str, set[str]] = {}

TOP = {"sim"}
"""Tooling at the top, beside `bench/` and `tests/`: it may import any package of ours, and no
package of ours (the shell included) imports it."""


def test_the_domain_and_graph_import_nothing_new_against_the_rule() -> None:
    wrong = {
        str(path.relative_to(ROOT)): imported_packages(path) - allowed
        for package, allowed in UPPER.items()
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    found = {path: names for path, names in wrong.items() if names}
    new = {p: n - KNOWN_VIOLATIONS.get(p, set()) for p, n in found.items()}
    assert {p: sorted(n) for p, n in new.items() if n} == {}, "a new import against the rule"
    fixed = {p: n - found.get(p, set()) for p, n in KNOWN_VIOLATIONS.items()}
    assert {p: sorted(n) for p, n in fixed.items() if n} == {}, "fixed: drop it from the list"


def test_nothing_of_ours_imports_the_tooling_at_the_top() -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & TOP)
        for package in sorted(OURS - TOP)
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}
