"""The live feeds: how subscription messages reach subscribers, paced per tick and, for the
public stream subscriptions, shared by one execution per document and variables.

Pacing: the first event after a quiet spell goes out at once, the ones that follow within a tick
are gathered into the next message, so a storm of gifts costs each subscriber a few messages a
second, not thousands. A shared execution also asks its subscription for a fresh snapshot when new
subscribers join it; `Snapshots` carries that request and marks the answer.

Shared executions: every subscriber of a stream's gifts (or leaderboard) in this process with
the same document and variables is served by one execution, whose results are encoded once and
queued for each subscriber's websocket. Thousands of viewers then cost one GraphQL execution
per message plus one write per viewer, not one execution each.

Only `giftReceived` and `leaderboardChanged` are shared: they are executed as nobody in particular
(`FeedContext`, anonymous), so only public fields answer and sharing changes nothing a subscriber
sees (see `graph.gifts.types` and `graph.streams.types`). Each subscriber has a bounded queue of
encoded messages; one that falls behind (a slow reader, a dead peer) overflows and has its
connection closed by the transport (`graph.websocket`), and the others never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, TypeVar

import orjson
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.schema import BaseSchema
from strawberry.types import Info
from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing

from economy.app import Economy
from economy.fanout import Subscriber, SubscriberTooSlow
from graph.auth import ANONYMOUS
from graph.context import Context
from graph.errors import ApiError
from kernel.logs import unbound_context
from kernel.metrics import LIVE_EVENTS_DROPPED

log = logging.getLogger(__name__)

T = TypeVar("T")

SHARED_FIELDS = frozenset({"giftReceived", "leaderboardChanged"})
MAX_QUERY_TOKENS = 2_000


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


def snapshots_of(info: Info[Context, None]) -> Snapshots | None:
    """Set when one execution serves many subscribers (a `Feed`)."""
    snapshots = getattr(info.context, "snapshots", None)
    return snapshots if isinstance(snapshots, Snapshots) else None


def too_slow(exc: SubscriberTooSlow) -> ApiError:
    return ApiError("SLOW_SUBSCRIBER", f"this subscription {exc}; subscribe again")


@dataclass
class FeedContext(Context):
    """The context of a shared execution: nobody in particular, plus the snapshot channel."""

    over_websocket: ClassVar[bool] = True
    snapshots: Snapshots = field(default_factory=Snapshots)


@lru_cache(maxsize=1_024)
def shared_field(query: str, operation_name: str | None) -> str | None:
    """The root field of a subscription that selects exactly one shareable field (no
    directives on it), or None when the operation must run on its own."""
    try:
        document = parse(query, max_tokens=MAX_QUERY_TOKENS)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operations[0].selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    root = selections[0]
    if root.directives or root.name.value not in SHARED_FIELDS:
        return None
    return root.name.value


@dataclass
class Message:
    """A protocol message without its id: `body` is the JSON that follows `{"id":<id>,`.
    A `final` one (error, complete) ends the operation."""

    body: bytes
    final: bool = False
    frames: dict[bytes, bytes] = field(default_factory=dict, compare=False, repr=False)
    """Whole websocket frames by operation id: subscribers who chose the same id (most use
    "1") share one."""

    def frame(self, head: bytes) -> bytes:
        """The unmasked text frame (server to client) for the operation whose id `head`
        carries (`{"id":"1",`)."""
        frame = self.frames.get(head)
        if frame is None:
            payload = head + self.body
            size = len(payload)
            if size < 126:
                header = bytes((0x81, size))
            elif size < 65_536:
                header = bytes((0x81, 126)) + size.to_bytes(2, "big")
            else:
                header = bytes((0x81, 127)) + size.to_bytes(8, "big")
            frame = self.frames[head] = header + payload
        return frame


def message(kind: str, payload: object) -> Message:
    tail = b'"type":"' + kind.encode() + b'"'
    if payload is not None:
        tail += b',"payload":' + orjson.dumps(payload)
    return Message(tail + b"}", final=kind != "next")


class Inbox:
    """One subscriber's bounded queue of encoded messages; `None` ends it (after a final
    message, or on overflow)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.messages: deque[Message | None] = deque()
        self.needs_snapshot = True
        self.overflowed = False
        self.on_overflow: Callable[[], None] | None = None
        """Called once on overflow: the reader may be stuck writing, so it cannot notice."""
        self.write_now: Callable[[Message], bool] | None = None
        """Sends a message at once when the connection can take it (returns False if not),
        so that an idle subscriber costs one write, not a task switch."""
        self._waiter: asyncio.Future[None] | None = None

    def put(self, message: Message | None) -> None:
        if self.overflowed:
            return
        if (
            message is not None
            and not message.final
            and not self.messages
            and self._waiter is not None  # its sender is idle, waiting for the next message
            and self.write_now is not None
            and self.write_now(message)
        ):
            return
        if message is not None and len(self.messages) >= self.capacity:
            LIVE_EVENTS_DROPPED.labels("feed").inc()
            self.overflowed = True
            self.messages.clear()
            self.messages.append(None)
            if self.on_overflow is not None:
                self.on_overflow()
        else:
            self.messages.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Message | None:
        while not self.messages:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.messages.popleft()


