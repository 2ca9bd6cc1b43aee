"""Relay global ids (`base64("Type:pk")`), the `Node` interface, and cursor connections
paged forward with `first` (at most 100) and `after`, each with a `totalCount` counted only when
asked. Ids and cursors are read by the one input parser, `graph.inputs`; this module gives them
out and says what a bad one means to the caller.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from graph.context import Context
from graph.errors import bad_input
from graph.inputs import CURSOR_NAME, cursor_position
from graph.inputs import MalformedId as MalformedId
from graph.inputs import decode_pair as decode_pair
from kernel.errors import DomainError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")
R = TypeVar("R")


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


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


Count = Callable[[AsyncConnection], Awaitable[int]]
"""How many rows match a connection's filter on every page (not only after its cursor): the
domain's count query, next to its page query and sharing its WHERE."""


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Count]

    @strawberry.field(description="How many match the filter, on every page (not only this one).")
    async def total_count(self, info: Info[Context, None]) -> int:
        async with info.context.eco.db.read() as conn:
            return await self.count(conn)


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_NAME}:{position}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The keyset position behind an `after:` cursor; BAD_USER_INPUT for anything
    `encode_cursor` did not give out."""
    if cursor is None:
        return None
    try:
        return cursor_position(cursor)
    except MalformedId:
        raise bad_input("'after' is not a cursor this API gave out", argument="after") from None


@dataclass(frozen=True)
class PageRequest:
    """A validated `first`/`after`: fetch `limit + 1` rows to learn whether more follow."""

    limit: int
    after: int | None

    @classmethod
    def of(cls, first: int | None, after: str | None) -> PageRequest:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise bad_input(
                f"'first' must be between 1 and {MAX_PAGE_SIZE}, got {size}", argument="first"
            )
        return cls(limit=size, after=decode_cursor(after))


def connection(
    rows: Sequence[R],
    page: PageRequest,
    position: Callable[[R], int],
    node: Callable[[R], T],
    count: Count,
) -> Connection[T]:
    """A page from up to `page.limit + 1` rows fetched in order; the extra row only tells that
    there is a next page. `position` is a row's keyset position, `node` its GraphQL object,
    `count` how many rows match in all (run only when `totalCount` is asked for)."""
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
        count=count,
    )


def query_id(value: str, type_name: str, argument: str) -> int:
    """The primary key behind a query's id argument. A malformed id, or one of another type, is
    BAD_USER_INPUT naming `argument`; whether anything has that key is the caller's to answer
    (an unknown id is null, not an error)."""
    try:
        return pk_of(value, type_name)
    except MalformedId as exc:
        raise bad_input(f"{argument}: {exc}", argument=argument) from None


def id_argument(value: str, type_name: str, field: str) -> int:
    """The primary key behind a mutation's id input; a payload error INVALID_ID otherwise."""
    try:
        return pk_of(value, type_name)
    except MalformedId as exc:
        raise DomainError("INVALID_ID", f"{field}: {exc}", field) from None
