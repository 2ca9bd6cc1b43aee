"""Fan-out: two server processes sharing Redis both deliver every event, whichever process
booked the gift; a subscriber too slow to read never holds up the others, and is dropped."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port

from economy.app import Economy
from economy.events import EventBus, GiftReceived, gift_topic
from graph.global_ids import to_global_id
from graph.server import DiamondsGraphQLView, create_app
from tests.conftest import TEST_JWT_SECRET
from tests.live_fixtures import (
    GIFT_RECEIVED,
    SEND_GIFT,
    WALLET_CHANGED,
    StalledSubscriber,
    connect,
    wait_until,
)
from tests.served_process import ROOT, served_process

REDIS_URL = os.environ.get("DIAMONDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def channel() -> str:
    """A channel of this test's own: other test runs may share the Redis server."""
    return f"diamonds:test:{uuid.uuid4().hex}"


async def test_two_buses_on_one_redis_channel_hear_each_other(channel: str) -> None:
    one = EventBus(redis_url=REDIS_URL, redis_channel=channel)
    two = EventBus(redis_url=REDIS_URL, redis_channel=channel)
    await one.start()
    await two.start()
    try:
        with one.subscribe(gift_topic(5)) as here, two.subscribe(gift_topic(5)) as there:
            one.publish(_gift(5, 1))
            two.publish(_gift(5, 2))
            heard_here = [await asyncio.wait_for(anext(here), 5) for _ in range(2)]
            heard_there = [await asyncio.wait_for(anext(there), 5) for _ in range(2)]
    finally:
        await one.close()
        await two.close()
    assert sorted(e.gift_send_id for e in heard_here if isinstance(e, GiftReceived)) == [1, 2]
    assert sorted(e.gift_send_id for e in heard_there if isinstance(e, GiftReceived)) == [1, 2]


def _gift(stream_id: int, gift_send_id: int, sender_name: str = "viewer") -> GiftReceived:
    return GiftReceived(
        stream_id=stream_id,
        gift_send_id=gift_send_id,
        transaction_id=gift_send_id,
        gift_id=1,
        gift_name="Rose",
        gift_coins=1,
        sender_id=1,
        sender_name=sender_name,
        creator_id=2,
        quantity=1,
        coins=1,
        diamonds=1,
        committed_at=time.time(),
    )


@pytest.fixture
async def second_server(database_url: str, channel: str, tmp_path: Path) -> AsyncIterator[str]:
    """`diamonds serve` in another process, on the test's database and Redis channel."""
    env = {
        **os.environ,
        "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET,
        "DIAMONDS_REDIS_URL": REDIS_URL,
        "DIAMONDS_REDIS_CHANNEL": channel,
        "DIAMONDS_LIVE_TICK_MS": "0",
    }
    arguments = ["--no-migrate", "--no-worker", "--database-url", database_url]
    async with served_process(arguments, env, tmp_path / "second-server.log") as (url, _):
        yield url


