"""How a subscription paces its messages: the first event after a quiet spell goes out at once,
the ones that follow within a tick are gathered into the next message, so a storm of gifts
costs each subscriber a few messages a second, not thousands.

A shared execution (`graph.live.feeds`) also asks the subscription for a fresh snapshot when new
subscribers join it; `Snapshots` carries that request and marks the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TypeVar

from economy.fanout import Subscriber

T = TypeVar("T")


class Snapshots:
    """Between a shared feed and the one execution behind it: `request` asks for a snapshot
    (someone joined); the execution marks the message it yields in answer as `answering`."""

    def __init__(self) -> None:
        self.requested = False
        self.answering = False
        self._subscription: Subscriber[object] | None = None

    def watch(self, subscription: Subscriber[object]) -> None:
        self._subscription = subscription

    def request(self) -> None:
        self.requested = True
        if self._subscription is not None:
            self._subscription.interrupt()


async def paced(
    subscription: Subscriber[T], interval: float, snapshots: Snapshots | None = None
) -> AsyncIterator[list[T] | None]:
    """Batches of events, at most one per `interval` seconds (the first of a burst at once).
    `None` asks the caller for a snapshot: first of all, then whenever `snapshots` requests one.
    """
    if snapshots is not None:
        snapshots.watch(subscription)  # type: ignore[arg-type]
        snapshots.requested = False
    yield None
    last = float("-inf")
    while True:
        await subscription.wait()
        if snapshots is not None and snapshots.requested:
            snapshots.requested = False
            yield None
            if not subscription.pending():
                continue
        delay = last + interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        batch = subscription.drain()
        if batch:
            last = time.monotonic()
            yield batch
