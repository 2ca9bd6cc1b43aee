"""Custom scalars: `BigInt`, a whole number that may pass GraphQL's 32-bit `Int`, used for
every amount of coins, diamonds and money.
"""

from __future__ import annotations

import re
from typing import Any, NewType

import strawberry
from graphql import GraphQLError, ValueNode, print_ast, value_from_ast_untyped

from kernel.clock import as_utc as utc

__all__ = ["BIGINT_SCALAR", "MAX_BIGINT", "BigInt", "utc"]

MAX_BIGINT = 2**63 - 1


_DIGITS = re.compile(r"\s*(-?[0-9]{1,30})\s*")
"""A BigInt sent as a string: ASCII digits (no "²"), a sign, surrounding blanks; a longer one
cannot fit and is refused before `int()` reads it."""


def _parse(value: object) -> int:
    """A variable's value as a BigInt. Raises `ValueError` with the reason."""
    if isinstance(value, bool):
        raise ValueError("BigInt must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and (digits := _DIGITS.fullmatch(value)) is not None:
        number = int(digits[1])
    else:
        raise ValueError("BigInt must be a whole number (or a string of digits)")
    if abs(number) > MAX_BIGINT:
        raise ValueError("BigInt must fit in 64 bits")
    return number


def _parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> int:
    """A literal in the query text as a BigInt. An invalid one is a validation error, public
    like a variable's (a `ValueError` here would be masked as unexpected)."""
    try:
        return _parse(value_from_ast_untyped(node, variables))
    except ValueError as exc:
        raise GraphQLError(
            f"Expected value of type 'BigInt', found {print_ast(node)}: {exc}.", node
        ) from None


BigInt = NewType("BigInt", int)
"""A whole number up to 64 bits: every amount of coins, diamonds and minor units of money."""

BIGINT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A whole number up to 64 bits, serialized as a JSON number. "
    "Amounts of coins, diamonds and minor units of money.",
    serialize=int,
    parse_value=_parse,
    parse_literal=_parse_literal,
)