async def test_two_server_processes_both_deliver_every_gift(
    start_economy: Any,
    second_server: str,
    channel: str,
    live_stream: Any,
    gift: Any,
    funded_viewer: Any,
    token_for: Any,
) -> None:
    here_eco = await start_economy(redis_url=REDIS_URL, redis_channel=channel, live_tick_ms=0)
    stream = (await live_stream()).stream
    stream_id = to_global_id("LiveStream", stream.id)
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    ann, bob = await funded_viewer(20, "viewer:ann"), await funded_viewer(20, "viewer:bob")
    async with (
        TestClient(TestServer(create_app(here_eco))) as here,
        aiohttp.ClientSession() as session,
    ):
        here_url = str(here.make_url(""))
        watchers = [
            await connect(session, f"{here_url}/graphql"),
            await connect(session, f"{second_server}/graphql"),
        ]
        anns_wallet = await connect(
            session, f"{second_server}/graphql", token_for("viewer:ann", "VIEWER")
        )
        ops = [await w.subscribe(GIFT_RECEIVED, {"stream": stream_id}) for w in watchers]
        wallet_op = await anns_wallet.subscribe(WALLET_CHANGED)
        for watcher, op in zip(watchers, ops, strict=True):
            assert (await watcher.data_for(op))["giftReceived"]["gifts"] == []
        for _ in range(2):  # where Ann's wallets stand: the remote server now listens for her
            assert (await anns_wallet.data_for(wallet_op))["walletChanged"]["reason"] == "CURRENT"

        async def send(base: str, subject: str, quantity: int) -> None:
            token = token_for(subject, "VIEWER")
            payload = {
                "query": SEND_GIFT,
                "variables": {
                    "input": {
                        "streamId": stream_id,
                        "giftId": rose,
                        "quantity": quantity,
                        "idempotencyKey": f"{subject}-{quantity}",
                    }
                },
            }
            async with session.post(
                f"{base}/graphql", json=payload, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                body = await response.json()
            assert body["data"]["sendGift"]["errors"] == [], body

        await send(here_url, ann.subject, 2)  # booked here ...
        await send(second_server, bob.subject, 3)  # ... and there
        seen = []
        for watcher, op in zip(watchers, ops, strict=True):
            gifts: list[dict[str, Any]] = []
            while len(gifts) < 2:
                gifts += (await watcher.data_for(op))["giftReceived"]["gifts"]
            seen.append(sorted((g["senderName"], g["quantity"]) for g in gifts))
        wallet = (await anns_wallet.data_for(wallet_op))["walletChanged"]
        for client in [*watchers, anns_wallet]:
            await client.ws.close()

    assert seen == [[("viewer:ann", 2), ("viewer:bob", 3)]] * 2
    assert (wallet["change"], wallet["wallet"]["balance"]) == (-2, 18)


async def test_a_subscriber_too_slow_to_read_is_dropped_and_the_others_get_everything(
    start_economy: Any, live_stream: Any
) -> None:
    eco: Economy = await start_economy(live_queue_size=16, live_tick_ms=0)
    stream = (await live_stream()).stream
    variables = {"stream": to_global_id("LiveStream", stream.id)}
    app = create_app(eco)
    app.on_response_prepare.append(_small_send_buffer)
    [view] = {r.handler for r in app.router.routes() if isinstance(r.handler, DiamondsGraphQLView)}
    chunks, per_chunk = 60, 100
    async with TestClient(TestServer(app)) as server:
        fast = await connect(server.session, str(server.make_url("/graphql")))
        fast_op = await fast.subscribe(GIFT_RECEIVED, variables)
        await fast.data_for(fast_op)
        assert server.port is not None
        stalled = await StalledSubscriber.subscribe(
            server.host, server.port, GIFT_RECEIVED, variables
        )
        await wait_until(lambda: view.feeds.subscribers() == 2)

        received: list[str] = []

        async def keep_reading() -> None:
            while len(received) < chunks * per_chunk:
                gifts = (await fast.data_for(fast_op))["giftReceived"]["gifts"]
                received.extend(g["id"] for g in gifts)

        reader = asyncio.create_task(keep_reading())
        started = time.monotonic()
        for chunk in range(chunks):  # big messages, so that the stalled reader backs up soon
            for n in range(per_chunk):
                eco.events.publish(_gift(stream.id, chunk * per_chunk + n + 1, "x" * 64))
            await asyncio.sleep(0.01)
        publishing = time.monotonic() - started
        await asyncio.wait_for(reader, 30)
        remaining = view.feeds.subscribers()
        hung_up = await stalled.dropped()
        stalled.close()
        await fast.ws.close()

    assert len(received) == len(set(received)) == chunks * per_chunk
    assert publishing < 5
    assert remaining == 1  # the stalled one was dropped and cleaned up ...
    assert hung_up  # ... and its connection closed


async def _small_send_buffer(request: web.Request, _response: web.StreamResponse) -> None:
    """Small kernel buffers on the server side too (no autotuning to megabytes), so that a
    stalled reader backs the server up after kilobytes, not megabytes."""
    if request.transport is not None:
        sock = request.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)


