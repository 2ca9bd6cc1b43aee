"""Sending a gift: the viewer's coins are debited, the creator's diamonds credited at the
configured rate and the platform's share booked, in one transaction, once per idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.catalog import get_gift
from economy.errors import DomainError, NotFound
from economy.streams import get_stream
from economy.tables import gift_sends
from economy.users import User, by_id
from economy.validation import idempotency_key, whole_number
from ledger import (
    Asset,
    IdempotencyConflict,
    IdempotentRequest,
    InsufficientFunds,
    Transfer,
    run_once,
)


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
    request = IdempotentRequest.of(
        f"sendGift:{sender.id}",
        idempotency_key(key),
        {"stream": stream_id, "gift": gift_id, "quantity": quantity},
    )
    booked: list[GiftSent] = []

    async def book(conn: AsyncConnection) -> int:
        stream = await get_stream(conn, stream_id)
        if stream is None:
            raise NotFound("STREAM_NOT_FOUND", "no such stream", "streamId")
        if not stream.live:
            raise DomainError("STREAM_NOT_LIVE", "the stream has ended", "streamId")
        if stream.creator_id == sender.id:
            raise DomainError(
                "CANNOT_GIFT_OWN_STREAM",
                "creators cannot send gifts to their own stream",
                "streamId",
            )
        gift = await get_gift(conn, gift_id)
        if gift is None:
            raise NotFound("GIFT_NOT_FOUND", "no such gift", "giftId")
        if not gift.active:
            raise DomainError("GIFT_UNAVAILABLE", f"{gift.name} is no longer available", "giftId")
        creator = await by_id(conn, stream.creator_id)
        assert creator is not None
        split = eco.settings.gift_rate.split(gift.coins * quantity)
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
        try:
            transaction_id = await eco.ledger.record(
                conn,
                "GIFT",
                moves,
                details={"stream": stream_id, "gift": gift_id, "quantity": quantity},
                idempotency=request,
            )
        except InsufficientFunds:
            raise DomainError(
                "INSUFFICIENT_COINS",
                f"{split.coins:,} coins are needed for {quantity} x {gift.name}",
                "quantity",
            ) from None
        row = (
            await conn.execute(
                insert(gift_sends)
                .values(
                    transaction_id=transaction_id,
                    stream_id=stream_id,
                    gift_id=gift_id,
                    sender_id=sender.id,
                    creator_id=creator.id,
                    quantity=quantity,
                    coins=split.coins,
                    creator_diamonds=split.creator_diamonds,
                    platform_diamonds=split.platform_diamonds,
                )
                .returning(gift_sends)
            )
        ).one()
        booked.append(gift_sent_from_row(row._mapping))
        return transaction_id

    try:
        outcome = await run_once(eco.db, request, book)
    except IdempotencyConflict:
        raise DomainError(
            "IDEMPOTENCY_CONFLICT",
            "this idempotency key was already used for a different gift",
            "idempotencyKey",
        ) from None
    if booked and not outcome.replayed:
        return GiftResult(sent=booked[0], replayed=False)
    async with eco.db.read() as conn:
        sent = await gift_sent_by_transaction(conn, outcome.transaction_id)
    assert sent is not None
    return GiftResult(sent=sent, replayed=True)


def gift_sent_from_row(row: RowMapping) -> GiftSent:
    return GiftSent(**{name: row[name] for name in GiftSent.__dataclass_fields__})


async def gift_sent_by_transaction(conn: AsyncConnection, transaction_id: int) -> GiftSent | None:
    row = (
        await conn.execute(select(gift_sends).where(gift_sends.c.transaction_id == transaction_id))
    ).first()
    return None if row is None else gift_sent_from_row(row._mapping)


async def gift_sent_by_id(conn: AsyncConnection, gift_sent_id: int) -> GiftSent | None:
    row = (await conn.execute(select(gift_sends).where(gift_sends.c.id == gift_sent_id))).first()
    return None if row is None else gift_sent_from_row(row._mapping)
