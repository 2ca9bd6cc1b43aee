"""`startStream`: a creator goes live; at most one live stream per creator."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from economy import streams
from economy.errors import DomainError
from graph.context import Context
from graph.errors import payload_errors
from graph.streams.types import LiveStream


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


async def start_stream(info: Info[Context, None], input: StartStreamInput) -> StartStreamPayload:
    creator = await info.context.user()
    try:
        stream = await streams.start_stream(info.context.eco, creator, input.title)
    except DomainError as exc:
        return StartStreamPayload(
            stream=None, errors=payload_errors(StartStreamError, StartStreamErrorCode, exc)
        )
    return StartStreamPayload(stream=LiveStream.of(stream), errors=[])
