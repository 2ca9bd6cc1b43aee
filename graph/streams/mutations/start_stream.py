"""`startStream`: a creator goes live; at most one live stream per creator."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from economy import streams
from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import to_global_id
from graph.streams.types import LiveStream
from kernel.errors import DomainError


@strawberry.enum
class StartStreamErrorCode(enum.Enum):
    INVALID_TITLE = "INVALID_TITLE"
    STREAM_ALREADY_LIVE = "STREAM_ALREADY_LIVE"


@strawberry.type
class StartStreamError:
    field: str | None
    message: str
    code: StartStreamErrorCode


@strawberry.input
class StartStreamInput:
    title: str = strawberry.field(description="1 to 200 characters.")


@strawberry.type
class StartStreamPayload:
    stream: LiveStream | None
    errors: list[StartStreamError]


@refusals_as(StartStreamPayload, StartStreamError, StartStreamErrorCode, stream=None)
async def start_stream(info: Info[Context, None], input: StartStreamInput) -> StartStreamPayload:
    creator = await info.context.user()
    try:
        stream = await streams.start_stream(info.context.eco, creator, input.title)
    except streams.StreamAlreadyLive as exc:
        raise _naming_the_stream(exc) from None
    return StartStreamPayload(stream=LiveStream.of(stream), errors=[])


def _naming_the_stream(exc: streams.StreamAlreadyLive) -> DomainError:
    """The refusal with the live stream's global id, the id the rest of the API shows."""
    if exc.stream_id is None:
        return exc
    live = to_global_id("LiveStream", exc.stream_id)
    return DomainError(exc.code, f"{exc.message}: {live}", exc.field)
