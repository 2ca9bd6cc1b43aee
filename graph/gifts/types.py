"""GraphQL types of the catalog and of a sent gift: `Gift`, `CoinBundle`, `GiftSend`."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from economy import catalog
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

    @strawberry.field
    async def sender(self, info: Info[Context, None]) -> User:
        found = await info.context.loaders.user.load(self.record.sender_id)
        assert found is not None
        return User.of(found)
