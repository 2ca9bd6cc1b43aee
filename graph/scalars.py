"""Custom scalars: `BigInt`, a whole number that may pass GraphQL's 32-bit `Int`, used for
every amount of coins, diamonds and money, and `DateTime`, an ISO 8601 moment the service can
hold in UTC.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NewType

import strawberry
from graphql import GraphQLError, StringValueNode, ValueNode, print_ast, value_from_ast_untyped

from kernel.clock import as_utc as utc

__all__ = ["BIGINT_SCALAR", "DATETIME_SCALAR", "MAX_BIGINT", "BigInt", "utc"]

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


def _bad_datetime(value: object, reason: str, node: ValueNode | None = None) -> GraphQLError:
    return GraphQLError(
        f"DateTime cannot represent {value!r}: {reason}",
        node,
        extensions={"code": "BAD_USER_INPUT"},
    )


def _parse_datetime(value: object) -> datetime:
    """An ISO 8601 date and time, in UTC (a naive one is taken as UTC). Raises a BAD_USER_INPUT
    `GraphQLError` for anything else, a moment whose UTC form leaves years 1 to 9999
    (`0001-01-01T00:00:00+14:00`) included."""
    if not isinstance(value, str):
        raise _bad_datetime(value, "expected an ISO 8601 string")
    try:
        return utc(datetime.fromisoformat(value))
    except OverflowError:
        raise _bad_datetime(value, "out of range once in UTC") from None
    except ValueError as exc:
        raise _bad_datetime(value, str(exc) or "not an ISO 8601 date and time") from None


def _parse_datetime_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise _bad_datetime(print_ast(node), "expected an ISO 8601 string", node)
    try:
        return _parse_datetime(node.value)
    except GraphQLError as exc:
        raise GraphQLError(exc.message, node, extensions=exc.extensions) from None


DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat)",
    serialize=datetime.isoformat,
    parse_value=_parse_datetime,
    parse_literal=_parse_datetime_literal,
)
