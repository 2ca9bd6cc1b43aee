"""Relay global ids (`base64("Type:pk")`), the `Node` interface, and cursor connections
paged forward with `first` (at most 100) and `after`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry

from graph.errors import bad_input
from kernel.errors import DomainError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")
R = TypeVar("R")


class MalformedId(ValueError):
    """An id that is not one of ours, or names another type than the one expected."""


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


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


def from_global_id(global_id: str) -> tuple[str, int]:
    """(type name, primary key) of a global id. Raises `MalformedId`."""
    return decode_pair(global_id)


def pk_of(global_id: str, type_name: str) -> int:
    """The primary key of a global id that must name a `type_name`. Raises `MalformedId`."""
    kind, pk = from_global_id(global_id)
    if kind != type_name:
        raise MalformedId(f"expected the id of a {type_name}, got one of a {kind}")
    return pk


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The keyset position behind an `after:` cursor; BAD_USER_INPUT for anything
    `encode_cursor` did not give out."""
    if cursor is None:
        return None
    try:
        prefix, position = decode_pair(cursor)
    except MalformedId:
        prefix, position = "", 0
    if prefix != "cursor":
        raise bad_input("'after' is not a cursor this API gave out")
    return position


@dataclass(frozen=True)
class PageRequest:
    """A validated `first`/`after`: fetch `limit + 1` rows to learn whether more follow."""

    limit: int
    after: int | None

    @classmethod
    def of(cls, first: int | None, after: str | None) -> PageRequest:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise bad_input(f"'first' must be between 1 and {MAX_PAGE_SIZE}, got {size}")
        return cls(limit=size, after=decode_cursor(after))


def connection(
    rows: Sequence[R],
    page: PageRequest,
    position: Callable[[R], int],
    node: Callable[[R], T],
) -> Connection[T]:
    """A page from up to `page.limit + 1` rows fetched in order; the extra row only tells that
    there is a next page. `position` is a row's keyset position, `node` its GraphQL object."""
    shown = rows[: page.limit]
    edges = [Edge(cursor=encode_cursor(position(row)), node=node(row)) for row in shown]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > page.limit,
            has_previous_page=page.after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def id_argument(value: str, type_name: str, field: str) -> int:
    """The primary key behind a mutation's id input; a payload error INVALID_ID otherwise."""
    try:
        return pk_of(value, type_name)
    except MalformedId as exc:
        raise DomainError("INVALID_ID", f"{field}: {exc}", field) from None
