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
"""A whole number within ±(2^53 - 1): every amount of coins, diamonds and minor units of money."""

SAFE_INTEGER_SPEC = "https://tc39.es/ecma262/#sec-number.max_safe_integer"


def _serialize(value: int) -> int:
    """A BigInt as a JSON number; one past the safe range is a bug here, never sent rounded."""
    number = int(value)
    if abs(number) > MAX_BIGINT:
        raise ValueError(f"BigInt {number} is beyond ±(2^53 - 1) and cannot be sent exactly")
    return number


BIGINT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A whole number within ±(2^53 - 1) (JavaScript's safe integers), sent as a JSON "
    "number so that every JSON reader gets it exactly; read from a JSON number or a string of "
    "digits. Amounts of coins, diamonds and minor units of money.",
    specified_by_url=SAFE_INTEGER_SPEC,
    serialize=_serialize,
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
    description="A moment as an RFC 3339 date and time with its UTC offset, sent in UTC "
    "(`2026-11-05T10:00:00+00:00`); read from any ISO 8601 date and time, a naive one as UTC.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc3339#section-5.6",
    serialize=datetime.isoformat,
    parse_value=_parse_datetime,
    parse_literal=_parse_datetime_literal,
)

_parse_date, _parse_date_literal = _string_parsers("Date", calendar_date)

DATE_SCALAR = strawberry.scalar(
    name="Date",
    description="A calendar date, RFC 3339's full-date (`2026-11-05`), sent and read as such.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc3339#section-5.6",
    serialize=date.isoformat,
    parse_value=_parse_date,
    parse_literal=_parse_date_literal,
)
