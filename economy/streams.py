"""Live streams: a creator starts one (at most one live at a time) and ends it; everyone can
read a stream, the live ones page by page, its earnings and its leaderboard of top gifters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import false, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.tables import gift_sends, streams, users
from economy.users import User
from kernel.errors import DomainError, NotFound
from kernel.tables import count_where
from kernel.validation import text_field

if TYPE_CHECKING:
    from economy.app import Economy

MAX_TITLE_LENGTH = 200


@dataclass(frozen=True)
class Stream:
    id: int
    creator_id: int
    title: str
    status: str
    started_at: datetime
    ended_at: datetime | None

    @property
    def live(self) -> bool:
        return self.status == "LIVE"


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    user_id: int
    subject: str
    display_name: str
    coins: int


def stream_from_row(row: Mapping[Any, Any]) -> Stream:
    return Stream(
        id=int(row["id"]),
        creator_id=int(row["creator_id"]),
        title=row["title"],
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
    )


async def streams_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Stream]:
    rows = await conn.execute(select(streams).where(streams.c.id.in_(list(ids))))
    return {int(r.id): stream_from_row(r._mapping) for r in rows}


async def get_stream(conn: AsyncConnection, stream_id: int) -> Stream | None:
    row = (await conn.execute(select(streams).where(streams.c.id == stream_id))).first()
    return None if row is None else stream_from_row(row._mapping)


class StreamAlreadyLive(DomainError):
    """The creator already has a live stream: `stream_id`, or None when it ended before it could
    be named. The message names no id; the API adds the stream's id in its own format."""

    def __init__(self, stream_id: int | None) -> None:
        self.stream_id = stream_id
        super().__init__("STREAM_ALREADY_LIVE", "you already have a live stream")


async def start_stream(eco: Economy, creator: User, title: str) -> Stream:
    """Raises `DomainError`: INVALID_TITLE, or STREAM_ALREADY_LIVE (`StreamAlreadyLive`)."""
    clean = text_field(
        title, field="title", code="INVALID_TITLE", max_length=MAX_TITLE_LENGTH, what="the title"
    )
    try:
        async with eco.db.write() as conn:
            live = await _live_stream_of(conn, creator.id)
            if live is not None:
                raise StreamAlreadyLive(live)
            row = (
                await conn.execute(
                    insert(streams).values(creator_id=creator.id, title=clean).returning(streams)
                )
            ).one()
            return stream_from_row(row._mapping)
    except IntegrityError:  # a racing startStream by the same creator won
        pass
    async with eco.db.read() as conn:
        raise StreamAlreadyLive(await _live_stream_of(conn, creator.id))


async def _live_stream_of(conn: AsyncConnection, creator_id: int) -> int | None:
    live = await conn.scalar(
        select(streams.c.id).where(streams.c.creator_id == creator_id, streams.c.status == "LIVE")
    )
    return None if live is None else int(live)


async def end_stream(eco: Economy, actor: User, stream_id: int, *, may_end_any: bool) -> Stream:
    async with eco.db.write() as conn:
        stream = await get_stream(conn, stream_id)
        if stream is None or (stream.creator_id != actor.id and not may_end_any):
            raise NotFound("STREAM_NOT_FOUND", "no such stream of yours", "streamId")
        ended = await conn.execute(
            update(streams)
            .where(streams.c.id == stream_id, streams.c.status == "LIVE")
            .values(status="ENDED", ended_at=func.now())
            .returning(streams)
        )
        row = ended.first()
        if row is None:
            raise DomainError("STREAM_NOT_LIVE", "the stream has already ended", "streamId")
        return stream_from_row(row._mapping)


def _live() -> list[Any]:
    return [streams.c.status == "LIVE"]


async def live_streams_page(
    conn: AsyncConnection, *, after_id: int | None, limit: int
) -> list[Stream]:
    """Live streams, newest first, keyset-paged by id."""
    query = select(streams).where(*_live())
    if after_id is not None:
        query = query.where(streams.c.id < after_id)
    rows = await conn.execute(query.order_by(streams.c.id.desc()).limit(limit))
    return [stream_from_row(r._mapping) for r in rows]


async def count_live_streams(conn: AsyncConnection) -> int:
    """How many streams are live (every page of `live_streams_page`)."""
    return await count_where(conn, streams, _live())


async def stream_earnings(conn: AsyncConnection, stream_id: int) -> int:
    """Diamonds the creator received in this stream."""
    total = await conn.scalar(
        select(func.coalesce(func.sum(gift_sends.c.creator_diamonds), 0)).where(
            gift_sends.c.stream_id == stream_id
        )
    )
    return int(total or 0)


async def leaderboard(conn: AsyncConnection, stream_id: int, limit: int) -> list[LeaderboardEntry]:
    """Top gifters of a stream by coins spent; ties go to whoever sent first. Staff are left out
    (and ranked past): a leaderboard is public, and staff accounts are not."""
    total = func.sum(gift_sends.c.coins).label("total")
    first = func.min(gift_sends.c.id).label("first")
    ranked = (
        select(gift_sends.c.sender_id, total, first)
        .where(gift_sends.c.stream_id == stream_id)
        .group_by(gift_sends.c.sender_id)
        .subquery()
    )
    rows = await conn.execute(
        select(ranked.c.sender_id, users.c.subject, users.c.display_name, ranked.c.total)
        .join(users, users.c.id == ranked.c.sender_id)
        .where(users.c.is_staff == false())
        .order_by(ranked.c.total.desc(), ranked.c.first)
        .limit(limit)
    )
    return [
        LeaderboardEntry(rank=n, user_id=int(u), subject=s, display_name=d, coins=int(t))
        for n, (u, s, d, t) in enumerate(rows, start=1)
    ]


def _of_creator(creator_id: int) -> list[Any]:
    return [streams.c.creator_id == creator_id]


async def creator_streams_page(
    conn: AsyncConnection, creator_id: int, *, after_id: int | None, limit: int
) -> list[Stream]:
    """A creator's streams, live and ended, newest first, keyset-paged by id."""
    query = select(streams).where(*_of_creator(creator_id))
    if after_id is not None:
        query = query.where(streams.c.id < after_id)
    rows = await conn.execute(query.order_by(streams.c.id.desc()).limit(limit))
    return [stream_from_row(r._mapping) for r in rows]


async def count_creator_streams(conn: AsyncConnection, creator_id: int) -> int:
    """How many streams the creator ran (every page of `creator_streams_page`)."""
    return await count_where(conn, streams, _of_creator(creator_id))


async def streams_earnings(conn: AsyncConnection, stream_ids: Sequence[int]) -> dict[int, int]:
    """Diamonds each creator received in each of these streams (0 when none), in one query."""
    rows = await conn.execute(
        select(gift_sends.c.stream_id, func.sum(gift_sends.c.creator_diamonds))
        .where(gift_sends.c.stream_id.in_(list(stream_ids)))
        .group_by(gift_sends.c.stream_id)
    )
    found = {int(s): int(total or 0) for s, total in rows}
    return {stream_id: found.get(stream_id, 0) for stream_id in stream_ids}