async def test_serve_with_two_workers_shares_the_port_and_every_worker_delivers(
    database_url: str,
    channel: str,
    economy: Economy,
    live_stream: Any,
    gift: Any,
    funded_viewer: Any,
    token_for: Any,
) -> None:
    stream = (await live_stream()).stream
    stream_id = to_global_id("LiveStream", stream.id)
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    await funded_viewer(10, "viewer:ann")
    port = unused_port()
    env = {
        **os.environ,
        "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET,
        "DIAMONDS_REDIS_URL": REDIS_URL,
        "DIAMONDS_REDIS_CHANNEL": channel,
        "DIAMONDS_LIVE_TICK_MS": "0",
    }
    command = [sys.executable, "-m", "diamonds.cli", "serve", "--port", str(port), "--workers"]
    command += ["2", "--no-migrate", "--no-worker", "--database-url", database_url]
    process = subprocess.Popen(  # noqa: ASYNC220, S603 - our own command, started once
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            listeners = await _wait_for_listeners(port, 2, process)
            watchers = [await connect(session, f"{url}/graphql") for _ in range(16)]
            ops = [await w.subscribe(GIFT_RECEIVED, {"stream": stream_id}) for w in watchers]
            for watcher, op in zip(watchers, ops, strict=True):
                await watcher.data_for(op)
            serving = _server_pids(port)
            payload = {
                "query": SEND_GIFT,
                "variables": {
                    "input": {
                        "streamId": stream_id,
                        "giftId": rose,
                        "quantity": 2,
                        "idempotencyKey": "workers-1",
                    }
                },
            }
            headers = {"Authorization": f"Bearer {token_for('viewer:ann', 'VIEWER')}"}
            async with session.post(f"{url}/graphql", json=payload, headers=headers) as response:
                assert (await response.json())["data"]["sendGift"]["errors"] == []
            got = [
                (await w.data_for(op))["giftReceived"]["gifts"]
                for w, op in zip(watchers, ops, strict=True)
            ]
            for watcher in watchers:
                await watcher.ws.close()
    finally:
        process.terminate()
        process.wait(20)
    assert len(listeners) == 2  # two processes listen on the one port
    assert len(serving) == 2  # and the sixteen connections landed on both
    assert [[(g["senderName"], g["quantity"]) for g in gifts] for gifts in got] == [
        [("viewer:ann", 2)]
    ] * 16


def _server_pids(port: int, state: str = "established") -> set[str]:
    out = subprocess.run(  # noqa: S603
        ["ss", "-Htnp", "state", state, f"( sport = :{port} )"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {
        line.split("pid=", 1)[1].split(",", 1)[0] for line in out.splitlines() if "pid=" in line
    }


async def _wait_for_listeners(port: int, count: int, process: subprocess.Popen[bytes]) -> set[str]:
    deadline = time.monotonic() + 90  # two processes importing and migrating on a busy machine
    while time.monotonic() < deadline:
        pids = _server_pids(port, "listening")
        if len(pids) >= count:
            await asyncio.sleep(0.5)  # ready to accept, economies started
            return pids
        assert process.poll() is None, "diamonds serve --workers 2 exited"
        await asyncio.sleep(0.2)
    pytest.fail("the workers did not start listening")


async def test_a_process_nobody_subscribes_in_ignores_what_it_hears_then_delivers_once_asked(
    channel: str,
) -> None:
    decoded: list[dict[str, Any]] = []
    publisher = EventBus(redis_url=REDIS_URL, redis_channel=channel)
    listener = EventBus(redis_url=REDIS_URL, redis_channel=channel)
    assert listener._relay is not None
    counting = listener._relay._decode

    def decode(data: dict[str, Any]) -> Any:
        decoded.append(data)
        return counting(data)

    listener._relay._decode = decode
    await publisher.start()
    await listener.start()
    try:
        with publisher.subscribe(gift_topic(7)) as sent:
            publisher.publish(_gift(7, 1))
            await asyncio.wait_for(anext(sent), 5)  # the message has gone round Redis
            await asyncio.sleep(0.2)
            assert decoded == []
            with listener.subscribe(gift_topic(7)) as heard:
                publisher.publish(_gift(7, 2))
                event = await asyncio.wait_for(anext(heard), 5)
    finally:
        await publisher.close()
        await listener.close()
    assert isinstance(event, GiftReceived)
    assert event.gift_send_id == 2
    assert [d["gift_send_id"] for d in decoded] == [2]
