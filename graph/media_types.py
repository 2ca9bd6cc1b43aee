"""GraphQL over HTTP's two response media types: `application/graphql-response+json` when the
client's Accept prefers it, with its status codes, and `application/json` as before otherwise.

Under `application/graphql-response+json` a request that fails before execution (a document
that does not parse or validate, variables that do not coerce) answers 400 without a `data`
entry; an executed operation answers 200, whatever its field errors. Requests refused earlier
(unparseable JSON, a missing query, an unknown operationName) keep their 4xx either way.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

PREFERS_GRAPHQL_RESPONSE: web.RequestKey[bool] = web.RequestKey("prefers_graphql_response", bool)
FAILED_BEFORE_EXECUTION: web.RequestKey[bool] = web.RequestKey("failed_before_execution", bool)


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether an Accept header names `application/graphql-response+json` with a quality at
    least that of `application/json` (wildcards count for `application/json` only: a client
    accepting `*/*` gets `application/json`, the media type every client reads)."""
    graphql_response = 0.0
    json = 0.0
    json_specificity = -1
    for media_range in (accept or "").split(","):
        kind, *params = media_range.split(";")
        kind = kind.strip().lower()
        quality = _quality(params)
        if kind == GRAPHQL_RESPONSE_JSON:
            graphql_response = max(graphql_response, quality)
        specificity = {JSON: 2, "application/*": 1, "*/*": 0}.get(kind, -1)
        if specificity > json_specificity:  # the most specific range sets the quality
            json, json_specificity = quality, specificity
    return graphql_response > 0 and graphql_response >= json


def failed_before_execution(result: ExecutionResult) -> bool:
    """No data and only errors without a field path: parsing, validation or variable coercion
    refused the request (an executed operation's errors name the field that failed)."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


class MediaTypeView:
    """Mixed in first before Strawberry's aiohttp `GraphQLView`: answers in the media type the
    client prefers, with that media type's status codes."""

    async def process_result(self, request: web.Request, result: ExecutionResult) -> Any:
        response: GraphQLHTTPResponse = await super().process_result(request, result)  # type: ignore[misc]
        if request.get(PREFERS_GRAPHQL_RESPONSE) and failed_before_execution(result):
            request[FAILED_BEFORE_EXECUTION] = True
            response.pop("data", None)
        return response

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        prefers = prefers_graphql_response(request.headers.get("Accept"))
        request[PREFERS_GRAPHQL_RESPONSE] = prefers
        response: web.StreamResponse = await super().__call__(request)  # type: ignore[misc]
        if prefers and response.content_type == JSON:
            response.content_type = GRAPHQL_RESPONSE_JSON
            if request.get(FAILED_BEFORE_EXECUTION) and response.status == 200:
                response.set_status(400)
        return response
