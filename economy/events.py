"""Live events: what changed after a transaction committed (a gift landed, a wallet moved, a payout
changed status), and the bus that fans them out to subscribers in this and every other process.

Publish only after the transaction that caused the event has committed, never inside it: an event
is a notification that money already moved, and a rolled-back transaction must publish nothing.
`EventBus.publish` never blocks and never fails the caller; delivery is best effort (the ledger is
the record), through Redis pub/sub when `DIAMONDS_REDIS_URL` is set, in-process otherwise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from economy.fanout import Hub, Subscriber, Topic
from economy.redis_relay import CHANNEL, RedisRelay

log = logging.getLogger(__name__)

ALL_USERS = 0
"""The key of the topic that carries every user's payout changes (for FINANCE)."""


@dataclass(slots=True)  # not frozen: frozen dataclasses are slow to build
class GiftReceived:
    """A gift was booked in a live stream."""

    KIND: ClassVar[str] = "gift"
    stream_id: int
    gift_send_id: int
    transaction_id: int
    gift_id: int
    gift_name: str
    gift_coins: int
    sender_id: int
    sender_name: str
    creator_id: int
    quantity: int
    coins: int
    diamonds: int
    """The creator's diamonds."""
    committed_at: float
    """Seconds since the epoch when the booking transaction had committed."""

    @property
    def topics(self) -> tuple[Topic, ...]:
        return (gift_topic(self.stream_id),)


@dataclass(slots=True)  # not frozen: frozen dataclasses are slow to build
class WalletChanged:
    """A user's coin or diamond wallet moved by `change` (negative when money went out)."""

    KIND: ClassVar[str] = "wallet"
    user_id: int
    account_id: int
    asset: str
    change: int
    reason: str
    """The ledger transaction's kind: GIFT, GRANT, HOLD_POSTED, ..."""
    transaction_id: int
    committed_at: float

    @property
    def topics(self) -> tuple[Topic, ...]:
        return (wallet_topic(self.user_id),)


@dataclass(slots=True)  # not frozen: frozen dataclasses are slow to build
class PayoutStatusChanged:
    """A payout moved to `status` at `at`, with what it pays (so that a subscriber needs no read).

    A new payout sends two: REQUESTED, then the status its request left it in (AWAITING_APPROVAL
    or APPROVED)."""

    KIND: ClassVar[str] = "payout"
    payout_id: int
    user_id: int
    status: str
    """A `PayoutStatus` value."""
    at: datetime
    provider: str
    diamonds: int
    currency: str
    gross_minor: int
    fee_minor: int
    withholding_minor: int
    net_minor: int

    @property
    def topics(self) -> tuple[Topic, ...]:
        return (payout_topic(self.user_id), payout_topic(ALL_USERS))


Event = GiftReceived | WalletChanged | PayoutStatusChanged
_KINDS: dict[str, type[GiftReceived] | type[WalletChanged] | type[PayoutStatusChanged]] = {
    cls.KIND: cls for cls in (GiftReceived, WalletChanged, PayoutStatusChanged)
}
_DATETIMES = {"at"}


def gift_topic(stream_id: int) -> Topic:
    return ("gift", stream_id)


def wallet_topic(user_id: int) -> Topic:
    return ("wallet", user_id)


def payout_topic(user_id: int) -> Topic:
    """One user's payouts; `ALL_USERS` for everyone's."""
    return ("payout", user_id)


def encode_event(event: Event) -> dict[str, Any]:
    """The event as plain JSON data (datetimes in ISO 8601), with its kind under `"kind"`."""
    data: dict[str, Any] = {"kind": event.KIND}
    for f in fields(event):
        value = getattr(event, f.name)
        data[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return data


def decode_event(data: dict[str, Any]) -> Event:
    """The inverse of `encode_event`. Raises `ValueError` on anything else."""
    values = dict(data)
    cls = _KINDS.get(str(values.pop("kind", "")))
    if cls is None:
        raise ValueError(f"not an event: {data!r}")
    for name in _DATETIMES & values.keys():
        values[name] = datetime.fromisoformat(values[name])
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"malformed {cls.KIND} event: {exc}") from None


class EventBus:
    """One per process. `publish` hands events to every subscriber of their topics, in this
    process and, through Redis when configured, in every other process too."""

    def __init__(
        self,
        *,
        queue_size: int = 1_000,
        redis_url: str | None = None,
        redis_channel: str = CHANNEL,
    ) -> None:
        self.hub: Hub[Event] = Hub(queue_size)
        self._relay = (
            RedisRelay(
                redis_url,
                self._dispatch,
                encode_event,
                decode_event,
                channel=redis_channel,
                listening=self.hub.has_subscribers,
            )
            if redis_url
            else None
        )

    @property
    def distributed(self) -> bool:
        """True when events travel through Redis to every process."""
        return self._relay is not None

    async def start(self) -> None:
        """Connect to Redis (when configured) and wait until this process listens."""
        if self._relay is not None:
            await self._relay.start()

    async def close(self) -> None:
        if self._relay is not None:
            await self._relay.close()
        self.hub.close_all()

    def publish(self, *events: Event) -> None:
        """Fan events out. Call only after the transaction that caused them has committed.
        Never blocks, never raises: a subscriber too slow to keep up is dropped, not waited for."""
        if not events:
            return
        if self._relay is not None:
            self._relay.send(events)
        else:
            self._dispatch(events)

    def subscribe(self, *topics: Topic) -> Subscriber[Event]:
        """A bounded queue of the events published on `topics` from now on. Close it when done
        (`with bus.subscribe(...) as sub:`); iterating it raises `SubscriberTooSlow` once it
        has overflowed."""
        return self.hub.subscribe(topics)

    def _dispatch(self, events: tuple[Event, ...] | list[Event]) -> None:
        for event in events:
            self.hub.dispatch(event.topics, event)


def publish_payout_status(bus: EventBus, *changes: PayoutStatusChanged) -> None:
    """Tell `payoutStatusChanged` subscribers (the payout's owner, FINANCE and ADMIN) that payouts
    changed status, in this order. Call it after the transaction that changed them commits."""
    bus.publish(*changes)


def now() -> float:
    """The `committed_at` stamp: call right after the commit returned."""
    return time.time()
