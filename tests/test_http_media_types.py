"""GraphQL over HTTP's media types on a real server: `application/graphql-response+json` when the
client prefers it, with 4xx for requests that fail before execution, and `application/json`
answering as before for clients that ask for it or send no Accept."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from graph.media_types import prefers_graphql_response

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def post(api: TestClient[Any, Any], body: object, accept: str | None) -> Any:
    headers = {"Accept": accept} if accept is not None else {}
    return await api.post("/graphql", json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"query": "{ giftCatalog { name"}, 400),  # does not parse
        ({"query": "{ noSuchField }"}, 400),  # does not validate
        ({"query": "query($n: Int!) { liveStreams(first: $n) { totalCount } }"}, 400),
        ({"query": "{ __typename }", "operationName": "Other"}, 400),
        ({"variables": {}}, 400),  # no query
    ],
)
async def test_a_request_failing_before_execution_is_a_400_without_data(
    api: TestClient[Any, Any], body: dict[str, Any], status: int
) -> None:
    response = await post(api, body, GRAPHQL_RESPONSE)
    assert response.status == status
    assert response.content_type == GRAPHQL_RESPONSE
    answer = await response.json(content_type=None)
    assert "data" not in answer
    assert answer["errors"]


async def test_an_executed_operation_is_a_200_even_with_field_errors(
    api: TestClient[Any, Any],
) -> None:
    ok = await post(api, {"query": "{ __typename }"}, GRAPHQL_RESPONSE)
    assert (ok.status, ok.content_type) == (200, GRAPHQL_RESPONSE)
    assert (await ok.json(content_type=None))["data"] == {"__typename": "Query"}

    forbidden = await post(api, {"query": "{ me { id } }"}, GRAPHQL_RESPONSE)
    assert (forbidden.status, forbidden.content_type) == (200, GRAPHQL_RESPONSE)
    answer = await forbidden.json(content_type=None)
    assert "data" in answer
    assert answer["errors"][0]["path"] == ["me"]


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/*"])
async def test_application_json_answers_as_before(
    api: TestClient[Any, Any], accept: str | None
) -> None:
    invalid = await post(api, {"query": "{ noSuchField }"}, accept)
    assert (invalid.status, invalid.content_type) == (200, "application/json")
    answer = await invalid.json()
    assert answer["data"] is None
    assert answer["errors"]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),  # Apollo Client's
        (None, "application/json"),
        ("application/json", "application/json"),
    ],
)
async def test_a_bad_token_is_a_401_in_the_media_type_the_client_prefers(
    api: TestClient[Any, Any], accept: str | None, media_type: str
) -> None:
    """Apollo Client 4 reads a 401's GraphQL errors (and so the code a frontend acts on) only
    when it comes as application/graphql-response+json, the media type it asked for."""
    headers = {"Authorization": "Bearer not-a-token"}
    if accept is not None:
        headers["Accept"] = accept
    response = await api.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert (response.status, response.content_type) == (401, media_type)
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    answer = await response.json(content_type=None)
    assert answer == {
        "errors": [{"message": "the token is malformed", "extensions": {"code": "UNAUTHENTICATED"}}]
    }


@pytest.mark.parametrize(
    ("accept", "prefers"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        (GRAPHQL_RESPONSE, True),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", True),
        (f"application/json, {GRAPHQL_RESPONSE}", True),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", False),
        (f"{GRAPHQL_RESPONSE};q=0, */*", False),
        (f"{GRAPHQL_RESPONSE};q=0.8, application/json;q=0.2, */*", True),
        (f"{GRAPHQL_RESPONSE};q=bogus, application/json", False),
    ],
)
def test_the_accept_header_decides_the_media_type(accept: str | None, prefers: bool) -> None:
    assert prefers_graphql_response(accept) is prefers
