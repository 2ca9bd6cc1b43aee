"""Thousands of graphql-transport-ws subscribers in one process, for the fan-out benchmark: a
bare websocket client on asyncio streams (a general client costs more per message than the
server that sends it), recording when each message arrives.

Subscribers on the same server process receive byte-identical messages (one shared execution
per process), so a message is parsed once, the first time it is seen; for every arrival the
client only counts it and keeps the latest arrival time.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson

PROTOCOL = "graphql-transport-ws"
CONNECT_AT_ONCE = 100


@dataclass
class Arrivals:
    """Per distinct message: how many subscribers got it and when the last one did."""

    count: dict[bytes, int] = field(default_factory=dict)
    last: dict[bytes, float] = field(default_factory=dict)
    closed: int = 0

    def saw(self, payload: bytes, at: float) -> None:
        self.count[payload] = self.count.get(payload, 0) + 1
        if at > self.last.get(payload, 0.0):
            self.last[payload] = at


async def subscribe(
    host: str, port: int, query: str, variables: dict[str, Any], arrivals: Arrivals
) -> asyncio.Task[None]:
    """Connect, subscribe, wait for the first message; then keep recording in a task."""
    reader, writer = await asyncio.open_connection(host, port, limit=2**20)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head[:200].decode(errors="replace"))
    _send(writer, {"type": "connection_init", "payload": {}})
    if orjson.loads(await _frame(reader))["type"] != "connection_ack":
        raise ConnectionError("no connection_ack")
    _send(
        writer,
        {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}},
    )
    first = orjson.loads(await _frame(reader))
    if first.get("type") != "next" or first["payload"].get("errors"):
        raise ConnectionError(f"subscription refused: {first}")
    return asyncio.create_task(_record(reader, writer, arrivals))


async def _record(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, arrivals: Arrivals
) -> None:
    try:
        while True:
            payload = await _frame(reader)
            arrivals.saw(payload, time.time())
    except (asyncio.IncompleteReadError, ConnectionError):
        arrivals.closed += 1
    finally:
        writer.close()


async def _frame(reader: asyncio.StreamReader) -> bytes:
    """The next text frame's payload (the server sends whole, unmasked frames)."""
    while True:
        b0, b1 = await reader.readexactly(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        opcode = b0 & 0x0F
        if opcode == 0x1:
            return payload
        if opcode == 0x8:
            raise ConnectionError("closed by the server")
        # ping (0x9) and pong (0xA): the server's heartbeat; nothing to record


def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    payload = orjson.dumps(message)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if len(payload) < 126:
        header = bytes([0x81, 0x80 | len(payload)])
    else:
        header = bytes([0x81, 0x80 | 126]) + struct.pack(">H", len(payload))
    writer.write(header + mask + masked)


def run_subscribers(
    host: str, port: int, query: str, variables: dict[str, Any], count: int, pipe: Connection
) -> None:
    """A process of `count` subscribers: says `ready` (or the error), records until told
    `stop`, then sends back what arrived."""
    from bench._common import raise_open_files_limit
    from diamonds.workers import use_uvloop

    raise_open_files_limit()
    use_uvloop()
    asyncio.run(_subscribers(host, port, query, variables, count, pipe))


async def _subscribers(
    host: str, port: int, query: str, variables: dict[str, Any], count: int, pipe: Connection
) -> None:
    arrivals = Arrivals()
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one() -> asyncio.Task[None]:
        async with gate:
            for attempt in range(5):
                try:
                    return await subscribe(host, port, query, variables, arrivals)
                except (ConnectionError, OSError, asyncio.IncompleteReadError):
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    try:
        tasks = await asyncio.gather(*(one() for _ in range(count)))
    except Exception as exc:
        pipe.send(("error", repr(exc)))
        return
    pipe.send(("ready", count))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(("arrivals", arrivals.count, arrivals.last, arrivals.closed))
