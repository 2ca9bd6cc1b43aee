"""A document with several operations needs `operationName` (the GraphQL spec's GetOperation):
without it, a request error over GET, POST (400, both media types) and the websocket (an `error`
message for that operation, as for every error before execution); with it, the named operation
runs, whichever it is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

TWO = "query First { __typename } query Second { giftCatalog { name } }"
MUST_NAME = "Must provide operation name if query contains multiple operations."
ACCEPTS = [None, "application/json", "application/graphql-response+json"]


async def send(
    api: TestClient[Any, Any], method: str, body: dict[str, str], accept: str | None
) -> tuple[int, Any]:
    headers = {"Accept": accept} if accept is not None else {}
    if method == "GET":
        response = await api.get("/graphql", params=body, headers=headers)
    else:
        response = await api.post("/graphql", json=body, headers=headers)
    return response.status, await response.json(content_type=None)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("accept", ACCEPTS)
async def test_several_operations_without_an_operation_name_are_refused(
    api: TestClient[Any, Any], method: str, accept: str | None
) -> None:
    for query in (TWO, "mutation M { __typename } query Q { __typename }"):
        status, body = await send(api, method, {"query": query}, accept)
        assert status == 400, body
        assert "data" not in body
        assert body["errors"] == [{"message": MUST_NAME, "extensions": {"code": "BAD_REQUEST"}}]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("accept", ACCEPTS)
async def test_the_named_operation_runs(
    api: TestClient[Any, Any], method: str, accept: str | None
) -> None:
    first = await send(api, method, {"query": TWO, "operationName": "First"}, accept)
    second = await send(api, method, {"query": TWO, "operationName": "Second"}, accept)
    assert (first[0], first[1]["data"]) == (200, {"__typename": "Query"})
    assert (second[0], second[1]["data"]) == (200, {"giftCatalog": []})
    assert second[1]["extensions"]["cost"]["requested"] == 2  # the operation named, not both
    alone = await send(api, method, {"query": "query Only { __typename }"}, accept)
    assert (alone[0], alone[1]["data"]) == (200, {"__typename": "Query"})


async def test_a_websocket_subscribe_with_several_operations_and_no_name_is_refused(
    api: TestClient[Any, Any],
) -> None:
    two = (
        'subscription A { giftReceived(streamId: "TGl2ZVN0cmVhbTox") { id } } '
        'subscription B { giftReceived(streamId: "TGl2ZVN0cmVhbToy") { id } }'
    )
    async with api.ws_connect("/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_str(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.receive_str())["type"] == "connection_ack"
        await ws.send_str(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": two}}))
        refused = json.loads(await ws.receive_str())
        assert refused["type"] == "error"
        assert refused["id"] == "1"
        assert [e["message"] for e in refused["payload"]] == [MUST_NAME]
