"""Who may subscribe to what: the connection is authenticated once, with the HTTP API's bearer
token; wallets and payouts are the caller's own; the legacy protocol is off; a connection holds
a limited number of subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from economy.app import Economy
from economy.events import wallet_topic
from graph.errors import SIGN_IN_OVER_HTTP, SIGN_IN_OVER_WEBSOCKET
from graph.global_ids import to_global_id
from graph.schema import schema
from graph.server import create_app
from tests.live_fixtures import (
    GIFT_RECEIVED,
    PAYOUT_STATUS_CHANGED,
    PROTOCOL,
    WALLET_CHANGED,
    LiveClient,
    connect,
    listening,
)

Connect = Callable[..., Awaitable[LiveClient]]


@pytest.fixture
async def raw(api: TestClient[Any, Any]) -> AsyncIterator[Callable[..., Awaitable[LiveClient]]]:
    """`await raw(headers=..., protocols=...)`: a websocket, not yet initialised."""
    opened: list[LiveClient] = []

    async def open_one(
        protocols: tuple[str, ...] = (PROTOCOL,), headers: dict[str, str] | None = None
    ) -> LiveClient:
        ws = await api.session.ws_connect(
            str(api.make_url("/graphql")), protocols=protocols, headers=headers or {}
        )
        client = LiveClient(ws)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        await client.ws.close()


async def test_a_bad_token_in_connection_init_closes_the_connection_with_4403(
    raw: Any, token_for: Any
) -> None:
    for token in ("not-a-token", token_for("viewer:ann", "VIEWER", ttl_seconds=-10)):
        client = await raw()
        await client.ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        assert await client.closed() == 4403


async def test_a_bad_token_on_the_upgrade_request_closes_the_connection_with_4403(
    raw: Any,
) -> None:
    client = await raw(headers={"Authorization": "Bearer forged"})
    await client.ws.send_json({"type": "connection_init", "payload": {}})
    assert await client.closed() == 4403


async def test_the_upgrade_requests_header_authenticates_the_connection(
    economy: Economy, raw: Any, token_for: Any
) -> None:
    ann = await economy.users.ensure("viewer:ann")
    client = await raw(headers={"Authorization": f"Bearer {token_for('viewer:ann', 'VIEWER')}"})
    assert (await client.init())["type"] == "connection_ack"
    await client.subscribe(WALLET_CHANGED)
    await listening(economy, wallet_topic(ann.id))


async def test_the_legacy_graphql_ws_protocol_is_refused(raw: Any) -> None:
    client = await raw(protocols=("graphql-ws",))
    assert client.ws.protocol is None
    await client.ws.send_json({"type": "connection_init", "payload": {}})
    assert await client.closed() == 4406


async def test_subscribing_before_connection_init_closes_the_connection_with_4401(
    raw: Any,
) -> None:
    client = await raw()
    await client.subscribe(WALLET_CHANGED)
    assert await client.closed() == 4401


@pytest.mark.parametrize("query", [WALLET_CHANGED, PAYOUT_STATUS_CHANGED])
async def test_wallets_and_payouts_need_a_signed_in_caller(api: Any, query: str) -> None:
    client = await connect(api.session, str(api.make_url("/graphql")))  # anonymous
    op = await client.subscribe(query)
    message = await client.next_for(op)
    await client.ws.close()
    assert message["type"] == "error", message
    assert [e["extensions"]["code"] for e in message["payload"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("query", [WALLET_CHANGED, PAYOUT_STATUS_CHANGED])
async def test_an_anonymous_subscriber_is_told_to_sign_in_with_connection_init(
    api: Any, graphql: Any, query: str
) -> None:
    client = await connect(api.session, str(api.make_url("/graphql")))  # anonymous
    op = await client.subscribe(query)
    message = await client.next_for(op)
    await client.ws.close()
    [error] = message["payload"]
    assert error["message"] == SIGN_IN_OVER_WEBSOCKET
    assert "connection_init" in error["message"]
    assert '{"Authorization": "Bearer <token>"}' in error["message"]
    assert "header" not in error["message"]
    # Over HTTP the same refusal names the header.
    over_http = await graphql("{ me { subject } }")
    assert [e["message"] for e in over_http.errors] == [SIGN_IN_OVER_HTTP]


def test_no_one_can_name_another_users_wallet_or_payouts() -> None:
    subscription = schema.as_str().split("type Subscription {")[1].split("}")[0]
    assert "walletChanged: WalletUpdate!" in subscription
    assert "payoutStatusChanged: PayoutStatusUpdate!" in subscription


async def test_a_connection_holds_a_limited_number_of_subscriptions(
    start_economy: Any, live_stream: Any
) -> None:
    eco = await start_economy(max_subscriptions_per_connection=2)
    stream_id = to_global_id("LiveStream", (await live_stream()).stream.id)
    async with TestClient(TestServer(create_app(eco))) as http:
        client = await connect(http.session, str(http.make_url("/graphql")))
        first = await client.subscribe(GIFT_RECEIVED, {"stream": stream_id})
        second = await client.subscribe(GIFT_RECEIVED, {"stream": stream_id})
        third = await client.subscribe(GIFT_RECEIVED, {"stream": stream_id})
        refused = await client.next_for(third)
        await client.data_for(first)
        await client.data_for(second)
        await client.ws.close()
    assert refused["type"] == "error"
    assert refused["payload"][0]["message"] == "Subscription limit reached"
