"""A websocket lives no longer than its token: the server closes it with 4403 when the token
expires, ending its subscriptions; a subscribe that fails to parse or validate gets an `error`
message; connectionParams are read in the shapes common clients send."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from tests.live_fixtures import PROTOCOL, WALLET_CHANGED, Closed, LiveClient, connect

TTL_SECONDS = 2


async def test_the_server_closes_the_connection_when_the_token_expires(
    api: Any, token_for: Any
) -> None:
    token = token_for("viewer:ann", "VIEWER", ttl_seconds=TTL_SECONDS)
    client = await connect(api.session, str(api.make_url("/graphql")), token)
    op = await client.subscribe(WALLET_CHANGED)
    await client.data_for(op)  # the subscription is open: the wallet as it is
    started = time.monotonic()
    assert await client.closed(within=TTL_SECONDS + 3) == 4403
    assert time.monotonic() - started <= TTL_SECONDS + 1.5


async def test_no_operation_starts_after_the_token_expired(api: Any, token_for: Any) -> None:
    token = token_for("viewer:ann", "VIEWER", ttl_seconds=TTL_SECONDS)
    client = await connect(api.session, str(api.make_url("/graphql")), token)
    await asyncio.sleep(TTL_SECONDS + 0.5)
    if not client.ws.closed:
        with contextlib.suppress(ConnectionError):
            await client.subscribe(WALLET_CHANGED)
    messages: list[dict[str, Any]] = []
    while True:
        try:
            messages.append(await client.receive(within=3))
        except (Closed, TimeoutError):
            break
    assert client.ws.closed
    assert all(message["type"] != "next" for message in messages), messages


@pytest.mark.parametrize(
    "query",
    ["subscription { walletChanged {", "subscription { noSuchField }"],
    ids=["syntax", "validation"],
)
async def test_a_subscribe_that_does_not_parse_or_validate_gets_an_error_message(
    api: Any, token_for: Any, query: str
) -> None:
    client = await connect(
        api.session, str(api.make_url("/graphql")), token_for("viewer:ann", "VIEWER")
    )
    op = await client.subscribe(query)
    message = await client.next_for(op)
    await client.ws.close()
    assert message["type"] == "error", message
    assert message["payload"]
    assert message["payload"][0]["message"]


@pytest.mark.parametrize(
    "params",
    [
        lambda t: {"Authorization": f"Bearer {t}"},
        lambda t: {"authorization": f"Bearer {t}"},
        lambda t: {"headers": {"Authorization": f"Bearer {t}"}},
        lambda t: {"authToken": t},
        lambda t: {"token": f"Bearer {t}"},
    ],
    ids=["Authorization", "authorization", "headers", "authToken", "token"],
)
async def test_connection_params_are_read_in_each_common_shape(
    api: Any, token_for: Any, params: Any
) -> None:
    ws = await api.session.ws_connect(str(api.make_url("/graphql")), protocols=[PROTOCOL])
    client = LiveClient(ws)
    ack = await client.init(params(token_for("viewer:ann", "VIEWER")))
    assert ack["type"] == "connection_ack", ack
    op = await client.subscribe(WALLET_CHANGED)
    await client.data_for(op)  # signed in: the wallet, no UNAUTHENTICATED error
    await ws.close()


async def test_credentials_in_a_shape_not_read_are_refused_not_anonymous(
    api: Any, token_for: Any
) -> None:
    ws = await api.session.ws_connect(str(api.make_url("/graphql")), protocols=[PROTOCOL])
    client = LiveClient(ws)
    await ws.send_json(
        {"type": "connection_init", "payload": {"jwt": token_for("viewer:ann", "VIEWER")}}
    )
    assert await client.closed() == 4403
