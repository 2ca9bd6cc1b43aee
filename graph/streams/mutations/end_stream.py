"""`endStream`: a creator ends their live stream (an ADMIN may end anyone's)."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from economy import streams
from graph.auth import Role
from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument
from graph.streams.types import LiveStream


@strawberry.enum
class EndStreamErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    STREAM_NOT_FOUND = "STREAM_NOT_FOUND"
    STREAM_NOT_LIVE = "STREAM_NOT_LIVE"


@strawberry.type
class EndStreamError:
    field: str | None
    message: str
    code: EndStreamErrorCode


@strawberry.input
class EndStreamInput:
    stream_id: strawberry.ID


@strawberry.type
class EndStreamPayload:
    stream: LiveStream | None
    errors: list[EndStreamError]


@refusals_as(EndStreamPayload, EndStreamError, EndStreamErrorCode, stream=None)
async def end_stream(info: Info[Context, None], input: EndStreamInput) -> EndStreamPayload:
    actor = await info.context.user()
    stream = await streams.end_stream(
        info.context.eco,
        actor,
        id_argument(input.stream_id, "LiveStream", "streamId"),
        may_end_any=info.context.principal.has(Role.ADMIN),
    )
    return EndStreamPayload(stream=LiveStream.of(stream), errors=[])
