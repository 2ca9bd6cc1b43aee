"""In-process fan-out: topics with bounded per-subscriber queues, so that a slow or dead
subscriber never slows the publisher or the other subscribers; it overflows and is dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable, Iterable
from types import TracebackType
from typing import Generic, TypeVar

from kernel.metrics import LIVE_EVENTS_DROPPED

Topic = tuple[str, int]
T = TypeVar("T")


class SubscriberTooSlow(Exception):
    """The subscriber's queue overflowed: events were lost, so it was dropped."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"fell more than {capacity} events behind and was dropped")
        self.capacity = capacity


class Subscriber(Generic[T]):
    """A bounded queue of the events on some topics. Iterate it (or `await next_batch()`), and
    close it when done; it closes itself once it has overflowed."""

    def __init__(self, hub: Hub[T], topics: tuple[Hashable, ...], capacity: int) -> None:
        self._hub = hub
        self.topics = topics
        self.capacity = capacity
        self._queue: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.overflowed = False
        self.closed = False
        self._interrupted = False

    def deliver(self, event: T) -> None:
        """Called by the hub; never blocks. On overflow the subscription drops out."""
        if self.closed:
            return
        if len(self._queue) >= self.capacity:
            LIVE_EVENTS_DROPPED.labels("bus").inc()
            self.overflowed = True
            self._queue.clear()
            self.close()
        else:
            self._queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def interrupt(self) -> None:
        """Make the pending (or next) `wait` return even with nothing queued."""
        self._interrupted = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub.remove(self)
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def __enter__(self) -> Subscriber[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def pending(self) -> int:
        return len(self._queue)

    def drain(self) -> list[T]:
        """Everything queued now, without waiting (raises once overflowed)."""
        self._raise_if_dropped()
        items = list(self._queue)
        self._queue.clear()
        return items

    async def wait(self) -> None:
        """Until at least one event is queued (or `interrupt` was called). Raises
        `SubscriberTooSlow` after an overflow and `StopAsyncIteration` once closed."""
        while not self._queue and not self._interrupted:
            self._raise_if_dropped()
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._interrupted = False
        self._raise_if_dropped()

    async def next_batch(self) -> list[T]:
        """At least one event: all of those queued once the first is there."""
        await self.wait()
        return self.drain()

    def __aiter__(self) -> Subscriber[T]:
        return self

    async def __anext__(self) -> T:
        while not self._queue:
            await self.wait()
        return self._queue.popleft()

    def _raise_if_dropped(self) -> None:
        if self.overflowed:
            raise SubscriberTooSlow(self.capacity)


class Hub(Generic[T]):
    """Topics and their subscriptions, in one process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._topics: dict[Hashable, set[Subscriber[T]]] = {}

    def subscribe(self, topics: Iterable[Hashable], capacity: int | None = None) -> Subscriber[T]:
        subscription = Subscriber(self, tuple(topics), capacity or self.capacity)
        for topic in subscription.topics:
            self._topics.setdefault(topic, set()).add(subscription)
        return subscription

    def dispatch(self, topics: Iterable[Hashable], event: T) -> None:
        seen: set[int] = set()
        for topic in topics:
            for subscription in tuple(self._topics.get(topic, ())):
                if id(subscription) not in seen:
                    seen.add(id(subscription))
                    subscription.deliver(event)

    def remove(self, subscription: Subscriber[T]) -> None:
        for topic in subscription.topics:
            members = self._topics.get(topic)
            if members is not None:
                members.discard(subscription)
                if not members:
                    del self._topics[topic]

    def has_subscribers(self) -> bool:
        """True when anyone in this process listens to anything."""
        return bool(self._topics)

    def subscribers(self, topic: Hashable | None = None) -> int:
        """How many subscriptions listen (to one topic, or to any)."""
        if topic is not None:
            return len(self._topics.get(topic, ()))
        return len({id(s) for members in self._topics.values() for s in members})

    def close_all(self) -> None:
        for members in list(self._topics.values()):
            for subscription in list(members):
                subscription.close()
