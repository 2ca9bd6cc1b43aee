"""Custom scalars: `BigInt`, a whole number that may pass GraphQL's 32-bit `Int`, used for
every amount of coins, diamonds and money, `DateTime`, an ISO 8601 moment the service can
hold in UTC, and `Date`, a calendar date. Their values are read by the one input parser,
`graph.inputs`; here its refusals become GraphQL errors the caller sees.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, NewType, TypeVar

import strawberry
from graphql import GraphQLError, StringValueNode, ValueNode, print_ast, value_from_ast_untyped

from graph.inputs import MAX_BIGINT, InvalidInput, big_int, calendar_date, date_time
from kernel.clock import as_utc as utc

__all__ = ["BIGINT_SCALAR", "DATETIME_SCALAR", "DATE_SCALAR", "MAX_BIGINT", "BigInt", "utc"]

V = TypeVar("V")


def _parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> int:
    """A literal in the query text as a BigInt. An invalid one is a validation error, public
    like a variable's (a `ValueError` here would be masked as unexpected)."""
    try:
        return big_int(value_from_ast_untyped(node, variables))
    except InvalidInput as exc:
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
    parse_value=big_int,  # a variable's refusal (`InvalidInput`, a ValueError) is public
    parse_literal=_parse_literal,
)


def _bad(type_name: str, value: object, reason: str, node: ValueNode | None = None) -> GraphQLError:
    return GraphQLError(
        f"{type_name} cannot represent {value!r}: {reason}",
        node,
        extensions={"code": "BAD_USER_INPUT"},
    )


def _string_parsers(
    type_name: str, parse: Callable[[object], V]
) -> tuple[Callable[[object], V], Callable[[ValueNode, dict[str, Any] | None], V]]:
    """A string scalar's `parse_value` and `parse_literal` over one parser of `graph.inputs`:
    its refusal is a BAD_USER_INPUT error, as a variable or a literal."""

    def parse_value(value: object) -> V:
        try:
            return parse(value)
        except InvalidInput as exc:
            raise _bad(type_name, value, str(exc)) from None

    def parse_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> V:
        if not isinstance(node, StringValueNode):
            raise _bad(type_name, print_ast(node), "expected a string", node)
        try:
            return parse(node.value)
        except InvalidInput as exc:
            raise _bad(type_name, node.value, str(exc), node) from None

    return parse_value, parse_literal


_parse_datetime, _parse_datetime_literal = _string_parsers("DateTime", date_time)

DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat)",
    serialize=datetime.isoformat,
    parse_value=_parse_datetime,
    parse_literal=_parse_datetime_literal,
)

_parse_date, _parse_date_literal = _string_parsers("Date", calendar_date)

DATE_SCALAR = strawberry.scalar(
    name="Date",
    description="Date (isoformat)",
    serialize=date.isoformat,
    parse_value=_parse_date,
    parse_literal=_parse_date_literal,
)
