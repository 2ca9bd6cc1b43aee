"""The websocket transport of subscriptions (graphql-transport-ws only) on the API's own
`/graphql`: who is connecting, and how each operation is run (shared when it can be, see
`graph.live_feeds`), its limits and its close codes.

The caller authenticates once, when connecting, with the same bearer token as over HTTP: in the
`connection_init` payload (the shapes `graph.connection_params` reads) or in the upgrade
request's `Authorization` header. A bad or unreadable token closes the connection with 4403; no
token connects anonymously (public subscriptions only). The connection lives no longer than its
token: an operation started after the token's expiry is refused, and the connection is closed
with 4403 when it expires. A subscribe message's query is held to the HTTP API's size limit, and
a frame to the HTTP body's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import orjson
from aiohttp import ClientConnectionResetError, WSMsgType, web
from graphql import GraphQLError, GraphQLSyntaxError, parse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message as WsMessage
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from economy.app import Economy
from graph.auth import ANONYMOUS, InvalidToken, Principal, principal_from_header
from graph.connection_params import authorization_from_params
from graph.context import Context
from graph.live_feeds import Feed, Feeds, Inbox, Message
from graph.observability import bind_caller
from graph.request_guard import MAX_REQUEST_BYTES, RefusedRequest, check_query_size
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
FORBIDDEN_CLOSE_CODE = 4403
"""A bad token, and a token that expired while connected."""
EXPIRED_REASON = "the token has expired"


@dataclass
class ConnectionContext(Context):
    """The context of a websocket connection: authenticated by `connection_init`."""

    over_websocket: ClassVar[bool] = True
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
    try:
        authorization = authorization_from_params(context.connection_params or {})
        if authorization is None:
            if context.header_problem is not None:
                raise InvalidToken(context.header_problem)
            bind_caller(context.principal.subject)
            return
        context.principal = principal_from_header(context.eco.settings, authorization)
    except InvalidToken as exc:
        raise ConnectionRejectionError({"message": str(exc)}) from None
    bind_caller(context.principal.subject)


def expired(principal: Principal) -> bool:
    """The principal's token has expired (an anonymous one never does)."""
    return principal.expires_at is not None and time.time() >= principal.expires_at


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


def frame_problem(message: object) -> str | None:
    """Why a decoded graphql-transport-ws frame is not a message Strawberry can read (it
    indexes `type`, `id` and `payload` unchecked), or None."""
    if not isinstance(message, dict):
        return "a message is a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "a message's type is a string"
    if kind in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return f"a {kind} message's id is a string"
    if kind == "subscribe" and not isinstance(message.get("payload"), dict):
        return "a subscribe message's payload is an object"
    return None


class LiveTransportHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with shareable subscriptions attached to a shared execution, held
    to the token's expiry and the query size limit; every operation that fails before it runs
    (a syntax error included) gets an `error` message."""

    _expiry: asyncio.Task[None] | None = None
    _closing_at_expiry = False

    async def handle_message(self, message: WsMessage) -> None:
        problem = frame_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)  # closes with 4400
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        expires_at = self.context.principal.expires_at
        if self.connection_acknowledged and expires_at is not None and self._expiry is None:
            self._expiry = asyncio.create_task(self._close_at(expires_at))

    async def _close_at(self, expires_at: float) -> None:
        """Close the connection (ending its operations) when its token expires."""
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        self._closing_at_expiry = True
        await self.websocket.close(code=FORBIDDEN_CLOSE_CODE, reason=EXPIRED_REASON)

    async def shutdown(self) -> None:
        """End every task the connection started (the init timeout, the expiry, each
        operation) and wait until they and the batch reads they started have ended. Unlike
        Strawberry's own, a cancellation of the connection's task while it waits is not
        swallowed: it waits on, without cancelling those tasks a second time (which can cut a
        database connection's close short), then ends cancelled."""
        tasks = [task for task in (self.connection_init_timeout_task, self._expiry) if task]
        tasks += [operation.task for operation in self.operations.values() if operation.task]
        if self.connection_init_timeout_task is not None:
            self.connection_init_timeout_task.cancel()
        if self._expiry is not None and not self._closing_at_expiry:
            self._expiry.cancel()  # once closing, it finishes the close handshake
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)  # cancels the operation's task
        cancelled = False
        while True:
            try:
                if tasks:
                    await asyncio.wait(tasks)
                await self.context.loaders.settle()
                break
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # closes the connection (4401, 4409)
            return
        query = message["payload"]["query"]
        if not isinstance(query, str):
            await self.handle_invalid_message("the subscribe payload's query must be a string")
            return
        if expired(self.context.principal):
            await self._refuse(message["id"], "UNAUTHENTICATED", EXPIRED_REASON)
            await self.websocket.close(code=FORBIDDEN_CLOSE_CODE, reason=EXPIRED_REASON)
            return
        try:
            check_query_size(query, self.context.eco.settings.max_query_bytes)
        except RefusedRequest as exc:
            await self._refuse(message["id"], exc.code, exc.message)
            return
        try:
            parse(query)
        except GraphQLSyntaxError as exc:
            await self._refuse(message["id"], "GRAPHQL_PARSE_FAILED", exc.message)
            return
        await super().handle_subscribe(message)

    async def _refuse(self, operation_id: str, code: str, reason: str) -> None:
        """An `error` message for an operation that is not run."""
        error = GraphQLError(reason, extensions={"code": code}).formatted
        await self.send_message(ErrorMessage(id=operation_id, type="error", payload=[error]))

    async def _handle_pre_execution_error(
        self, operation: Operation[Context, None], result: PreExecutionError
    ) -> None:
        """Every error before execution (syntax, validation, limits, no such operation) is an
        `error` message with its GraphQL errors, never a closed connection or a bare
        `complete`."""
        await operation.send_initial_errors(list(result.errors or []))

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
            await feed.stopped()

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
            max_msg_size=MAX_REQUEST_BYTES,
        )
        await ws.prepare(request)
        return ws

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if isinstance(context, ConnectionContext):
            authenticate_connection(context)
        accepted: UnsetType = UNSET
        return accepted
