"""The websocket transport of subscriptions (graphql-transport-ws only) on the API's own
`/graphql`: who is connecting, and how each operation is run (shared when it can be, see
`graph.live_feeds`), its limits and its close codes.

The caller authenticates once, when connecting, with the same bearer token as over HTTP: in the
`connection_init` payload (`{"Authorization": "Bearer <token>"}`) or in the upgrade request's
`Authorization` header. A bad token closes the connection with 4403; no token connects
anonymously (public subscriptions only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import ClientConnectionResetError, WSMsgType, web
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types.unset import UNSET, UnsetType

from economy.app import Economy
from graph.auth import ANONYMOUS, InvalidToken, principal_from_header
from graph.context import Context
from graph.live_feeds import Feed, Feeds, Inbox, Message
from graph.observability import bind_caller
from kernel.metrics import SUBSCRIPTIONS_OPEN

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
"""The server pings every connection this often; one that does not answer is closed."""
CONNECTION_INIT_TIMEOUT = timedelta(seconds=10)
DIRECT_WRITE_LIMIT = 16 * 1024
"""Bytes a connection may have unsent and still be written to directly."""
SLOW_CONSUMER_CLOSE_CODE = 4503
SLOW_CONSUMER_REASON = "Subscriber too slow"
CLOSE_TIMEOUT_SECONDS = 2.0


@dataclass
class ConnectionContext(Context):
    """The context of a websocket connection: authenticated by `connection_init`."""

    connection_params: dict[str, Any] | None = None
    header_problem: str | None = None
    """Why the upgrade request's Authorization header was refused, if it was."""
    _closers: set[asyncio.Task[None]] = field(default_factory=set, repr=False)


def connection_context(
    eco: Economy, request: web.Request, response: web.WebSocketResponse, **extra: Any
) -> ConnectionContext:
    """The context before `connection_init`: the upgrade header's principal, if any. `extra`
    fills the rest of `Context` (e.g. the payout service)."""
    try:
        principal = principal_from_header(eco.settings, request.headers.get("Authorization"))
        problem = None
    except InvalidToken as exc:
        principal, problem = ANONYMOUS, str(exc)
    return ConnectionContext(
        eco=eco,
        principal=principal,
        request=request,
        response=response,
        header_problem=problem,
        **extra,
    )


def authenticate_connection(context: ConnectionContext) -> None:
    """Settle who is connected from the `connection_init` payload (which wins over the header).
    Raises `ConnectionRejectionError` (close code 4403) for a bad token."""
    params = context.connection_params or {}
    authorization = params.get("Authorization", params.get("authorization"))
    if authorization is None:
        if context.header_problem is not None:
            raise ConnectionRejectionError({"message": context.header_problem})
        bind_caller(context.principal.subject)
        return
    if not isinstance(authorization, str):
        raise ConnectionRejectionError({"message": "Authorization must be 'Bearer <token>'"})
    try:
        context.principal = principal_from_header(context.eco.settings, authorization)
    except InvalidToken as exc:
        raise ConnectionRejectionError({"message": str(exc)}) from None
    bind_caller(context.principal.subject)


async def close_slow_consumer(ws: web.WebSocketResponse, request: web.Request) -> None:
    """Close a websocket whose subscriber fell behind; abort it if even that cannot be sent."""
    try:
        await asyncio.wait_for(
            ws.close(code=SLOW_CONSUMER_CLOSE_CODE, message=SLOW_CONSUMER_REASON.encode()),
            CLOSE_TIMEOUT_SECONDS,
        )
    except (TimeoutError, ConnectionError, RuntimeError):
        if request.transport is not None:
            request.transport.abort()


class LiveTransportHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with shareable subscriptions attached to a shared execution."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        with SUBSCRIPTIONS_OPEN.track_inprogress():
            await self._run_operation(operation)

    async def _run_operation(self, operation: Operation[Context, None]) -> None:
        feeds: Feeds | None = getattr(self.view, "feeds", None)
        joined = (
            None
            if feeds is None
            else feeds.join(operation.query, operation.variables, operation.operation_name)
        )
        if joined is None:
            await super().run_operation(operation)
            return
        feed, inbox = joined
        inbox.on_overflow = lambda: self._drop_slow_consumer(feed, inbox)
        inbox.write_now = self._direct_writer(operation.id)
        try:
            await self._relay(operation, inbox)
        finally:
            feed.leave(inbox)

    async def _relay(self, operation: Operation[Context, None], inbox: Inbox) -> None:
        """Send what the direct path could not (a backlog, the final message), waiting for
        the connection to drain."""
        ws: web.WebSocketResponse = self.websocket.ws  # type: ignore[attr-defined]
        head = b'{"id":' + orjson.dumps(operation.id) + b","
        while True:
            message = await inbox.get()
            if message is None:
                break
            if message.final:
                operation.completed = True
                self.operations.pop(operation.id, None)
            try:
                await ws.send_frame(head + message.body, WSMsgType.TEXT)
            except (ConnectionError, ClientConnectionResetError, RuntimeError):
                return

    def _direct_writer(self, operation_id: str) -> Callable[[Message], bool]:
        """Write a whole frame straight to the socket when nothing is queued before it and the
        socket's buffer is nearly empty; otherwise leave it to `_relay`."""
        ws: web.WebSocketResponse = self.websocket.ws  # type: ignore[attr-defined]
        request: web.Request = self.websocket.request  # type: ignore[attr-defined]
        head = b'{"id":' + orjson.dumps(operation_id) + b","

        def write(message: Message) -> bool:
            transport = request.transport
            if (
                ws.closed
                or transport is None
                or transport.is_closing()
                or transport.get_write_buffer_size() > DIRECT_WRITE_LIMIT
            ):
                return False
            transport.write(message.frame(head))
            return True

        return write

    def _drop_slow_consumer(self, feed: Feed, inbox: Inbox) -> None:
        """Stop feeding a subscriber that fell behind, and close its connection (its writer
        may be stuck on a full socket, so this cannot wait for it)."""
        feed.leave(inbox)
        ws: web.WebSocketResponse = self.websocket.ws  # type: ignore[attr-defined]
        request: web.Request = self.websocket.request  # type: ignore[attr-defined]
        log.info("closing a live connection that fell %d messages behind", inbox.capacity)
        closer = asyncio.create_task(close_slow_consumer(ws, request))
        context = self.context
        if isinstance(context, ConnectionContext):
            context._closers.add(closer)
            closer.add_done_callback(context._closers.discard)


class LiveView:
    """What the GraphQL view adds for live subscriptions (mixed in before `GraphQLView`)."""

    eco: Economy
    feeds: Feeds
    graphql_transport_ws_handler_class: type[BaseGraphQLTransportWSHandler[Context, None]] = (
        LiveTransportHandler
    )
    connection_init_wait_timeout = CONNECTION_INIT_TIMEOUT

    async def create_websocket_response(
        self, request: web.Request, subprotocol: str | None
    ) -> web.WebSocketResponse:
        # No per-message compression: a message shared by thousands of subscribers is encoded
        # once, and compressing it for each would cost more than sending it.
        ws = web.WebSocketResponse(
            protocols=[subprotocol] if subprotocol else [],
            heartbeat=HEARTBEAT_SECONDS,
            compress=False,
        )
        await ws.prepare(request)
        return ws

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if isinstance(context, ConnectionContext):
            authenticate_connection(context)
        accepted: UnsetType = UNSET
        return accepted
