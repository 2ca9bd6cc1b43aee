"""Custom scalars: `BigInt`, a whole number that may pass GraphQL's 32-bit `Int`, used for
every amount of coins, diamonds and money.
"""

from __future__ import annotations

from typing import NewType

import strawberry

from kernel.clock import as_utc as utc

__all__ = ["BIGINT_SCALAR", "MAX_BIGINT", "BigInt", "utc"]

MAX_BIGINT = 2**63 - 1


def _parse(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("BigInt must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    else:
        raise ValueError("BigInt must be a whole number (or a string of digits)")
    if abs(number) > MAX_BIGINT:
        raise ValueError("BigInt must fit in 64 bits")
    return number


BigInt = NewType("BigInt", int)
"""A whole number up to 64 bits: every amount of coins, diamonds and minor units of money."""

BIGINT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A whole number up to 64 bits, serialized as a JSON number. "
    "Amounts of coins, diamonds and minor units of money.",
    serialize=int,
    parse_value=_parse,
)
