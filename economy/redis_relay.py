"""The Redis relay: events published in any process reach every process, through one pub/sub
channel. Sending never blocks the publisher: events are queued and flushed in batches by a task.

Delivery is best effort. While Redis is unreachable, events are dropped (and counted) and the
listener reconnects; clients re-read the state they need after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL = "diamonds:events"
MAX_OUTBOX = 100_000
"""Events waiting to be sent at most; past that the oldest are dropped (Redis is down)."""
RECONNECT_SECONDS = 0.5
READY_TIMEOUT_SECONDS = 10.0

E = TypeVar("E")


class RedisRelay(Generic[E]):
    def __init__(
        self,
        url: str,
        deliver: Callable[[list[E]], None],
        encode: Callable[[E], dict[str, Any]],
        decode: Callable[[dict[str, Any]], E],
        *,
        channel: str = CHANNEL,
        listening: Callable[[], bool] = lambda: True,
    ) -> None:
        self._url = url
        self._deliver = deliver
        self._listening = listening
        """False while nobody here would receive anything: messages are then not decoded."""
        self._encode = encode
        self._decode = decode
        self.channel = channel
        self._outbox: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: redis.Redis | None = None
        self.dropped = 0

    async def start(self) -> None:
        """Connect, and return once this process is subscribed (so nothing sent after this
        returns can be missed here)."""
        self._client = redis.Redis.from_url(self._url)
        await self._client.ping()
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-relay-listen"),
            asyncio.create_task(self._flush(), name="redis-relay-flush"),
        ]
        await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT_SECONDS)

    async def close(self) -> None:
        await self._flush_once()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def send(self, events: Sequence[E]) -> None:
        self._outbox.extend(self._encode(e) for e in events)
        if len(self._outbox) > MAX_OUTBOX:
            excess = len(self._outbox) - MAX_OUTBOX
            del self._outbox[:excess]
            self.dropped += excess
        self._wake.set()

    async def _flush(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush_once()
            except (RedisError, OSError) as exc:
                log.warning("live events: cannot publish to Redis: %s", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _flush_once(self) -> None:
        if not self._outbox or self._client is None:
            return
        batch, self._outbox = self._outbox, []
        try:
            await self._client.publish(self.channel, orjson.dumps(batch))
        except (RedisError, OSError):
            self.dropped += len(batch)
            raise

    async def _listen(self) -> None:
        while True:
            assert self._client is not None
            pubsub = self._client.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "subscribe":
                        self._ready.set()
                    elif kind == "message":
                        self._receive(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("live events: Redis subscription lost (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]

    def _receive(self, data: bytes) -> None:
        if not self._listening():
            return
        try:
            events = [self._decode(item) for item in orjson.loads(data)]
        except (ValueError, TypeError) as exc:
            log.warning("live events: ignoring a malformed message: %s", exc)
            return
        self._deliver(events)
