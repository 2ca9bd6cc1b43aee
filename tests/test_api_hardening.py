"""Hostile HTTP requests and arguments (issue 14) are refused with a clear error and a 4xx or a
typed GraphQL error, never HTTP 500 or "Unexpected error."."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("body", [b"42", b"null", b"[]", b'"{ giftCatalog { id } }"', b"true"])
async def test_a_json_body_that_is_not_an_object_is_a_400_graphql_error(
    api: Any, body: bytes
) -> None:
    response = await api.post("/graphql", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    payload = await response.json()
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "must be a JSON object" in payload["errors"][0]["message"]


async def test_get_variables_may_still_be_null(api: Any) -> None:
    response = await api.get(
        "/graphql", params={"query": "{ giftCatalog { id } }", "variables": "null"}
    )
    assert response.status == 200
    assert (await response.json())["data"] == {"giftCatalog": []}
