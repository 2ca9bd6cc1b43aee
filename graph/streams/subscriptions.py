"""The streams' subscription: `leaderboardChanged`, a stream's top gifters as gifts move them.
Public, like the stream it watches, and shared by its subscribers (`graph.live_feeds`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from economy import events
from economy.fanout import SubscriberTooSlow
from economy.streams import get_stream, leaderboard
from graph.context import Context
from graph.errors import bad_input
from graph.global_ids import query_id
from graph.live_feeds import paced, snapshots_of, too_slow
from graph.streams.types import MAX_LEADERBOARD, LeaderboardEntry, LeaderboardUpdate


async def watched_stream_pk(info: Info[Context, None], stream_id: strawberry.ID) -> int:
    """The stream a subscription watches, by its global id; bad input when there is none."""
    pk = query_id(stream_id, "LiveStream", "streamId")
    async with info.context.eco.db.read() as conn:
        if await get_stream(conn, pk) is None:
            raise bad_input("streamId: no such stream", argument="streamId")
    return pk


@strawberry.type
class StreamSubscriptions:
    @strawberry.subscription(
        description="A stream's top gifters (staff left out): now, then again after gifts move "
        "it, at most once per throttle interval (DIAMONDS_LEADERBOARD_THROTTLE_MS)."
    )
    async def leaderboard_changed(
        self, info: Info[Context, None], stream_id: strawberry.ID, first: int = 10
    ) -> AsyncGenerator[LeaderboardUpdate, None]:
        if not 1 <= first <= MAX_LEADERBOARD:
            raise bad_input(
                f"'first' must be between 1 and {MAX_LEADERBOARD}, got {first}", argument="first"
            )
        eco = info.context.eco
        pk = await watched_stream_pk(info, stream_id)
        snapshots = snapshots_of(info)
        throttle = eco.settings.leaderboard_throttle_ms / 1000
        with eco.events.subscribe(events.gift_topic(pk)) as subscription:
            try:
                async for batch in paced(subscription, throttle, snapshots):
                    async with eco.db.read() as conn:
                        entries = await leaderboard(conn, pk, first)
                    if snapshots is not None and batch is None:
                        snapshots.answering = True
                    yield LeaderboardUpdate(
                        stream_id=stream_id, entries=[LeaderboardEntry.of(e) for e in entries]
                    )
            except SubscriberTooSlow as exc:
                raise too_slow(exc) from None
