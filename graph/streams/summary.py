"""A stream as other types show it without its creator or leaderboard (so that users and wallets
can show streams without importing `LiveStream`): `StreamSummary`, and `CreatorStream`, one of a
creator's own streams with its earnings; `StreamStatus`.
"""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from economy import streams
from graph.global_ids import to_global_id
from graph.scalars import BigInt, utc


@strawberry.enum
class StreamStatus(enum.Enum):
    LIVE = "LIVE"
    ENDED = "ENDED"


@strawberry.type(description="A stream in brief: its `id` is the LiveStream's, for `node`.")
class StreamSummary:
    id: strawberry.ID
    title: str
    status: StreamStatus
    started_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, stream: streams.Stream) -> StreamSummary:
        return cls(
            id=to_global_id("LiveStream", stream.id),
            title=stream.title,
            status=StreamStatus(stream.status),
            started_at=utc(stream.started_at),
            ended_at=utc(stream.ended_at) if stream.ended_at else None,
        )


@strawberry.type(description="One of a creator's own streams, with what it earned them.")
class CreatorStream(StreamSummary):
    earnings: BigInt = strawberry.field(description="Diamonds the creator received in it.")

    @classmethod
    def earning(cls, stream: streams.Stream, earnings: int) -> CreatorStream:
        brief = StreamSummary.of(stream)
        return cls(
            id=brief.id,
            title=brief.title,
            status=brief.status,
            started_at=brief.started_at,
            ended_at=brief.ended_at,
            earnings=BigInt(earnings),
        )