@dataclass(frozen=True)
class _Key:
    query: str
    operation_name: str | None
    variables: bytes


class Feed:
    """One execution and the inboxes it fills."""

    def __init__(self, registry: Feeds, key: _Key, variables: dict[str, Any] | None) -> None:
        self._registry = registry
        self.key = key
        self._variables = variables
        self.inboxes: set[Inbox] = set()
        self._context = FeedContext(eco=registry.eco, principal=ANONYMOUS)
        self._task: asyncio.Task[None] | None = None
        self.messages = 0

    def join(self, inbox: Inbox) -> None:
        self.inboxes.add(inbox)
        if self._task is None:
            self._task = asyncio.create_task(
                self._run(), name="live-feed", context=unbound_context()
            )
        else:
            self._context.snapshots.request()

    def leave(self, inbox: Inbox) -> None:
        self.inboxes.discard(inbox)
        if not self.inboxes:
            self._registry.forget(self)
            if self._task is not None:
                self._task.cancel()

    async def stopped(self) -> None:
        """Once nobody is subscribed: until the execution (cancelled by `leave`) has ended.
        Waiting is not cancelling: a cancelled waiter stops waiting, the execution ends alone."""
        task = self._task
        if not self.inboxes and task is not None and not task.done():
            await asyncio.wait((task,))

    async def _run(self) -> None:
        try:
            results = await self._registry.schema.subscribe(
                self.key.query,
                variable_values=self._variables,
                context_value=self._context,
                operation_name=self.key.operation_name,
            )
            async with aclosing(results):
                async for result in results:
                    if isinstance(result, PreExecutionError):
                        self._finish(message("error", [e.formatted for e in result.errors or []]))
                        return
                    payload: dict[str, Any] = {"data": result.data}
                    if result.errors:
                        payload["errors"] = [e.formatted for e in result.errors]
                    if result.extensions:  # the cost (`graph.cost`), as unshared ones have
                        payload["extensions"] = result.extensions
                    self._publish(message("next", payload))
            self._finish(message("complete", None))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a shared subscription failed")
            self._finish(message("complete", None))

    def _publish(self, next_message: Message) -> None:
        self.messages += 1
        snapshots = self._context.snapshots
        answering, snapshots.answering = snapshots.answering, False
        for inbox in tuple(self.inboxes):
            if answering and not inbox.needs_snapshot:
                continue
            inbox.needs_snapshot = False
            inbox.put(next_message)

    def _finish(self, final: Message) -> None:
        self._registry.forget(self)
        for inbox in tuple(self.inboxes):
            inbox.put(final)
            inbox.put(None)


class Feeds:
    """The shared executions of one process, by document and variables."""

    def __init__(self, schema: BaseSchema, eco: Economy) -> None:
        self.schema = schema
        self.eco = eco
        self._feeds: dict[_Key, Feed] = {}

    def __len__(self) -> int:
        return len(self._feeds)

    def subscribers(self) -> int:
        return sum(len(f.inboxes) for f in self._feeds.values())

    def join(
        self, query: str, variables: Mapping[str, Any] | None, operation_name: str | None
    ) -> tuple[Feed, Inbox] | None:
        """Attach a subscriber to the shared execution of this operation (starting it), or
        None when the operation cannot be shared."""
        if shared_field(query, operation_name) is None:
            return None
        try:
            encoded = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        key = _Key(query, operation_name, encoded)
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = Feed(self, key, dict(variables) if variables else None)
        inbox = Inbox(self.eco.settings.live_queue_size)
        feed.join(inbox)
        return feed, inbox

    def forget(self, feed: Feed) -> None:
        if self._feeds.get(feed.key) is feed:
            del self._feeds[feed.key]
