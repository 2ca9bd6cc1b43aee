"""The streams' root fields: one stream, the live ones page by page, start and end."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from economy import streams
from graph.context import Context
from graph.global_ids import Connection, PageRequest, connection, query_id
from graph.permissions import CanEndStream, CanStream
from graph.streams.mutations.end_stream import EndStreamPayload, end_stream
from graph.streams.mutations.start_stream import StartStreamPayload, start_stream
from graph.streams.types import LiveStream


@strawberry.type
class StreamQueries:
    @strawberry.field(description="A stream by id; null when there is none.")
    async def stream(self, info: Info[Context, None], id: strawberry.ID) -> LiveStream | None:
        found = await info.context.loaders.stream.load(query_id(id, "LiveStream", "id"))
        return LiveStream.of(found) if found else None

    @strawberry.field(description="Streams live now, newest first (at most 100 a page).")
    async def live_streams(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[LiveStream]:
        page = PageRequest.of(first, after)
        async with info.context.eco.db.read() as conn:
            rows = await streams.live_streams_page(conn, after_id=page.after, limit=page.limit + 1)
        return connection(rows, page, lambda s: s.id, LiveStream.of, streams.count_live_streams)


@strawberry.type
class StreamMutations:
    start_stream: StartStreamPayload = strawberry.mutation(
        resolver=start_stream, permission_classes=[CanStream], description="Go live."
    )
    end_stream: EndStreamPayload = strawberry.mutation(
        resolver=end_stream, permission_classes=[CanEndStream], description="End a live stream."
    )
