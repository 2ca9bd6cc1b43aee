"""GraphQL types of the catalog and of a sent gift: `Gift`, `CoinBundle`, `GiftSend`, and of gifts
landing in a live stream (`GiftReceived`: plain data that reads nothing of the caller, so one
execution can serve every subscriber of a stream).
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from economy import catalog, events
from economy.gifting import GiftSent
from graph.context import Context
from graph.global_ids import Node, to_global_id
from graph.scalars import BigInt, utc
from graph.streams.types import LiveStream
from graph.users.types import User


@strawberry.type(description="A gift a viewer can send, priced in whole coins.")
class Gift(Node):
    id: strawberry.ID
    name: str
    coins: int
    active: bool

    @classmethod
    def of(cls, gift: catalog.Gift) -> Gift:
        return cls(
            id=to_global_id("Gift", gift.id), name=gift.name, coins=gift.coins, active=gift.active
        )


@strawberry.type(description="Coins sold together, priced in one currency's minor units.")
class CoinBundle:
    id: strawberry.ID
    coins: int
    currency: str
    price: BigInt = strawberry.field(description="In minor units of `currency` (cents).")

    @classmethod
    def of(cls, bundle: catalog.CoinBundle) -> CoinBundle:
        return cls(
            id=to_global_id("CoinBundle", bundle.id),
            coins=bundle.coins,
            currency=bundle.currency,
            price=BigInt(bundle.price_minor),
        )


@strawberry.type(description="A gift sent into a live stream: what it cost and what it earned.")
class GiftSend(Node):
    id: strawberry.ID
    quantity: int
    coins: BigInt = strawberry.field(description="Coins the sender spent.")
    diamonds: BigInt = strawberry.field(description="Diamonds the creator received.")
    created_at: datetime
    record: strawberry.Private[GiftSent]

    @classmethod
    def of(cls, sent: GiftSent) -> GiftSend:
        return cls(
            id=to_global_id("GiftSend", sent.id),
            quantity=sent.quantity,
            coins=BigInt(sent.coins),
            diamonds=BigInt(sent.creator_diamonds),
            created_at=utc(sent.created_at),
            record=sent,
        )

    @strawberry.field
    async def gift(self, info: Info[Context, None]) -> Gift:
        found = await info.context.loaders.gift.load(self.record.gift_id)
        assert found is not None
        return Gift.of(found)

    @strawberry.field
    async def stream(self, info: Info[Context, None]) -> LiveStream:
        found = await info.context.loaders.stream.load(self.record.stream_id)
        assert found is not None
        return LiveStream.of(found)

    @strawberry.field(description="Who sent it; null when the sender is staff and you are not.")
    async def sender(self, info: Info[Context, None]) -> User | None:
        found = await info.context.loaders.user.load(self.record.sender_id)
        return User.of(found) if found and info.context.may_see_user(found) else None


@strawberry.type(description="One gift that landed in a stream.")
class ReceivedGift:
    id: strawberry.ID = strawberry.field(description="The GiftSend's id.")
    gift: Gift
    sender_name: str = strawberry.field(
        description='The sender\'s display name; "Staff" for a sender who is staff.'
    )
    quantity: int
    coins: BigInt = strawberry.field(description="Coins the sender spent.")
    diamonds: BigInt = strawberry.field(description="Diamonds the creator received.")
    stream_total: BigInt = strawberry.field(
        description="Diamonds the creator has received in this stream, this gift included."
    )
    committed_at: datetime = strawberry.field(description="When the gift was booked.")

    @classmethod
    def of(cls, event: events.GiftReceived, stream_total: int) -> ReceivedGift:
        return cls(
            id=to_global_id("GiftSend", event.gift_send_id),
            gift=Gift(
                id=to_global_id("Gift", event.gift_id),
                name=event.gift_name,
                coins=event.gift_coins,
                active=True,
            ),
            sender_name=event.sender_name,
            quantity=event.quantity,
            coins=BigInt(event.coins),
            diamonds=BigInt(event.diamonds),
            stream_total=BigInt(stream_total),
            committed_at=datetime.fromtimestamp(event.committed_at, UTC),
        )


@strawberry.type(
    description="Gifts that landed in a stream. The first message after subscribing has no "
    "gifts and the stream's total so far; then each message carries the gifts booked since the "
    "previous one: one at a time when gifts are sparse, all of one delivery tick in a storm."
)
class GiftReceived:
    stream_id: strawberry.ID
    gifts: list[ReceivedGift]
    stream_total: BigInt = strawberry.field(
        description="Diamonds the creator has received in this stream so far."
    )
