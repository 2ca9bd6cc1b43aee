"""Helpers for the live tests: a graphql-transport-ws client over aiohttp's websocket client,
gifts sent over HTTP, and waiting until a server listens on a topic."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from economy.app import Economy
from economy.events import PayoutStatusChanged
from economy.fanout import Topic

PROTOCOL = "graphql-transport-ws"
TIMEOUT = 10.0

GIFT_RECEIVED = """
subscription Gifts($stream: ID!) {
  giftReceived(streamId: $stream) {
    streamId streamTotal
    gifts { id quantity coins diamonds streamTotal senderName committedAt gift { name coins } }
  }
}"""

LEADERBOARD_CHANGED = """
subscription Board($stream: ID!) {
  leaderboardChanged(streamId: $stream, first: 5) {
    streamId entries { rank user { id displayName } total }
  }
}"""

WALLET_CHANGED = """
subscription { walletChanged { change reason transactions wallet { asset balance available } } }
"""

PAYOUT_STATUS_CHANGED = """
subscription { payoutStatusChanged { payoutId userId status at } }
"""

SEND_GIFT = """
mutation Send($input: SendGiftInput!) {
  sendGift(input: $input) { replayed giftSend { id } errors { code } }
}"""

_keys = itertools.count(1)


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}")
        self.code = code
        self.reason = reason


class LiveClient:
    """One graphql-transport-ws connection."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self.inbox: dict[str, list[dict[str, Any]]] = {}

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.ws.send_json({"type": "connection_init", "payload": payload or {}})
        return await self.receive()

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, *, op_id: str | None = None
    ) -> str:
        op = op_id or str(next(self._ids))
        message: dict[str, Any] = {"id": op, "type": "subscribe", "payload": {"query": query}}
        if variables is not None:
            message["payload"]["variables"] = variables
        await self.ws.send_json(message)
        return op

    async def complete(self, op: str) -> None:
        await self.ws.send_json({"id": op, "type": "complete"})

    async def receive(self, within: float = TIMEOUT) -> dict[str, Any]:
        message = await self.ws.receive(timeout=within)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise Closed(self.ws.close_code, str(message.extra or ""))
        if message.type is WSMsgType.ERROR:
            raise Closed(None, str(message.data))
        assert message.type is WSMsgType.TEXT, message
        data: dict[str, Any] = message.json()
        return data

    async def next_for(self, op: str, within: float = TIMEOUT) -> dict[str, Any]:
        """The next message of operation `op` (others are kept for later)."""
        deadline = time.monotonic() + within
        while not self.inbox.get(op):
            data = await self.receive(max(0.01, deadline - time.monotonic()))
            self.inbox.setdefault(str(data.get("id")), []).append(data)
        return self.inbox[op].pop(0)

    async def data_for(self, op: str, within: float = TIMEOUT) -> dict[str, Any]:
        """The `data` of the next `next` message of `op`; fails on anything else."""
        message = await self.next_for(op, within)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def nothing_for(self, op: str, seconds: float = 0.3) -> None:
        """Nothing arrives for `op` within `seconds`."""
        try:
            message = await self.next_for(op, seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")

    async def closed(self, within: float = TIMEOUT) -> int | None:
        """Read until the server closes; its close code."""
        deadline = time.monotonic() + within
        while True:
            try:
                await self.receive(max(0.01, deadline - time.monotonic()))
            except Closed as closed:
                return closed.code


async def connect(
    session: aiohttp.ClientSession,
    url: str,
    token: str | None = None,
    *,
    header_token: str | None = None,
    **options: Any,
) -> LiveClient:
    """A connection, initialised with `token` in the payload (and/or `header_token` on the
    upgrade request) and acknowledged."""
    headers = {"Authorization": f"Bearer {header_token}"} if header_token else {}
    ws = await session.ws_connect(url, protocols=[PROTOCOL], headers=headers, **options)
    client = LiveClient(ws)
    ack = await client.init({"Authorization": f"Bearer {token}"} if token else None)
    assert ack["type"] == "connection_ack", ack
    return client


def payout_changed(payout_id: int, user_id: int, status: str, at: datetime) -> PayoutStatusChanged:
    """The event of a 40,000-diamond ledgerbank payout ($200.00, 30 cents fee) reaching
    `status`."""
    return PayoutStatusChanged(
        payout_id=payout_id,
        user_id=user_id,
        status=status,
        at=at,
        provider="ledgerbank",
        diamonds=40_000,
        currency="USD",
        gross_minor=20_000,
        fee_minor=30,
        withholding_minor=0,
        net_minor=19_970,
    )


async def wait_until(check: Callable[[], bool], within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def listening(eco: Economy, topic: Topic, count: int = 1) -> None:
    """Until `count` subscriptions of this process listen on `topic`."""
    await wait_until(lambda: eco.events.hub.subscribers(topic) >= count)


def gift_sender(
    graphql: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await send(viewer_subject, stream_gid, gift_gid, quantity)`: sendGift over HTTP."""

    async def send(
        subject: str, stream: str, gift: str, quantity: int = 1, key: str | None = None
    ) -> dict[str, Any]:
        response = await graphql(
            SEND_GIFT,
            {
                "input": {
                    "streamId": stream,
                    "giftId": gift,
                    "quantity": quantity,
                    "idempotencyKey": key or f"live-{next(_keys)}",
                }
            },
            subject=subject,
        )
        assert response.errors == [], response.body
        result: dict[str, Any] = response.data["sendGift"]
        return result

    return send


class StalledSubscriber:
    """A websocket client that subscribes and then stops reading, like a frozen phone: a raw
    socket with a small receive buffer, so that the server's writes back up quickly."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def subscribe(
        cls, host: str, port: int, query: str, variables: dict[str, Any]
    ) -> StalledSubscriber:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        client = cls(reader, writer)
        client.send({"type": "connection_init", "payload": {}})
        client.send(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        await writer.drain()
        return client

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if len(payload) < 126:
            header = bytes([0x81, 0x80 | len(payload)])
        else:
            header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.writer.write(header + mask + masked)

    async def dropped(self, within: float = TIMEOUT) -> bool:
        """Read what the server sent until it hangs up; whether it did within the time."""
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    def close(self) -> None:
        self.writer.close()
