"""The one input parser of the GraphQL API: every value that comes from outside (ids, cursors,
subjects, dates, amounts, filters) becomes a Python value here, or one typed error, never else.

Each parser is pure and takes what the caller sent as it arrived (any text, any JSON value):
`decode_pair` and `cursor_position` raise `MalformedId`; `big_int`, `date_time` and
`calendar_date` raise `InvalidInput`; `filter_text` a BAD_USER_INPUT `ApiError`; `subject` (the
kernel's, shared with tokens) a `DomainError` coded INVALID_SUBJECT. `graph.global_ids` and
`graph.scalars` turn those errors into what the API shows; tests/test_input_parsing_properties.py
checks every parser over arbitrary text and integers.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from typing import overload

from graph.errors import bad_input
from kernel.clock import as_utc
from kernel.validation import MAX_SUBJECT_LENGTH, subject, unstorable

__all__ = [
    "MAX_BIGINT",
    "MAX_SUBJECT_LENGTH",
    "InvalidInput",
    "MalformedId",
    "big_int",
    "calendar_date",
    "cursor_position",
    "date_time",
    "decode_pair",
    "filter_text",
    "subject",
]


class InvalidInput(ValueError):
    """A value from outside that is not one the API takes; the message says why."""


class MalformedId(InvalidInput):
    """An id that is not one of ours, or names another type than the one expected."""


_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(0|[1-9][0-9]{0,17})")
"""The decoded form: an ASCII name, a colon and ASCII digits without leading zeros."""


def decode_pair(text: str) -> tuple[str, int]:
    """(name, number) of `base64url("Name:N")` in its one canonical form, the form
    `to_global_id` and `encode_cursor` give out: strict base64 (padded, no stray characters or
    bits), an ASCII name, and ASCII digits without leading zeros (no superscript or
    Arabic-Indic digits, no "01"). The one decoder of ids and cursors. Raises `MalformedId`,
    never anything else."""
    if not 0 < len(text) <= 200 or not text.isascii():
        raise MalformedId("not a valid id")
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, ValueError):
        raise MalformedId("not a valid id") from None
    match = _PAIR.fullmatch(raw.decode("latin-1"))
    if match is None or base64.urlsafe_b64encode(raw).decode("ascii") != text:
        raise MalformedId("not a valid id")
    return match[1], int(match[2])


CURSOR_NAME = "cursor"
"""The name inside every cursor: `base64url("cursor:N")`."""


def cursor_position(text: str) -> int:
    """The keyset position behind a cursor `encode_cursor` gave out. Raises `MalformedId`."""
    name, position = decode_pair(text)
    if name != CURSOR_NAME:
        raise MalformedId("not a cursor this API gave out")
    return position


MAX_BIGINT = 2**53 - 1
"""The largest BigInt, either sign: JavaScript's `Number.MAX_SAFE_INTEGER`, so that every JSON
reader, a browser's included, reads each amount exactly (no amount of coins, diamonds or minor
units comes near it: it is about 90 trillion dollars in cents)."""

_DIGITS = re.compile(r"0|-?[1-9][0-9]{0,19}")
"""A BigInt sent as a string, in its canonical form (as `str(n)` writes it): ASCII digits (no
"²"), no leading zeros or blanks, a minus sign; a longer one cannot fit and is refused before
`int()` reads it."""


def big_int(value: object) -> int:
    """A whole number within ±`MAX_BIGINT`, sent as a JSON number or as `str(n)` writes it.
    Raises `InvalidInput` with the reason."""
    if isinstance(value, bool):
        raise InvalidInput("BigInt must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and (digits := _DIGITS.fullmatch(value)) is not None:
        number = int(digits[0])
    else:
        raise InvalidInput("BigInt must be a whole number (or a string of digits)")
    if abs(number) > MAX_BIGINT:
        raise InvalidInput(f"BigInt must be within ±{MAX_BIGINT} (2^53 - 1)")
    return number


def date_time(value: object) -> datetime:
    """An ISO 8601 date and time, in UTC (a naive one is taken as UTC). Raises `InvalidInput`
    for anything else, a moment whose UTC form leaves years 1 to 9999
    (`0001-01-01T00:00:00+14:00`) included."""
    if not isinstance(value, str):
        raise InvalidInput("expected an ISO 8601 string")
    try:
        return as_utc(datetime.fromisoformat(value))
    except OverflowError:
        raise InvalidInput("out of range once in UTC") from None
    except ValueError as exc:
        raise InvalidInput(str(exc) or "not an ISO 8601 date and time") from None


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""A calendar date in its one canonical form, the form the API gives out: YYYY-MM-DD."""


def calendar_date(value: object) -> date:
    """A calendar date written YYYY-MM-DD in ASCII digits (not "20240101" or "2024-W01-1",
    which `date.fromisoformat` would also read). Raises `InvalidInput`."""
    if not isinstance(value, str) or _DATE.fullmatch(value) is None:
        raise InvalidInput("expected a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


MAX_FILTER_LENGTH = 255
"""A text a query filters by is at most this long: every stored column it is compared with is."""


@overload
def filter_text(value: str, *, argument: str) -> str: ...
@overload
def filter_text(value: None, *, argument: str) -> None: ...
def filter_text(value: str | None, *, argument: str) -> str | None:
    """A text a query filters by (a provider's slug, an audit entry's actor), as given; None for
    no filter. Refused as BAD_USER_INPUT (an `ApiError`) when longer than 255 characters or
    holding control characters or lone surrogates: no stored value holds them, and PostgreSQL
    cannot even compare a NUL."""
    if value is None:
        return None
    if len(value) > MAX_FILTER_LENGTH or unstorable(value):
        raise bad_input(
            f"'{argument}' has at most {MAX_FILTER_LENGTH} characters, without control "
            "characters or lone surrogates",
            argument=argument,
        )
    return value
