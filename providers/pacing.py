"""How fast one provider is asked: at most so many requests in flight (a semaphore) and at most so
many started per second (a token bucket), so concurrent dispatch stays inside its rate limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class TokenBucket:
    """`per_second` tokens a second, at most `burst` saved up; `take()` waits for one. Tasks are
    served in the order they asked (one waiter sleeps at a time, the others queue on a lock)."""

    def __init__(
        self,
        per_second: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not per_second > 0:
            raise ValueError(f"per_second must be positive, got {per_second}")
        self.per_second = per_second
        self.burst = max(1, burst if burst is not None else int(per_second))
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._at = clock()
        self._turn = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_second)
        self._at = now

    async def take(self) -> None:
        self._refill()
        if self._tokens >= 1 and not self._turn.locked():
            self._tokens -= 1
            return
        async with self._turn:
            self._refill()
            while self._tokens < 1:
                await self._sleep((1 - self._tokens) / self.per_second)
                self._refill()
            self._tokens -= 1


class RequestPacer:
    """At most `concurrency` requests of one provider in flight, started at most `per_second`
    a second (no rate bound when it is None). Use `async with pacer.slot():` around one request."""

    def __init__(self, concurrency: int, per_second: float | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._bucket = TokenBucket(per_second) if per_second else None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            if self._bucket is not None:
                await self._bucket.take()
            yield
