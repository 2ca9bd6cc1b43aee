"""Every request's id (a sane incoming `X-Request-Id`, else a new one, echoed back), bound with
the operation's name and the caller's subject on its log lines; every request counted and timed.

`observe_requests` is the aiohttp middleware; `OperationObserver` the schema extension that tells
it the operation's name and whether the result carried errors; `bind_caller` names the caller.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from strawberry.extensions import SchemaExtension

from kernel.logs import LogValue, bind_log, log_fields, log_scope
from kernel.metrics import REQUEST_SECONDS, REQUESTS

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
REQUEST_LOG_FIELDS: web.RequestKey[Mapping[str, LogValue]] = web.RequestKey("request_log_fields")
"""The request's log fields as they were when its handler returned, for its access line."""
GRAPHQL_PATH = "/graphql"

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_LABELS = 200
"""Distinct operation names counted by name in one process; the rest are counted as `other`
(clients name operations, so their names must not grow the metrics without bound)."""
_labelled: set[str] = set()


@dataclass
class _Seen:
    """What the schema extension saw of the request's GraphQL operation."""

    operation: str | None = None
    errors: bool = False


_SEEN: ContextVar[_Seen | None] = ContextVar("diamonds_graphql_seen", default=None)


def request_id_for(incoming: str | None) -> str:
    """The client's id when it is 8 to 128 of `A-Z a-z 0-9 . _ : -`, else a new random one."""
    if incoming is not None and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


@web.middleware
async def observe_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bind the request id for the request's log lines; count and time the request."""
    rid = request_id_for(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID] = rid
    seen = _Seen()
    token = _SEEN.set(seen)
    start = time.perf_counter()
    status = 500
    live = False
    try:
        with log_scope(request_id=rid):
            try:
                response = await handler(request)
            finally:
                request[REQUEST_LOG_FIELDS] = log_fields()
        status = response.status
        live = isinstance(response, web.WebSocketResponse)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        _SEEN.reset(token)
        if not live:  # a websocket's "request" lasts as long as its connection
            operation = _label(request, seen)
            REQUESTS.labels(operation, _outcome(status, seen)).inc()
            REQUEST_SECONDS.labels(operation).observe(time.perf_counter() - start)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: the request id in every response's headers (refusals, too)."""
    rid = request.get(REQUEST_ID)
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid


def add_request_observation(app: web.Application) -> None:
    """Give `app` request ids, request log context and request metrics."""
    app.middlewares.insert(0, observe_requests)
    app.on_response_prepare.append(echo_request_id)


class AccessLog(AbstractAccessLogger):
    """aiohttp's access log line, with the request's log fields (id, operation, subject), and
    without the query string (a GET query's variables are the caller's data)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        fields = request.get(REQUEST_LOG_FIELDS) or {"request_id": request.get(REQUEST_ID)}
        with log_scope(**fields):
            self.logger.info(
                '%s "%s %s" %d %.3fs',
                request.remote,
                request.method,
                request.path,
                response.status,
                time,
            )


def bind_caller(subject: str | None) -> None:
    """Name the caller (the token's subject, never the token) on the request's log lines."""
    bind_log(subject=subject)


class OperationObserver(SchemaExtension):
    """Binds the operation's name to the log lines and tells the request's metrics about it."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        name = context.operation_name
        bind_log(operation=name or "anonymous")
        seen = _SEEN.get()
        if seen is not None:
            seen.operation = name or "anonymous"
            result = context.result
            seen.errors = bool(context.pre_execution_errors or (result and result.errors))

    def on_execute(self) -> Iterator[None]:
        bind_log(operation=self.execution_context.operation_name or "anonymous")
        yield


def _label(request: web.Request, seen: _Seen) -> str:
    """The GraphQL operation's name for `/graphql`, else the route's path pattern."""
    if request.path == GRAPHQL_PATH and seen.operation is not None:
        name = seen.operation
        if not _OPERATION_NAME.match(name):
            return "other"
        if name not in _labelled:
            if len(_labelled) >= MAX_OPERATION_LABELS:
                return "other"
            _labelled.add(name)
        return name
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _outcome(status: int, seen: _Seen) -> str:
    """ok, error (a GraphQL result with top-level errors), unauthenticated, client_error or
    server_error."""
    if status >= 500:
        return "server_error"
    if status == 401:
        return "unauthenticated"
    if status >= 400:
        return "client_error"
    return "error" if seen.errors else "ok"
