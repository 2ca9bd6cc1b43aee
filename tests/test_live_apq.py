"""Automatic persisted queries (Apollo's convention): a hash the server does not know is asked
for once, then the hash alone runs the query; the cached document keeps its validation."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp.test_utils import TestClient

from settings.service import DEFAULT_MAX_QUERY_COST

CATALOG = "{ giftCatalog { name coins } }"
COST_OF_CATALOG = {"cost": {"requested": 3, "limit": DEFAULT_MAX_QUERY_COST}}
"""What every answer to CATALOG reports in `extensions` (`graph.cost`)."""


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(digest: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


async def post(api: TestClient[Any, Any], body: dict[str, Any]) -> tuple[int, Any]:
    response = await api.post("/graphql", json=body)
    return response.status, await response.json()


async def test_an_unknown_hash_is_asked_for_then_the_hash_alone_runs_the_query(
    api: TestClient[Any, Any], gift: Any
) -> None:
    await gift("Rose", 1)
    digest = sha(CATALOG)

    unknown = await post(api, {"extensions": persisted(digest)})
    registered = await post(api, {"query": CATALOG, "extensions": persisted(digest)})
    by_hash = await post(api, {"extensions": persisted(digest)})
    by_get = await api.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(digest))},
        headers={"Accept": "application/graphql-response+json,application/json;q=0.9"},
    )

    assert unknown == (
        200,
        {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        },
    )
    expected = {
        "data": {"giftCatalog": [{"name": "Rose", "coins": 1}]},
        "extensions": COST_OF_CATALOG,
    }
    assert registered == (200, expected)
    assert by_hash == (200, expected)
    assert (by_get.status, await by_get.json()) == (200, expected)


async def test_a_hash_that_does_not_match_its_query_is_refused(api: TestClient[Any, Any]) -> None:
    status, body = await post(
        api, {"query": CATALOG, "extensions": persisted(sha("{ me { id } }"))}
    )
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    status, body = await post(api, {"extensions": persisted(sha("{ me { id } }"))})
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_only_version_1_with_a_sha256_is_understood(api: TestClient[Any, Any]) -> None:
    for extensions in (persisted(sha(CATALOG), version=2), persisted("not-hex")):
        status, body = await post(api, {"query": CATALOG, "extensions": extensions})
        assert status == 200
        assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}


async def test_a_text_that_does_not_validate_is_refused_and_not_remembered(
    api: TestClient[Any, Any],
) -> None:
    deep = "{ me { " + "coinWallet { owner { " * 6 + "subject" + " } }" * 6 + " } }"
    digest = sha(deep)
    first = await post(api, {"query": deep, "extensions": persisted(digest)})
    plain = await post(api, {"query": deep})
    for status, body in (first, plain):
        assert status == 200
        assert body["data"] is None
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert await post(api, {"extensions": persisted(digest)}) == (200, NOT_FOUND)


async def test_a_hash_registered_with_a_text_that_does_not_parse_or_validate_is_not_kept(
    api: TestClient[Any, Any],
) -> None:
    for text in ("{ giftCatalog { name ", "{ noSuchField }", "query { giftCatalog { nme } }"):
        digest = sha(text)
        status, body = await post(api, {"query": text, "extensions": persisted(digest)})
        assert status == 200
        assert body.get("data") is None
        assert body["errors"]
        assert await post(api, {"extensions": persisted(digest)}) == (200, NOT_FOUND), text
    # A valid text registered next to them is kept.
    digest = sha(CATALOG)
    await post(api, {"query": CATALOG, "extensions": persisted(digest)})
    assert await post(api, {"extensions": persisted(digest)}) == (
        200,
        {"data": {"giftCatalog": []}, "extensions": COST_OF_CATALOG},
    )


async def test_queries_without_the_extension_work_as_before(api: TestClient[Any, Any]) -> None:
    status, body = await post(api, {"query": "{ giftCatalog { name } }"})
    assert body.pop("extensions")["cost"]["requested"] == 2
    assert (status, body) == (200, {"data": {"giftCatalog": []}})
