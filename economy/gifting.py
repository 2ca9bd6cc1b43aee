"""Sending a gift: the viewer's coins are debited, the creator's diamonds credited at the
configured rate and the platform's share booked, in one transaction, once per idempotency key.

Gifts sent at the same time in one process are booked together (`economy.gift_desk`: one
database transaction, one commit, for many gifts) unless `DIAMONDS_GIFT_BATCH_SIZE=1`; each
is still its own ledger transaction with its own checks. Once the booking has committed, and
only then, the gift and the two wallet changes are published to live subscribers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.catalog import Gift, get_gift
from economy.events import Event, GiftReceived, WalletChanged, now
from economy.streams import Stream, get_stream
from economy.tables import gift_sends
from economy.users import User, by_id
from kernel.errors import DomainError, NotFound
from kernel.validation import whole_number
from ledger import (
    Asset,
    IdempotencyConflict,
    IdempotentRequest,
    InsufficientFunds,
    Transfer,
    run_once,
)
from ledger.idempotency import idempotency_key
from settings.rates import GiftSplit

if TYPE_CHECKING:
    from economy.app import Economy


@dataclass(frozen=True)
class GiftSent:
    id: int
    transaction_id: int
    stream_id: int
    gift_id: int
    sender_id: int
    creator_id: int
    quantity: int
    coins: int
    creator_diamonds: int
    platform_diamonds: int
    created_at: datetime


@dataclass(frozen=True)
class GiftResult:
    sent: GiftSent
    replayed: bool


@dataclass(frozen=True)
class GiftOrder:
    """A validated request to send a gift, not booked yet."""

    sender: User
    stream_id: int
    gift_id: int
    quantity: int
    request: IdempotentRequest


async def send_gift(
    eco: Economy, sender: User, *, stream_id: int, gift_id: int, quantity: int, key: str
) -> GiftResult:
    """Send `quantity` of a gift into a live stream. Raises `DomainError` with one of
    INVALID_QUANTITY, INVALID_IDEMPOTENCY_KEY, STREAM_NOT_FOUND, STREAM_NOT_LIVE,
    CANNOT_GIFT_OWN_STREAM, GIFT_NOT_FOUND, GIFT_UNAVAILABLE, INSUFFICIENT_COINS or
    IDEMPOTENCY_CONFLICT; nothing is written then."""
    whole_number(
        quantity,
        field="quantity",
        code="INVALID_QUANTITY",
        low=1,
        high=eco.settings.max_gift_quantity,
        what="the quantity",
    )
    order = GiftOrder(
        sender=sender,
        stream_id=stream_id,
        gift_id=gift_id,
        quantity=quantity,
        request=IdempotentRequest.of(
            f"sendGift:{sender.id}",
            idempotency_key(key),
            {"stream": stream_id, "gift": gift_id, "quantity": quantity},
        ),
    )
    if eco.settings.gift_batch_size > 1:
        return await eco.gift_desk.send(order)
    return await send_one(eco, order)


async def send_one(eco: Economy, order: GiftOrder) -> GiftResult:
    """Book one gift in a transaction of its own, then publish it."""
    booked: list[tuple[GiftSent, Gift, User]] = []

    async def book(conn: AsyncConnection) -> int:
        stream = await get_stream(conn, order.stream_id)
        gift = await get_gift(conn, order.gift_id)
        refuse_gift(order, stream, gift)
        assert stream is not None
        assert gift is not None
        creator = await by_id(conn, stream.creator_id)
        assert creator is not None
        split = eco.settings.gift_rate.split(gift.coins * order.quantity)
        try:
            transaction_id = await eco.ledger.record(
                conn,
                "GIFT",
                gift_moves(eco, order.sender, creator, split),
                details=gift_details(order),
                idempotency=order.request,
            )
        except InsufficientFunds:
            raise insufficient_coins(split, order, gift) from None
        row = (
            await conn.execute(
                insert(gift_sends)
                .values(gift_send_row(order, creator, split, transaction_id))
                .returning(gift_sends)
            )
        ).one()
        booked.append((gift_sent_from_row(row._mapping), gift, creator))
        return transaction_id

    try:
        outcome = await run_once(eco.db, order.request, book)
    except IdempotencyConflict:
        raise idempotency_conflict() from None
    if booked and not outcome.replayed:
        sent, gift, creator = booked[0]
        eco.events.publish(*gift_events(sent, gift, order.sender, creator, now()))
        return GiftResult(sent=sent, replayed=False)
    async with eco.db.read() as conn:
        replayed = await gift_sent_by_transaction(conn, outcome.transaction_id)
    assert replayed is not None
    return GiftResult(sent=replayed, replayed=True)


def refuse_gift(order: GiftOrder, stream: Stream | None, gift: Gift | None) -> None:
    """Raise the `DomainError` that refuses this gift, if any."""
    if stream is None:
        raise NotFound("STREAM_NOT_FOUND", "no such stream", "streamId")
    if not stream.live:
        raise DomainError("STREAM_NOT_LIVE", "the stream has ended", "streamId")
    if stream.creator_id == order.sender.id:
        raise DomainError(
            "CANNOT_GIFT_OWN_STREAM",
            "creators cannot send gifts to their own stream",
            "streamId",
        )
    if gift is None:
        raise NotFound("GIFT_NOT_FOUND", "no such gift", "giftId")
    if not gift.active:
        raise DomainError("GIFT_UNAVAILABLE", f"{gift.name} is no longer available", "giftId")


def gift_moves(eco: Economy, sender: User, creator: User, split: GiftSplit) -> list[Transfer]:
    """Coins from the sender to the platform; diamonds issued to the creator and the platform."""
    platform = eco.platform
    moves = [Transfer(sender.coin_account_id, platform.coins_spent, Asset.COIN, split.coins)]
    if split.creator_diamonds:
        moves.append(
            Transfer(
                platform.diamond_issuance,
                creator.diamond_account_id,
                Asset.DIAMOND,
                split.creator_diamonds,
            )
        )
    if split.platform_diamonds:
        moves.append(
            Transfer(
                platform.diamond_issuance,
                platform.diamond_revenue,
                Asset.DIAMOND,
                split.platform_diamonds,
            )
        )
    return moves


def gift_details(order: GiftOrder) -> dict[str, int]:
    return {"stream": order.stream_id, "gift": order.gift_id, "quantity": order.quantity}


def gift_send_row(
    order: GiftOrder, creator: User, split: GiftSplit, transaction_id: int
) -> dict[str, int]:
    return {
        "transaction_id": transaction_id,
        "stream_id": order.stream_id,
        "gift_id": order.gift_id,
        "sender_id": order.sender.id,
        "creator_id": creator.id,
        "quantity": order.quantity,
        "coins": split.coins,
        "creator_diamonds": split.creator_diamonds,
        "platform_diamonds": split.platform_diamonds,
    }


def insufficient_coins(split: GiftSplit, order: GiftOrder, gift: Gift) -> DomainError:
    return DomainError(
        "INSUFFICIENT_COINS",
        f"{split.coins:,} coins are needed for {order.quantity} x {gift.name}",
        "quantity",
    )


def idempotency_conflict() -> DomainError:
    return DomainError(
        "IDEMPOTENCY_CONFLICT",
        "this idempotency key was already used for a different gift",
        "idempotencyKey",
    )


def gift_events(
    sent: GiftSent, gift: Gift, sender: User, creator: User, committed_at: float
) -> list[Event]:
    """What live subscribers learn once a gift has committed: the gift in its stream, the
    sender's coins going out and the creator's diamonds coming in."""
    events: list[Event] = [
        GiftReceived(
            stream_id=sent.stream_id,
            gift_send_id=sent.id,
            transaction_id=sent.transaction_id,
            gift_id=gift.id,
            gift_name=gift.name,
            gift_coins=gift.coins,
            sender_id=sender.id,
            sender_name=sender.public_name,
            creator_id=sent.creator_id,
            quantity=sent.quantity,
            coins=sent.coins,
            diamonds=sent.creator_diamonds,
            committed_at=committed_at,
        ),
        WalletChanged(
            user_id=sender.id,
            account_id=sender.coin_account_id,
            asset=Asset.COIN.value,
            change=-sent.coins,
            reason="GIFT",
            transaction_id=sent.transaction_id,
            committed_at=committed_at,
        ),
    ]
    if sent.creator_diamonds:
        events.append(
            WalletChanged(
                user_id=creator.id,
                account_id=creator.diamond_account_id,
                asset=Asset.DIAMOND.value,
                change=sent.creator_diamonds,
                reason="GIFT",
                transaction_id=sent.transaction_id,
                committed_at=committed_at,
            )
        )
    return events


def gift_sent_from_row(row: Mapping[Any, Any]) -> GiftSent:
    return GiftSent(**{name: row[name] for name in GiftSent.__dataclass_fields__})


async def gift_sent_by_transaction(conn: AsyncConnection, transaction_id: int) -> GiftSent | None:
    row = (
        await conn.execute(select(gift_sends).where(gift_sends.c.transaction_id == transaction_id))
    ).first()
    return None if row is None else gift_sent_from_row(row._mapping)


async def gift_sent_by_id(conn: AsyncConnection, gift_sent_id: int) -> GiftSent | None:
    row = (await conn.execute(select(gift_sends).where(gift_sends.c.id == gift_sent_id))).first()
    return None if row is None else gift_sent_from_row(row._mapping)
