"""HTTP requests refused before any GraphQL work, with a GraphQL error body and a 4xx status:
a body that is not JSON (a lone surrogate included) or not an object, a query text longer than
`DIAMONDS_MAX_QUERY_BYTES`, an operation the method cannot run (a subscription over HTTP, a
mutation over GET), and a bad token (401, raised by the view's context).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.types import QueryParams
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

MAX_REQUEST_BYTES = 256 * 1024
"""The largest request body read (and, on a websocket, the largest message)."""
BAD_REQUEST = "BAD_REQUEST"
QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
SUBSCRIPTIONS_NEED_WEBSOCKET = (
    "subscriptions need the websocket transport at /graphql (graphql-transport-ws); "
    "HTTP serves queries and mutations"
)
OPERATIONS_BY_METHOD = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}
"""What each method runs: Strawberry also allows subscriptions over HTTP for its multipart
transport, which this API does not serve (they ran into a TypeError)."""

_JSON_KINDS = {
    int: "a number",
    float: "a number",
    bool: "a boolean",
    str: "a string",
    list: "an array",
    type(None): "null",
}


class RefusedRequest(Exception):
    """Answered as `{"errors": [{message, extensions: {code}}]}` with this HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = BAD_REQUEST,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        return web.json_response(body, status=self.status, headers=self.headers)


def json_object(value: object) -> dict[str, Any]:
    """A decoded JSON request body, which must be an object. Raises `RefusedRequest` (400) for
    a number, a string, an array (batches are not served) or null."""
    if isinstance(value, dict):
        return value
    kind = _JSON_KINDS.get(type(value), "not an object")
    raise RefusedRequest(
        400, f'the request body must be a JSON object such as {{"query": "..."}}, not {kind}'
    )


def check_query_size(query: str | None, max_bytes: int) -> None:
    """Raises `RefusedRequest` (413) for a query text longer than `max_bytes` in UTF-8, comments
    and blanks included (the token limit does not count them)."""
    if query is None or len(query) * 4 <= max_bytes:
        return
    size = len(query.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise RefusedRequest(
            413, f"the query is {size} bytes long; at most {max_bytes} are read", QUERY_TOO_LARGE
        )


class RequestGuardView:
    """Mixed in before Strawberry's aiohttp `GraphQLView` (after the persisted queries, which
    must not remember a text refused here): checks the decoded JSON body and the query's size,
    and answers a `RefusedRequest` as its GraphQL error."""

    max_query_bytes: int

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed: GraphQLRequestData | list[GraphQLRequestData] = await super().parse_http_body(  # type: ignore[misc]
            request
        )
        for data in parsed if isinstance(parsed, list) else [parsed]:
            check_query_size(data.query, self.max_query_bytes)
        return parsed

    def parse_json(self, data: str | bytes) -> Any:
        return json_object(self._decoded(data))

    def _decoded(self, data: str | bytes) -> Any:
        """The JSON text decoded, or `RefusedRequest` (400) with a JSON error body for text that
        is not JSON, a lone surrogate escape included (Strawberry answers those in plain text)."""
        try:
            return self.decode_json(data)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise RefusedRequest(400, f"the request body is not valid JSON: {exc}") from None

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        """A GET's `variables` and `extensions`, decoded unchecked (null is allowed there;
        Strawberry checks their shape)."""
        decode = self._decoded
        found: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if found.get(name):
                found[name] = decode(found[name])
        return found

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await super().__call__(request)  # type: ignore[misc]
        except RefusedRequest as exc:
            return exc.response()
        return response

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's `execute_single` with `OPERATIONS_BY_METHOD`, its refusals answered as
        GraphQL errors."""
        method = request_adapter.method
        try:
            result: ExecutionResult = await self.schema.execute(  # type: ignore[attr-defined]
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=OPERATIONS_BY_METHOD[method],
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise RefusedRequest(405, SUBSCRIPTIONS_NEED_WEBSOCKET) from None
            raise RefusedRequest(405, exc.as_http_error_reason(method)) from None
        except CannotGetOperationTypeError as exc:
            raise RefusedRequest(400, exc.as_http_error_reason()) from None
        except MissingQueryError:
            raise RefusedRequest(400, "no GraphQL query found in the request") from None
        return result
