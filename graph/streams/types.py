"""GraphQL types of live streams: `LiveStream` with its creator, earnings (creator, FINANCE
and ADMIN only) and public leaderboard of top gifters, and the leaderboard as it changes
(`LeaderboardUpdate`, the same `LeaderboardEntry`; read as nobody in particular, so one
execution can serve every subscriber of a stream).
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from economy import streams
from graph.context import Context
from graph.errors import bad_input
from graph.global_ids import Node, to_global_id
from graph.scalars import BigInt, utc
from graph.streams.summary import StreamStatus
from graph.users.types import User

MAX_LEADERBOARD = 100


@strawberry.type(
    description="One gifter's place on a stream's leaderboard, in `stream.leaderboard` and in "
    "`leaderboardChanged` alike."
)
class LeaderboardEntry:
    rank: int
    total: BigInt = strawberry.field(description="Coins this user spent on gifts in the stream.")
    record: strawberry.Private[streams.LeaderboardEntry]

    @classmethod
    def of(cls, entry: streams.LeaderboardEntry) -> LeaderboardEntry:
        return cls(rank=entry.rank, total=BigInt(entry.coins), record=entry)

    @strawberry.field(
        description="The gifter. In `leaderboardChanged` it is read as nobody in particular "
        "(one execution serves every subscriber), so only a user's public fields answer there."
    )
    async def user(self, info: Info[Context, None]) -> User:
        found = await info.context.loaders.user.load(self.record.user_id)
        if found is None:
            raise LookupError(f"a leaderboard names user {self.record.user_id}, who is not there")
        return User.of(found)

    @strawberry.field(deprecation_reason="Use `user { id }`: one leaderboard type for both reads.")
    def user_id(self) -> strawberry.ID:
        return to_global_id("User", self.record.user_id)

    @strawberry.field(
        deprecation_reason="Use `user { displayName }`: one leaderboard type for both reads."
    )
    def display_name(self) -> str:
        return self.record.display_name


@strawberry.type(description="A creator's live stream, where gifts are sent.")
class LiveStream(Node):
    id: strawberry.ID
    title: str
    status: StreamStatus
    started_at: datetime
    ended_at: datetime | None
    record: strawberry.Private[streams.Stream]

    @classmethod
    def of(cls, stream: streams.Stream) -> LiveStream:
        return cls(
            id=to_global_id("LiveStream", stream.id),
            title=stream.title,
            status=StreamStatus(stream.status),
            started_at=utc(stream.started_at),
            ended_at=utc(stream.ended_at) if stream.ended_at else None,
            record=stream,
        )

    @strawberry.field
    async def creator(self, info: Info[Context, None]) -> User:
        found = await info.context.loaders.user.load(self.record.creator_id)
        assert found is not None
        return User.of(found)

    @strawberry.field(
        description="Diamonds the creator received in this stream. Creator, FINANCE, ADMIN only."
    )
    async def earnings(self, info: Info[Context, None]) -> BigInt:
        await info.context.require_money_of(self.record.creator_id, "this stream's earnings")
        async with info.context.eco.db.read() as conn:
            return BigInt(await streams.stream_earnings(conn, self.record.id))

    @strawberry.field(description="Top gifters by coins spent, at most 100; staff left out.")
    async def leaderboard(
        self, info: Info[Context, None], first: int = 10
    ) -> list[LeaderboardEntry]:
        if not 1 <= first <= MAX_LEADERBOARD:
            raise bad_input(
                f"'first' must be between 1 and {MAX_LEADERBOARD}, got {first}", argument="first"
            )
        async with info.context.eco.db.read() as conn:
            entries = await streams.leaderboard(conn, self.record.id, first)
        return [LeaderboardEntry.of(e) for e in entries]


@strawberry.type(description="A stream's top gifters, sent at most once per throttle interval.")
class LeaderboardUpdate:
    stream_id: strawberry.ID
    entries: list[LeaderboardEntry]
