"""The API's guard rails and plumbing: depth, alias and token limits, page-size caps and
cursors, bad arguments to queries, request size, GraphiQL, and the health endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graph.global_ids import to_global_id

from .queries import SEND_GIFT

Post = Callable[..., Awaitable[Any]]


async def test_deep_queries_are_refused(graphql: Post) -> None:
    query = "{ me { coinWallet { owner { coinWallet { owner { diamondWallet { owner { "
    query += "coinWallet { owner { coinWallet { owner { subject } } } } } } } } } } } }"
    response = await graphql(query, subject="viewer:deep")
    assert response.data is None
    assert "exceeds maximum operation depth" in response.errors[0]["message"]


async def test_too_many_aliases_are_refused(graphql: Post) -> None:
    query = "{ " + " ".join(f"a{n}: giftCatalog {{ name }}" for n in range(31)) + " }"
    response = await graphql(query)
    assert response.data is None
    assert "aliases" in response.errors[0]["message"]


async def test_too_many_tokens_are_refused(graphql: Post) -> None:
    query = "{ giftCatalog { " + " ".join(["name"] * 2_100) + " } }"
    response = await graphql(query)
    assert response.data is None
    assert "token" in response.errors[0]["message"].lower()


@pytest.mark.parametrize("first", [0, -1, 101, 1_000])
async def test_page_sizes_outside_1_to_100_are_refused(first: int, graphql: Post) -> None:
    response = await graphql(
        "query($n: Int) { liveStreams(first: $n) { edges { cursor } } }", {"n": first}
    )
    assert response.error_codes == ["BAD_USER_INPUT"]
    assert "between 1 and 100" in response.errors[0]["message"]


async def test_a_cursor_we_did_not_give_out_is_refused(graphql: Post) -> None:
    response = await graphql('{ liveStreams(after: "bogus") { edges { cursor } } }')
    assert response.error_codes == ["BAD_USER_INPUT"]


async def test_wallet_history_pages_newest_first(
    graphql: Post, gift: Callable[..., Awaitable[Any]], funded_viewer: Any, live_stream: Any
) -> None:
    rose = await gift("Rose", 1)
    viewer = await funded_viewer(10)
    live = await live_stream()
    for n in range(1, 6):
        await graphql(
            SEND_GIFT,
            {
                "stream": to_global_id("LiveStream", live.stream.id),
                "gift": to_global_id("Gift", rose.id),
                "quantity": n,
                "key": f"k{n}",
            },
            subject=viewer.subject,
        )
    # 1+2+3+4 = 10 coins spent; the fifth gift was refused.
    page = """query($after: String) { me { coinWallet { transactions(first: 2, after: $after) {
        edges { cursor node { amount } } pageInfo { hasNextPage endCursor } } } } }"""
    amounts: list[int] = []
    after = None
    pages = 0
    while True:
        response = await graphql(page, {"after": after}, subject=viewer.subject)
        connection = response.data["me"]["coinWallet"]["transactions"]
        amounts += [e["node"]["amount"] for e in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert amounts == [-4, -3, -2, -1, 10]
    assert pages == 3


async def test_live_streams_page_through_every_stream_once(graphql: Post, live_stream: Any) -> None:
    ids = {to_global_id("LiveStream", (await live_stream()).stream.id) for _ in range(5)}
    seen: list[str] = []
    after = None
    while True:
        response = await graphql(
            "query($a: String) { liveStreams(first: 2, after: $a) "
            "{ edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            {"a": after},
        )
        connection = response.data["liveStreams"]
        seen += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5


async def test_coin_bundles_are_priced_in_the_asked_currency(graphql: Post, economy: Any) -> None:
    from economy.catalog import put_coin_bundle

    async with economy.db.write() as conn:
        await put_coin_bundle(conn, 70, [("USD", 99), ("EUR", 95)])
        await put_coin_bundle(conn, 350, [("USD", 499)])
    usd = await graphql('{ coinBundles(currency: "USD") { coins currency price } }')
    assert usd.data["coinBundles"] == [
        {"coins": 70, "currency": "USD", "price": 99},
        {"coins": 350, "currency": "USD", "price": 499},
    ]
    eur = await graphql('{ coinBundles(currency: "eur") { coins price } }')
    assert eur.data["coinBundles"] == [{"coins": 70, "price": 95}]
    bad = await graphql('{ coinBundles(currency: "dollars") { coins } }')
    assert bad.error_codes == ["BAD_USER_INPUT"]


async def test_unknown_or_malformed_ids(graphql: Post) -> None:
    missing = await graphql(
        "query($id: ID!) { stream(id: $id) { id } }", {"id": to_global_id("LiveStream", 12345)}
    )
    assert missing.data == {"stream": None}
    malformed = await graphql('{ node(id: "%%%") { id } }')
    assert malformed.error_codes == ["BAD_USER_INPUT"]
    unknown_type = await graphql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": to_global_id("Spaceship", 1)}
    )
    assert unknown_type.data == {"node": None}


async def test_an_oversized_request_body_is_refused(api: Any) -> None:
    response = await api.post(
        "/graphql", data=b"{" + b" " * 300_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status == 413


async def test_graphiql_is_served_on_get_in_development(api: Any) -> None:
    response = await api.get("/graphql", headers={"Accept": "text/html"})
    assert response.status == 200
    assert "graphiql" in (await response.text()).lower()


async def test_health_and_readiness(api: Any) -> None:
    health = await api.get("/healthz")
    assert health.status == 200
    assert (await health.json())["status"] == "ok"
    ready = await api.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_readiness_reports_pending_migrations_from_the_shells_check(economy: Any) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from graph.server import create_app

    async def behind(_eco: Any) -> tuple[str | None, str | None]:
        return "0003", "0005"

    async with TestClient(TestServer(create_app(economy, schema_state=behind))) as client:
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert await ready.json() == {
            "status": "unavailable",
            "reason": "migrations pending",
            "at": "0003",
            "head": "0005",
        }
    async with TestClient(TestServer(create_app(economy))) as bare:
        assert (await (await bare.get("/readyz")).json()) == {"status": "ready"}
