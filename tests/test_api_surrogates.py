"""Lone surrogates and other text that is not JSON, in a request body's variables or query text,
are answered with a JSON body and a typed error (Strawberry alone answers in plain text)."""

from __future__ import annotations

from typing import Any

import pytest

NOT_JSON_BODIES = [
    pytest.param(
        rb'{"query": "query($s: ID!) { stream(id: $s) { id } }", "variables": {"s": "\ud800"}}',
        id="lone surrogate in a variable",
    ),
    pytest.param(rb'{"query": "{ stream(id: \"\udfff\") { title } }"}', id="in the query text"),
    pytest.param(rb'{"query": "{ giftCatalog { id } } # \ud800"}', id="in a comment"),
    pytest.param(
        '{"query": "{ giftCatalog { id } } # \ud800"}'.encode("utf-8", "surrogatepass"),
        id="encoded raw",
    ),
    pytest.param(b'{"query": ', id="truncated"),
    pytest.param(b"\xff\xfe", id="not UTF-8"),
]


@pytest.mark.parametrize("body", NOT_JSON_BODIES)
async def test_a_body_that_is_not_json_is_a_400_with_a_json_graphql_error(
    api: Any, body: bytes
) -> None:
    response = await api.post("/graphql", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    payload = await response.json()
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "not valid JSON" in payload["errors"][0]["message"]


async def test_get_variables_that_are_not_json_are_a_400_with_a_json_graphql_error(
    api: Any,
) -> None:
    response = await api.get(
        "/graphql",
        params={
            "query": "query($s: ID!) { stream(id: $s) { title } }",
            "variables": '{"s": "\\ud800"}',
        },
    )
    assert response.status == 400
    payload = await response.json()
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
