"""Persisted queries across processes: with DIAMONDS_REDIS_URL set, a hash registered on one app
instance is found on another (through the local Redis), and a text in Redis that is not its
hash's query, or a Redis that does not answer, is taken as not shared."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestClient, TestServer

from economy.app import Economy
from graph.apq import SharedQueries
from graph.server import DiamondsGraphQLView, create_app

REDIS_URL = os.environ.get("DIAMONDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CATALOG = "{ giftCatalog { name coins } }"
NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}

Instance = Callable[..., Awaitable[TestClient[Any, Any]]]


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


@pytest.fixture
def channel() -> str:
    """A namespace of this test's own: other test runs may share the Redis server."""
    return f"diamonds:test:{uuid.uuid4().hex}"


@pytest.fixture
async def instance(
    start_economy: Callable[..., Awaitable[Economy]],
) -> AsyncIterator[Instance]:
    """Another app instance on the test's database (its own economy, view and caches)."""
    clients: list[TestClient[Any, Any]] = []

    async def start(**changes: Any) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(
            TestServer(create_app(await start_economy(**changes)))
        )
        await client.start_server()
        clients.append(client)
        return client

    try:
        yield start
    finally:
        for client in clients:
            await client.close()


async def post(client: TestClient[Any, Any], body: dict[str, Any]) -> Any:
    """The answer's data and errors (its `extensions.cost` report is tests/test_query_cost.py's)."""
    response = await client.post("/graphql", json=body)
    assert response.status == 200
    answer = await response.json()
    answer.pop("extensions", None)
    return answer


async def test_a_hash_registered_on_one_instance_is_found_on_the_other(
    instance: Instance, channel: str, gift: Any
) -> None:
    await gift("Rose", 1)
    one = await instance(redis_url=REDIS_URL, redis_channel=channel)
    two = await instance(redis_url=REDIS_URL, redis_channel=channel)
    digest = sha(CATALOG)

    before = await post(two, {"extensions": persisted(digest)})
    registered = await post(one, {"query": CATALOG, "extensions": persisted(digest)})
    on_the_other = await post(two, {"extensions": persisted(digest)})
    client = redis.Redis.from_url(REDIS_URL)
    try:
        stored = await client.get(f"{channel}:apq:{digest}")
        ttl = await client.ttl(f"{channel}:apq:{digest}")
        await client.delete(f"{channel}:apq:{digest}")
    finally:
        await client.aclose()
    still_here = await post(two, {"extensions": persisted(digest)})  # now in two's own cache

    expected = {"data": {"giftCatalog": [{"name": "Rose", "coins": 1}]}}
    assert before == NOT_FOUND
    assert registered == expected
    assert on_the_other == expected
    assert still_here == expected
    assert stored == CATALOG.encode()
    assert 0 < ttl <= 7 * 24 * 3600


async def test_a_text_that_fails_validation_is_not_shared(instance: Instance, channel: str) -> None:
    one = await instance(redis_url=REDIS_URL, redis_channel=channel)
    two = await instance(redis_url=REDIS_URL, redis_channel=channel)
    bad = "{ noSuchField }"

    refused = await post(one, {"query": bad, "extensions": persisted(sha(bad))})
    on_the_other = await post(two, {"extensions": persisted(sha(bad))})

    assert refused["errors"][0]["message"].startswith("Cannot query field 'noSuchField'")
    assert on_the_other == NOT_FOUND


async def test_a_text_in_redis_that_is_not_its_hashs_query_is_not_run(
    instance: Instance, channel: str
) -> None:
    two = await instance(redis_url=REDIS_URL, redis_channel=channel)
    digest = sha(CATALOG)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.set(f"{channel}:apq:{digest}", "{ __typename }", ex=60)
        answered = await post(two, {"extensions": persisted(digest)})
        await client.delete(f"{channel}:apq:{digest}")
    finally:
        await client.aclose()

    assert answered == NOT_FOUND


async def test_without_redis_each_instance_keeps_its_own(instance: Instance, gift: Any) -> None:
    await gift("Rose", 1)
    one, two = await instance(), await instance()
    digest = sha(CATALOG)

    await post(one, {"query": CATALOG, "extensions": persisted(digest)})

    assert await post(two, {"extensions": persisted(digest)}) == NOT_FOUND


async def test_a_redis_that_does_not_answer_is_taken_as_not_shared(
    instance: Instance, channel: str, gift: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await gift("Rose", 1)
    one = await instance(redis_url=REDIS_URL, redis_channel=channel)
    two = await instance(redis_url=REDIS_URL, redis_channel=channel)
    queries = _view(two).persisted_queries
    await queries.close()  # its Redis is now one where nothing listens (port 1)
    queries.shared = SharedQueries("redis://127.0.0.1:1/0", f"{channel}:apq:")
    digest = sha(CATALOG)
    await post(one, {"query": CATALOG, "extensions": persisted(digest)})

    unknown = await post(two, {"extensions": persisted(digest)})
    registered = await post(two, {"query": CATALOG, "extensions": persisted(digest)})

    assert unknown == NOT_FOUND
    assert registered == {"data": {"giftCatalog": [{"name": "Rose", "coins": 1}]}}
    assert "persisted queries: cannot read Redis" in caplog.text
    assert "persisted queries: cannot write Redis" in caplog.text


def _view(client: TestClient[Any, Any]) -> DiamondsGraphQLView:
    app = client.app
    assert app is not None
    [view] = {r.handler for r in app.router.routes() if isinstance(r.handler, DiamondsGraphQLView)}
    return view
