"""The consoles' GraphQL documents, one operation per `.graphql` file in `operations/`, read once
and looked up by the operation's name (tests/test_console_operations.py validates each one).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

OPERATIONS_DIR = Path(__file__).resolve().parent / "operations"


@cache
def operation(name: str) -> str:
    """The document of the operation `name` (its file is `operations/<name>.graphql`)."""
    path = OPERATIONS_DIR / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no console operation named {name!r}")
    return path.read_text(encoding="utf-8")


def operation_names() -> list[str]:
    """Every operation the consoles send, by file name."""
    return sorted(path.stem for path in OPERATIONS_DIR.glob("*.graphql"))
