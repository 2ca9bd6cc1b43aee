"""The consoles' GraphQL documents, one operation per `.graphql` file in `operations/` with the
shared fragments it spreads (`operations/fragments/`), read once and looked up by the operation's
name (tests/test_console_operations.py validates each one).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

OPERATIONS_DIR = Path(__file__).resolve().parent / "operations"
FRAGMENTS_DIR = OPERATIONS_DIR / "fragments"
_SPREAD = re.compile(r"\.\.\.\s*([A-Za-z_][A-Za-z0-9_]*)")
"""A fragment spread, `...Name` (an inline fragment, `... on Type`, matches as `on`: no file)."""


@cache
def fragment(name: str) -> str:
    """The shared fragment `name` (its file is `operations/fragments/<name>.graphql`)."""
    path = FRAGMENTS_DIR / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no console fragment named {name!r}")
    return path.read_text(encoding="utf-8")


def spread_fragments(document: str) -> list[str]:
    """The shared fragments `document` spreads, and those they spread, each once (a fragment
    defined in the operation's own file is not a shared one)."""
    found: list[str] = []
    pending = [document]
    while pending:
        for match in _SPREAD.finditer(pending.pop()):
            name = match.group(1)
            shared = (FRAGMENTS_DIR / f"{name}.graphql").is_file()
            if shared and name not in found:
                found.append(name)
                pending.append(fragment(name))
    return found


@cache
def operation(name: str) -> str:
    """The document of the operation `name` (its file is `operations/<name>.graphql`), followed
    by the shared fragments it spreads."""
    path = OPERATIONS_DIR / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no console operation named {name!r}")
    document = path.read_text(encoding="utf-8")
    return "\n".join([document, *(fragment(f) for f in spread_fragments(document))])


def operation_names() -> list[str]:
    """Every operation the consoles send, by file name."""
    return sorted(path.stem for path in OPERATIONS_DIR.glob("*.graphql"))


def fragment_names() -> list[str]:
    """Every shared fragment, by file name."""
    return sorted(path.stem for path in FRAGMENTS_DIR.glob("*.graphql"))
